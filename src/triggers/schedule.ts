import { cronFiresAfter, parseCron } from "./cron.js";
import { formatDuration, parseDuration, typeName } from "./duration.js";
import { TicklerError, invalid } from "./errors.js";
import { looksLikeIsoTime, parseInstant, parseTimeZone } from "./time-zone.js";

/** The three kinds of trigger. */
export const TRIGGER_KINDS = ["once", "heartbeat", "cron"] as const;
/** A kind of trigger: fires once, every fixed period, or on a cron pattern. */
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/** A resolved schedule: everything needed to compute fire times, in epoch milliseconds. */
export type Schedule =
  | { kind: "once"; atMs: number }
  /** Slots are `anchorMs + k * everyMs` for k >= 0: the first fire is the anchor. */
  | { kind: "heartbeat"; everyMs: number; anchorMs: number }
  | { kind: "cron"; cron: string; timezone: string };

/** The schedule fields of a trigger as a caller sends them (exactly one of when/at/delay/every/cron). */
export interface ScheduleInput {
  when?: unknown;
  at?: unknown;
  delay?: unknown;
  every?: unknown;
  cron?: unknown;
  timezone?: unknown;
  start_at?: unknown;
  end_at?: unknown;
  allow_past?: unknown;
  jitter?: unknown;
}

/** The schedule as written, normalised, which decides whether a later write changed it. */
export type WrittenSchedule =
  | { form: "at"; atMs: number; allowPast: boolean }
  | { form: "delay"; delayMs: number }
  | { form: "every"; everyMs: number }
  | { form: "cron"; cron: string };

/** What the domain needs from the environment to read a schedule. */
export interface ScheduleContext {
  /** The instant the schedule is read at. */
  nowMs: number;
  /** The time zone used when none is given. */
  defaultTimeZone: string;
  /** The shortest heartbeat or cron period allowed. */
  minIntervalMs: number;
}

/** A schedule read from input: the form as written plus the window it runs in. */
export interface ParsedSchedule {
  written: WrittenSchedule;
  /** The field the schedule came in (errors about it name this field). Not part of the schedule's identity. */
  field: "when" | "at" | "delay" | "every" | "cron";
  timezone: string;
  startAtMs: number | null;
  endAtMs: number | null;
  /**
   * Heartbeats only: each trigger's phase is moved by its own fixed offset in [0, jitterMs), so that many
   * heartbeats created at once do not all fire in the same instant. Absent when no jitter was asked for.
   */
  jitterMs?: number;
}

const FORMS = ["when", "at", "delay", "every", "cron"] as const;
const FORM_HINT = `give exactly one of "when" (e.g. "in 30m", "every 5m", "0 9 * * 1-5", "2026-06-15T14:00:00Z"), "at", "delay", "every" or "cron"`;

/**
 * Reads and validates the schedule fields of a trigger. Pure: the result does not depend on the clock
 * except through `ctx.nowMs` (used for the past-time and min-interval checks).
 *
 * @throws TicklerError naming the offending field
 */
export function parseSchedule(input: ScheduleInput, ctx: ScheduleContext): ParsedSchedule {
  const given = FORMS.filter((form) => input[form] !== undefined && input[form] !== null);
  if (given.length !== 1) {
    throw new TicklerError(
      "invalid_schedule",
      given.length === 0
        ? `no schedule: ${FORM_HINT}`
        : `more than one schedule form (${given.join(", ")}): ${FORM_HINT}`,
      { field: given[1] ?? "when" },
    );
  }
  const form = given[0] as (typeof FORMS)[number];
  const timezone =
    input.timezone === undefined || input.timezone === null
      ? ctx.defaultTimeZone
      : parseTimeZone(input.timezone);
  const startAtMs = optionalInstant(input.start_at, timezone, "start_at");
  const endAtMs = optionalInstant(input.end_at, timezone, "end_at");
  if (startAtMs !== null && endAtMs !== null && endAtMs <= startAtMs) {
    throw invalid("invalid_time", "end_at", "must be after start_at");
  }
  if (endAtMs !== null && endAtMs <= ctx.nowMs) {
    throw invalid("invalid_time", "end_at", `is in the past; give a later time or leave end_at out`);
  }
  if (input.allow_past !== undefined && input.allow_past !== null && typeof input.allow_past !== "boolean") {
    throw invalid("invalid_field", "allow_past", `expected true or false, got ${typeName(input.allow_past)}`);
  }
  const allowPast = input.allow_past === true;
  const written = readForm(form, input[form], { timezone, allowPast }, ctx);
  if (written.form !== "every" && written.form !== "cron" && startAtMs !== null) {
    throw invalid(
      "invalid_field",
      "start_at",
      "only applies to heartbeats and cron; a one-shot fires at its own time",
    );
  }
  const jitterMs = readJitter(input.jitter, written);
  return { written, field: form, timezone, startAtMs, endAtMs, ...(jitterMs ? { jitterMs } : {}) };
}

