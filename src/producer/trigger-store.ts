import type { RedisClient } from "../redis/connection.js";
import type { Keys } from "../redis/keys.js";
import { runScript } from "../redis/scripts.js";
import { withWriteLock, type HeldLock } from "./write-lock.js";
import {
  kindOf,
  stateOf,
  triggerId,
  type Page,
  type Schedule,
  type TriggerRecord,
  type TriggerSpec,
} from "../triggers/index.js";

/** Outcome of a compare-and-set write. */
export type WriteResult = "written" | "conflict" | "over_quota";

/**
 * Trigger definitions in Redis: one hash per trigger plus a per-user and a global index. Reads are plain;
 * writes are compare-and-set on `version` (write-trigger.lua), so a writer that lost its lock can never
 * overwrite a newer definition.
 */
export class TriggerStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /**
   * Runs `work` holding the trigger's write lock, with the trigger as stored (read in the lock's round trip),
   * so no writer is mid-write while it runs.
   */
  async withLock<T>(id: string, work: (current: TriggerRecord | null) => Promise<T>): Promise<T> {
    return withWriteLock(
      this.redis,
      this.keys.writeLock(id),
      async ([hash, definition]) =>
        work(decodeTrigger(hash as Record<string, string>, definition as string | null)),
      () => this.read(id),
    );
  }

  /** The stored trigger, or null. */
  async get(id: string): Promise<TriggerRecord | null> {
    const [hash, definition] = await Promise.all(this.read(id));
    return decodeTrigger(hash, definition);
  }

  /**
   * Sends a trigger's two reads, its hash and its definition, back to back (one round trip), for callers
   * that send more with them; {@link decodeTrigger} reads the replies into a record.
   */
  read(id: string): [Promise<Record<string, string>>, Promise<string | null>] {
    return [this.redis.hgetall(this.keys.trigger(id)), this.redis.get(this.keys.definition(id))];
  }

  /**
   * Several triggers at once, in the order asked (null where absent). A page's worth goes as plain commands
   * back to back (one round trip, no pipeline object: building one copies every script defined on the
   * connection); a sweep's hundreds go as one pipeline, one write.
   */
  async getMany(ids: readonly string[]): Promise<(TriggerRecord | null)[]> {
    if (ids.length === 0) return [];
    if (ids.length <= 100) {
      const replies = await Promise.all(ids.flatMap((id) => this.read(id)));
      return ids.map((_, i) =>
        decodeTrigger(replies[2 * i] as Record<string, string>, replies[2 * i + 1] as string | null),
      );
    }
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.trigger(id)).get(this.keys.definition(id));
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    return ids.map((_, i) =>
      decodeTrigger(replies[2 * i]?.[1] as Record<string, string>, replies[2 * i + 1]?.[1] as string | null),
    );
  }

  /** How many triggers there are per kind and state, across all users. */
  async counts(): Promise<Record<string, number>> {
    const hash = await this.redis.hgetall(this.keys.counts);
    return Object.fromEntries(Object.entries(hash).map(([bucket, count]) => [bucket, Number(count)]));
  }

  /**
   * Writes `record` if the stored version is still `expectedVersion` (0: must not exist). A `replanned`
   * write also clears the trigger's mark in the intents set: what it planned is now committed. A write
   * made under `lock` releases it in the same step.
   */
  async write(
    record: TriggerRecord,
    expectedVersion: number,
    quota: number,
    replanned = false,
    lock?: HeldLock,
  ): Promise<WriteResult> {
    const { spec } = record;
    const id = triggerId(spec.userId, spec.name);
    const result = await runScript<number>(
      this.redis,
      "writeTrigger",
      [
        this.keys.trigger(id),
        this.keys.userIndex(spec.userId),
        this.keys.allIndex,
        this.keys.counts,
        this.keys.intents,
        this.keys.definition(id),
        lock?.key ?? this.keys.writeLock(id),
      ],
      [
        expectedVersion,
        quota,
        spec.name,
        id,
        replanned ? 1 : 0,
        encodeDefinition(record),
        lock?.token ?? "",
        ...encode(record, expectedVersion === 0),
      ],
    );
    if (result === 1 && lock) lock.released = true;
    return result === 1 ? "written" : result === -1 ? "over_quota" : "conflict";
  }

  /** Deletes the trigger if its version is still `expectedVersion`. */
  async delete(spec: Pick<TriggerSpec, "userId" | "name">, expectedVersion: number): Promise<boolean> {
    const id = triggerId(spec.userId, spec.name);
    const deleted = await runScript<number>(
      this.redis,
      "deleteTrigger",
      [
        this.keys.trigger(id),
        this.keys.userIndex(spec.userId),
        this.keys.allIndex,
        this.keys.running(id),
        this.keys.runs(id),
        this.keys.counts,
        this.keys.definition(id),
      ],
      [expectedVersion, spec.name, id],
    );
    return deleted === 1;
  }

  /** A page of a user's trigger names in name order, after `cursor` (exclusive). */
  async userNames(userId: string, cursor: string | null, limit: number): Promise<Page<string>> {
    return this.page(this.keys.userIndex(userId), cursor, limit);
  }

  /** A page of all trigger ids in id order, after `cursor` (exclusive). */
  async allIds(cursor: string | null, limit: number): Promise<Page<string>> {
    return this.page(this.keys.allIndex, cursor, limit);
  }

  private async page(key: string, cursor: string | null, limit: number): Promise<Page<string>> {
    const start = cursor === null ? "-" : `(${cursor}`;
    const members = await this.redis.zrangebylex(key, start, "+", "LIMIT", 0, limit + 1);
    const items = members.slice(0, limit);
    return { items, nextCursor: members.length > limit ? (items.at(-1) ?? null) : null };
  }
}

