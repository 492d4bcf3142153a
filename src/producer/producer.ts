import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Config, Principal, SeedSchedule } from "../config/index.js";
import type { Keys } from "../redis/keys.js";
import { idempotencyKeyFor, runIdFor } from "../runs/run-store.js";
import { blockedHostReason } from "../worker/address-guard.js";
import {
  TicklerError,
  checkName,
  kindOf,
  nextFires,
  parseSchedule,
  parseTrigger,
  resolveSchedule,
  sameDefinition,
  sameSchedule,
  specToInput,
  stateOf,
  triggerId,
  type IfExists,
  type Page,
  type ScheduleInput,
  type TriggerKind,
  type TriggerRecord,
  type TriggerRules,
  type TriggerSpec,
  type TriggerState,
} from "../triggers/index.js";
import type { FireJobData, FireQueue } from "./fire-queue.js";
import { TriggerStore, decodeTrigger } from "./trigger-store.js";
import { withWriteLock } from "./write-lock.js";

/** What an upsert did. */
export type UpsertStatus = "created" | "updated" | "unchanged" | "skipped";

/** The outcome of a write: what happened and the trigger as it now stands. */
export interface WriteOutcome {
  status: UpsertStatus;
  record: TriggerRecord;
  /**
   * What a caller (an agent, above all) may not guess from the status: that a one-shot which had fired
   * was re-armed by this write, or that it stays completed and nothing will fire.
   */
  note?: string;
}

/** One trigger of {@link Producer.upsertMany}: the same arguments as an upsert. */
export interface BatchItem {
  userId: string;
  name: string;
  body: unknown;
  ifExists?: IfExists;
}

/** What became of one batch item: its status, or the error that refused it (nothing stored for it). */
export type BatchResult =
  | { id: string; status: UpsertStatus }
  | { id: string; error: { code: string; message: string; field: string | undefined } };

/** Who is calling: an admin, or one user (who may only touch its own triggers). */
export type Caller = Principal;

/** The caller used by start-up seeding and by the library when no principal applies. */
export const SYSTEM_CALLER: Caller = { role: "admin" };

/** What the producer needs. */
export interface ProducerDeps {
  redis: Redis;
  keys: Keys;
  fires: FireQueue;
  config: Config;
  /** The clock; tests may pin it. */
  now?: () => number;
}

/** Filters of a user's trigger list. */
export interface ListFilter {
  kind?: TriggerKind;
  state?: TriggerState;
}

/** Fields that choose the schedule form; a PATCH that names one replaces them all. */
const SCHEDULE_FORMS = ["when", "at", "delay", "every", "cron", "allow_past"] as const;

/** The longest list page. */
export const MAX_PAGE = 500;

/**
 * The one module that writes triggers and their fires. Every write of one `(user_id, name)` runs under
 * that trigger's write lock and ends in a version compare-and-set, in this order:
 *
 *   1. BullMQ first: remove the old scheduler, add the new job or scheduler (tagged with the new schedule version);
 *   2. the definition, compare-and-set on its version (this is the commit point);
 *   3. remove the old one-shot job.
 *
 * A crash between any two steps leaves either a job whose schedule version matches no definition (the
 * worker drops it when it comes due) or a definition without its job (the reconciler re-plans it), never
 * a fire of a definition that was replaced.
 */
export class Producer {
  readonly store: TriggerStore;
  readonly fires: FireQueue;
  readonly redis: Redis;
  readonly keys: Keys;
  private readonly config: Config;
  private readonly now: () => number;
  /** The agent names a target may name: fixed for the process, so computed once, not per write. */
  private readonly agentNames: ReadonlySet<string>;

