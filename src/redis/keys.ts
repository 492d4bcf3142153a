import { createHash } from "node:crypto";
import { MAX_PARTITIONS } from "../config/index.js";
import { userOfTrigger } from "../triggers/index.js";

/**
 * Where one partition of tickler keeps its data in Redis, beside BullMQ's `<base>:fires:*` keys. Every key
 * starts with the partition's base: the deployment prefix (`tickler:…`) in the single-partition layout, or
 * the hash tag of the partition (`{<prefix>:<p>}` or `{<prefix>:<p>.<n>}`, see {@link partitionTag}) when keys are partitioned, so that all of a partition's keys (its BullMQ
 * queue's too) hash to one Redis Cluster slot and every script stays single-slot. Two deployments with
 * different prefixes never see each other. Deployment-wide keys are in {@link Layout}.
 */
export interface Keys {
  /** The deployment prefix. */
  prefix: string;
  /** The partition these keys belong to, or null in the single-partition layout (untagged keys). */
  partition: number | null;
  /** What every key of the partition starts with, and its BullMQ queue's prefix: `tickler` or `{tickler:3}`. */
  base: string;
  /** Hash: one trigger's version, state and bookkeeping (small fields: Redis keeps it compact). */
  trigger(triggerId: string): string;
  /** String: one trigger's spec and resolved schedule, as JSON `{"spec":…,"schedule":…}`. */
  definition(triggerId: string): string;
  /** Sorted set (all scores 0, so name order): a user's trigger names. */
  userIndex(userId: string): string;
  /** Sorted set (all scores 0): every trigger id. */
  allIndex: string;
  /** String: the token of whoever is writing this trigger now (the producer's per-trigger lock). */
  writeLock(triggerId: string): string;
  /** String: the job id of this trigger's run in progress (overlap: skip). */
  running(triggerId: string): string;
  /** Hash: one run record. */
  run(runId: string): string;
  /** Sorted set (score: scheduled time): a trigger's run ids, capped. */
  runs(triggerId: string): string;
  /** Hash: how many triggers there are per "<kind>:<state>" (kept by the Lua scripts). */
  counts: string;
  /** Stream (capped): one entry per run state change, for SSE clients. */
  events: string;
  /** Sorted set (score: when it began): triggers whose re-planning write has not finished (a crashed writer's stay). */
  intents: string;
  /** String (JSON): where the reconciler's sweep over everything stopped. */
  sweepCursor: string;
  /** String: the reconciler's lease, so a fleet makes one pass per interval. */
  reconcileLease: string;
  /** Counter: the last version number given to a trigger write (versions only grow). */
  versionSequence: string;
  /** The id of a slot's run in this partition (see {@link runIdFor}). */
  runId(triggerId: string, slotMs: number, manualNonce?: string): string;
}

/** The BullMQ queue that holds every fire. */
export const QUEUE_NAME = "fires";

/**
 * The keys of one partition: `partition` null gives the single-partition layout (`<prefix>:…`, as tickler
 * has always stored), a number the hash-tagged one (`{<tag>}:…`, see {@link partitionTag}) of a layout of
 * `partitions`.
 */
export function keysFor(prefix: string, partition: number | null = null, partitions = 1): Keys {
  const base = partition === null ? prefix : `{${partitionTag(prefix, partition, partitions)}}`;
  return {
    prefix,
    partition,
    base,
    trigger: (id) => `${base}:t:${id}`,
    definition: (id) => `${base}:d:${id}`,
    userIndex: (userId) => `${base}:u:${userId}`,
    allIndex: `${base}:triggers`,
    writeLock: (id) => `${base}:lock:${id}`,
    running: (id) => `${base}:running:${id}`,
    run: (runId) => `${base}:run:${runId}`,
    runs: (id) => `${base}:runs:${id}`,
    events: `${base}:events`,
    counts: `${base}:counts`,
    intents: `${base}:intents`,
    sweepCursor: `${base}:reconcile:cursor`,
    reconcileLease: `${base}:reconcile`,
    versionSequence: `${base}:seq`,
    runId: (triggerId, slotMs, manualNonce) => runIdFor(triggerId, slotMs, manualNonce, partition),
  };
}

/**
 * How a deployment spreads over Redis: its partitions' keys, which partition a user's triggers live in, and
 * the few keys that belong to the deployment as a whole.
 */
export interface Layout {
  prefix: string;
  /** How many partitions; each has its own keys and BullMQ queue. */
  partitions: number;
  /** Each partition's keys, by index. */
  keys: readonly Keys[];
  /** String: the partition count the data was written with, so a process configured otherwise refuses to start. */
  partitionCount: string;
  /** Counter (expiring): the writes of one token (by its digest, `who`) in one rate-limit window. */
  rateLimit(who: string, window: number): string;
  /** An agent's flow-control keys (deployment-wide: every partition's fires to it share them). */
  agent(name: string): AgentKeys;
  /** A user's flow-control keys under `limits.per_user` (their own hash tag, as an agent's). */
  userFlow(userId: string): AgentKeys;
  /** The partition of a user: every trigger, count and run of theirs is in it. */
  partitionOf(userId: string): number;
  /** The partition of a trigger, by its id `user_id/name`: its user's. */
  partitionOfTrigger(triggerId: string): number;
}

