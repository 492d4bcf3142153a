import { z } from "zod";
import { TOOLS, type Tool } from "./tools.js";

/**
 * JSON Schema keywords OpenAI's strict mode and Anthropic both accept. Anything else zod emits (length
 * bounds, `$schema`, formats with patterns) is dropped from the model-facing copy; the server still
 * validates with the full zod schema.
 */
const ALLOWED = new Set([
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
]);

type Json = Record<string, unknown>;

/**
 * The model-facing copy of one schema node. A free-form object (a record, e.g. a payload) cannot be said in
 * OpenAI's strict mode, which wants every property listed: there it is left out of its `anyOf` (undefined),
 * and the model sends the JSON-string form the same argument also takes; elsewhere it stays an open object.
 */
function sanitize(schema: unknown, allRequired: boolean): unknown {
  if (Array.isArray(schema))
    return schema.map((item) => sanitize(item, allRequired)).filter((item) => item !== undefined);
  if (schema === null || typeof schema !== "object") return schema;
  const node = schema as Json;
  if (node.type === "object" && node.properties === undefined)
    return allRequired ? undefined : { type: "object" };
  const out: Json = {};
  for (const [key, value] of Object.entries(schema as Json)) {
    if (!ALLOWED.has(key)) continue;
    if (key === "properties") {
      out.properties = Object.fromEntries(
        Object.entries(value as Json).map(([name, sub]) => [name, sanitize(sub, allRequired)]),
      );
    } else if (key === "anyOf") {
      // Nested anyOf (a union made nullable) is flattened; a single branch left stands on its own.
      const branches = (sanitize(value, allRequired) as Json[]).flatMap((branch) =>
        Object.keys(branch).length === 1 && Array.isArray(branch.anyOf) ? (branch.anyOf as Json[]) : [branch],
      );
      if (branches.length === 1) Object.assign(out, branches[0]);
      else out.anyOf = branches;
    } else if (key === "items") {
      out[key] = sanitize(value, allRequired);
    } else if (key === "minimum" || key === "maximum") {
      // zod puts ±2^53 on every integer; only real bounds are worth showing.
      if (Math.abs(value as number) < Number.MAX_SAFE_INTEGER) out[key] = value;
    } else {
      out[key] = value;
    }
  }
  if (out.type === "object" || out.properties) {
    out.type = "object";
    out.additionalProperties = false;
    const names = Object.keys((out.properties as Json | undefined) ?? {});
    // Strict mode: every property required; optional ones are already nullable (null means "not given").
    if (allRequired) out.required = names;
  }
  return out;
}

/** A tool's argument schema as a model sees it. `strict`: OpenAI strict mode (every property required). */
export function toolJsonSchema(target: Tool, strict: boolean): Json {
  return sanitize(z.toJSONSchema(target.input, { io: "input", unrepresentable: "any" }), strict) as Json;
}

/** OpenAI Chat Completions `tools` entries, strict mode. */
export function openAiTools(tools: readonly Tool[] = TOOLS): Json[] {
  return tools.map((t) => ({
    type: "function",
    function: { name: t.name, description: t.description, parameters: toolJsonSchema(t, true), strict: true },
  }));
}

/** Anthropic Messages `tools` entries. */
export function anthropicTools(tools: readonly Tool[] = TOOLS): Json[] {
  return tools.map((t) => ({
    name: t.name,
    description: t.description,
    input_schema: toolJsonSchema(t, false),
  }));
}

/** MCP `tools/list` entries (what an MCP server lists for these tools). */
export function mcpTools(tools: readonly Tool[] = TOOLS): Json[] {
  return tools.map((t) => ({
    name: t.name,
    description: t.description,
    inputSchema: toolJsonSchema(t, false),
  }));
}
