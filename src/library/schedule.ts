import { loadConfig, type Config } from "../config/index.js";
import type { Producer, UpsertStatus } from "../producer/producer.js";
import { openStores } from "../producer/stores.js";
import {
  TicklerError,
  kindOf,
  stateOf,
  triggerId,
  upcomingFires,
  type IfExists,
  type MissedPolicy,
  type OverlapPolicy,
  type TriggerKind,
  type TriggerRecord,
  type TriggerState,
} from "../triggers/index.js";

/** A duration as tickler reads one: `"90s"`, `"5m"`, `"1h30m"`, or a number of seconds. */
export type DurationLike = string | number;

/** What every `schedule.*` call takes: Zeno's arguments, in the library's camelCase. */
export interface ScheduleCommon {
  userId: string;
  /** The trigger's name: `(userId, name)` is its key, so calling again with it updates instead of duplicating. */
  name: string;
  prompt: string;
  threadKey?: string | null;
  channel?: string | null;
  payload?: Record<string, unknown> | null;
  /** Zeno's OnMissed: what a slot missed while no worker ran does (`skip`, `run_once`, `run_all`). */
  missedPolicy?: MissedPolicy;
  misfireGrace?: DurationLike;
  catchupWindow?: DurationLike;
  overlap?: OverlapPolicy;
  retry?: {
    attempts?: number;
    backoff?: "exponential" | "fixed";
    delay?: DurationLike;
    maxDelay?: DurationLike;
    maxAge?: DurationLike;
  };
  /** How long one attempt may take (an in-process handler's `fire.signal` aborts then). */
  timeout?: DurationLike;
  /**
   * Fan-out: each fire becomes one delivery (one `onFire` call) per context, the context merged into the
   * payload: `{items: [...]}`, or `{url}` / `{agent}` answering the list at fire time; `maxExpand` caps it.
   */
  expand?: {
    items?: Record<string, unknown>[];
    url?: string;
    headers?: Record<string, string>;
    agent?: string;
    maxExpand?: number;
  } | null;
  /** A configured agent (`{agent}`), a URL, or a NATS subject; ignored by an in-process worker. */
  target?: Record<string, unknown> | null;
  metadata?: Record<string, string> | null;
  enabled?: boolean;
  /** `update` (the default) replaces an existing trigger of the name, `skip` leaves it, `raise` throws. */
  ifExists?: IfExists;
}

/** `schedule.once`: at an instant, after a delay, or `when` in words (`"in 30m"`, `"tomorrow 9am"`). */
export type OnceCall = ScheduleCommon & {
  at?: Date | string;
  delay?: DurationLike;
  when?: string;
  timezone?: string;
  allowPast?: boolean;
};

/** `schedule.heartbeat`: every interval, from `startAt` (or now) until `endAt`. */
export type HeartbeatCall = ScheduleCommon & {
  every: DurationLike;
  startAt?: Date | string;
  endAt?: Date | string;
  jitter?: DurationLike;
  maxFires?: number;
};

/** `schedule.cron`: a five-field cron expression in a time zone (UTC when none is given). */
export type CronCall = ScheduleCommon & {
  cron: string;
  timezone?: string;
  startAt?: Date | string;
  endAt?: Date | string;
  jitter?: DurationLike;
  maxFires?: number;
};

/** What a `schedule.*` call did. */
export interface Scheduled {
  /** `user_id/name`. */
  id: string;
  status: UpsertStatus;
  kind: TriggerKind;
  state: TriggerState;
  /** When it fires next (null when paused, completed or past its end). */
  nextFireAt: Date | null;
  /** Said when the status alone would mislead (a fired one-shot re-armed, or left completed). */
  note?: string;
  record: TriggerRecord;
}

/** Zeno's scheduling calls over tickler's producer. */
export interface Scheduler {
  once(call: OnceCall): Promise<Scheduled>;
  heartbeat(call: HeartbeatCall): Promise<Scheduled>;
  cron(call: CronCall): Promise<Scheduled>;
  /** Removes the trigger; nothing of it fires afterwards. @throws TicklerError `not_found` */
  cancel(call: { userId: string; name: string }): Promise<void>;
  pause(call: { userId: string; name: string }): Promise<Scheduled>;
  resume(call: { userId: string; name: string }): Promise<Scheduled>;
}

