import { describeSchedule } from "./describe.js";
import { formatDuration } from "./duration.js";
import { nextFires, slotAfter, type Schedule } from "./schedule.js";
import { iso } from "./time-zone.js";
import type { TriggerInput } from "./trigger-input.js";
import { kindOf, type Expand, type Target, type TriggerSpec } from "./trigger-spec.js";

/** The states a trigger is in. */
export const TRIGGER_STATES = ["active", "paused", "completed"] as const;
/** `active` fires; `paused` keeps its definition and fires nothing; `completed` has no fires left. */
export type TriggerState = (typeof TRIGGER_STATES)[number];

/** A stored trigger: its definition plus bookkeeping. Times are epoch milliseconds. */
export interface TriggerRecord {
  spec: TriggerSpec;
  /** The resolved schedule (a delay's instant, a heartbeat's anchor) as of the last schedule change. */
  schedule: Schedule;
  /** Bumped by every change. */
  version: number;
  /** The version at which the schedule (or the enabled state) last changed; jobs carry it to tell stale fires. */
  scheduleVersion: number;
  createdAtMs: number;
  updatedAtMs: number;
  completedAtMs: number | null;
  fireCount: number;
  lastFireAtMs: number | null;
  lastStatus: string | null;
  /** Runs that failed in a row, up to the last outcome (a success resets it). */
  failuresInRow: number;
}

/** A page of a listing: the items and the cursor of the next page (null on the last). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The trigger id: `user_id/name`. */
export function triggerId(userId: string, name: string): string {
  return `${userId}/${name}`;
}

/** The user of a trigger id `user_id/name` (user ids hold no slash). */
export function userOfTrigger(id: string): string {
  return id.slice(0, id.indexOf("/"));
}

/** A record's state, derived from its bookkeeping. */
export function stateOf(record: Pick<TriggerRecord, "completedAtMs" | "spec">): TriggerState {
  if (record.completedAtMs !== null) return "completed";
  return record.spec.enabled ? "active" : "paused";
}

/** Whether `slotMs` is the trigger's last slot: a one-shot's, or one with no slot after it before end_at. */
export function isLastSlot(record: Pick<TriggerRecord, "schedule" | "spec">, slotMs: number): boolean {
  return record.schedule.kind === "once" || slotAfter(record.schedule, slotMs, record.spec.schedule) === null;
}

/** The id of a record's trigger. */
export function recordId(record: Pick<TriggerRecord, "spec">): string {
  return triggerId(record.spec.userId, record.spec.name);
}

/** The next `count` fires of an active trigger at or after `nowMs`, honouring end_at and max_fires. */
export function upcomingFires(record: TriggerRecord, nowMs: number, count: number): number[] {
  if (stateOf(record) !== "active") return [];
  const left = record.spec.maxFires === null ? count : Math.max(0, record.spec.maxFires - record.fireCount);
  const { startAtMs, endAtMs } = record.spec.schedule;
  // A one-shot that came due but is not delivered yet is still "next": it fires as soon as a worker takes it.
  const from = record.schedule.kind === "once" ? Math.min(nowMs, record.schedule.atMs) : nowMs;
  return nextFires(record.schedule, from, Math.min(count, left), { startAtMs, endAtMs });
}

/** The schedule fields as the caller wrote them (one of at/delay/every/cron), for responses and PATCH. */
export function writtenFields(
  spec: TriggerSpec,
): Pick<TriggerInput, "at" | "delay" | "every" | "cron" | "allow_past" | "jitter"> {
  const written = spec.schedule.written;
  switch (written.form) {
    case "at":
      return written.allowPast ? { at: iso(written.atMs), allow_past: true } : { at: iso(written.atMs) };
    case "delay":
      return { delay: formatDuration(written.delayMs) };
    case "every":
      return spec.schedule.jitterMs
        ? { every: formatDuration(written.everyMs), jitter: formatDuration(spec.schedule.jitterMs) }
        : { every: formatDuration(written.everyMs) };
    case "cron":
      return { cron: written.cron };
  }
}

