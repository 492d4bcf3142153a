import { sameDefinition, sameSchedule } from "./definition-equality.js";
import type { TriggerRecord } from "./record.js";
import { resolveSchedule } from "./schedule.js";
import { kindOf, type TriggerSpec } from "./trigger-spec.js";

/** What a write of a new definition over the stored trigger (or none) comes to. */
export type WritePlan =
  /** The definition is the stored one: nothing changes (no version bump, no phase reset, no fire). */
  | { change: "none"; record: TriggerRecord }
  | {
      change: "write";
      /** The trigger as it is to be stored. */
      next: TriggerRecord;
      /** Its pending fire must be planned anew (a new schedule, or enabled changed). */
      replan: boolean;
      /** A one-shot that had fired, armed again by a changed definition. */
      rearmed: boolean;
    };

/**
 * The trigger a write stores, at `nowMs`, with `version` its new version. A changed schedule is resolved
 * anew (a relative delay counts from the write; a heartbeat gets a new anchor) and re-opens a completed
 * trigger; anything else (a prompt, a pause) keeps the resolved schedule, the phase and completion. With
 * `rearm`, a changed definition of a one-shot that already fired also resolves its time anew.
 *
 * @throws TicklerError `invalid_time` when a schedule resolved anew is an `at` in the past without allow_past
 */
export function planWrite(
  current: TriggerRecord | null,
  spec: TriggerSpec,
  { nowMs, version, id, rearm }: { nowMs: number; version: number; id: string; rearm: boolean },
): WritePlan {
  const sameForm = current !== null && sameSchedule(current.spec, spec);
  if (current && sameForm && sameDefinition(current.spec, spec)) return { change: "none", record: current };
  const rearmed = rearm && current !== null && hasFired(current) && kindOf(spec) === "once";
  const scheduleKept = current !== null && sameForm && !rearmed;
  const replan = !scheduleKept || current?.spec.enabled !== spec.enabled;
  return {
    change: "write",
    replan,
    rearmed,
    next: {
      spec,
      schedule: current && scheduleKept ? current.schedule : resolveSchedule(spec.schedule, nowMs, id),
      version,
      scheduleVersion: replan ? version : (current?.scheduleVersion ?? version),
      createdAtMs: current?.createdAtMs ?? nowMs,
      updatedAtMs: nowMs,
      completedAtMs: current && scheduleKept ? current.completedAtMs : null,
      fireCount: current?.fireCount ?? 0,
      lastFireAtMs: current?.lastFireAtMs ?? null,
      lastStatus: current?.lastStatus ?? null,
      failuresInRow: current?.failuresInRow ?? 0,
    },
  };
}

/** Whether `record` is a one-shot that fired (or was recorded missed): completed, with nothing left to fire. */
export function hasFired(record: TriggerRecord): boolean {
  return record.schedule.kind === "once" && record.completedAtMs !== null;
}
