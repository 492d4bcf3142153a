import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import type { FireJobData } from "../../src/producer/fire-queue.js";
import type { RunRecord } from "../../src/runs/run-store.js";
import { parseTrigger, resolveSchedule, type TriggerRecord } from "../../src/triggers/index.js";
import { WRITE_GRACE_MS, decideFire, type FireFacts } from "../../src/worker/decide-fire.js";

/** A fixed instant: Mon 2026-06-15 12:00:00 UTC. */
const NOW = Date.UTC(2026, 5, 15, 12);
const config = loadConfig({ env: {}, file: {} });
const rules = {
  nowMs: NOW - 3_600_000,
  defaultTimeZone: "UTC",
  minIntervalMs: 1000,
  defaults: config.triggerDefaults,
  maxPromptBytes: 1000,
  maxPayloadBytes: 1000,
  agents: new Set(["default"]),
  allowTargetUrls: false,
};

/** A trigger written an hour before NOW, at schedule version 7. */
function record(body: Record<string, unknown>, changes: Partial<TriggerRecord> = {}): TriggerRecord {
  const spec = parseTrigger({ prompt: "p", ...body }, { userId: "u", name: "t" }, rules);
  return {
    spec,
    schedule: resolveSchedule(spec.schedule, rules.nowMs, "u/t"),
    version: 7,
    scheduleVersion: 7,
    createdAtMs: rules.nowMs,
    updatedAtMs: rules.nowMs,
    completedAtMs: null,
    fireCount: 0,
    lastFireAtMs: null,
    lastStatus: null,
    failuresInRow: 0,
    ...changes,
  };
}
const run = (status: RunRecord["status"]): RunRecord => ({
  runId: "run_x",
  triggerId: "u/t",
  userId: "u",
  name: "t",
  scheduledAtMs: NOW,
  startedAtMs: NOW,
  finishedAtMs: null,
  status,
  attempts: 1,
  httpStatus: null,
  durationMs: null,
  error: null,
  manual: false,
  catchup: false,
  nextAttemptAtMs: null,
});
/** A pickup at NOW of a job for the slot NOW (on time), first attempt, added a minute ago. */
function facts(
  changes: Partial<FireFacts> & { origin?: FireJobData["origin"]; sv?: number } = {},
): FireFacts {
  const { origin = "scheduled", sv = 7, ...rest } = changes;
  return {
    job: { origin, sv },
    slotMs: NOW,
    resumed: false,
    jobAgeMs: 60_000,
    record: record({ every: "1m" }),
    existing: null,
    nowMs: NOW,
    ...rest,
  };
}
const act = (f: FireFacts) => decideFire(f).act;

describe("decideFire: how one pickup of a fire job is decided (the spec begin-fire.lua mirrors)", () => {
  it("delivers an on-time slot of an active trigger, recovering skipped slots only after a scheduler iteration", () => {
    expect(decideFire(facts())).toMatchObject({ act: "deliver", recoverSkipped: true });
    expect(decideFire(facts({ origin: "once", record: record({ delay: "1h" }) }))).toMatchObject({
      act: "deliver",
      recoverSkipped: false,
    });
    expect(decideFire(facts({ origin: "catchup" }))).toMatchObject({ act: "deliver", recoverSkipped: false });
    expect(decideFire(facts({ resumed: true }))).toMatchObject({ act: "deliver", recoverSkipped: false });
  });

  it("does not deliver again a slot whose outcome an earlier pickup recorded", () => {
    for (const status of ["succeeded", "failed", "missed", "skipped_overlap"] as const)
      expect(act(facts({ existing: run(status) }))).toBe("finished");
  });

  it("waits for a write still in flight, and drops a job whose writer died or whose schedule was replaced", () => {
    const newer = facts({ sv: 8 });
    expect(act({ ...newer, jobAgeMs: WRITE_GRACE_MS - 1 })).toBe("wait_for_write");
    expect(act({ ...newer, jobAgeMs: WRITE_GRACE_MS })).toBe("drop_superseded");
    expect(act(facts({ record: null, jobAgeMs: 1000 }))).toBe("wait_for_write");
    expect(act(facts({ record: null }))).toBe("drop_canceled");
    expect(act(facts({ sv: 6 }))).toBe("drop_superseded");
    expect(act(facts({ sv: 6, origin: "manual" }))).toBe("deliver"); // a manual run is delivered anyway
  });

  it("records a paused trigger's slot missed, but delivers a manual run of it", () => {
    const paused = record({ every: "1m", enabled: false });
    expect(act(facts({ record: paused }))).toBe("miss_paused");
    expect(act(facts({ record: paused, origin: "manual" }))).toBe("deliver");
  });

  it("completes a trigger with nothing left, unless the pickup resumes or takes over a slot that came due", () => {
    const ended = record({ every: "1m", end_at: new Date(NOW - 1).toISOString() });
    expect(decideFire(facts({ record: ended }))).toMatchObject({ act: "complete", markCompleted: true });
    const maxed = record({ every: "1m", max_fires: 2 }, { fireCount: 2 });
    expect(decideFire(facts({ record: maxed }))).toMatchObject({ act: "complete", markCompleted: true });
    const done = record({ every: "1m" }, { completedAtMs: NOW - 1000 });
    expect(decideFire(facts({ record: done }))).toMatchObject({ act: "complete", markCompleted: false });
    expect(act(facts({ record: done, resumed: true }))).toBe("deliver");
    expect(act(facts({ record: done, existing: run("running") }))).toBe("deliver");
    expect(act(facts({ record: done, origin: "manual" }))).toBe("deliver");
    // A catch-up chain's step is a slot that came due: its trigger's last slot may have completed it since.
    expect(act(facts({ record: done, origin: "catchup" }))).toBe("deliver");
    expect(act(facts({ record: done, origin: "skipped" }))).toBe("deliver");
    expect(act(facts({ record: ended, origin: "skipped", slotMs: NOW + 1 }))).toBe("complete");
  });

  it("applies the missed policy to a slot first picked up after misfire_grace, never to a takeover or a retry", () => {
    const grace = config.triggerDefaults.misfireGraceMs;
    expect(act(facts({ nowMs: NOW + grace }))).toBe("deliver"); // late by exactly the grace: delivered
    expect(act(facts({ nowMs: NOW + grace + 1 }))).toBe("late");
    expect(act(facts({ nowMs: NOW + grace + 1, origin: "once", record: record({ delay: "1h" }) }))).toBe(
      "late",
    );
    expect(act(facts({ nowMs: NOW + grace + 1, existing: run("running") }))).toBe("deliver");
    expect(act(facts({ nowMs: NOW + grace + 1, resumed: true }))).toBe("deliver");
    expect(act(facts({ nowMs: NOW + grace + 1, origin: "catchup" }))).toBe("deliver");
  });

  it("carries out the plan a late pickup wrote to its job instead of deciding again", () => {
    const plan = { atMs: NOW - 5000, missed: [NOW - 120_000], deliver: [NOW - 60_000] };
    const planned = facts({ job: { origin: "scheduled", sv: 7, late: plan }, nowMs: NOW + 3_600_000 });
    expect(decideFire(planned)).toMatchObject({ act: "carry_out_late", plan });
  });
});