/** The call's own fields, which are not trigger fields. */
const OWN = new Set(["userId", "name", "ifExists"]);

/**
 * The library's `schedule.once/heartbeat/cron`, writing through `producer` as an admin (so a trigger's own
 * `target` URL is allowed where the deployment allows them). Validation is the API's: a bad argument throws the same
 * `TicklerError`, with `field` naming the argument as it was passed (`missedPolicy`, `retry.maxDelay`).
 */
export function scheduleFor(producer: Producer): Scheduler {
  const write = async (call: ScheduleCommon, body: Record<string, unknown>): Promise<Scheduled> => {
    const { status, record, note } = await camelErrors(() =>
      producer.upsert(call.userId, call.name, body, { ifExists: call.ifExists }),
    );
    return scheduled(status, record, note);
  };
  const byName = async (
    call: { userId: string; name: string },
    act: (userId: string, name: string) => Promise<{ status: UpsertStatus; record: TriggerRecord }>,
  ): Promise<Scheduled> => {
    const { status, record } = await camelErrors(() => act(call.userId, call.name));
    return scheduled(status, record);
  };
  return {
    once: (call) => write(call, wireBody(call)),
    heartbeat: (call) => write(call, wireBody(call)),
    cron: (call) => write(call, wireBody(call)),
    cancel: (call) => camelErrors(() => producer.cancel(call.userId, call.name)),
    pause: (call) => byName(call, (userId, name) => producer.pause(userId, name)),
    resume: (call) => byName(call, (userId, name) => producer.resume(userId, name)),
  };
}

/**
 * `schedule` for app code that only seeds triggers (the workers run elsewhere): its own Redis connection,
 * from `config` or the environment. Close it when done.
 */
export async function openSchedule(
  options: { config?: Config } = {},
): Promise<Scheduler & { producer: Producer; close(): Promise<void> }> {
  const config = options.config ?? loadConfig();
  const { producer, close } = await openStores(config, {
    role: "api",
    name: "tickler-schedule",
    timeoutMs: 5000,
  });
  return { ...scheduleFor(producer), producer, close };
}

function scheduled(status: UpsertStatus, record: TriggerRecord, note?: string): Scheduled {
  const [next] = upcomingFires(record, Date.now(), 1);
  return {
    id: triggerId(record.spec.userId, record.spec.name),
    status,
    kind: kindOf(record.spec),
    state: stateOf(record),
    nextFireAt: next === undefined ? null : new Date(next),
    ...(note ? { note } : {}),
    record,
  };
}

/** The trigger body of a call: its camelCase fields in the wire's snake_case, dates as ISO strings. */
function wireBody(call: ScheduleCommon): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(call)) {
    if (OWN.has(key) || value === undefined) continue;
    if (key === "expand" && value !== null) {
      const { maxExpand, ...source } = value as NonNullable<ScheduleCommon["expand"]>;
      body.expand = { ...source, ...(maxExpand === undefined ? {} : { max_expand: maxExpand }) };
      continue;
    }
    body[snake(key)] = VERBATIM.has(key) ? value : wire(value);
  }
  return body;
}

/** Fields passed as they are: user data (contexts, header names) whose keys are not ours to rename. */
const VERBATIM = new Set(["payload", "metadata", "target"]);

function wire(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === "object" && !Array.isArray(value))
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [snake(key), wire(inner)]));
  return value;
}

const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (key: string): string => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** Runs a producer call, renaming the field of a TicklerError it throws to the caller's camelCase. */
async function camelErrors<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (thrown) {
    if (!(thrown instanceof TicklerError) || !thrown.field) throw thrown;
    const field = thrown.field === "user_id" ? "userId" : thrown.field.split(".").map(camel).join(".");
    throw new TicklerError(thrown.code, thrown.message, { field, cause: thrown });
  }
}