/** `jitter`: a duration no longer than the heartbeat's period; 0 or absent for none. */
function readJitter(value: unknown, written: WrittenSchedule): number {
  if (value === undefined || value === null || value === 0) return 0;
  const jitterMs = parseDuration(value, "jitter");
  if (jitterMs === 0) return 0;
  if (written.form !== "every") {
    throw invalid(
      "invalid_field",
      "jitter",
      written.form === "cron"
        ? "only applies to heartbeats (every); to spread cron triggers, give them different minutes"
        : "only applies to heartbeats (every); a one-shot fires at its own time",
    );
  }
  if (jitterMs > written.everyMs) {
    throw invalid(
      "invalid_field",
      "jitter",
      `${formatDuration(jitterMs)} is longer than the period ${formatDuration(written.everyMs)}; give at most the period (which spreads heartbeats over all of it)`,
    );
  }
  return jitterMs;
}

/**
 * A trigger's own offset within its jitter: the same for the same trigger id every time (FNV-1a of the id),
 * spread evenly over [0, jitterMs) across ids.
 */
export function jitterOffset(seed: string, jitterMs: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) hash = Math.imul(hash ^ seed.charCodeAt(i), 0x01000193) >>> 0;
  return hash % jitterMs;
}

function optionalInstant(value: unknown, timezone: string, field: string): number | null {
  return value === undefined || value === null ? null : parseInstant(value, timezone, field);
}

function readForm(
  form: (typeof FORMS)[number],
  value: unknown,
  opts: { timezone: string; allowPast: boolean },
  ctx: ScheduleContext,
): WrittenSchedule {
  switch (form) {
    case "at":
      return { form: "at", atMs: parseInstant(value, opts.timezone, "at"), allowPast: opts.allowPast };
    case "delay":
      return { form: "delay", delayMs: parseDuration(value, "delay") };
    case "every":
      return {
        form: "every",
        everyMs: checkInterval(parseDuration(stripEvery(value), "every"), "every", ctx),
      };
    case "cron":
      return { form: "cron", cron: checkCronInterval(parseCron(value, "cron"), "cron", ctx) };
    case "when":
      return readWhen(value, opts, ctx);
  }
}

function stripEvery(value: unknown): unknown {
  return typeof value === "string" ? value.trim().replace(/^every\s+/i, "") : value;
}

/** `when` is detected: "every …" is a heartbeat, a cron-looking string is cron, an ISO time is `at`, else a delay. */
function readWhen(
  value: unknown,
  opts: { timezone: string; allowPast: boolean },
  ctx: ScheduleContext,
): WrittenSchedule {
  if (typeof value === "number") return { form: "delay", delayMs: parseDuration(value, "when") };
  if (typeof value !== "string" || value.trim() === "") {
    throw invalid("invalid_schedule", "when", `expected a string; ${FORM_HINT}`);
  }
  const text = value.trim();
  if (/^every\s/i.test(text)) {
    return { form: "every", everyMs: checkInterval(parseDuration(stripEvery(text), "when"), "when", ctx) };
  }
  if (looksLikeCron(text))
    return { form: "cron", cron: checkCronInterval(parseCron(text, "when"), "when", ctx) };
  if (looksLikeIsoTime(text))
    return { form: "at", atMs: parseInstant(text, opts.timezone, "when"), allowPast: opts.allowPast };
  return { form: "delay", delayMs: parseDuration(text, "when") };
}

