import { invalid } from "./errors.js";
import { typeName } from "./duration.js";

/** The form of `user_id` and trigger `name`: no spaces, no `/`, up to 128 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;

/**
 * Validates a user id or trigger name.
 * @throws TicklerError `invalid_name`
 */
export function checkName(value: unknown, field: "user_id" | "name"): string {
  if (typeof value !== "string" || !NAME_PATTERN.test(value)) {
    throw invalid(
      "invalid_name",
      field,
      `${typeof value === "string" ? JSON.stringify(value.slice(0, 140)) : typeName(value)} is not a valid ${field}: use 1–128 letters, digits and _ . : @ -, starting with a letter or digit (no spaces or "/")`,
    );
  }
  return value;
}
