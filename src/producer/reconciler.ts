import type { Logger } from "pino";
import { TicklerError, coerceError } from "../triggers/index.js";
import { redisErrorHint } from "../redis/redis-errors.js";
import { STUCK_AFTER_MS } from "./fire-queue.js";
import type { Partition } from "./partition.js";

/**
 * What a pass reconciles: one partition (or a single-partition deployment's producer, which offers the
 * same).
 */
export type Reconcilable = Pick<Partition, "redis" | "keys" | "fires" | "store" | "repair">;

/** What one reconcile pass found. */
export interface ReconcileReport {
  checked: number;
  replanned: number;
  removed: number;
  /**
   * Triggers, and pending jobs newer than their definition, skipped because a writer holds the trigger's
   * lock (a write in flight, or one whose writer died mid-write: the lock expires in 10 s).
   */
  busy: number;
  /** Whether this pass finished a sweep over every trigger, scheduler and pending job. */
  sweptAll: boolean;
}

/** A write marked this long ago and still not finished belongs to a writer that died (locks last 10 s). */
const INTENT_STALE_MS = 15_000;
/** The most crashed writes or overdue schedulers mended per pass (the rest wait for the next). */
const URGENT_LIMIT = 1000;
/** Page size of the sweep's reads. */
const PAGE = 500;

/** Where the sweep over everything stopped: a stage and its position in it. */
interface SweepCursor {
  stage: "triggers" | "schedulers" | "jobs";
  /** Triggers: the last id checked. */
  after: string | null;
  /** Schedulers and jobs: the offset of the next page. */
  offset: number;
}
const SWEEP_START: SweepCursor = { stage: "triggers", after: null, offset: 0 };

/**
 * Runs {@link reconcilePass} unless another process ran one within `leaseMs` (a Redis lease), so a fleet
 * of N workers makes one pass per interval per partition, not N. Returns null when the lease is taken.
 */
export async function reconcile(
  producer: Reconcilable,
  leaseMs: number,
  budget: number,
): Promise<ReconcileReport | null> {
  const lease = producer.keys.reconcileLease;
  if ((await producer.redis.set(lease, String(process.pid), "PX", leaseMs, "NX")) !== "OK") return null;
  return reconcilePass(producer, budget);
}

/**
 * One reconcile pass, making BullMQ match the stored definitions: a definition without its pending fire
 * is re-planned, a scheduler without a definition removed, a pending job no definition accounts for swept.
 *
 * The known ways to get there are mended first, every pass, at a cost that does not grow with the number
 * of triggers: writes whose writer died before finishing (marked in the intents set), and schedulers whose
 * next iteration is a minute overdue (BullMQ #3499: a broken chain keeps a `next` in the past). Then the
 * sweep over everything, a safety net for the unknown ones, goes on where the last pass stopped, for at
 * most `budget` items (Infinity: the whole sweep now, from the start).
 */
export async function reconcilePass(producer: Reconcilable, budget = Infinity): Promise<ReconcileReport> {
  const report: ReconcileReport = { checked: 0, replanned: 0, removed: 0, busy: 0, sweptAll: false };
  const { redis, keys } = producer;
  // One trigger whose lock is held must not stop the pass: the next pass gets it.
  const repair = async (id: string): Promise<void> => {
    const result = await producer.repair(id).catch((thrown: unknown) => {
      if (thrown instanceof TicklerError && thrown.code === "conflict") return "busy" as const;
      throw thrown;
    });
    report.checked++;
    if (result !== "ok") report[result]++;
  };

  // Members of a zset scored by time whose score is older than `ageMs`, the oldest first.
  const now = Date.now();
  const olderThan = (key: string, ageMs: number) =>
    redis.zrangebyscore(key, "-inf", now - ageMs, "LIMIT", 0, URGENT_LIMIT);
  for (const id of await olderThan(keys.intents, INTENT_STALE_MS)) await repair(id); // crashed writes
  const repeatKey = producer.fires.queue.toKey("repeat"); // each scheduler scored by its next iteration
  for (const id of await olderThan(repeatKey, STUCK_AFTER_MS)) await repair(id); // overdue schedulers

  const resumable = Number.isFinite(budget);
  let cursor = resumable ? await loadCursor(redis, keys.sweepCursor) : SWEEP_START;
  let left = budget;
  const queue = producer.fires.queue;
  while (left > 0 && !report.sweptAll) {
    const size = Math.min(PAGE, left);
    if (cursor.stage === "triggers") {
      const page = await producer.store.allIds(cursor.after, size);
      for (const id of page.items) await repair(id);
      left -= Math.max(1, page.items.length);
      cursor =
        page.nextCursor === null
          ? { ...SWEEP_START, stage: "schedulers" }
          : { ...cursor, after: page.nextCursor };
    } else if (cursor.stage === "schedulers") {
      const schedulers = await queue.getJobSchedulers(cursor.offset, cursor.offset + size - 1, true);
      const ids = schedulers.map((scheduler) => scheduler.key);
      const records = await producer.store.getMany(ids);
      for (const [i, id] of ids.entries()) if (records[i] === null) await repair(id);
      left -= Math.max(1, ids.length);
      cursor =
        ids.length < size ? { ...SWEEP_START, stage: "jobs" } : { ...cursor, offset: cursor.offset + size };
    } else {
      const { seen, removed, busy } = await sweepStrayJobs(producer, cursor.offset, size);
      report.removed += removed;
      report.busy += busy;
      left -= Math.max(1, seen);
      if (seen < size) {
        cursor = SWEEP_START;
        report.sweptAll = true;
      } else cursor = { ...cursor, offset: cursor.offset + size - removed };
    }
  }
  if (resumable) await redis.set(keys.sweepCursor, JSON.stringify(cursor));
  return report;
}

