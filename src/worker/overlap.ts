import type { Redis } from "ioredis";
import type { FireQueue } from "../producer/fire-queue.js";
import type { Keys } from "../redis/keys.js";
import { runScript } from "../redis/scripts.js";
import { isHandedOver, type RunRecord, type RunStore } from "../runs/run-store.js";

/** What starting a run needs. */
export interface OverlapDeps {
  redis: Redis;
  keys: Keys;
  fires: FireQueue;
  runs: RunStore;
}

/** Job states in which the holder's run is still going (delayed: waiting for a retry). */
const IN_PROGRESS = new Set(["active", "delayed", "waiting", "prioritized"]);

/**
 * Writes `run` as running, first taking its trigger's overlap marker for `jobId` when one is given
 * (overlap: skip), in one round trip. The marker holds the job id, so a retry or a takeover of the same job
 * finds it its own. Another job's marker is honoured while that job is still in progress and taken over
 * once it is not (its worker died, or it finished without releasing). A marker handed over to the next
 * step of a catch-up chain is honoured until that job takes it or the hand-over's short TTL ends.
 *
 * @returns false when another run of the trigger is still going (nothing was written)
 */
export async function startRun(deps: OverlapDeps, run: RunRecord, jobId: string | null): Promise<boolean> {
  for (let tries = 0; tries < 3; tries++) {
    const holder = await deps.runs.start(run, jobId);
    if (holder === null) return true;
    // Handed to a catch-up chain's next step, which is being added: its TTL ends the wait if it never comes.
    if (isHandedOver(holder)) return false;
    const holderJob = await deps.fires.queue.getJob(holder);
    if (holderJob && IN_PROGRESS.has(await holderJob.getState())) return false;
    await runScript(deps.redis, "releaseLock", [deps.keys.running(run.triggerId)], [holder]);
  }
  return false;
}
