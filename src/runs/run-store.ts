import type { RedisClient } from "../redis/connection.js";
import type { Keys } from "../redis/keys.js";
import { runScript } from "../redis/scripts.js";
import { iso, type Page } from "../triggers/index.js";

/** The states of a run. */
export const RUN_STATUSES = [
  "running",
  "retrying",
  "waiting",
  "succeeded",
  "failed",
  "missed",
  "skipped_overlap",
  "partial",
] as const;
/**
 * `running`/`retrying`/`waiting` (for its agent's limits) are in progress; the rest are outcomes. `partial`
 * is a fan-out's: some of its children succeeded, some failed.
 */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** One slot of one trigger, delivered or not. Times are epoch milliseconds. */
export interface RunRecord {
  runId: string;
  triggerId: string;
  userId: string;
  name: string;
  scheduledAtMs: number;
  startedAtMs: number | null;
  finishedAtMs: number | null;
  status: RunStatus;
  attempts: number;
  httpStatus: number | null;
  durationMs: number | null;
  error: string | null;
  manual: boolean;
  catchup: boolean;
  /** When the next attempt is due, while `retrying`; when it looks again, while `waiting`. */
  nextAttemptAtMs: number | null;
  /** How long it waited for its agent's limits (max_in_flight, rate, an open circuit), in all. */
  waitedMs?: number;
  /** Since when it waits for its agent, while `waiting`. */
  waitingSinceMs?: number;
  /** A fan-out's run: its children's keys, in order (their run ids are `<run id>~<key>`), and their tally. */
  fanOut?: { keys: string[]; succeeded: number; failed: number };
  /** A fan-out child's: the parent run, its context's key and its context (merged into the payload it gets). */
  child?: { parentRunId: string; key: string; context: Record<string, unknown> };
}

export { partitionOfRun, runIdFor } from "../redis/keys.js";

/** The `Idempotency-Key` of a slot: the same on every retry of it, different for every slot. */
export function idempotencyKeyFor(triggerId: string, slotMs: number, manualNonce?: string): string {
  return manualNonce === undefined ? `${triggerId}@${slotMs}` : `${triggerId}@${slotMs}#${manualNonce}`;
}

/** The overlap marker outlives any run; a stale one is recognised by its job no longer running. */
const MARKER_TTL_MS = 24 * 3600 * 1000;
/**
 * How long a marker handed to a catch-up chain's next step waits for that job to take it. The job is added
 * right after the hand-over; if its worker died in between, no other run waits longer than this.
 */
export const HANDOVER_TTL_MS = 10_000;
/** A marker's value when handed over to a catch-up chain's next step, not yet running. */
export interface HandOver {
  /** The next step's job: take-marker.lua lets only this job take the marker. */
  jobId: string;
  /** The worker that handed it over and is adding that job (absent: a worker without a name). */
  worker: string | null;
}

/** The marker value of a hand-over (finish-run.lua writes it): `next|<job id>#<worker name>`. */
const handOverValue = (to: HandOver): string => (to.worker === null ? to.jobId : `${to.jobId}#${to.worker}`);

/**
 * Reads a marker's value as a hand-over to a catch-up chain's next step, or null when it names a running
 * job. Job ids never hold `#` (catch-up ids are URI-encoded, the others are made of names that cannot).
 */
export function parseHandOver(holder: string): HandOver | null {
  if (!holder.startsWith("next|")) return null;
  const rest = holder.slice("next|".length);
  const at = rest.lastIndexOf("#");
  return at < 0 ? { jobId: rest, worker: null } : { jobId: rest.slice(0, at), worker: rest.slice(at + 1) };
}

/** What an outcome changes in its trigger's bookkeeping (record-fire.lua). */
export interface FireBookkeeping {
  /** The schedule version the fire belongs to: a rescheduled or canceled trigger is left alone. */
  scheduleVersion: number;
  /** The outcome for last_status, or "" to leave it. */
  status: RunStatus | "";
  /** When the fire was delivered, for last_fire_at (null: leave it). */
  firedAtMs: number | null;
  /** Count it in fire_count. */
  count: boolean;
  /** It was the trigger's last slot: complete the trigger. */
  done: boolean;
  nowMs: number;
  /** Reaching it completes the trigger. */
  maxFires: number | null;
}

