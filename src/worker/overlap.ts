import type { Redis } from "ioredis";
import type { FireQueue } from "../producer/fire-queue.js";
import type { Keys } from "../redis/keys.js";
import { runScript } from "../redis/scripts.js";

/** What the overlap marker needs. */
export interface OverlapDeps {
  redis: Redis;
  keys: Keys;
  fires: FireQueue;
}

/** The marker outlives any run; a stale one is recognised by its job no longer running. */
const MARKER_TTL_MS = 24 * 3600 * 1000;
/** Job states in which the holder's run is still going (delayed: waiting for a retry). */
const IN_PROGRESS = new Set(["active", "delayed", "waiting", "prioritized"]);

/**
 * Takes a trigger's overlap marker (overlap: skip) for one job. The marker holds the job id, so a retry or a
 * takeover of the same job finds it its own. Another job's marker is honoured while that job is still in
 * progress and taken over once it is not (its worker died, or it finished without releasing).
 *
 * @returns false when another run of the trigger is still going
 */
export async function acquireOverlapMarker(
  deps: OverlapDeps,
  triggerId: string,
  jobId: string,
): Promise<boolean> {
  const key = deps.keys.running(triggerId);
  for (let tries = 0; tries < 3; tries++) {
    if ((await deps.redis.set(key, jobId, "PX", MARKER_TTL_MS, "NX")) === "OK") return true;
    const holder = await deps.redis.get(key);
    if (holder === null) continue;
    if (holder === jobId) return true;
    const holderJob = await deps.fires.queue.getJob(holder);
    if (holderJob && IN_PROGRESS.has(await holderJob.getState())) return false;
    await runScript(deps.redis, "releaseLock", [key], [holder]);
  }
  return false;
}

/** Releases the marker if this job holds it. */
export async function releaseOverlapMarker(
  deps: OverlapDeps,
  triggerId: string,
  jobId: string,
): Promise<void> {
  await runScript(deps.redis, "releaseLock", [deps.keys.running(triggerId)], [jobId]);
}
