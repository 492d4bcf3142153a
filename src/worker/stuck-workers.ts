import type { Queue } from "bullmq";
import type { RedisClient } from "../redis/connection.js";

/** A worker is replaced once fires of its queue have been due this long while it took none. */
export const STUCK_AFTER_MS = 10_000;
/** How often each queue is looked at: two commands per partition. */
const CHECK_EVERY_MS = 2_500;

/** BullMQ scores a delayed job by its due time × 4096 (plus a counter). */
const DELAYED_SCORE_FACTOR = 0x1000;

/**
 * Watches each partition's queue for fires that came due and are not being taken, while that partition's
 * worker in this process sits idle: the sign of a worker whose blocking connection is wedged. Such a worker
 * is handed to `replace` once the oldest due fire is {@link STUCK_AFTER_MS} overdue. (A fire overdue while
 * every worker is busy is not this: `idle` says whether the worker could take one.)
 */
export function watchStuckWorkers(options: {
  redis: RedisClient;
  queues: readonly Queue[];
  idle: (partition: number) => boolean;
  replace: (partition: number, overdueMs: number) => Promise<void>;
  now?: () => number;
}): { stop(): void } {
  const now = options.now ?? Date.now;
  let checking = false;
  const check = async (): Promise<void> => {
    if (checking) return;
    checking = true;
    try {
      for (const [p, queue] of options.queues.entries()) {
        if (!options.idle(p)) continue;
        // A Redis error here is the connection's to report; the next check tries again.
        const overdueMs = await overdue(options.redis, queue, now()).catch(() => 0);
        if (overdueMs >= STUCK_AFTER_MS && options.idle(p)) await options.replace(p, overdueMs);
      }
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), CHECK_EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * How long the oldest fire of `queue` has been due without being taken: its oldest delayed job past its
 * time, or its oldest waiting job since its due time.
 */
async function overdue(client: RedisClient, queue: Queue, nowMs: number): Promise<number> {
  const [oldestDelayed, oldestWaiting] = await Promise.all([
    client.zrange(queue.toKey("delayed"), 0, 0, "WITHSCORES"),
    client.lindex(queue.toKey("wait"), -1),
  ]);
  const dueMs =
    oldestDelayed[1] === undefined ? Infinity : Math.floor(Number(oldestDelayed[1]) / DELAYED_SCORE_FACTOR);
  let waitingSinceMs = Infinity;
  if (oldestWaiting !== null) {
    // Due at its creation plus its delay (a delayed job promoted to wait keeps both).
    const [timestamp, delay] = await client.hmget(queue.toKey(oldestWaiting), "timestamp", "delay");
    if (timestamp !== null) waitingSinceMs = Number(timestamp) + Number(delay ?? 0);
  }
  const since = Math.min(dueMs, waitingSinceMs);
  return Number.isFinite(since) ? Math.max(0, nowMs - since) : 0;
}
