import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Keys } from "../redis/keys.js";
import { TicklerError, coerceError } from "../triggers/index.js";
import type { Producer } from "./producer.js";

/** What one reconcile pass found. */
export interface ReconcileReport {
  checked: number;
  replanned: number;
  removed: number;
  /** Triggers skipped because a writer holds their lock (e.g. one that died mid-write: it expires in 10 s). */
  busy: number;
}

/**
 * Runs {@link reconcilePass} unless another process ran one within `leaseMs` (a Redis lease), so a fleet
 * of N workers makes one pass per interval, not N. Returns null when the lease is taken.
 */
export async function reconcile(
  producer: Producer,
  redis: Redis,
  keys: Keys,
  leaseMs: number,
): Promise<ReconcileReport | null> {
  const lease = `${keys.prefix}:reconcile`;
  if ((await redis.set(lease, String(process.pid), "PX", leaseMs, "NX")) !== "OK") return null;
  return reconcilePass(producer);
}

/**
 * One pass over every trigger and every job scheduler, making BullMQ match the stored definitions: a
 * definition without its pending fire (a writer died between steps, or BullMQ #3499 broke a scheduler's
 * chain) is re-planned; a scheduler without a definition is removed.
 */
export async function reconcilePass(producer: Producer): Promise<ReconcileReport> {
  const report: ReconcileReport = { checked: 0, replanned: 0, removed: 0, busy: 0 };
  const tally = (result: "ok" | "replanned" | "removed" | "busy"): void => {
    report.checked++;
    if (result !== "ok") report[result]++;
  };
  // One trigger whose lock is held must not stop the pass: the next pass gets it.
  const repair = (id: string) =>
    producer.repair(id).catch((thrown: unknown) => {
      if (thrown instanceof TicklerError && thrown.code === "conflict") return "busy" as const;
      throw thrown;
    });
  let cursor: string | null = null;
  do {
    const page = await producer.store.allIds(cursor, 500);
    for (const id of page.items) tally(await repair(id));
    cursor = page.nextCursor;
  } while (cursor !== null);
  const schedulerCount = await producer.fires.queue.getJobSchedulersCount();
  for (let start = 0; start < schedulerCount; start += 500) {
    const schedulers = await producer.fires.queue.getJobSchedulers(start, start + 499, true);
    const ids = schedulers.map((scheduler) => scheduler.key);
    const records = await producer.store.getMany(ids);
    for (const [i, id] of ids.entries()) if (records[i] === null) tally(await repair(id));
  }
  report.removed += await sweepStrayJobs(producer);
  return report;
}

/**
 * Removes pending one-shot and catch-up jobs that no current definition accounts for: left by a writer that
 * died after adding the job and before committing the definition, or planned under a schedule since
 * replaced. The processor would drop them when they come due anyway; sweeping them keeps the queue
 * honest (Bull Board, /v1/queue) and is what "no job without a definition" means.
 */
async function sweepStrayJobs(producer: Producer): Promise<number> {
  const queue = producer.fires.queue;
  const PAGE = 500;
  const stray: string[] = [];
  for (let start = 0; ; start += PAGE) {
    const jobs = await queue.getJobs(["delayed"], start, start + PAGE - 1, true);
    if (jobs.length === 0) break;
    const planned = jobs.filter((job) => job && !job.repeatJobKey && job.data.origin !== "manual");
    const records = await producer.store.getMany(planned.map((job) => job.data.tid));
    planned.forEach((job, i) => {
      if (records[i]?.scheduleVersion !== job.data.sv) stray.push(job.id ?? "");
    });
  }
  let removed = 0;
  // A job a worker took meanwhile cannot be removed (0): the processor drops it instead.
  for (const id of stray) if ((await queue.remove(id)) === 1) removed++;
  return removed;
}

/** Runs {@link reconcile} now and then every `intervalMs` until the returned stop function is called. */
export function startReconciler(
  producer: Producer,
  redis: Redis,
  keys: Keys,
  intervalMs: number,
  logger: Logger,
): () => void {
  let stopped = false;
  const run = async (): Promise<void> => {
    try {
      const report = await reconcile(producer, redis, keys, Math.max(1000, intervalMs - 500));
      if (report && (report.replanned > 0 || report.removed > 0))
        logger.warn(report, "reconciler repaired triggers");
      else if (report) logger.debug(report, "reconciler found nothing to repair");
    } catch (thrown) {
      if (!stopped)
        logger.warn({ err: coerceError(thrown).message }, "reconcile pass failed; will try again");
    }
  };
  void run();
  const timer = setInterval(() => void run(), intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
