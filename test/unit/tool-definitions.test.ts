import { describe, expect, it } from "vitest";
import { anthropicTools, mcpTools, openAiTools } from "../../src/tools/index.js";

/** JSON Schema keywords OpenAI strict mode supports (its published subset), plus description. */
const STRICT_KEYWORDS = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "enum",
  "const",
  "anyOf",
  "items",
  "description",
  "minimum",
  "maximum",
  "pattern",
  "format",
  "$ref",
  "$defs",
  "minItems",
  "maxItems",
]);
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

type Schema = Record<string, unknown>;

/** Every problem with a schema under OpenAI's strict-mode rules. */
function strictProblems(schema: Schema, path = "$"): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(schema))
    if (!STRICT_KEYWORDS.has(key)) problems.push(`${path}: unsupported keyword ${key}`);
  const isObject = schema.type === "object" || (Array.isArray(schema.type) && schema.type.includes("object"));
  if (isObject) {
    if (schema.additionalProperties !== false) problems.push(`${path}: additionalProperties must be false`);
    const properties = Object.keys((schema.properties as Schema | undefined) ?? {});
    const required = (schema.required as string[] | undefined) ?? [];
    for (const name of properties)
      if (!required.includes(name)) problems.push(`${path}.${name}: not in required`);
  }
  for (const [name, sub] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {}))
    problems.push(...strictProblems(sub, `${path}.${name}`));
  for (const [i, sub] of ((schema.anyOf as Schema[] | undefined) ?? []).entries())
    problems.push(...strictProblems(sub, `${path}.anyOf[${i}]`));
  if (schema.items) problems.push(...strictProblems(schema.items as Schema, `${path}[]`));
  return problems;
}

describe("tool definitions for model APIs", () => {
  it("are valid OpenAI strict-mode function tools", () => {
    const tools = openAiTools();
    expect(tools).toHaveLength(10);
    for (const tool of tools as {
      type: string;
      function: { name: string; description: string; parameters: Schema; strict: boolean };
    }[]) {
      expect(tool.type).toBe("function");
      expect(tool.function.name).toMatch(NAME);
      expect(tool.function.strict).toBe(true);
      expect(tool.function.description.length).toBeGreaterThan(40);
      expect(tool.function.parameters.type).toBe("object");
      expect(tool.function.parameters.anyOf).toBeUndefined();
      expect(strictProblems(tool.function.parameters), tool.function.name).toEqual([]);
      // Optional arguments are nullable, so a strict model can send null for "not given".
      const anthropic = anthropicTools().find((a) => a.name === tool.function.name) as {
        input_schema: { required?: string[] };
      };
      const reallyRequired = new Set(anthropic.input_schema.required ?? []);
      for (const [name, prop] of Object.entries(
        tool.function.parameters.properties as Record<string, Schema>,
      )) {
        if (reallyRequired.has(name)) continue;
        const types = Array.isArray(prop.type)
          ? prop.type
          : ((prop.anyOf as Schema[] | undefined) ?? []).map((s) => s.type);
        expect(types, `${tool.function.name}.${name} accepts null`).toContain("null");
      }
    }
  });

  it("are valid Anthropic tools and MCP tools", () => {
    for (const tool of anthropicTools() as { name: string; description: string; input_schema: Schema }[]) {
      expect(tool.name).toMatch(NAME);
      expect(tool.input_schema.type).toBe("object");
      expect(tool.input_schema.$schema).toBeUndefined();
    }
    expect((anthropicTools()[0] as { input_schema: { required: string[] } }).input_schema.required).toEqual([
      "prompt",
    ]);
    for (const tool of mcpTools() as { name: string; inputSchema: Schema }[])
      expect(tool.inputSchema.type).toBe("object");
  });
});
