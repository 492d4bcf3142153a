import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { parseTrigger, planWrite, resolveSchedule, type TriggerRecord } from "../../src/triggers/index.js";

/** Fixed instants: the trigger was written at T0 (version 3), the new write comes at T1, an hour later. */
const T0 = Date.UTC(2026, 5, 15, 9);
const T1 = T0 + 3_600_000;
const rules = (nowMs: number) => ({
  nowMs,
  defaultTimeZone: "UTC",
  minIntervalMs: 1000,
  defaults: loadConfig({ env: {}, file: {} }).triggerDefaults,
  maxPromptBytes: 1000,
  maxPayloadBytes: 1000,
  agents: new Set(["default"]),
  allowTargetUrls: false,
});
const spec = (body: Record<string, unknown>, nowMs = T1) =>
  parseTrigger({ prompt: "p", ...body }, { userId: "u", name: "t" }, rules(nowMs));
function stored(body: Record<string, unknown>, changes: Partial<TriggerRecord> = {}): TriggerRecord {
  const written = spec(body, T0);
  return {
    spec: written,
    schedule: resolveSchedule(written.schedule, T0, "u/t"),
    version: 3,
    scheduleVersion: 3,
    createdAtMs: T0,
    updatedAtMs: T0,
    completedAtMs: null,
    fireCount: 2,
    lastFireAtMs: T0,
    lastStatus: "succeeded",
    failuresInRow: 0,
    ...changes,
  };
}
const write = (current: TriggerRecord | null, body: Record<string, unknown>, rearm = true) =>
  planWrite(current, spec(body), { nowMs: T1, version: 9, id: "u/t", rearm });

describe("planWrite: what a write stores (pure)", () => {
  it("creates a trigger at the write's instant, with its schedule resolved and the new version", () => {
    const plan = write(null, { delay: "30m" });
    expect(plan).toMatchObject({ change: "write", replan: true, rearmed: false });
    if (plan.change !== "write") return;
    expect(plan.next).toMatchObject({ version: 9, scheduleVersion: 9, createdAtMs: T1, fireCount: 0 });
    expect(plan.next.schedule).toEqual({ kind: "once", atMs: T1 + 1_800_000 });
  });

  it("changes nothing for an identical write (no version bump, no phase reset)", () => {
    const current = stored({ every: "5m" });
    expect(write(current, { every: "5m" })).toEqual({ change: "none", record: current });
  });

  it("keeps the schedule, phase, completion and bookkeeping when only the prompt changes", () => {
    const current = stored({ every: "5m" });
    const plan = write(current, { every: "5m", prompt: "new" });
    expect(plan).toMatchObject({ change: "write", replan: false });
    if (plan.change !== "write") return;
    expect(plan.next).toMatchObject({
      schedule: current.schedule,
      scheduleVersion: 3,
      version: 9,
      fireCount: 2,
    });
    expect(plan.next.spec.prompt).toBe("new");
  });

  it("resolves a changed schedule anew and re-opens a completed trigger", () => {
    const current = stored({ every: "5m", max_fires: 2 }, { completedAtMs: T0 + 600_000 });
    const plan = write(current, { every: "10m", max_fires: 5 });
    expect(plan).toMatchObject({ change: "write", replan: true });
    if (plan.change !== "write") return;
    expect(plan.next).toMatchObject({ scheduleVersion: 9, completedAtMs: null, createdAtMs: T0 });
    expect(plan.next.schedule).toEqual({ kind: "heartbeat", everyMs: 600_000, anchorMs: T1 + 600_000 });
  });

  it("re-plans on pause and resume, keeping the schedule", () => {
    const current = stored({ every: "5m" });
    const plan = write(current, { every: "5m", enabled: false });
    expect(plan).toMatchObject({ change: "write", replan: true, next: { schedule: current.schedule } });
  });

  it("re-arms a one-shot that fired when its definition changes, counting a delay from the write", () => {
    const fired = stored({ delay: "30m" }, { completedAtMs: T0 + 1_800_000 });
    const plan = write(fired, { delay: "30m", prompt: "round 2" });
    expect(plan).toMatchObject({
      change: "write",
      replan: true,
      rearmed: true,
      next: { completedAtMs: null },
    });
    if (plan.change !== "write") return;
    expect(plan.next.schedule).toEqual({ kind: "once", atMs: T1 + 1_800_000 });
    // Without rearm (a pause, a resume) it stays as it was.
    expect(write(fired, { delay: "30m", enabled: false }, false)).toMatchObject({
      rearmed: false,
      next: { completedAtMs: T0 + 1_800_000 },
    });
    // An identical re-seed of it changes nothing.
    expect(write(fired, { delay: "30m" })).toEqual({ change: "none", record: fired });
  });

  it("refuses to re-arm at a time that has passed unless allow_past is set", () => {
    const at = new Date(T0 + 60_000).toISOString();
    const fired = stored({ at }, { completedAtMs: T0 + 60_000 });
    expect(() => write(fired, { at, prompt: "again" })).toThrow(/is in the past/);
    expect(write(fired, { at, prompt: "again", allow_past: true })).toMatchObject({
      rearmed: true,
      next: { schedule: { kind: "once", atMs: T1 } },
    });
  });
});