/** Spec fields stored only when set: absent from a stored definition means null. */
const UNSET_WHEN_NULL = [
  "payload",
  "threadKey",
  "channel",
  "target",
  "maxFires",
  "pauseAfterFailures",
  "catchupMax",
  "systemPause",
  "notify",
  "expand",
] as const;
/** The same for the schedule's window. */
const WINDOW_UNSET_WHEN_NULL = ["startAtMs", "endAtMs"] as const;

/**
 * A trigger's definition string: its spec and resolved schedule (kept out of the hash, see
 * {@link Keys.definition}). Fields left unset (null, and metadata when empty) are not written: ~120 bytes
 * less per trigger. Defaults are written out: a later change of a configured default must not change
 * triggers stored before it.
 */
function encodeDefinition(record: TriggerRecord): string {
  const spec: Record<string, unknown> = { ...record.spec };
  for (const field of UNSET_WHEN_NULL) if (spec[field] === null) delete spec[field];
  if (Object.keys(record.spec.metadata).length === 0) delete spec.metadata;
  const window: Record<string, unknown> = { ...record.spec.schedule };
  for (const field of WINDOW_UNSET_WHEN_NULL) if (window[field] === null) delete window[field];
  spec.schedule = window;
  if (record.spec.retry.maxAgeMs === null) {
    const { maxAgeMs: _unset, ...retry } = record.spec.retry;
    spec.retry = retry;
  }
  return `{"spec":${JSON.stringify(spec)},"schedule":${JSON.stringify(record.schedule)}}`;
}

/** A spec as stored, with the fields {@link encodeDefinition} left out filled in again. */
function restoreSpec(stored: TriggerSpec): TriggerSpec {
  const spec = stored as unknown as Record<string, unknown>;
  for (const field of UNSET_WHEN_NULL) spec[field] ??= null;
  spec.metadata ??= {};
  (spec.retry as Record<string, unknown>).maxAgeMs ??= null;
  const window = stored.schedule as unknown as Record<string, unknown>;
  for (const field of WINDOW_UNSET_WHEN_NULL) window[field] ??= null;
  return stored;
}

/**
 * Hash fields of a trigger, in the order write-trigger.lua receives them: all short, so Redis keeps the hash
 * in its compact encoding (a field over 64 bytes, as the spec was, makes it a hashtable: ~600 bytes more per
 * trigger). The fire bookkeeping is written only on create: afterwards workers own it (record-fire.lua), and
 * an update must not roll it back.
 */
function encode(record: TriggerRecord, withBookkeeping: boolean): string[] {
  const fields = [
    "version",
    String(record.version),
    "sv",
    String(record.scheduleVersion),
    "created_at",
    String(record.createdAtMs),
    "updated_at",
    String(record.updatedAtMs),
    "completed_at",
    record.completedAtMs === null ? "" : String(record.completedAtMs),
    "bucket",
    `${kindOf(record.spec)}:${stateOf(record)}`,
  ];
  if (!withBookkeeping) return fields;
  return [
    ...fields,
    "fire_count",
    String(record.fireCount),
    "last_fire_at",
    record.lastFireAtMs === null ? "" : String(record.lastFireAtMs),
    "last_status",
    record.lastStatus ?? "",
  ];
}

/**
 * A trigger's hash and definition string as HGETALL and GET return them, read into a record (null when
 * there is no trigger). Triggers written before the definition had its own key keep `spec` and `schedule`
 * in the hash until their next write moves them.
 */
export function decodeTrigger(
  hash: Record<string, string> | null | undefined,
  definition: string | null | undefined,
): TriggerRecord | null {
  if (!hash || hash.version === undefined) return null;
  let spec: TriggerSpec;
  let schedule: Schedule;
  if (definition) ({ spec, schedule } = JSON.parse(definition) as { spec: TriggerSpec; schedule: Schedule });
  else if (hash.spec !== undefined) {
    spec = JSON.parse(hash.spec) as TriggerSpec;
    schedule = JSON.parse(hash.schedule ?? "null") as Schedule;
  } else return null;
  const optionalNumber = (value: string | undefined): number | null =>
    value === undefined || value === "" ? null : Number(value);
  return {
    spec: restoreSpec(spec),
    schedule,
    version: Number(hash.version),
    scheduleVersion: Number(hash.sv),
    createdAtMs: Number(hash.created_at),
    updatedAtMs: Number(hash.updated_at),
    completedAtMs: optionalNumber(hash.completed_at),
    fireCount: Number(hash.fire_count ?? 0),
    lastFireAtMs: optionalNumber(hash.last_fire_at),
    lastStatus: hash.last_status === undefined || hash.last_status === "" ? null : hash.last_status,
    failuresInRow: Number(hash.failures ?? 0),
  };
}
