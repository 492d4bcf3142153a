import { randomUUID } from "node:crypto";
import type { RedisClient } from "../redis/connection.js";
import type { Config } from "../config/index.js";
import type { Keys } from "../redis/keys.js";
import { idempotencyKeyFor } from "../runs/run-store.js";
import {
  TicklerError,
  checkName,
  hasFired,
  parseTrigger,
  planWrite,
  specToInput,
  triggerId,
  triggerNotFound,
  type IfExists,
  type TriggerRecord,
  type TriggerRules,
  type TriggerSpec,
} from "../triggers/index.js";
import type { FireJobData, FireQueue } from "./fire-queue.js";
import type { TriggerRepair } from "./trigger-repair.js";
import { decodeTrigger, type TriggerStore } from "./trigger-store.js";
import { withWriteLock, type HeldLock } from "./write-lock.js";
import { SYSTEM_CALLER, type Caller, type WriteOutcome } from "./write-types.js";

/** Fields that choose the schedule form; a PATCH that names one replaces them all. */
const SCHEDULE_FORMS = ["when", "at", "delay", "every", "cron", "allow_past"] as const;

/** What the write path needs. */
export interface WriterDeps {
  redis: RedisClient;
  keys: Keys;
  fires: FireQueue;
  store: TriggerStore;
  repair: TriggerRepair;
  config: Config;
  now: () => number;
  rules: (caller: Caller, nowMs?: number) => TriggerRules;
}

/**
 * The write path. Every write of one `(user_id, name)` runs under that trigger's write lock and ends in a
 * version compare-and-set, in this order:
 *
 *   1. BullMQ first: remove the old scheduler, add the new job or scheduler (tagged with the new schedule version);
 *   2. the definition, compare-and-set on its version (this is the commit point);
 *   3. remove the old one-shot job.
 *
 * A crash between any two steps leaves either a job whose schedule version matches no definition (the
 * worker drops it when it comes due) or a definition without its job (the reconciler re-plans it), never
 * a fire of a definition that was replaced. What a write stores is decided by `planWrite` (pure).
 */
export class TriggerWriter {
  constructor(private readonly deps: WriterDeps) {}

  /** See `Producer.upsert`. */
  async upsert(
    userId: string,
    name: string,
    body: unknown,
    opts: { ifExists?: IfExists; caller?: Caller } = {},
  ): Promise<WriteOutcome> {
    const caller = opts.caller ?? SYSTEM_CALLER;
    const identity = { userId: checkName(userId, "user_id"), name: checkName(name, "name") };
    const spec = parseTrigger(body, identity, this.deps.rules(caller));
    return this.commit(identity, opts.ifExists ?? "update", () => spec, { rearm: true });
  }

  /** See `Producer.patch`. */
  async patch(userId: string, name: string, changes: unknown, caller: Caller): Promise<WriteOutcome> {
    if (changes === null || typeof changes !== "object" || Array.isArray(changes)) {
      throw new TicklerError("invalid_request", "the patch must be a JSON object of the fields to change", {
        field: "body",
      });
    }
    const identity = { userId: checkName(userId, "user_id"), name: checkName(name, "name") };
    const patch = changes as Record<string, unknown>;
    const build = (current: TriggerRecord | null): TriggerSpec => {
      if (!current) throw triggerNotFound(identity.userId, identity.name);
      const base: Record<string, unknown> = { ...specToInput(current.spec) };
      if (SCHEDULE_FORMS.some((form) => form in patch && form !== "allow_past")) {
        for (const form of SCHEDULE_FORMS) delete base[form];
      }
      return parseTrigger({ ...base, ...patch }, identity, this.deps.rules(caller));
    };
    return this.commit(identity, "update", build, { rearm: true });
  }

  /** Pauses or resumes a trigger (never re-arming a one-shot that fired). */
  async setEnabled(userId: string, name: string, enabled: boolean): Promise<WriteOutcome> {
    const identity = { userId: checkName(userId, "user_id"), name: checkName(name, "name") };
    return this.commit(identity, "update", (current) => {
      if (!current) throw triggerNotFound(identity.userId, identity.name);
      // A user's pause or resume takes over from the system's pause (resume clears its reason).
      return { ...current.spec, enabled, systemPause: null };
    });
  }

  /**
   * Pauses a trigger as the system, with why; one paused already (by anyone) is left as it is.
   *
   * @returns whether this paused it
   */
  async pauseBySystem(userId: string, name: string, reason: string): Promise<boolean> {
    const identity = { userId: checkName(userId, "user_id"), name: checkName(name, "name") };
    let paused = false;
    await this.commit(identity, "update", (current) => {
      if (!current) throw triggerNotFound(identity.userId, identity.name);
      paused = current.spec.enabled;
      if (!paused) return current.spec;
      return { ...current.spec, enabled: false, systemPause: { reason, atMs: this.deps.now() } };
    });
    return paused;
  }

