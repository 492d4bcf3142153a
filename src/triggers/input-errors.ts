import type { z } from "zod";
import { describeValue } from "./duration.js";
import { TicklerError, invalid } from "./errors.js";

/**
 * Turns a zod failure into the catalogue's error for its first issue, naming the field by its dotted path
 * and saying what was given and what is expected. A field is "required" only when it is really absent:
 * given the wrong type, the message says so.
 *
 * @param input - the value that was validated (the issue's path is looked up in it)
 */
export function fromZodError(error: z.ZodError, fieldPrefix = "", input?: unknown): TicklerError {
  const issue = error.issues[0];
  if (!issue) return new TicklerError("invalid_request", "the input is not valid");
  const path = fieldPath(fieldPrefix, issue.path);
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    const field = path === "" ? key : `${path}.${key}`;
    return invalid(
      "invalid_field",
      field,
      `unknown field "${key}"; check the spelling against the API reference`,
    );
  }
  const field = path === "" ? "body" : path;
  const given = lookUp(input, issue.path);
  if (given === undefined && (issue.code === "invalid_type" || issue.code === "invalid_union")) {
    return invalid("invalid_field", field, "is required");
  }
  const [expected = "", example] = expectation(issue).split(", e.g. ");
  const quoted = typeof given === "string" && given.trim() !== "" && Number.isFinite(Number(given));
  const unquote = quoted && /number/.test(expected) ? "; write it without quotes" : "";
  const shown = example === undefined ? "" : ` (e.g. ${example})`;
  return invalid("invalid_field", field, `${expected}, got ${describeValue(given)}${unquote}${shown}`);
}

/**
 * What a schema expected, in words: its own message when it has one (ours all start with "expected", e.g. a
 * duration's), else one made from the issue.
 */
function expectation(issue: z.core.$ZodIssue): string {
  if (issue.message.startsWith("expected ")) return issue.message;
  switch (issue.code) {
    case "invalid_type":
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((value) => JSON.stringify(value)).join(", ")}`;
    case "too_small":
      return issue.origin === "string" || issue.origin === "array"
        ? `expected at least ${String(issue.minimum)} ${issue.origin === "string" ? "characters" : "items"}`
        : `expected at least ${String(issue.minimum)}`;
    case "too_big":
      return issue.origin === "string" || issue.origin === "array"
        ? `expected at most ${String(issue.maximum)} ${issue.origin === "string" ? "characters" : "items"}`
        : `expected at most ${String(issue.maximum)}`;
    default:
      return issue.message.replace(/^Invalid input: /, "").replace(/^Invalid input$/, "an invalid value");
  }
}

const EXPECTED: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "a string",
  boolean: "true or false",
  record: "a mapping of names to values",
  object: "an object",
  array: "a list",
};

/** A field's path as messages name it: `retry.attempts`, `schedules[0].name`. */
function fieldPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** The value at `path` inside `root`, or undefined when any step of it is absent. */
function lookUp(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
