import type { FireJobData } from "../producer/fire-queue.js";
import type { Keys } from "../redis/keys.js";
import type { RunRecord } from "../runs/run-store.js";

/**
 * The run of slot `slot` of trigger `tid`, not started (user id, then name: user ids hold no slash). Its id
 * derives from the trigger and the slot (and a manual run's nonce), so every pickup of the same slot — a
 * retry, a takeover after a worker died — writes the same record.
 */
export function baseRun(
  tid: string,
  slot: number,
  data: Pick<FireJobData, "origin" | "manualNonce">,
  startedAtMs: number | null,
  keys: Pick<Keys, "runId">,
): RunRecord {
  const [userId = "", ...name] = tid.split("/");
  return {
    runId: keys.runId(tid, slot, data.manualNonce),
    triggerId: tid,
    userId,
    name: name.join("/"),
    scheduledAtMs: slot,
    ...NOT_STARTED,
    startedAtMs,
    manual: data.origin === "manual",
    catchup: data.origin === "catchup",
  };
}

/** What a run that has made no attempt yet holds: nothing sent, nothing answered. */
export const NOT_STARTED = {
  startedAtMs: null,
  finishedAtMs: null,
  status: "running",
  attempts: 0,
  httpStatus: null,
  durationMs: null,
  error: null,
  nextAttemptAtMs: null,
} as const satisfies Partial<RunRecord>;
