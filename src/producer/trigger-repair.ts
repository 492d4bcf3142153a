import type { RedisClient } from "../redis/connection.js";
import type { Keys } from "../redis/keys.js";
import { stateOf, type TriggerRecord } from "../triggers/index.js";
import type { FireQueue } from "./fire-queue.js";
import type { TriggerStore } from "./trigger-store.js";

/** What a repair did to one trigger's pending fire. */
export type RepairResult = "ok" | "replanned" | "removed";

/**
 * Makes BullMQ match the stored definition of one trigger: re-plans a missing or stale job or scheduler,
 * removes a scheduler that has no definition or should not run. Safe to run at any time, from any process:
 * it works under the trigger's write lock, where no writer is mid-write.
 */
export class TriggerRepair {
  constructor(
    private readonly deps: {
      redis: RedisClient;
      keys: Keys;
      store: TriggerStore;
      fires: FireQueue;
      now: () => number;
    },
  ) {}

  async repair(id: string): Promise<RepairResult> {
    const { store, redis, keys } = this.deps;
    return store.withLock(id, async (record) => {
      const result = await this.mend(id, record);
      // Under the lock no writer is mid-write, so whatever a crashed writer left is mended now.
      await redis.zrem(keys.intents, id);
      return result;
    });
  }

  /** {@link repair} once the lock is held and `record` (the stored trigger, or null) read. */
  private async mend(id: string, record: TriggerRecord | null): Promise<RepairResult> {
    const { fires, redis, keys, now } = this.deps;
    if (!record || stateOf(record) !== "active") {
      if (!record || record.schedule.kind !== "once") {
        if (await fires.queue.getJobScheduler(id)) {
          await fires.removeScheduler(id);
          return "removed";
        }
      }
      return "ok";
    }
    if (await fires.hasPendingFire(record, now())) return "ok";
    if (
      record.schedule.kind === "once" &&
      (await redis.exists(keys.run(keys.runId(id, record.schedule.atMs))))
    )
      return "ok"; // it fired; the worker records completion
    if (record.schedule.kind !== "once") await fires.removeScheduler(id);
    await fires.plan(record, now());
    return "replanned";
  }
}