function fireArgs(fire: FireBookkeeping): (string | number)[] {
  return [
    fire.scheduleVersion,
    fire.status,
    fire.firedAtMs ?? "",
    fire.count ? 1 : 0,
    fire.done ? 1 : 0,
    fire.nowMs,
    fire.maxFires ?? "",
  ];
}

/**
 * Run history in Redis: one key per run (expiring after the retention period) and a per-trigger sorted
 * set by scheduled time, capped at the history limit. Each write is one round trip.
 */
export class RunStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly limits: { historyLimit: number; retentionMs: number; eventsMaxLen: number },
  ) {}

  /**
   * Writes (or overwrites) runs and appends one event per run to the event stream (save-run.lua: one call
   * per run, sent together). `indexed` false keeps them out of the trigger's history (a canceled trigger).
   * The event carries the stored run; readers turn it into the wire form.
   */
  async save(runs: readonly RunRecord[], indexed = true): Promise<void> {
    await Promise.all(
      runs.map((run) => runScript(this.redis, "saveRun", this.saveKeys(run), this.saveArgs(run, indexed))),
    );
  }

  /**
   * Writes `run` as started, taking its trigger's overlap marker for `markerJobId` first when given
   * (start-run.lua, one round trip).
   *
   * @returns null when started; otherwise the job id holding the marker, and nothing was written
   */
  async start(run: RunRecord, markerJobId: string | null): Promise<string | null> {
    const holder = await runScript<string>(
      this.redis,
      "startRun",
      [this.keys.running(run.triggerId), ...this.saveKeys(run)],
      [markerJobId ?? "", MARKER_TTL_MS, ...this.saveArgs(run, true)],
    );
    return holder === "" ? null : holder;
  }

  /**
   * A fire's first attempt in one round trip (begin-fire.lua): reads its trigger and, when nothing stands in
   * the way, takes the overlap marker and writes `run` as running.
   *
   * @returns the trigger's hash and definition as `TriggerStore.read` gets them, whether the run started,
   *   and the slot's run record as it was before (`existing`: an earlier pickup of the job started it)
   */
  async begin(
    run: RunRecord,
    fire: { scheduleVersion: number | null; jobId: string; checkLate: boolean; nowMs: number },
  ): Promise<{
    started: boolean;
    hash: Record<string, string>;
    definition: string | null;
    existing: RunRecord | null;
  }> {
    const [started, flat, definition, existing] = await runScript<[number, string[], string, string]>(
      this.redis,
      "beginFire",
      [
        this.keys.trigger(run.triggerId),
        this.keys.definition(run.triggerId),
        this.keys.running(run.triggerId),
        ...this.saveKeys(run),
      ],
      [
        fire.scheduleVersion ?? "",
        fire.jobId,
        MARKER_TTL_MS,
        run.scheduledAtMs,
        fire.nowMs,
        fire.checkLate ? 1 : 0,
        ...this.saveArgs(run, true),
      ],
    );
    const hash: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
    return {
      started: started === 1,
      hash,
      definition: definition === "" ? null : definition,
      existing: existing === "" ? null : (JSON.parse(existing) as RunRecord),
    };
  }

  /**
   * Writes a run's outcome, updates its trigger's fire bookkeeping and releases the overlap marker if
   * `marker.holder` holds it, in one round trip (finish-run.lua). With `marker.handTo` the marker goes to
   * that job instead (the next step of a catch-up chain), so no other run of the trigger starts in between.
   * `indexed`: the run's start already put it in its trigger's history, which is left as it is.
   *
   * @returns whether this outcome completed the trigger, and the trigger's failed runs in a row after it
   */
  async finish(
    run: RunRecord,
    fire: FireBookkeeping,
    marker: { holder: string; handTo: HandOver | null } | null,
    indexed = false,
  ): Promise<{ completed: boolean; failuresInRow: number }> {
    const [, completed, failuresInRow] = await runScript<[number, number, number]>(
      this.redis,
      "finishRun",
      [
        ...this.saveKeys(run),
        this.keys.trigger(run.triggerId),
        this.keys.counts,
        this.keys.running(run.triggerId),
      ],
      [
        ...this.saveArgs(run, !indexed),
        ...fireArgs(fire),
        marker?.holder ?? "",
        marker?.handTo ? handOverValue(marker.handTo) : "",
        HANDOVER_TTL_MS,
      ],
    );
    return { completed: completed === 1, failuresInRow };
  }

  /**
   * Updates a trigger's fire bookkeeping alone (record-fire.lua), for outcomes that are not one run's.
   *
   * @returns whether this completed the trigger
   */
  async recordFire(triggerId: string, fire: FireBookkeeping): Promise<boolean> {
    const [, completed] = await runScript<[number, number]>(
      this.redis,
      "recordFire",
      [this.keys.trigger(triggerId), this.keys.counts],
      fireArgs(fire),
    );
    return completed === 1;
  }

  private saveKeys(run: RunRecord): string[] {
    return [this.keys.run(run.runId), this.keys.runs(run.triggerId), this.keys.events];
  }

  private saveArgs(run: RunRecord, index: boolean): (string | number)[] {
    const { retentionMs, historyLimit, eventsMaxLen } = this.limits;
    return [
      JSON.stringify(run),
      retentionMs,
      run.scheduledAtMs,
      run.runId,
      index ? historyLimit : "",
      eventsMaxLen,
      run.userId,
    ];
  }

  /** One run, or null. */
  async get(runId: string): Promise<RunRecord | null> {
    const json = await this.redis.get(this.keys.run(runId));
    return json === null ? null : (JSON.parse(json) as RunRecord);
  }

  /** A trigger's runs, newest first; the cursor is the scheduled time of the last run of the previous page. */
  async list(triggerId: string, cursor: string | null, limit: number): Promise<Page<RunRecord>> {
    const max = cursor === null ? "+inf" : `(${cursor}`;
    const ids = await this.redis.zrevrangebyscore(
      this.keys.runs(triggerId),
      max,
      "-inf",
      "LIMIT",
      0,
      limit + 1,
    );
    const page = ids.slice(0, limit);
    const json = page.length === 0 ? [] : await this.redis.mget(page.map((id) => this.keys.run(id)));
    const items = json
      .filter((item): item is string => item !== null)
      .map((item) => JSON.parse(item) as RunRecord);
    const last = items.at(-1);
    return { items, nextCursor: ids.length > limit && last ? String(last.scheduledAtMs) : null };
  }

  /** Runs by id, in order (null for one gone: expired, or never written). */
  async getMany(runIds: readonly string[]): Promise<(RunRecord | null)[]> {
    if (runIds.length === 0) return [];
    const json = await this.redis.mget(runIds.map((id) => this.keys.run(id)));
    return json.map((item) => (item === null ? null : (JSON.parse(item) as RunRecord)));
  }

  /** Deletes a trigger's run index (its run keys expire on their own). */
  async forget(triggerId: string): Promise<void> {
    await this.redis.del(this.keys.runs(triggerId));
  }
}

