import type { RedisClient } from "../redis/connection.js";
import type { FireJobData, FireQueue } from "../producer/fire-queue.js";
import type { Keys } from "../redis/keys.js";
import { runScript } from "../redis/scripts.js";
import { parseHandOver, type RunRecord, type RunStore } from "../runs/run-store.js";
import { slotOf } from "../producer/fire-queue.js";

/** What starting a run needs. */
export interface OverlapDeps {
  redis: RedisClient;
  keys: Keys;
  fires: FireQueue;
  runs: RunStore;
}

/** Whether a run was started, or which live run of the trigger stood in the way. */
export type StartResult = { started: true } | ({ started: false; holder: string } & LiveHolder);

/** A live run holding a trigger's overlap marker. */
export interface LiveHolder {
  /** Where it runs, in words (for the record of a slot it made skip). */
  heldBy: string;
  /**
   * It is being delivered again after its worker died (BullMQ's stall check moved its job back): a crash's
   * re-delivery of an older slot, which a new slot waits out rather than being skipped for.
   */
  retaken: boolean;
}

/** Job states in which a catch-up chain's next step is still to run. */
const PENDING = new Set(["waiting", "delayed", "prioritized", "active"]);

/**
 * Writes `run` as running, first taking its trigger's overlap marker for `jobId` when one is given
 * (overlap: skip), in one round trip. The marker holds the job id, so a retry or a takeover of the same job
 * finds it its own. Another job's marker is honoured only while that run is really alive (see
 * {@link markerHolder}) and taken over as soon as it is not: a run whose worker died is not in progress.
 *
 * @returns `started: false` with the live holder when another run of the trigger is still going (nothing
 *   was written)
 */
export async function startRun(
  deps: OverlapDeps,
  run: RunRecord,
  jobId: string | null,
): Promise<StartResult> {
  let holder: string | null = null;
  for (let tries = 0; tries < 3; tries++) {
    holder = await deps.runs.start(run, jobId);
    if (holder === null) return { started: true };
    const live = await markerHolder(deps, holder);
    if (live !== null) return { started: false, holder, ...live };
    await runScript(deps.redis, "releaseLock", [deps.keys.running(run.triggerId)], [holder]);
  }
  return {
    started: false,
    holder: holder ?? "",
    heldBy: "the marker changed hands three times while starting",
    retaken: false,
  };
}

/**
 * Whether the run holding a trigger's overlap marker is alive, and if so where; null when it is not, so the
 * marker may be taken:
 * - a job holding BullMQ's lock is alive while its worker's connection to Redis is (a SIGKILLed worker's
 *   connection closes at once; a cut-off host's lock expires after lock_duration);
 * - a job without a lock is alive while its run waits for its next attempt (`retrying`) or for its
 *   agent's limits (`waiting`), in delayed or in wait; one moved back to wait by the stall check, failed,
 *   finished or gone is not;
 * - a hand-over to a catch-up chain's next step is alive while that job is pending, or while the worker
 *   handing it over (and adding that job) is connected (a worker without a name: until the hand-over's TTL).
 * Where Redis does not list its clients (some managed services), a held lock counts as alive.
 */
export async function markerHolder(deps: OverlapDeps, holder: string): Promise<LiveHolder | null> {
  const { fires } = deps;
  const live = (heldBy: string, retaken = false): LiveHolder => ({ heldBy, retaken });
  const handOver = parseHandOver(holder);
  if (handOver) {
    const next = await fires.queue.getJob(handOver.jobId);
    if (next && PENDING.has(await next.getState()))
      return live(`a catch-up of this trigger is going on (its next step, job ${handOver.jobId}, is queued)`);
    // Handed over by a worker without a name: its short TTL ends the wait.
    if (handOver.worker === null)
      return live(`a catch-up of this trigger is going on (next step: job ${handOver.jobId})`);
    if ((await fires.connectedWorkers())?.has(handOver.worker) === false) return null;
    return live(
      `a catch-up of this trigger is going on (handing over to job ${handOver.jobId} on worker ${handOver.worker})`,
    );
  }
  const [locked, [worker = null, data = null, stalled = null]] = await Promise.all([
    deps.redis.exists(fires.queue.toKey(`${holder}:lock`)),
    deps.redis.hmget(fires.queue.toKey(holder), "pb", "data", "stc"),
  ]);
  // BullMQ counts a job's stalls: one moved back after its worker died is being delivered again.
  const retaken = Number(stalled ?? 0) > 0;
  if (locked === 1) {
    if (worker === null) return live(`job ${holder} is running`, retaken);
    const connected = await fires.connectedWorkers();
    return connected === null || connected.has(worker)
      ? live(`job ${holder} running on worker ${worker}`, retaken)
      : null;
  }
  if (data === null) return null;
  const fire = JSON.parse(data) as FireJobData;
  const held = await deps.runs.get(
    deps.keys.runId(fire.tid, slotOf({ id: holder, data: fire }), fire.manualNonce),
  );
  if (held?.status === "waiting") return live(`job ${holder} waiting for its agent`);
  return held?.status === "retrying" ? live(`job ${holder} waiting to retry`) : null;
}