async function loadCursor(redis: Reconcilable["redis"], key: string): Promise<SweepCursor> {
  const saved = await redis.get(key);
  if (saved === null) return SWEEP_START;
  try {
    return { ...SWEEP_START, ...(JSON.parse(saved) as Partial<SweepCursor>) };
  } catch {
    return SWEEP_START;
  }
}

/**
 * Removes pending one-shot and catch-up jobs that no current definition accounts for: left by a writer that
 * died after adding the job and before committing the definition, or planned under a schedule since
 * replaced. The processor would drop them when they come due anyway; sweeping them keeps the queue
 * honest (Bull Board, /v1/queue) and is what "no job without a definition" means.
 */
async function sweepStrayJobs(
  producer: Reconcilable,
  offset: number,
  size: number,
): Promise<{ seen: number; removed: number; busy: number }> {
  const queue = producer.fires.queue;
  const jobs = await queue.getJobs(["delayed"], offset, offset + size - 1, true);
  const planned = jobs.filter((job) => job && !job.repeatJobKey && job.data.origin !== "manual");
  const records = await producer.store.getMany(planned.map((job) => job.data.tid));
  let removed = 0;
  let busy = 0;
  for (const [i, job] of planned.entries()) {
    const stored = records[i]?.scheduleVersion;
    if (stored === job.data.sv) continue;
    // A job newer than its definition may belong to a write still in flight, which holds the trigger's
    // lock: stray only once the lock is gone (the write finished, or its writer died and the lock expired).
    if (
      (stored === undefined || stored < job.data.sv) &&
      (await producer.redis.exists(producer.keys.writeLock(job.data.tid))) === 1
    ) {
      busy++;
      continue;
    }
    // A job a worker took meanwhile cannot be removed (0): the processor drops it instead.
    if ((await queue.remove(job.id ?? "")) === 1) removed++;
  }
  return { seen: jobs.length, removed, busy };
}

/**
 * Runs {@link reconcile} on each partition now and then every `intervalMs` until the returned stop function
 * is called. Each partition has its own lease, so the processes of a fleet share the partitions' passes
 * out between them instead of waiting for one another.
 */
export function startReconciler(
  partitions: readonly Reconcilable[],
  intervalMs: number,
  budget: number,
  logger: Logger,
): () => void {
  let stopped = false;
  const runOne = async (partition: Reconcilable): Promise<void> => {
    const where = partition.keys.partition === null ? {} : { partition: partition.keys.partition };
    try {
      const report = await reconcile(partition, Math.max(1000, intervalMs - 500), budget);
      if (report && (report.replanned > 0 || report.removed > 0))
        logger.warn({ ...where, ...report }, "reconciler repaired triggers");
      else if (report) logger.debug({ ...where, ...report }, "reconciler found nothing to repair");
    } catch (thrown) {
      const message = coerceError(thrown).message;
      const hint = redisErrorHint(message);
      if (!stopped)
        logger.warn(
          { ...where, err: message, ...(hint ? { hint } : {}) },
          "reconcile pass failed; will try again",
        );
    }
  };
  // Partitions in a different order in each process, so two processes starting together take different leases first.
  const offset = Math.floor(Math.random() * partitions.length);
  const run = async (): Promise<void> => {
    for (let i = 0; i < partitions.length && !stopped; i++)
      await runOne(partitions[(offset + i) % partitions.length]!);
  };
  void run();
  const timer = setInterval(() => void run(), intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
