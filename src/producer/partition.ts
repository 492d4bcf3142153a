import type { Config } from "../config/index.js";
import type { RedisClient } from "../redis/connection.js";
import type { Keys } from "../redis/keys.js";
import { replicasHaving } from "../redis/durability.js";
import { RunStore } from "../runs/run-store.js";
import { blockedHostReason } from "../net/address-guard.js";
import {
  TicklerError,
  triggerId,
  type IfExists,
  type Page,
  type ScheduleInput,
  type TriggerKind,
  type TriggerRecord,
  type TriggerRules,
} from "../triggers/index.js";
import type { FireQueue } from "./fire-queue.js";
import { TriggerQueries } from "./trigger-queries.js";
import { TriggerRepair, type RepairResult } from "./trigger-repair.js";
import { TriggerStore } from "./trigger-store.js";
import { TriggerWriter } from "./trigger-writer.js";
import { SYSTEM_CALLER, type Caller, type ListFilter, type WriteOutcome } from "./write-types.js";

/** What a partition is made of. */
export interface PartitionDeps {
  redis: RedisClient;
  keys: Keys;
  fires: FireQueue;
  config: Config;
  /** The clock; tests may pin it. */
  now?: () => number;
}

/**
 * One partition of the triggers, a self-contained tickler over its own keys and BullMQ queue: the write
 * path (`trigger-writer.ts`: lock, plan, compare-and-set), the reads (`trigger-queries.ts`), the repair of
 * one trigger's pending fire (`trigger-repair.ts`) and the run history. Every user's triggers live in one
 * partition; the {@link Producer} routes each call to it.
 */
export class Partition {
  readonly store: TriggerStore;
  readonly fires: FireQueue;
  readonly runs: RunStore;
  readonly redis: RedisClient;
  readonly keys: Keys;
  private readonly config: Config;
  private readonly now: () => number;
  /** The agent names a target may name: fixed for the process, so computed once, not per write. */
  private readonly agentNames: ReadonlySet<string>;
  private readonly writer: TriggerWriter;
  private readonly queries: TriggerQueries;
  private readonly repairs: TriggerRepair;

  constructor(deps: PartitionDeps) {
    this.redis = deps.redis;
    this.keys = deps.keys;
    this.fires = deps.fires;
    this.config = deps.config;
    this.now = deps.now ?? Date.now;
    this.agentNames = new Set(deps.config.agents.keys());
    this.store = new TriggerStore(deps.redis, deps.keys);
    this.runs = new RunStore(deps.redis, deps.keys, {
      historyLimit: deps.config.runHistoryLimit,
      retentionMs: deps.config.runRetentionMs,
      eventsMaxLen: deps.config.events.maxLen,
    });
    const shared = {
      redis: this.redis,
      keys: this.keys,
      fires: this.fires,
      store: this.store,
      now: this.now,
    };
    const rules = (caller: Caller, nowMs?: number) => this.rules(caller, nowMs);
    this.repairs = new TriggerRepair(shared);
    this.writer = new TriggerWriter({ ...shared, repair: this.repairs, config: this.config, rules });
    this.queries = new TriggerQueries({ store: this.store, now: this.now, rules });
  }

  /** The validation rules for a caller at an instant. */
  rules(caller: Caller, nowMs = this.now()): TriggerRules {
    const { config } = this;
    return {
      nowMs,
      defaultTimeZone: config.defaultTimeZone,
      minIntervalMs: config.minIntervalMs,
      defaults: config.triggerDefaults,
      maxPromptBytes: config.maxPromptBytes,
      maxPayloadBytes: config.maxPayloadBytes,
      agents: this.agentNames,
      allowTargetUrls: config.allowTargetUrls && caller.role === "admin",
      dispatchOf: (agent) => config.agents.get(agent)?.nats?.dispatch ?? null,
      blockedHost: blockedHostReason,
    };
  }

  /** See `Producer.upsert`. */
  upsert(
    userId: string,
    name: string,
    body: unknown,
    opts: { ifExists?: IfExists; caller?: Caller } = {},
  ): Promise<WriteOutcome> {
    return this.durable(userId, name, this.writer.upsert(userId, name, body, opts));
  }

  /** See `Producer.patch`. */
  patch(
    userId: string,
    name: string,
    changes: unknown,
    caller: Caller = SYSTEM_CALLER,
  ): Promise<WriteOutcome> {
    return this.durable(userId, name, this.writer.patch(userId, name, changes, caller));
  }

  /** See `Producer.pause`. */
  pause(userId: string, name: string): Promise<WriteOutcome> {
    return this.durable(userId, name, this.writer.setEnabled(userId, name, false));
  }

  /** See `Producer.pauseBySystem`. */
  pauseBySystem(userId: string, name: string, reason: string): Promise<boolean> {
    return this.durable(userId, name, this.writer.pauseBySystem(userId, name, reason));
  }

  /** See `Producer.resume`. */
  resume(userId: string, name: string): Promise<WriteOutcome> {
    return this.durable(userId, name, this.writer.setEnabled(userId, name, true));
  }

  /** See `Producer.cancel`. */
  cancel(userId: string, name: string): Promise<void> {
    return this.durable(userId, name, this.writer.cancel(userId, name));
  }

  /**
   * With `durable_writes`, answers a write only once enough replicas have it. Every outcome waits, an
   * unchanged one too, so retrying a write whose confirmation timed out confirms it.
   *
   * @throws TicklerError `redis_unavailable` when fewer replicas confirmed in time (the write is made on
   *   the primary; repeating it is safe)
   */
  private async durable<T>(userId: string, name: string, write: Promise<T>): Promise<T> {
    const result = await write;
    const wanted = this.config.durableWrites;
    if (!wanted) return result;
    const key = this.keys.trigger(triggerId(userId, name));
    const got = await replicasHaving(this.redis, key, wanted.replicas, wanted.timeoutMs);
    if (got >= wanted.replicas) return result;
    throw new TicklerError(
      "redis_unavailable",
      `written on the Redis primary, but ${got} of the ${wanted.replicas} replicas durable_writes asks for confirmed it within ${wanted.timeoutMs} ms: a failover now could lose it. Repeating the same write is safe`,
    );
  }

  /** See `Producer.runNow`. */
  async runNow(
    userId: string,
    name: string,
  ): Promise<{ runId: string; idempotencyKey: string; scheduledAtMs: number }> {
    return this.writer.runNow(await this.queries.get(userId, name));
  }

  /** See `Producer.get`. */
  get(userId: string, name: string): Promise<TriggerRecord> {
    return this.queries.get(userId, name);
  }

  /** See `Producer.list`. */
  list(
    userId: string,
    filter: ListFilter = {},
    cursor: string | null = null,
    limit = 50,
  ): Promise<Page<TriggerRecord>> {
    return this.queries.list(userId, filter, cursor, limit);
  }

  /** See `Producer.listAll`. */
  listAll(cursor: string | null = null, limit = 50): Promise<Page<TriggerRecord>> {
    return this.queries.listAll(cursor, limit);
  }

  /** See `Producer.preview`. */
  preview(
    input: ScheduleInput,
    count = 5,
    caller: Caller = SYSTEM_CALLER,
  ): { kind: TriggerKind; nextMs: number[]; timezone: string } {
    return this.queries.preview(input, count, caller);
  }

  /** See `Producer.repair`. */
  repair(id: string): Promise<RepairResult> {
    return this.repairs.repair(id);
  }
}