/** A target (or a notify destination) in wire form. */
function targetToWire(target: Target | null): TriggerInput["target"] {
  if (target === null) return null;
  if ("agent" in target) return { agent: target.agent };
  if ("nats" in target) {
    const { servers, subject, jetstream, dispatch } = target.nats;
    return { nats: { url: servers, subject, jetstream, dispatch } };
  }
  return {
    url: target.url,
    method: target.method,
    headers: target.headers,
    format: target.format,
    a2a_version: target.a2aVersion,
  };
}

/** A fan-out in wire form. */
function expandToWire(expand: Expand | null): TriggerInput["expand"] {
  if (expand === null) return null;
  const { maxExpand, ...source } = expand;
  return { ...source, max_expand: maxExpand };
}

/** The definition in wire form: feeding it back to `parseTrigger` gives the same spec. */
export function specToInput(spec: TriggerSpec): TriggerInput {
  const { target } = spec;
  return {
    prompt: spec.prompt,
    ...writtenFields(spec),
    timezone: spec.schedule.timezone,
    start_at: spec.schedule.startAtMs === null ? null : iso(spec.schedule.startAtMs),
    end_at: spec.schedule.endAtMs === null ? null : iso(spec.schedule.endAtMs),
    payload: spec.payload,
    thread_key: spec.threadKey,
    channel: spec.channel,
    target: targetToWire(target),
    expand: expandToWire(spec.expand),
    missed_policy: spec.missedPolicy,
    misfire_grace: formatDuration(spec.misfireGraceMs),
    catchup_window: formatDuration(spec.catchupWindowMs),
    overlap: spec.overlap,
    retry: {
      attempts: spec.retry.attempts,
      backoff: spec.retry.backoff,
      delay: formatDuration(spec.retry.delayMs),
      max_delay: formatDuration(spec.retry.maxDelayMs),
      ...(spec.retry.maxAgeMs === null ? {} : { max_age: formatDuration(spec.retry.maxAgeMs) }),
    },
    timeout: formatDuration(spec.timeoutMs),
    max_fires: spec.maxFires,
    notify: targetToWire(spec.notify),
    pause_after_failures: spec.pauseAfterFailures,
    catchup_max: spec.catchupMax,
    enabled: spec.enabled,
    metadata: spec.metadata,
  };
}

/** Header names whose values are secrets: shown as "***" in every response. */
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key|api-key)$|token|secret/i;

const masked = (headers: Record<string, string>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers).map(([key, value]) => [key, SECRET_HEADER.test(key) ? "***" : value]),
  );

/** The trigger as the API and tools show it. Secrets in target headers are masked. */
export function recordToWire(record: TriggerRecord, nowMs: number, nextCount = 1): Record<string, unknown> {
  const { spec } = record;
  const input = specToInput(spec);
  if (input.target && "headers" in input.target && input.target.headers)
    input.target.headers = masked(input.target.headers);
  if (input.expand?.headers) input.expand.headers = masked(input.expand.headers);
  const next = upcomingFires(record, nowMs, Math.max(1, nextCount));
  return {
    id: triggerId(spec.userId, spec.name),
    user_id: spec.userId,
    name: spec.name,
    kind: kindOf(spec),
    state: stateOf(record),
    summary: describeSchedule(record.schedule, spec.schedule.timezone),
    ...input,
    created_at: iso(record.createdAtMs),
    updated_at: iso(record.updatedAtMs),
    version: record.version,
    next_fire_at: next[0] === undefined ? null : iso(next[0]),
    ...(nextCount > 1 ? { next_fires: next.map(iso) } : {}),
    last_fire_at: record.lastFireAtMs === null ? null : iso(record.lastFireAtMs),
    last_status: record.lastStatus,
    fire_count: record.fireCount,
    failures_in_row: record.failuresInRow,
    paused_by: spec.enabled ? null : spec.systemPause ? "system" : "user",
    paused_reason: spec.enabled ? null : (spec.systemPause?.reason ?? null),
  };
}