/** A macro, or 4–7 space-separated tokens made only of cron characters with at least one `*` or 5+ tokens. */
export function looksLikeCron(text: string): boolean {
  if (text.startsWith("@")) return true;
  const tokens = text.split(/\s+/);
  if (tokens.length < 4 || tokens.length > 7) return false;
  if (!tokens.every((t) => /^[0-9*/,?#LW-]+$|^[A-Za-z]{3}([-,][A-Za-z]{3})*$/.test(t))) return false;
  return tokens.length >= 5 || tokens.some((t) => t.includes("*"));
}

function checkInterval(everyMs: number, field: string, ctx: ScheduleContext): number {
  if (everyMs < ctx.minIntervalMs) {
    throw invalid(
      "interval_too_short",
      field,
      `${formatDuration(everyMs)} is shorter than the minimum interval ${formatDuration(ctx.minIntervalMs)}; use "every ${formatDuration(ctx.minIntervalMs)}" or longer`,
    );
  }
  return everyMs;
}

function checkCronInterval(cron: string, field: string, ctx: ScheduleContext): string {
  const fires = cronFiresAfter(cron, "UTC", ctx.nowMs, 24);
  for (let i = 1; i < fires.length; i++) {
    const gap = (fires[i] as number) - (fires[i - 1] as number);
    if (gap < ctx.minIntervalMs) {
      throw invalid(
        "interval_too_short",
        field,
        `"${cron}" fires every ${formatDuration(gap)}, more often than the minimum interval ${formatDuration(ctx.minIntervalMs)}`,
      );
    }
  }
  return cron;
}

/**
 * Resolves a written schedule into fire-time terms at `nowMs`: a delay becomes an instant, a heartbeat gets
 * its anchor (its first fire: `start_at` if given, moved forward onto the grid if it is past, else
 * `now + every`; then moved by the trigger's jitter offset, derived from `seed`, its id). Refuses an `at`
 * in the past unless `allow_past` is set, in which case it fires at once.
 *
 * @throws TicklerError `invalid_time`
 */
export function resolveSchedule(parsed: ParsedSchedule, nowMs: number, seed = ""): Schedule {
  const { written, field } = parsed;
  switch (written.form) {
    case "at":
      if (written.atMs <= nowMs && !written.allowPast) {
        throw invalid(
          "invalid_time",
          field,
          `${new Date(written.atMs).toISOString()} is in the past (now ${new Date(nowMs).toISOString()}); give a future time, or set allow_past: true to fire at once`,
        );
      }
      return { kind: "once", atMs: Math.max(written.atMs, nowMs) };
    case "delay":
      return { kind: "once", atMs: nowMs + written.delayMs };
    case "every": {
      const offset = parsed.jitterMs ? jitterOffset(seed, parsed.jitterMs) : 0;
      const start = (parsed.startAtMs ?? nowMs + written.everyMs) + offset;
      const behind = start < nowMs ? Math.ceil((nowMs - start) / written.everyMs) : 0;
      return { kind: "heartbeat", everyMs: written.everyMs, anchorMs: start + behind * written.everyMs };
    }
    case "cron":
      return { kind: "cron", cron: written.cron, timezone: parsed.timezone };
  }
}

/** Bounds that end a recurring schedule. */
export interface ScheduleBounds {
  startAtMs?: number | null;
  endAtMs?: number | null;
}

/**
 * The fire times of `schedule` strictly after `afterMs` and strictly before `beforeMs`, at most `limit`.
 * This is the missed-slot arithmetic: after an outage, the slots between the late one and the next
 * pending one are exactly `slotsBetween(schedule, late, next)`.
 */
export function slotsBetween(
  schedule: Schedule,
  afterMs: number,
  beforeMs: number,
  limit: number,
  bounds: ScheduleBounds = {},
): number[] {
  const from = Math.max(afterMs, (bounds.startAtMs ?? -Infinity) - 1);
  const until = Math.min(beforeMs - 1, bounds.endAtMs ?? Infinity);
  if (until <= from || limit <= 0) return [];
  switch (schedule.kind) {
    case "once":
      return schedule.atMs > from && schedule.atMs <= until ? [schedule.atMs] : [];
    case "heartbeat": {
      const out: number[] = [];
      const k0 = from < schedule.anchorMs ? 0 : Math.floor((from - schedule.anchorMs) / schedule.everyMs) + 1;
      for (let k = k0; out.length < limit; k++) {
        const slot = schedule.anchorMs + k * schedule.everyMs;
        if (slot > until) break;
        out.push(slot);
      }
      return out;
    }
    case "cron":
      return cronFiresAfter(schedule.cron, schedule.timezone, from, limit, until);
  }
}

/** The next `count` fire times at or after `fromMs` (inclusive), within the bounds. */
export function nextFires(
  schedule: Schedule,
  fromMs: number,
  count: number,
  bounds: ScheduleBounds = {},
): number[] {
  return slotsBetween(schedule, fromMs - 1, Infinity, count, bounds);
}

/** The first fire time strictly after `slotMs`, or null when the schedule has none (a one-shot, or past end_at). */
export function slotAfter(schedule: Schedule, slotMs: number, bounds: ScheduleBounds = {}): number | null {
  return slotsBetween(schedule, slotMs, Infinity, 1, bounds)[0] ?? null;
}
