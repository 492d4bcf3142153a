import { CronExpressionParser } from "cron-parser";
import { coerceError, invalid } from "./errors.js";

/**
 * Macros are rewritten to plain 5-field expressions before anything else sees them, so that the pattern
 * stored in Redis and handed to BullMQ is the one cron-parser reads the same way everywhere.
 */
const MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
  "@weekdays": "0 0 * * 1-5",
  "@weekends": "0 0 * * 0,6",
};

/**
 * Validates a cron expression and returns it normalised (single spaces, macros expanded).
 * Accepts 5 fields (`min hour dom month dow`), 6 fields with seconds first, names (`MON-FRI`, `JAN`) and the
 * macros `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`, `@weekdays`, `@weekends`.
 *
 * @throws TicklerError `invalid_cron`, with the field count or cron-parser's reason and an example
 */
export function parseCron(input: unknown, field = "cron"): string {
  if (typeof input !== "string" || input.trim() === "") {
    throw invalid("invalid_cron", field, `expected a cron expression such as "0 9 * * 1-5"`);
  }
  const raw = input.trim().replace(/\s+/g, " ");
  const expression = MACROS[raw.toLowerCase()] ?? raw;
  if (expression.startsWith("@")) {
    throw invalid(
      "invalid_cron",
      field,
      `unknown macro "${raw}"; use one of ${Object.keys(MACROS).join(", ")}`,
    );
  }
  const fields = expression.split(" ");
  if (fields.length !== 5 && fields.length !== 6) {
    const hint = fields.length < 5 ? suggestion(fields) : "";
    throw invalid(
      "invalid_cron",
      field,
      `expected 5 or 6 fields, got ${fields.length} ("${raw}"); the form is "minute hour day-of-month month day-of-week"${hint}`,
    );
  }
  try {
    const parsed = CronExpressionParser.parse(expression, { tz: "UTC", currentDate: 0 });
    parsed.next();
  } catch (thrown) {
    throw invalid(
      "invalid_cron",
      field,
      `"${raw}" is not valid: ${coerceError(thrown).message}; e.g. "0 9 * * 1-5" is 09:00 on weekdays`,
      thrown,
    );
  }
  return expression;
}

function suggestion(fields: string[]): string {
  const padded = [...fields, "*", "*", "*", "*", "*"].slice(0, 5);
  return `; did you mean "${padded.join(" ")}"?`;
}

/**
 * The fire times of `expression` in `zone` strictly after `afterMs`, up to `count` of them and none past
 * `untilMs`. DST is handled as cron-parser (and therefore BullMQ) defines it: a time in a spring-forward gap
 * runs at the shifted local time, a time in a fall-back repeat runs once for a fixed hour and twice for
 * `*`-style minute lists.
 */
export function cronFiresAfter(
  expression: string,
  zone: string,
  afterMs: number,
  count: number,
  untilMs = Infinity,
): number[] {
  const iterator = CronExpressionParser.parse(expression, { tz: zone, currentDate: afterMs });
  const out: number[] = [];
  while (out.length < count) {
    let next: number;
    try {
      next = iterator.next().getTime();
    } catch {
      break; // no further date (e.g. "0 0 30 2 *"): the schedule has ended
    }
    if (next > untilMs) break;
    if (next > afterMs) out.push(next);
  }
  return out;
}
