/** What happens to slots that came due while nothing could deliver them. */
export const MISSED_POLICIES = ["skip", "run_once", "run_all"] as const;
/** `skip`: deliver none; `run_once`: deliver the newest; `run_all`: deliver each one inside the catch-up window. */
export type MissedPolicy = (typeof MISSED_POLICIES)[number];

/** The decision for a set of late slots. */
export interface MissedPlan {
  /** Slots to deliver (with `catchup: true`), oldest first. */
  deliver: number[];
  /** Slots to record as `missed`, oldest first. */
  missed: number[];
}

/**
 * Decides which late slots to deliver. A slot is late when it is first picked up more than `misfire_grace`
 * after its time; the caller passes only late slots. Slots older than `catchupWindowMs` are never delivered.
 *
 * @param lateSlots - the late slots, in any order
 * @param nowMs - the instant of the decision
 * @param catchupMax - the most slots delivered (the newest ones; the older are missed), or null for no cap
 */
export function planMissed(
  lateSlots: readonly number[],
  nowMs: number,
  policy: MissedPolicy,
  catchupWindowMs: number,
  catchupMax: number | null = null,
): MissedPlan {
  const plan = byPolicy(lateSlots, nowMs, policy, catchupWindowMs);
  if (catchupMax === null || plan.deliver.length <= catchupMax) return plan;
  const cut = plan.deliver.length - catchupMax;
  return {
    deliver: plan.deliver.slice(cut),
    missed: [...plan.missed, ...plan.deliver.slice(0, cut)].sort((a, b) => a - b),
  };
}

function byPolicy(
  lateSlots: readonly number[],
  nowMs: number,
  policy: MissedPolicy,
  catchupWindowMs: number,
): MissedPlan {
  const sorted = [...lateSlots].sort((a, b) => a - b);
  const inWindow = sorted.filter((slot) => nowMs - slot <= catchupWindowMs);
  const tooOld = sorted.filter((slot) => nowMs - slot > catchupWindowMs);
  switch (policy) {
    case "skip":
      return { deliver: [], missed: sorted };
    case "run_once": {
      const newest = inWindow.at(-1);
      return newest === undefined
        ? { deliver: [], missed: sorted }
        : { deliver: [newest], missed: sorted.filter((slot) => slot !== newest) };
    }
    case "run_all":
      return { deliver: inWindow, missed: tooOld };
  }
}

/** Whether a slot picked up at `nowMs` counts as missed. A slot late by no more than the grace is always delivered. */
export function isLate(slotMs: number, nowMs: number, misfireGraceMs: number): boolean {
  return nowMs - slotMs > misfireGraceMs;
}
