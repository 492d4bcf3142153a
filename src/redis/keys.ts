/**
 * Where tickler keeps its own data in Redis, beside BullMQ's `<prefix>:fires:*` keys. Every key starts with
 * the deployment prefix, so two deployments with different prefixes never see each other.
 */
export interface Keys {
  prefix: string;
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
  /** Counter (expiring): the writes of one token (by its digest, `who`) in one rate-limit window. */
  rateLimit(who: string, window: number): string;
}

/** The BullMQ queue that holds every fire. */
export const QUEUE_NAME = "fires";

/** The key layout for a prefix. */
export function keysFor(prefix: string): Keys {
  return {
    prefix,
    trigger: (id) => `${prefix}:t:${id}`,
    definition: (id) => `${prefix}:d:${id}`,
    userIndex: (userId) => `${prefix}:u:${userId}`,
    allIndex: `${prefix}:triggers`,
    writeLock: (id) => `${prefix}:lock:${id}`,
    running: (id) => `${prefix}:running:${id}`,
    run: (runId) => `${prefix}:run:${runId}`,
    runs: (id) => `${prefix}:runs:${id}`,
    events: `${prefix}:events`,
    counts: `${prefix}:counts`,
    intents: `${prefix}:intents`,
    sweepCursor: `${prefix}:reconcile:cursor`,
    reconcileLease: `${prefix}:reconcile`,
    versionSequence: `${prefix}:seq`,
    rateLimit: (who, window) => `${prefix}:rl:${who}:${window}`,
  };
}