  constructor(deps: ProducerDeps) {
    this.redis = deps.redis;
    this.keys = deps.keys;
    this.fires = deps.fires;
    this.config = deps.config;
    this.now = deps.now ?? Date.now;
    this.agentNames = new Set(deps.config.agents.keys());
    this.store = new TriggerStore(deps.redis, deps.keys);
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
      blockedHost: blockedHostReason,
    };
  }

  /**
   * Creates or replaces a trigger. An identical write changes nothing (no phase reset, no extra fire); a
   * changed schedule replaces the pending fire, and the old one never fires.
   *
   * @throws TicklerError on bad input (nothing is stored), `already_exists` with ifExists=raise,
   *   `quota_exceeded`, `conflict` when the trigger stays busy
   */
  async upsert(
    userId: string,
    name: string,
    body: unknown,
    opts: { ifExists?: IfExists; caller?: Caller } = {},
  ): Promise<WriteOutcome> {
    const caller = opts.caller ?? SYSTEM_CALLER;
    const identity = { userId: checkName(userId, "user_id"), name: checkName(name, "name") };
    const spec = parseTrigger(body, identity, this.rules(caller));
    return this.commit(identity, opts.ifExists ?? "update", () => spec, { rearm: true });
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

  /** Changes some fields of an existing trigger (same rules as upsert). */
  async patch(
    userId: string,
    name: string,
    changes: unknown,
    caller: Caller = SYSTEM_CALLER,
  ): Promise<WriteOutcome> {
    if (changes === null || typeof changes !== "object" || Array.isArray(changes)) {
      throw new TicklerError("invalid_request", "the patch must be a JSON object of the fields to change", {
        field: "body",
      });
    }
    const identity = { userId: checkName(userId, "user_id"), name: checkName(name, "name") };
    const patch = changes as Record<string, unknown>;
    return this.commit(
      identity,
      "update",
      (current) => {
        if (!current) throw notFound(identity.userId, identity.name);
        const base: Record<string, unknown> = { ...specToInput(current.spec) };
        if (SCHEDULE_FORMS.some((form) => form in patch && form !== "allow_past")) {
          for (const form of SCHEDULE_FORMS) delete base[form];
        }
        return parseTrigger({ ...base, ...patch }, identity, this.rules(caller));
      },
      { rearm: true },
    );
  }

  /** Pauses a trigger: its definition stays, nothing fires until resume. */
  async pause(userId: string, name: string): Promise<WriteOutcome> {
    return this.setEnabled(userId, name, false);
  }

  /** Resumes a paused trigger. A one-shot whose time passed meanwhile follows its missed_policy. */
  async resume(userId: string, name: string): Promise<WriteOutcome> {
    return this.setEnabled(userId, name, true);
  }

  private async setEnabled(userId: string, name: string, enabled: boolean): Promise<WriteOutcome> {
    const identity = { userId: checkName(userId, "user_id"), name: checkName(name, "name") };
    return this.commit(identity, "update", (current) => {
      if (!current) throw notFound(identity.userId, identity.name);
      return { ...current.spec, enabled };
    });
  }

  /**
   * Writes what `build` makes of the stored trigger. With `rearm`, a changed definition of a one-shot that
   * already fired schedules it again (its time resolved anew: a relative delay counts from this write, an
   * `at` that has passed needs allow_past); pause and resume never re-arm.
   */
  private async commit(
    identity: { userId: string; name: string },
    ifExists: IfExists,
    build: (current: TriggerRecord | null) => TriggerSpec,
    { rearm = false }: { rearm?: boolean } = {},
  ): Promise<WriteOutcome> {
    const id = triggerId(identity.userId, identity.name);
    const quota = this.config.maxTriggersPerUser;
    // The lock, the stored trigger, the user's trigger count and the next definition version: one round
    // trip. (A write that turns out to change nothing leaves a version number unused: they only need to grow.)
    const reads = () => [
      ...this.store.read(id),
      this.redis.zcard(this.keys.userIndex(identity.userId)),
      this.redis.incr(`${this.keys.prefix}:seq`),
    ];
    return withWriteLock(
      this.redis,
      this.keys.writeLock(id),
      async ([hash, definition, count, version], lock) => {
        const current = decodeTrigger(hash as Record<string, string>, definition as string | null);
        if (current && ifExists === "skip")
          return { status: "skipped", record: current, ...firedNote(current) };
        if (current && ifExists === "raise") {
          throw new TicklerError(
            "already_exists",
            `trigger ${id} already exists; use if_exists=update to replace it`,
            { field: "name" },
          );
        }
        const spec = build(current);
        const sameForm = current !== null && sameSchedule(current.spec, spec);
        if (current && sameForm && sameDefinition(current.spec, spec))
          return { status: "unchanged", record: current, ...firedNote(current) };
        const rearmed = rearm && current !== null && hasFired(current) && kindOf(spec) === "once";
        const scheduleKept = sameForm && !rearmed;
        if (!current && Number(count) >= quota) throw overQuota(identity.userId, quota);

        const now = this.now();
        const replan = !scheduleKept || current?.spec.enabled !== spec.enabled;
        // Marked until the write has committed (write-trigger.lua clears the mark): if this process dies in
        // between, the reconciler's next pass repairs this trigger first, however many it has to sweep.
        if (replan) await this.redis.zadd(this.keys.intents, now, id);
        const next: TriggerRecord = {
          spec,
          schedule: current && scheduleKept ? current.schedule : resolveSchedule(spec.schedule, now, id),
          version: Number(version),
          scheduleVersion: replan ? Number(version) : (current?.scheduleVersion ?? Number(version)),
          createdAtMs: current?.createdAtMs ?? now,
          updatedAtMs: now,
          // A new schedule re-opens a completed trigger; anything else (pause, prompt) leaves completion as it is.
          completedAtMs: current && scheduleKept ? current.completedAtMs : null,
          fireCount: current?.fireCount ?? 0,
          lastFireAtMs: current?.lastFireAtMs ?? null,
          lastStatus: current?.lastStatus ?? null,
        };
        if (replan) {
          if (current && current.schedule.kind !== "once") await this.fires.removeScheduler(id);
          await this.fires.plan(next, now);
        }
        const written = await this.store.write(next, current?.version ?? 0, quota, replan, lock);
        if (written !== "written") {
          // Someone else committed meanwhile (our lock must have expired): make BullMQ match what is stored.
          if (replan) await this.repair(id).catch(() => undefined);
          if (written === "over_quota") throw overQuota(identity.userId, quota);
          throw new TicklerError("conflict", `trigger ${id} was changed by another writer; retry`);
        }
        // A crash before this leaves the old one-shot's job behind; it belongs to a replaced schedule version,
        // so the worker drops it and the reconciler's sweep removes it.
        if (replan && current && current.schedule.kind === "once")
          await this.fires.removeOnce(id, current.scheduleVersion);
        return {
          status: current ? "updated" : "created",
          record: next,
          ...(rearmed
            ? {
                note: "this one-shot had fired already; the changed definition re-armed it, so it fires again",
              }
            : {}),
        };
      },
      reads,
    );
  }

  /** The trigger, or `not_found`. */
  async get(userId: string, name: string): Promise<TriggerRecord> {
    const record = await this.store.get(triggerId(checkName(userId, "user_id"), checkName(name, "name")));
    if (!record) throw notFound(userId, name);
    return record;
  }

  /** A user's triggers in name order, filtered by kind and state. */
  async list(
    userId: string,
    filter: ListFilter = {},
    cursor: string | null = null,
    limit = 50,
  ): Promise<Page<TriggerRecord>> {
    checkName(userId, "user_id");
    const items: TriggerRecord[] = [];
    let next = cursor;
    // Filters apply after reading, so a filtered page may need several index pages. One match past the
    // limit tells whether there is a next page.
    do {
      const names = await this.store.userNames(userId, next, limit);
      const records = await this.store.getMany(names.items.map((name) => triggerId(userId, name)));
      for (const record of records) {
        if (!record) continue;
        if (filter.kind && kindOf(record.spec) !== filter.kind) continue;
        if (filter.state && stateOf(record) !== filter.state) continue;
        if (items.length === limit) return { items, nextCursor: items[limit - 1]?.spec.name ?? null };
        items.push(record);
      }
      next = names.nextCursor;
    } while (next !== null);
    return { items, nextCursor: null };
  }

  /** All triggers in id order (admin). */
  async listAll(cursor: string | null = null, limit = 50): Promise<Page<TriggerRecord>> {
    const ids = await this.store.allIds(cursor, limit);
    const records = await this.store.getMany(ids.items);
    return {
      items: records.filter((record): record is TriggerRecord => record !== null),
      nextCursor: ids.nextCursor,
    };
  }

  /** Removes the trigger, its pending job and its scheduler; nothing fires afterwards. */
  async cancel(userId: string, name: string): Promise<void> {
    const id = triggerId(checkName(userId, "user_id"), checkName(name, "name"));
    await this.withTrigger(id, async (current) => {
      if (!current) throw notFound(userId, name);
      await this.redis.zadd(this.keys.intents, this.now(), id);
      await this.fires.unplan(current);
      if (!(await this.store.delete(current.spec, current.version))) {
        await this.repair(id).catch(() => undefined);
        throw new TicklerError("conflict", `trigger ${id} was changed by another writer; retry`);
      }
      await this.redis.zrem(this.keys.intents, id);
    });
  }

  /** Fires the trigger now, outside its schedule (a manual run). Works on paused and completed triggers too. */
  async runNow(
    userId: string,
    name: string,
  ): Promise<{ runId: string; idempotencyKey: string; scheduledAtMs: number }> {
    const record = await this.get(userId, name);
    const tid = triggerId(record.spec.userId, record.spec.name);
    const nonce = randomUUID();
    const slot = this.now();
    const data: FireJobData = { tid, sv: record.scheduleVersion, origin: "manual", slot, manualNonce: nonce };
    await this.fires.addNow(`manual|${encodeURIComponent(tid)}|${nonce}`, data);
    return {
      runId: runIdFor(tid, slot, nonce),
      idempotencyKey: idempotencyKeyFor(tid, slot, nonce),
      scheduledAtMs: slot,
    };
  }

  /** Validates schedule fields without storing anything and returns the next fire times. */
  preview(
    input: ScheduleInput,
    count = 5,
    caller: Caller = SYSTEM_CALLER,
  ): { kind: TriggerKind; nextMs: number[]; timezone: string } {
    const now = this.now();
    const parsed = parseSchedule(input, this.rules(caller, now));
    const schedule = resolveSchedule(parsed, now);
    const kind: TriggerKind = schedule.kind;
    return {
      kind,
      timezone: parsed.timezone,
      nextMs: nextFires(
        schedule,
        Math.min(now, schedule.kind === "once" ? schedule.atMs : now),
        count,
        parsed,
      ),
    };
  }

  /**
   * Makes BullMQ match the stored definition of one trigger: re-plans a missing or stale job or scheduler,
   * removes a scheduler that has no definition or should not run. Safe to run at any time, from any process.
   */
  async repair(id: string): Promise<"ok" | "replanned" | "removed"> {
    return this.withTrigger(id, async (record) => {
      const result = await this.repairLocked(id, record);
      // Under the lock no writer is mid-write, so whatever a crashed writer left is mended now.
      await this.redis.zrem(this.keys.intents, id);
      return result;
    });
  }

  /** Runs `work` holding the trigger's write lock, with the trigger as stored (read with the lock). */
  private async withTrigger<T>(id: string, work: (current: TriggerRecord | null) => Promise<T>): Promise<T> {
    return withWriteLock(
      this.redis,
      this.keys.writeLock(id),
      async ([hash, definition]) =>
        work(decodeTrigger(hash as Record<string, string>, definition as string | null)),
      () => this.store.read(id),
    );
  }

  /** {@link repair} once the lock is held and `record` (the stored trigger, or null) read. */
  private async repairLocked(
    id: string,
    record: TriggerRecord | null,
  ): Promise<"ok" | "replanned" | "removed"> {
    if (!record || stateOf(record) !== "active") {
      if (!record || record.schedule.kind !== "once") {
        const existed = await this.fires.queue.getJobScheduler(id);
        if (existed) {
          await this.fires.removeScheduler(id);
          return "removed";
        }
      }
      return "ok";
    }
    if (await this.fires.hasPendingFire(record, this.now())) return "ok";
    if (
      record.schedule.kind === "once" &&
      (await this.redis.exists(this.keys.run(runIdFor(id, record.schedule.atMs))))
    ) {
      return "ok"; // it fired; the worker records completion
    }
    if (record.schedule.kind !== "once") await this.fires.removeScheduler(id);
    await this.fires.plan(record, this.now());
    return "replanned";
  }

  /**
   * Upserts the YAML `schedules:` with their `if_exists`; returns what happened to each.
   *
   * @throws TicklerError naming the file and the entry (`tickler.yaml: schedules[0] (ops/digest): …`)
   */
  async seed(schedules: readonly SeedSchedule[]): Promise<{ id: string; status: UpsertStatus }[]> {
    const out: { id: string; status: UpsertStatus }[] = [];
    for (const seed of schedules) {
      const id = `${seed.userId}/${seed.name}`;
      try {
        const { status } = await this.upsert(seed.userId, seed.name, seed.body, {
          ifExists: seed.ifExists,
          caller: SYSTEM_CALLER,
        });
        out.push({ id: triggerId(seed.userId, seed.name), status });
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
}

function hasFired(record: TriggerRecord): boolean {
  return record.schedule.kind === "once" && record.completedAtMs !== null;
}

/** The note of a write that left a fired one-shot as it was. */
function firedNote(record: TriggerRecord): { note?: string } {
  return hasFired(record)
    ? {
        note: "this one-shot already fired and is completed: nothing will fire. Change its prompt, payload or time to re-arm it, or schedule it under a new name",
      }
    : {};
}

function notFound(userId: string, name: string): TicklerError {
  return new TicklerError("not_found", `no trigger named "${name}" for user "${userId}"`, { field: "name" });
}

function overQuota(userId: string, quota: number): TicklerError {
  return new TicklerError(
    "quota_exceeded",
    `user "${userId}" already has ${quota} triggers (max_triggers_per_user); cancel some or raise the limit`,
  );
}
