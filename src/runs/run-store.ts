import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { Keys } from "../redis/keys.js";
import { runScript } from "../redis/scripts.js";
import { iso, type Page } from "../triggers/index.js";

/** The states of a run. */
export const RUN_STATUSES = [
  "running",
  "retrying",
  "succeeded",
  "failed",
  "missed",
  "skipped_overlap",
] as const;
/** `running`/`retrying` are in progress; the rest are outcomes. */
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
  /** When the next attempt is due, while `retrying`. */
  nextAttemptAtMs: number | null;
}

/**
 * The run id of a slot: derived from the trigger and slot, so every process that handles the same slot
 * (a retry, a worker taking over a dead one's job) writes the same record and a slot never has two.
 * Manual runs add their own nonce.
 */
export function runIdFor(triggerId: string, slotMs: number, manualNonce?: string): string {
  const material =
    manualNonce === undefined ? `${triggerId}@${slotMs}` : `${triggerId}@${slotMs}#${manualNonce}`;
  return `run_${createHash("sha256").update(material).digest("base64url").slice(0, 22)}`;
}

/** The `Idempotency-Key` of a slot: the same on every retry of it, different for every slot. */
export function idempotencyKeyFor(triggerId: string, slotMs: number, manualNonce?: string): string {
  return manualNonce === undefined ? `${triggerId}@${slotMs}` : `${triggerId}@${slotMs}#${manualNonce}`;
}

/**
 * Run history in Redis: one key per run (expiring after the retention period) and a per-trigger sorted
 * set by scheduled time, capped at the history limit. Each write is one round trip.
 */
export class RunStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly limits: { historyLimit: number; retentionMs: number; eventsMaxLen: number },
  ) {}

  /**
   * Writes (or overwrites) runs and appends one event per run to the event stream (save-run.lua: one call
   * per run, sent together). `indexed` false keeps them out of the trigger's history (a canceled trigger).
   * The event carries the stored run; readers turn it into the wire form.
   */
  async save(runs: readonly RunRecord[], indexed = true): Promise<void> {
    const { retentionMs, historyLimit, eventsMaxLen } = this.limits;
    await Promise.all(
      runs.map((run) =>
        runScript(
          this.redis,
          "saveRun",
          [this.keys.run(run.runId), this.keys.runs(run.triggerId), this.keys.events],
          [
            JSON.stringify(run),
            retentionMs,
            run.scheduledAtMs,
            run.runId,
            indexed ? historyLimit : "",
            eventsMaxLen,
            run.userId,
          ],
        ),
      ),
    );
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
  };
}