/** A run as the API shows it. */
export function runToWire(run: RunRecord): Record<string, unknown> {
  const time = (ms: number | null): string | null => (ms === null ? null : iso(ms));
  return {
    run_id: run.runId,
    trigger_id: run.triggerId,
    user_id: run.userId,
    name: run.name,
    scheduled_at: iso(run.scheduledAtMs),
    started_at: time(run.startedAtMs),
    finished_at: time(run.finishedAtMs),
    status: run.status,
    attempts: run.attempts,
    http_status: run.httpStatus,
    duration_ms: run.durationMs,
    error: run.error,
    manual: run.manual,
    catchup: run.catchup,
    next_attempt_at: time(run.nextAttemptAtMs),
    waited_ms: run.waitedMs ?? 0,
    children: run.fanOut
      ? {
          total: run.fanOut.keys.length,
          succeeded: run.fanOut.succeeded,
          failed: run.fanOut.failed,
          pending: run.fanOut.keys.length - run.fanOut.succeeded - run.fanOut.failed,
        }
      : null,
    ...(run.child
      ? { parent_run_id: run.child.parentRunId, context_key: run.child.key, context: run.child.context }
      : {}),
  };
}

/** The run id of a fan-out's child: its parent's run id and its context's key. */
export const childRunId = (parentRunId: string, key: string): string => `${parentRunId}~${key}`;
