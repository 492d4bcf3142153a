import type { JobType } from "bullmq";
import type { SeedSchedule } from "../config/index.js";
import type { RedisClient } from "../redis/connection.js";
import type { Keys, Layout } from "../redis/keys.js";
import {
  TicklerError,
  checkName,
  triggerId,
  userOfTrigger,
  type IfExists,
  type Page,
  type ScheduleInput,
  type TriggerKind,
  type TriggerRecord,
  type TriggerRules,
} from "../triggers/index.js";
import type { FireQueue } from "./fire-queue.js";
import type { Partition } from "./partition.js";
import type { RepairResult } from "./trigger-repair.js";
import type { TriggerStore } from "./trigger-store.js";
import {
  SYSTEM_CALLER,
  type BatchItem,
  type BatchResult,
  type Caller,
  type ListFilter,
  type UpsertStatus,
  type WriteOutcome,
} from "./write-types.js";

export * from "./write-types.js";

/**
 * The one object that writes triggers and their fires and reads them back, for the API, the tools, the
 * config seeding and the library. A user's triggers all live in one {@link Partition} (by a stable hash of
 * the user id): calls about one user or trigger go to its partition, listings over everyone merge the
 * partitions, counts sum them.
 */
export class Producer {
  constructor(
    readonly redis: RedisClient,
    readonly layout: Layout,
    readonly partitions: readonly Partition[],
  ) {
    if (partitions.length !== layout.partitions)
      throw new RangeError(`${layout.partitions} partitions in the layout, ${partitions.length} given`);
  }

  /** The partition that holds a user's triggers. @throws TicklerError `invalid_name` */
  partitionFor(userId: string): Partition {
    return this.partitions[this.layout.partitionOf(checkName(userId, "user_id"))]!;
  }

  /** The partition that holds a trigger, by its id `user_id/name`. */
  partitionOfTrigger(id: string): Partition {
    return this.partitionFor(userOfTrigger(id));
  }

  /** The trigger store of a single-partition deployment (tests and tools that predate partitions). */
  get store(): TriggerStore {
    return this.only("store").store;
  }

  /** The fire queue of a single-partition deployment. */
  get fires(): FireQueue {
    return this.only("fires").fires;
  }

  /** The keys of a single-partition deployment. */
  get keys(): Keys {
    return this.only("keys").keys;
  }

  private only(what: string): Partition {
    if (this.partitions.length !== 1)
      throw new Error(
        `producer.${what} names the one partition of a single-partition deployment; this one has ${this.partitions.length}: use producer.partitionFor(userId).${what}`,
      );
    return this.partitions[0]!;
  }

  /** The validation rules for a caller at an instant. */
  rules(caller: Caller, nowMs?: number): TriggerRules {
    return this.partitions[0]!.rules(caller, nowMs);
  }

  /**
   * Creates or replaces a trigger. An identical write changes nothing (no phase reset, no extra fire); a
   * changed schedule replaces the pending fire, and the old one never fires; a changed one-shot that had
   * fired is re-armed.
   *
   * @throws TicklerError on bad input (nothing is stored), `already_exists` with ifExists=raise,
   *   `quota_exceeded`, `conflict` when the trigger stays busy
   */
  upsert(
    userId: string,
    name: string,
    body: unknown,
    opts: { ifExists?: IfExists; caller?: Caller } = {},
  ): Promise<WriteOutcome> {
    return this.partitionFor(userId).upsert(userId, name, body, opts);
  }