/**
 * The layout of a deployment. With one partition on a standalone Redis the keys are untagged, exactly as
 * before partitions existed; with several, or on a Redis Cluster (where untagged keys of one script would
 * land on different slots), partition p's keys carry the hash tag of {@link partitionTag}.
 */
export function layoutFor(prefix: string, partitions: number, cluster = false): Layout {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS)
    throw new RangeError(`partitions must be a whole number from 1 to ${MAX_PARTITIONS}, got ${partitions}`);
  const tagged = partitions > 1 || cluster;
  const partitionOf = (userId: string): number => (partitions === 1 ? 0 : userHash(userId) % partitions);
  return {
    prefix,
    partitions,
    keys: Array.from({ length: partitions }, (_, p) => keysFor(prefix, tagged ? p : null, partitions)),
    partitionCount: `${prefix}:partitions`,
    rateLimit: (who, window) => `${prefix}:rl:${who}:${window}`,
    agent: (name) => flowKeys(prefix, "agent", name, tagged),
    userFlow: (userId) => flowKeys(prefix, "user", userId, tagged),
    partitionOf,
    partitionOfTrigger: (triggerId) => partitionOf(userOfTrigger(triggerId)),
  };
}

/**
 * One agent's flow control, fleet-wide: one hash tag per agent (`{<prefix>:agent:<name>}`) when the layout
 * is tagged, so the scripts that admit and release a request touch a single slot.
 */
export interface AgentKeys {
  /** Sorted set: the requests in flight to the agent (a lease per job), scored by when the lease expires. */
  inFlight: string;
  /** Hash: the rate's pacing (`next`: the next free start) and the starts reserved for waiting fires. */
  rate: string;
  /** Hash: the circuit (state, failures in a row, since, reason, probe_at) and a 429's paused_until. */
  circuit: string;
  /** Sorted set: fires waiting for the agent (`<partition>|<job id>`), by when they began to wait. */
  waiters: string;
}

function flowKeys(prefix: string, kind: "agent" | "user", name: string, tagged: boolean): AgentKeys {
  const id = `${prefix}:${kind}-flow:${encodeURIComponent(name)}`;
  const base = tagged ? `{${id}}` : id;
  return {
    inFlight: `${base}:inflight`,
    rate: `${base}:rate`,
    circuit: `${base}:circuit`,
    waiters: `${base}:waiters`,
  };
}

/** Redis Cluster's hash slots. */
const SLOTS = 16384;

/**
 * The hash tag of partition `p` of `partitions`: `<prefix>:<p>`, or `<prefix>:<p>.<n>` with the smallest n
 * that puts it in the p-th of `partitions` equal stretches of the 16,384 hash slots. A cluster created with
 * `redis-cli --cluster create` gives each of its M masters one stretch of slots, so partitions spaced
 * evenly over the slots spread evenly over the masters; plain `{<prefix>:<p>}` tags land where CRC16 puts
 * them, and 12 partitions measured 7 on one of 3 masters.
 */
export function partitionTag(prefix: string, p: number, partitions: number): string {
  const from = Math.floor((p * SLOTS) / partitions);
  const to = Math.floor(((p + 1) * SLOTS) / partitions);
  for (let n = 0; ; n++) {
    const tag = n === 0 ? `${prefix}:${p}` : `${prefix}:${p}.${n}`;
    const slot = hashSlot(tag);
    if (slot >= from && slot < to) return tag;
  }
}

/** The Redis Cluster hash slot of a key with no hash tag: CRC16 (XMODEM) of its bytes, mod 16,384. */
export function hashSlot(key: string): number {
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % SLOTS;
}

/**
 * A user id's stable hash: the first 32 bits of its SHA-1. Stable across versions and platforms, since it
 * decides where a user's data is stored.
 */
function userHash(userId: string): number {
  return createHash("sha1").update(userId).digest().readUInt32BE(0);
}

/**
 * The run id of a slot: derived from the trigger and slot, so every process that handles the same slot
 * (a retry, a worker taking over a dead one's job) writes the same record and a slot never has two.
 * Manual runs add their own nonce. In a partitioned layout the id carries its partition (`run_<p>.<hash>`),
 * so reading a run by id asks one partition.
 */
export function runIdFor(
  triggerId: string,
  slotMs: number,
  manualNonce?: string,
  partition: number | null = null,
): string {
  const material =
    manualNonce === undefined ? `${triggerId}@${slotMs}` : `${triggerId}@${slotMs}#${manualNonce}`;
  const hash = createHash("sha256").update(material).digest("base64url").slice(0, 22);
  return partition === null ? `run_${hash}` : `run_${partition}.${hash}`;
}

/**
 * The form of a run id: `run_<hash>`, or `run_<partition>.<hash>` in a partitioned layout; a fan-out's child
 * adds `~<context key>`.
 */
const RUN_ID = /^run_(?:(\d{1,4})\.)?[A-Za-z0-9_-]{22}(?:~[A-Za-z0-9_.:@-]{1,128})?$/;

/**
 * Which partition a run id belongs to: null when it carries none (the single-partition layout), undefined
 * when it is not a run id at all.
 */
export function partitionOfRun(runId: string): number | null | undefined {
  const match = RUN_ID.exec(runId);
  if (!match) return undefined;
  return match[1] === undefined ? null : Number(match[1]);
}