  /** See `Producer.cancel`. */
  async cancel(userId: string, name: string): Promise<void> {
    const { redis, keys, fires, store, repair, now } = this.deps;
    const id = triggerId(checkName(userId, "user_id"), checkName(name, "name"));
    await store.withLock(id, async (current) => {
      if (!current) throw triggerNotFound(userId, name);
      await redis.zadd(keys.intents, now(), id);
      await fires.unplan(current);
      if (!(await store.delete(current.spec, current.version))) {
        await repair.repair(id).catch(() => undefined);
        throw conflict(id);
      }
      await redis.zrem(keys.intents, id);
    });
  }

  /** See `Producer.runNow`. */
  async runNow(
    record: TriggerRecord,
  ): Promise<{ runId: string; idempotencyKey: string; scheduledAtMs: number }> {
    const tid = triggerId(record.spec.userId, record.spec.name);
    const nonce = randomUUID();
    const slot = this.deps.now();
    const data: FireJobData = { tid, sv: record.scheduleVersion, origin: "manual", slot, manualNonce: nonce };
    await this.deps.fires.addNow(`manual|${encodeURIComponent(tid)}|${nonce}`, data);
    return {
      runId: this.deps.keys.runId(tid, slot, nonce),
      idempotencyKey: idempotencyKeyFor(tid, slot, nonce),
      scheduledAtMs: slot,
    };
  }

  /**
   * Writes what `build` makes of the stored trigger. The lock, the stored trigger, the user's trigger count
   * and the next definition version are one round trip (a write that turns out to change nothing leaves a
   * version number unused: they only need to grow). With `rearm`, a changed definition of a one-shot that
   * already fired schedules it again; pause and resume never re-arm.
   */
  private async commit(
    identity: { userId: string; name: string },
    ifExists: IfExists,
    build: (current: TriggerRecord | null) => TriggerSpec,
    { rearm = false }: { rearm?: boolean } = {},
  ): Promise<WriteOutcome> {
    const { redis, keys, store, config } = this.deps;
    const id = triggerId(identity.userId, identity.name);
    const quota = config.maxTriggersPerUser;
    const reads = () => [
      ...store.read(id),
      redis.zcard(keys.userIndex(identity.userId)),
      redis.incr(keys.versionSequence),
    ];
    return withWriteLock(
      redis,
      keys.writeLock(id),
      async ([hash, definition, count, version], lock) => {
        const current = decodeTrigger(hash as Record<string, string>, definition as string | null);
        if (current && ifExists === "skip")
          return { status: "skipped", record: current, ...firedNote(current) };
        if (current && ifExists === "raise") {
          throw new TicklerError(
            "already_exists",
            `trigger ${id} already exists; use if_exists=update to replace it`,
            {
              field: "name",
            },
          );
        }
        const spec = build(current);
        const nowMs = this.deps.now();
        const plan = planWrite(current, spec, { nowMs, version: Number(version), id, rearm });
        if (plan.change === "none")
          return { status: "unchanged", record: plan.record, ...firedNote(plan.record) };
        if (!current && Number(count) >= quota) throw overQuota(identity.userId, quota);
        return this.apply(id, current, plan, { lock, quota, nowMs });
      },
      reads,
    );
  }

  /** Carries out a write's plan in the order above. */
  private async apply(
    id: string,
    current: TriggerRecord | null,
    { next, replan, rearmed }: { next: TriggerRecord; replan: boolean; rearmed: boolean },
    { lock, quota, nowMs }: { lock: HeldLock; quota: number; nowMs: number },
  ): Promise<WriteOutcome> {
    const { redis, keys, fires, store, repair } = this.deps;
    if (replan) {
      // Marked until the write has committed (write-trigger.lua clears the mark): if this process dies in
      // between, the reconciler's next pass repairs this trigger first, however many it has to sweep.
      await redis.zadd(keys.intents, nowMs, id);
      if (current && current.schedule.kind !== "once") await fires.removeScheduler(id);
      await fires.plan(next, nowMs);
    }
    const written = await store.write(next, current?.version ?? 0, quota, replan, lock);
    if (written !== "written") {
      // Someone else committed meanwhile (our lock must have expired): make BullMQ match what is stored.
      if (replan) await repair.repair(id).catch(() => undefined);
      if (written === "over_quota") throw overQuota(next.spec.userId, quota);
      throw conflict(id);
    }
    // A crash before this leaves the old one-shot's job behind; it belongs to a replaced schedule version,
    // so the worker drops it and the reconciler's sweep removes it.
    if (replan && current && current.schedule.kind === "once")
      await fires.removeOnce(id, current.scheduleVersion);
    return {
      status: current ? "updated" : "created",
      record: next,
      ...(rearmed
        ? { note: "this one-shot had fired already; the changed definition re-armed it, so it fires again" }
        : {}),
    };
  }
}

/** The note of a write that left a fired one-shot as it was. */
function firedNote(record: TriggerRecord): { note?: string } {
  return hasFired(record)
    ? {
        note: "this one-shot already fired and is completed: nothing will fire. Change its prompt, payload or time to re-arm it, or schedule it under a new name",
      }
    : {};
}

function conflict(id: string): TicklerError {
  return new TicklerError("conflict", `trigger ${id} was changed by another writer; retry`);
}

function overQuota(userId: string, quota: number): TicklerError {
  return new TicklerError(
    "quota_exceeded",
    `user "${userId}" already has ${quota} triggers (max_triggers_per_user); cancel some or raise the limit`,
  );
}