  /**
   * Upserts many triggers, `concurrency` at a time (their Redis work pipelines over one connection): the
   * way to seed thousands. Each item succeeds or fails on its own; a bad item's error is in its place in
   * the result and the others are written. Redis being unreachable rejects the whole call.
   */
  async upsertMany(
    items: readonly BatchItem[],
    opts: { caller?: Caller; concurrency?: number } = {},
  ): Promise<BatchResult[]> {
    const results: BatchResult[] = new Array<BatchResult>(items.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < items.length; i = next++) {
        const { userId, name, body, ifExists } = items[i]!;
        const id = `${userId}/${name}`;
        try {
          const { status } = await this.upsert(userId, name, body, { ifExists, caller: opts.caller });
          results[i] = { id, status };
        } catch (thrown) {
          if (!(thrown instanceof TicklerError)) throw thrown;
          results[i] = { id, error: { code: thrown.code, message: thrown.message, field: thrown.field } };
        }
      }
    };
    const lanes = Math.max(1, Math.min(opts.concurrency ?? 64, items.length));
    await Promise.all(Array.from({ length: lanes }, lane));
    return results;
  }

  /** Changes some fields of an existing trigger (same rules as upsert; naming a schedule form replaces the old one). */
  patch(
    userId: string,
    name: string,
    changes: unknown,
    caller: Caller = SYSTEM_CALLER,
  ): Promise<WriteOutcome> {
    return this.partitionFor(userId).patch(userId, name, changes, caller);
  }

  /** Pauses a trigger: its definition stays, nothing fires until resume. */
  pause(userId: string, name: string): Promise<WriteOutcome> {
    return this.partitionFor(userId).pause(userId, name);
  }

  /**
   * Pauses a trigger as the system (a worker, after its `pause_after_failures`): `paused_by: "system"` with
   * the reason. One paused already is left as it is; resuming clears it.
   *
   * @returns whether this paused it
   */
  pauseBySystem(userId: string, name: string, reason: string): Promise<boolean> {
    return this.partitionFor(userId).pauseBySystem(userId, name, reason);
  }

  /** Resumes a paused trigger. A one-shot whose time passed meanwhile follows its missed_policy. */
  resume(userId: string, name: string): Promise<WriteOutcome> {
    return this.partitionFor(userId).resume(userId, name);
  }

  /** Removes the trigger, its pending job and its scheduler; nothing fires afterwards. */
  cancel(userId: string, name: string): Promise<void> {
    return this.partitionFor(userId).cancel(userId, name);
  }

  /** Fires the trigger now, outside its schedule (a manual run). Works on paused and completed triggers too. */
  runNow(
    userId: string,
    name: string,
  ): Promise<{ runId: string; idempotencyKey: string; scheduledAtMs: number }> {
    return this.partitionFor(userId).runNow(userId, name);
  }

  /**
   * Upserts the YAML `schedules:` with their `if_exists`; returns what happened to each.
   *
   * @throws TicklerError naming the file and the entry (`tickler.yaml: schedules[0] (ops/digest): …`)
   */
  async seed(schedules: readonly SeedSchedule[]): Promise<{ id: string; status: UpsertStatus }[]> {
    const out: { id: string; status: UpsertStatus }[] = [];
    for (const seed of schedules) {
      const id = triggerId(seed.userId, seed.name);
      try {
        const { status } = await this.upsert(seed.userId, seed.name, seed.body, {
          ifExists: seed.ifExists,
          caller: SYSTEM_CALLER,
        });
        out.push({ id, status });
      } catch (thrown) {
        if (!(thrown instanceof TicklerError)) throw thrown;
        throw new TicklerError(thrown.code, `${seed.source} (${id}): ${thrown.message}`, {
          field: thrown.field,
          cause: thrown,
        });
      }
    }
    return out;
  }

  /** The trigger, or `not_found`. */
  get(userId: string, name: string): Promise<TriggerRecord> {
    return this.partitionFor(userId).get(userId, name);
  }

  /** A user's triggers in name order, filtered by kind and state. */
  list(
    userId: string,
    filter: ListFilter = {},
    cursor: string | null = null,
    limit = 50,
  ): Promise<Page<TriggerRecord>> {
    return this.partitionFor(userId).list(userId, filter, cursor, limit);
  }

  /**
   * All triggers in id order (admin). Each partition's index is read from the cursor on and the pages are
   * merged, so one cursor (the last id shown) pages through every partition.
   */
  async listAll(cursor: string | null = null, limit = 50): Promise<Page<TriggerRecord>> {
    if (this.partitions.length === 1) return this.partitions[0]!.listAll(cursor, limit);
    const pages = await Promise.all(this.partitions.map((p) => p.store.allIds(cursor, limit)));
    const ids = mergePages(pages, limit);
    const idsOf = this.partitions.map((): string[] => []);
    for (const id of ids.items) idsOf[this.layout.partitionOfTrigger(id)]!.push(id);
    const records = await Promise.all(
      this.partitions.map((partition, p) => partition.store.getMany(idsOf[p]!)),
    );
    const byId = new Map<string, TriggerRecord>();
    for (const record of records.flat())
      if (record) byId.set(triggerId(record.spec.userId, record.spec.name), record);
    return {
      items: ids.items.flatMap((id) => byId.get(id) ?? []),
      nextCursor: ids.nextCursor,
    };
  }

  /** How many triggers there are per kind and state, across all users (every partition summed). */
  async counts(): Promise<Record<string, number>> {
    const total: Record<string, number> = {};
    for (const counts of await Promise.all(this.partitions.map((p) => p.store.counts())))
      for (const [bucket, count] of Object.entries(counts)) total[bucket] = (total[bucket] ?? 0) + count;
    return total;
  }

  /** Fire jobs by state, every partition's queue summed. */
  async jobCounts<S extends JobType>(...states: S[]): Promise<Record<S, number>> {
    const total = Object.fromEntries(states.map((state) => [state, 0])) as Record<S, number>;
    const all = await Promise.all(this.partitions.map((p) => p.fires.queue.getJobCounts(...states)));
    for (const counts of all) for (const state of states) total[state] += counts[state] ?? 0;
    return total;
  }

  /** BullMQ job schedulers (active heartbeats and crons), every partition's summed. */
  async schedulerCount(): Promise<number> {
    const all = await Promise.all(this.partitions.map((p) => p.fires.queue.getJobSchedulersCount()));
    return all.reduce((sum, count) => sum + count, 0);
  }

  /** Worker processes connected to Redis: each consumes every partition, so the first partition's queue sees them all. */
  workerCount(): Promise<number> {
    return this.partitions[0]!.fires.queue.getWorkersCount();
  }

  /** Validates schedule fields without storing anything and returns the next fire times. */
  preview(
    input: ScheduleInput,
    count = 5,
    caller: Caller = SYSTEM_CALLER,
  ): { kind: TriggerKind; nextMs: number[]; timezone: string } {
    return this.partitions[0]!.preview(input, count, caller);
  }

  /**
   * Makes BullMQ match the stored definition of one trigger: re-plans a missing or stale job or scheduler,
   * removes a scheduler that has no definition or should not run. Safe to run at any time, from any process.
   */
  repair(id: string): Promise<RepairResult> {
    return this.partitionOfTrigger(id).repair(id);
  }
}

/**
 * The first `limit` ids of several pages read from the same cursor, in id order, and the cursor after
 * them (null when no page has more). Ids are ASCII, so JavaScript's order is Redis's byte order.
 */
export function mergePages(pages: readonly Page<string>[], limit: number): Page<string> {
  const merged = pages.flatMap((page) => page.items).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const items = merged.slice(0, limit);
  const more = merged.length > limit || pages.some((page) => page.nextCursor !== null);
  return { items, nextCursor: more && items.length > 0 ? items.at(-1)! : null };
}
