import { DateTime, IANAZone } from "luxon";
import { typeName } from "./duration.js";
import { invalid } from "./errors.js";

/**
 * Checks that `zone` is an IANA time zone name (`America/New_York`, `UTC`, `Europe/Berlin`) and returns
 * it. Fixed offsets such as `+02:00` are refused: they do not follow daylight saving, which is almost
 * never what a person scheduling "9:00 every weekday" means.
 *
 * @throws TicklerError `invalid_timezone`
 */
export function parseTimeZone(zone: unknown, field = "timezone"): string {
  if (typeof zone !== "string" || zone.trim() === "") {
    throw invalid(
      "invalid_timezone",
      field,
      `expected an IANA time zone such as "America/New_York", got ${typeName(zone)}`,
    );
  }
  const name = zone.trim();
  if (name.toUpperCase() === "UTC" || name.toUpperCase() === "Z" || name.toUpperCase() === "GMT")
    return "UTC";
  if (!IANAZone.isValidZone(name) || /^[+-]|^utc[+-]/i.test(name)) {
    throw invalid(
      "invalid_timezone",
      field,
      `unknown time zone "${name}"; use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"`,
    );
  }
  return new IANAZone(name).name;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const HAS_OFFSET = /(z|[+-]\d{2}(:?\d{2})?)$/i;

/**
 * Reads an ISO-8601 date-time into epoch milliseconds. With an offset or `Z` it is exact; without one it is
 * read as wall-clock time in `zone`. A space may stand for the `T` (`"2026-12-01 09:00"`). A date without a
 * time is refused: "at 2026-12-01" hides the hour the person meant.
 *
 * In a daylight-saving gap (02:30 on a spring-forward day) the time moves forward by the gap, as luxon does;
 * in a repeat (01:30 on a fall-back day) the earlier instant is taken.
 *
 * @throws TicklerError `invalid_time`
 */
export function parseInstant(input: unknown, zone: string, field: string): number {
  if (typeof input !== "string") {
    throw invalid(
      "invalid_time",
      field,
      `expected an ISO-8601 date-time such as "2026-06-15T14:00:00Z", got ${typeName(input)}`,
    );
  }
  const text = input.trim().replace(/^(\d{4}-\d{2}-\d{2}) +(?=\d)/, "$1T");
  if (DATE_ONLY.test(text)) {
    throw invalid(
      "invalid_time",
      field,
      `"${input}" has a date but no time; add one, e.g. "${text}T09:00:00" or "${text}T09:00:00Z"`,
    );
  }
  const parsed = DateTime.fromISO(text, { zone: HAS_OFFSET.test(text) ? "UTC" : zone, setZone: false });
  if (!parsed.isValid || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text)) {
    throw invalid(
      "invalid_time",
      field,
      `cannot read "${input}" as a date-time; use ISO-8601 such as "2026-06-15T14:00:00Z" or "2026-06-15T09:00:00" (read in timezone ${zone})`,
    );
  }
  return HAS_OFFSET.test(text) ? parsed.toMillis() : earlierOfRepeat(parsed);
}

const WALL = "yyyy-LL-dd'T'HH:mm:ss.SSS";

/**
 * A wall-clock time that happens twice (the hour repeated when clocks fall back) is read as its first
 * occurrence, as RFC 5545 and Temporal's "compatible" disambiguation do; luxon would take the second.
 */
function earlierOfRepeat(parsed: DateTime): number {
  const shiftMinutes = parsed.offset - parsed.minus({ hours: 3 }).offset;
  if (shiftMinutes >= 0) return parsed.toMillis();
  const earlier = parsed.plus({ minutes: shiftMinutes });
  return earlier.toFormat(WALL) === parsed.toFormat(WALL) ? earlier.toMillis() : parsed.toMillis();
}

/** Whether a string looks like an ISO date or date-time (used to detect the `when` form). */
export function looksLikeIsoTime(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}.*)?$/i.test(text.trim());
}

/** An epoch-ms instant as an ISO-8601 UTC string. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** An epoch-ms instant as local wall-clock time in `zone`, e.g. `Mon 2026-11-23 09:00 America/New_York`. */
export function localTime(ms: number, zone: string): string {
  return DateTime.fromMillis(ms, { zone }).toFormat("ccc yyyy-LL-dd HH:mm") + ` ${zone}`;
}
