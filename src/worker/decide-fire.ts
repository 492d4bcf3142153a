import type { FireJobData, LatePlan } from "../producer/fire-queue.js";
import type { RunRecord, RunStatus } from "../runs/run-store.js";
import { isLate, stateOf, type TriggerRecord } from "../triggers/index.js";

/** Run statuses that are outcomes: the slot is done. */
export const OUTCOMES: ReadonlySet<RunStatus> = new Set([
  "succeeded",
  "failed",
  "missed",
  "skipped_overlap",
  "partial",
]);

/** How long a job newer than its trigger's stored definition waits for the write to commit (the write lock's TTL). */
export const WRITE_GRACE_MS = 10_000;

/** What is known about one pickup of a fire job when it is decided. Times are epoch milliseconds. */
export interface FireFacts {
  job: Pick<FireJobData, "origin" | "sv" | "late">;
  slotMs: number;
  /** The job made attempts already: a retry (or a retry from Bull Board) resuming a slot that came due. */
  resumed: boolean;
  /** How long ago the job was added. */
  jobAgeMs: number;
  /** The trigger as stored, or null when there is none (canceled, or not yet committed). */
  record: TriggerRecord | null;
  /** The slot's run as an earlier pickup of this job left it: a takeover after its worker died. */
  existing: RunRecord | null;
  nowMs: number;
}

/** What to do with a pickup. */
export type FireDecision =
  /** Its outcome was recorded by a worker that died before BullMQ marked the job done: nothing to deliver. */
  | { act: "finished" }
  /** Newer than the stored definition: a write still in flight; look again shortly. */
  | { act: "wait_for_write" }
  /** The trigger is gone: recorded missed, not delivered. */
  | { act: "drop_canceled" }
  /** Planned under a schedule since replaced: not a slot of the current trigger. */
  | { act: "drop_superseded" }
  | ({ record: TriggerRecord } &
      /** The trigger is paused: recorded missed. */
      (
        | { act: "miss_paused" }
        /** The trigger has no fires left (completed, past end_at, at max_fires): nothing to deliver. */
        | { act: "complete"; markCompleted: boolean }
        /** An earlier pickup decided this late slot's missed policy: carry out that plan. */
        | { act: "carry_out_late"; plan: LatePlan }
        /** First picked up after misfire_grace: apply the missed policy. */
        | { act: "late" }
        /** Deliver it; a scheduler iteration first recovers the slots BullMQ may have skipped after it. */
        | { act: "deliver"; recoverSkipped: boolean }
      ));

/**
 * The decision for one pickup of a fire job, at `facts.nowMs`: pure, so it is the spec of how a fire is
 * decided. `begin-fire.lua` mirrors its `deliver` branch for a first attempt in one round trip: the script
 * starts a run only where this function says `deliver` (it hands every other case back to the worker,
 * which then asks this function).
 *
 * A manual run is delivered whatever the trigger's state and schedule version; a resumed slot, a takeover
 * or a catch-up chain's step is delivered even if the trigger completed meanwhile (not past end_at); a
 * takeover is never judged late (its slot was picked up in time).
 */
export function decideFire(facts: FireFacts): FireDecision {
  const { job, record, existing, resumed } = facts;
  const manual = job.origin === "manual";
  if (existing && OUTCOMES.has(existing.status)) return { act: "finished" };
  const takeover = existing !== null;
  // The producer adds a job before it commits the definition that accounts for it (schedule versions only
  // grow), so a job newer than the stored definition may belong to a write still in flight. Past the
  // grace, its writer died.
  const uncommitted = !record || record.scheduleVersion < job.sv;
  if (!manual && uncommitted && facts.jobAgeMs < WRITE_GRACE_MS) return { act: "wait_for_write" };
  if (!record) return { act: "drop_canceled" };
  if (!manual && record.scheduleVersion !== job.sv) return { act: "drop_superseded" };
  const state = stateOf(record);
  if (!manual && state === "paused") return { act: "miss_paused", record };
  // A catch-up chain's step is a slot that came due before its chain was planned: like a takeover, it is
  // delivered although a later slot (skipped for the chain) completed the trigger meanwhile.
  const cameDue = resumed || takeover || job.origin === "catchup" || job.origin === "skipped";
  const noneLeft = state === "completed" || maxedOut(record);
  if (!manual && (pastEnd(record, facts.slotMs) || (!cameDue && noneLeft)))
    return { act: "complete", record, markCompleted: state !== "completed" };
  if (!resumed && job.late) return { act: "carry_out_late", record, plan: job.late };
  const checkLate = !resumed && !takeover && (job.origin === "scheduled" || job.origin === "once");
  if (checkLate && isLate(facts.slotMs, facts.nowMs, record.spec.misfireGraceMs))
    return { act: "late", record };
  return { act: "deliver", record, recoverSkipped: !resumed && job.origin === "scheduled" };
}

function pastEnd(record: TriggerRecord, slot: number): boolean {
  return record.spec.schedule.endAtMs !== null && slot > record.spec.schedule.endAtMs;
}

function maxedOut(record: TriggerRecord): boolean {
  return record.spec.maxFires !== null && record.fireCount >= record.spec.maxFires;
}
