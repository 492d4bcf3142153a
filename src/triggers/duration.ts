import { Duration } from "luxon";
import { invalid } from "./errors.js";

/** One second, in milliseconds. */
export const SECOND = 1000;
/** One minute, in milliseconds. */
export const MINUTE = 60 * SECOND;
/** One hour, in milliseconds. */
export const HOUR = 60 * MINUTE;
/** One day (24 h), in milliseconds. */
export const DAY = 24 * HOUR;
/** One week, in milliseconds. */
export const WEEK = 7 * DAY;

const UNIT_MS: ReadonlyArray<readonly [RegExp, number]> = [
  [/^(ms|msecs?|millis|milliseconds?)$/, 1],
  [/^(s|secs?|seconds?)$/, SECOND],
  [/^(m|mins?|minutes?)$/, MINUTE],
  [/^(h|hrs?|hours?)$/, HOUR],
  [/^(d|days?)$/, DAY],
  [/^(w|wks?|weeks?)$/, WEEK],
];

/** Words models write when they mean "some time": each is rejected with a hint instead of guessed at. */
const VAGUE =
  /\b(soon|later|tomorrow|tonight|morning|afternoon|evening|next week|next month|asap|now|today|a while|couple|few)\b/;

const HINT = `write a duration such as "90s", "30m", "1h30m", "2 hours", "2d", "PT45M" or a number of seconds`;

/** The longest duration accepted anywhere (10 years): past this a typo is likelier than intent. */
export const MAX_DURATION_MS = 3650 * DAY;

/**
 * Reads a duration in any spelling people and models write, and returns whole milliseconds (> 0).
 *
 * Accepted: a number of seconds (`90`, `"90"`, `1.5`), unit forms with optional spaces and a leading
 * "in" (`"90s"`, `"30m"`, `"30 min"`, `"30 minutes"`, `"in 2 hours"`, `"1h30m"`, `"1h 30m"`, `"1.5h"`,
 * `"2d"`, `"1w"`), and ISO-8601 durations (`"PT30M"`, `"P1DT2H"`).
 *
 * @param input - the value as the caller sent it
 * @param field - the field name used in the error
 * @throws TicklerError `invalid_duration` naming `field` and an accepted form
 */
export function parseDuration(input: unknown, field: string): number {
  const ms = readDuration(input, field);
  if (!Number.isFinite(ms) || ms <= 0) {
    throw invalid(
      "invalid_duration",
      field,
      `expected a duration greater than zero such as "90s" or a number of seconds, got ${describeValue(input)}; ${HINT}`,
    );
  }
  if (ms > MAX_DURATION_MS) {
    throw invalid("invalid_duration", field, `${JSON.stringify(input)} is longer than 10 years; ${HINT}`);
  }
  return Math.max(1, Math.round(ms));
}

function readDuration(input: unknown, field: string): number {
  if (typeof input === "number") return input * SECOND;
  if (typeof input !== "string") {
    throw invalid(
      "invalid_duration",
      field,
      `expected a duration such as "90s" or a number of seconds, got ${describeValue(input)}; ${HINT}`,
    );
  }
  const text = input.trim().toLowerCase();
  if (text === "") throw invalid("invalid_duration", field, `is empty; ${HINT}`);
  if (/^-/.test(text))
    throw invalid("invalid_duration", field, `must be greater than zero, got "${input}"; ${HINT}`);
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * SECOND;
  if (/^p/.test(text)) {
    const iso = Duration.fromISO(text.toUpperCase());
    if (!iso.isValid)
      throw invalid("invalid_duration", field, `"${input}" is not an ISO-8601 duration; ${HINT}`);
    return iso.as("milliseconds");
  }
  const body = text.replace(/^in\s+/, "").replace(/\s+from now$/, "");
  let total = 0;
  let consumed = "";
  for (const match of body.matchAll(/(\d+(?:\.\d+)?)\s*([a-z]+)\s*(?:,|and)?\s*/g)) {
    const unit = UNIT_MS.find(([pattern]) => pattern.test(match[2] ?? ""));
    if (!unit) return unreadable(input, field);
    total += Number(match[1]) * unit[1];
    consumed += match[0];
  }
  if (consumed.length !== body.length || consumed === "") return unreadable(input, field);
  return total;
}

function unreadable(input: string, field: string): never {
  const vague = VAGUE.test(input.toLowerCase());
  throw invalid(
    "invalid_duration",
    field,
    vague
      ? `"${input}" is too vague to schedule; ${HINT}, or give an exact time with "at"`
      : `cannot read "${input}" as a duration; ${HINT}`,
  );
}

/** A compact spelling of a duration: `1h30m`, `90s`, `2d`, `250ms`. */
export function formatDuration(ms: number): string {
  if (ms < SECOND) return `${ms}ms`;
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ["d", DAY],
    ["h", HOUR],
    ["m", MINUTE],
    ["s", SECOND],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join("");
}

/**
 * A value as an error message shows what was given: `the number -60`, `the string "1000"`, `true`, `a list`.
 * Strings are cut at 60 characters.
 */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)}`;
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** The type of a JSON value, in words, for error messages. */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
