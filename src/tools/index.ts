import { loadConfig, type Config } from "../config/index.js";
import type { Producer } from "../producer/producer.js";
import { openStores } from "../producer/stores.js";
import { TicklerError, checkName } from "../triggers/index.js";
import { anthropicTools, mcpTools, openAiTools } from "./definitions.js";
import { TOOLS, parseArgs, type Tool } from "./tools.js";

export { TOOLS, derivedName, type Tool, type ToolContext, type ToolName } from "./tools.js";
export { anthropicTools, mcpTools, openAiTools, toolJsonSchema } from "./definitions.js";

/** A tool call's answer: the result, or the API's error shape (code, message naming the fix, field). */
export type ToolReply =
  { result: Record<string, unknown> } | { error: { code: string; message: string; field?: string } };

/** Finds a tool by name. */
export function findTool(name: string): Tool | undefined {
  return (TOOLS as readonly Tool[]).find((t) => t.name === name);
}

/**
 * Calls a tool for one user. Never throws for a bad call: input and schedule errors come back as
 * `{error}` a model can read and recover from. Infrastructure failures (Redis down) do throw.
 */
export async function callTool(
  producer: Producer,
  name: string,
  args: unknown,
  userId: string,
): Promise<ToolReply> {
  try {
    const target = findTool(name);
    if (!target) {
      throw new TicklerError(
        "not_found",
        `no tool "${name}"; the tools are ${TOOLS.map((t) => t.name).join(", ")}`,
        { field: "tool" },
      );
    }
    return {
      result: await target.handler(parseArgs(target, args), {
        userId: checkName(userId, "user_id"),
        producer,
      }),
    };
  } catch (thrown) {
    if (thrown instanceof TicklerError && thrown.status < 500) return { error: thrown.toJSON() };
    throw thrown;
  }
}

/** The tools for a TypeScript agent: definitions for each model API, and `call`. */
export interface Tools {
  definitions: {
    openai: Record<string, unknown>[];
    anthropic: Record<string, unknown>[];
    mcp: Record<string, unknown>[];
  };
  call(name: string, args: unknown, opts: { userId: string }): Promise<ToolReply>;
  /** The producer the tools act through. */
  producer: Producer;
  /** Closes the Redis connection createTools opened (a no-op when given a producer). */
  close(): Promise<void>;
}

/**
 * `import { createTools } from "tickler"`: schedule tools for an agent written in TypeScript. Give it a
 * Producer, or let it connect with the usual environment (REDIS_URL, TICKLER_PREFIX, TICKLER_CONFIG).
 */
export async function createTools(
  options: { producer: Producer } | { config?: Config } = {},
): Promise<Tools> {
  const definitions = { openai: openAiTools(), anthropic: anthropicTools(), mcp: mcpTools() };
  if ("producer" in options) {
    const producer = options.producer;
    return {
      definitions,
      producer,
      call: (name, args, { userId }) => callTool(producer, name, args, userId),
      close: async () => undefined,
    };
  }
  const config = options.config ?? loadConfig();
  const { producer, close } = await openStores(config, {
    role: "api",
    name: "tickler-tools",
    timeoutMs: 5000,
  });
  return {
    definitions,
    producer,
    call: (name, args, { userId }) => callTool(producer, name, args, userId),
    close,
  };
}
