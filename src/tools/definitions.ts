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

function sanitize(schema: unknown, allRequired: boolean): unknown {
  if (Array.isArray(schema)) return schema.map((item) => sanitize(item, allRequired));
  if (schema === null || typeof schema !== "object") return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema as Json)) {
    if (!ALLOWED.has(key)) continue;
    if (key === "properties") {
      out.properties = Object.fromEntries(
        Object.entries(value as Json).map(([name, sub]) => [name, sanitize(sub, allRequired)]),
      );
    } else if (key === "anyOf" || key === "items") {
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
