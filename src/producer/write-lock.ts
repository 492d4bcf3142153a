import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
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
 */
export async function withWriteLock<T>(redis: Redis, key: string, work: () => Promise<T>): Promise<T> {
  const token = randomUUID();
  const deadline = Date.now() + LOCK_WAIT_MS;
  let pause = 2;
  while ((await redis.set(key, token, "PX", LOCK_TTL_MS, "NX")) !== "OK") {
    if (Date.now() > deadline) {
      throw new TicklerError(
        "conflict",
        "another write to this trigger is still in progress; retry in a moment",
      );
    }
    await sleep(pause + Math.random() * pause);
    pause = Math.min(pause * 2, 50);
  }
  try {
    return await work();
  } finally {
    await runScript(redis, "releaseLock", [key], [token]).catch(() => undefined);
  }
}
