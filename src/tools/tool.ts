import type { z } from "zod";
import type { Producer } from "../producer/producer.js";
import { fromZodError, invalid } from "../triggers/index.js";

/** Who a tool acts for: always one user, the caller. */
export interface ToolContext {
  userId: string;
  producer: Producer;
}

/** One agent tool: a name, a description written for a model, one zod schema, a handler. */
export interface Tool<S extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  input: S;
  /** A working call, shown to a model that left out a required argument. */
  example: Record<string, unknown>;
  handler(args: z.infer<S>, ctx: ToolContext): Promise<Record<string, unknown>>;
}

/** Declares a tool with its handler typed from its schema. */
export function tool<S extends z.ZodObject>(definition: Tool<S>): Tool<S> {
  return definition;
}

/**
 * Validates a tool's arguments against its schema. A required argument left out gets a message a model can
 * act on: what the argument is for, and a working call.
 */
export function parseArgs<S extends z.ZodObject>(target: Tool<S>, args: unknown): z.infer<S> {
  const given = args ?? {};
  const parsed = target.input.safeParse(given);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const key = issue?.path[0];
  const absent =
    issue?.path.length === 1 &&
    typeof key === "string" &&
    (given === null || typeof given !== "object" || !Object.hasOwn(given, key));
  if (absent) {
    const purpose = (target.input.shape as Record<string, z.ZodType>)[key]?.description;
    throw invalid(
      "invalid_field",
      key,
      `is required${purpose ? `: ${purpose.replace(/\.$/, "")}` : ""}. A working call: ${target.name} ${JSON.stringify(target.example)}`,
    );
  }
  throw fromZodError(parsed.error, "", given);
}
