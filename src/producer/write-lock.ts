import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { RedisClient } from "../redis/connection.js";
import { runScript } from "../redis/scripts.js";
import { TicklerError } from "../triggers/index.js";

/** How long a writer may hold a trigger's lock before another may take it (a crashed writer's lock expires). */
const LOCK_TTL_MS = 10_000;
/** How long a writer waits for a busy trigger before answering 409 conflict. */
const LOCK_WAIT_MS = 5_000;

/**
 * Runs `work` while holding the write lock of one trigger, so that writes to one `(user_id, name)` from any
 * number of API processes happen one after another. Writes to different triggers never wait for each other.
 * The lock is only a serialiser: correctness rests on the version compare-and-set in the store, so a writer
 * whose lock expired mid-write loses its write instead of corrupting the trigger.
 *
 * @param reads - commands sent right behind taking the lock, answered in the same round trip (say, reading
 *   the trigger); their replies, from the attempt that got the lock, are what `work` receives. Sent as
 *   separate commands rather than an ioredis pipeline: a pipeline copies every script defined on the
 *   connection (BullMQ defines dozens), which measured slower than the round trip it saves.
 */
export async function withWriteLock<T>(
  redis: RedisClient,
  key: string,
  work: (replies: unknown[], lock: HeldLock) => Promise<T>,
  reads: () => Promise<unknown>[] = () => [],
): Promise<T> {
  const lock: HeldLock = { key, token: randomUUID(), released: false };
  const replies = await acquire(redis, key, lock.token, reads);
  try {
    return await work(replies, lock);
  } finally {
    // Not awaited: the release goes out on this connection ahead of anything this process sends next, and
    // a writer elsewhere that finds the lock still held retries within milliseconds.
    if (!lock.released) void runScript(redis, "releaseLock", [key], [lock.token]).catch(() => undefined);
  }
}

/**
 * A write lock held by `work`. A write that releases it itself in its last round trip (write-trigger.lua)
 * sets `released`, so no separate release is sent.
 */
export interface HeldLock {
  readonly key: string;
  readonly token: string;
  released: boolean;
}

/** Takes the lock (waiting up to LOCK_WAIT_MS) and returns the replies to `reads` sent alongside. */
async function acquire(
  redis: RedisClient,
  key: string,
  token: string,
  reads: () => Promise<unknown>[],
): Promise<unknown[]> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let pause = 2;
  for (;;) {
    const [lock, ...replies] = await Promise.allSettled([
      redis.set(key, token, "PX", LOCK_TTL_MS, "NX"),
      ...reads(),
    ]);
    if (lock?.status === "rejected") throw lock.reason;
    if (lock?.value === "OK") {
      const failed = replies.find((reply): reply is PromiseRejectedResult => reply.status === "rejected");
      if (!failed) return replies.map((reply) => (reply as PromiseFulfilledResult<unknown>).value);
      // Taken, but a read failed: give the lock back at once rather than make the next writer wait it out.
      await runScript(redis, "releaseLock", [key], [token]).catch(() => undefined);
      throw failed.reason;
    }
    if (Date.now() > deadline) {
      throw new TicklerError(
        "conflict",
        "another write to this trigger is still in progress; retry in a moment",
      );
    }
    await sleep(pause + Math.random() * pause);
    pause = Math.min(pause * 2, 50);
  }
}
