import { describe, expect, it } from "vitest";
import { isLate, planMissed } from "../../src/triggers/index.js";

const NOW = 1_000_000;
const slots = [NOW - 5000, NOW - 4000, NOW - 3000, NOW - 2000];

describe("planMissed", () => {
  it("skip delivers none and records all missed", () => {
    expect(planMissed(slots, NOW, "skip", 60_000)).toEqual({ deliver: [], missed: slots });
  });
  it("run_once delivers the newest and records the rest missed", () => {
    expect(planMissed([...slots].reverse(), NOW, "run_once", 60_000)).toEqual({
      deliver: [NOW - 2000],
      missed: slots.slice(0, 3),
    });
  });
  it("run_all delivers each slot inside the catch-up window, oldest first, and records older ones missed", () => {
    expect(planMissed(slots, NOW, "run_all", 3500)).toEqual({
      deliver: [NOW - 3000, NOW - 2000],
      missed: [NOW - 5000, NOW - 4000],
    });
  });
  it("run_once delivers nothing when every slot is older than the window", () => {
    expect(planMissed(slots, NOW, "run_once", 1000)).toEqual({ deliver: [], missed: slots });
  });
  it("catchup_max caps what one outage delivers to the newest slots and records the older ones missed", () => {
    expect(planMissed(slots, NOW, "run_all", 60_000, 2)).toEqual({
      deliver: [NOW - 3000, NOW - 2000],
      missed: [NOW - 5000, NOW - 4000],
    });
    expect(planMissed(slots, NOW, "run_all", 3500, 1)).toEqual({
      deliver: [NOW - 2000],
      missed: [NOW - 5000, NOW - 4000, NOW - 3000],
    });
    expect(planMissed(slots, NOW, "run_all", 60_000, 0)).toEqual({ deliver: [], missed: slots });
    expect(planMissed(slots, NOW, "run_once", 60_000, 3)).toEqual(planMissed(slots, NOW, "run_once", 60_000));
    expect(planMissed(slots, NOW, "run_all", 60_000, null)).toEqual({ deliver: slots, missed: [] });
  });
  it("counts a slot late only past misfire_grace", () => {
    expect(isLate(NOW - 30_000, NOW, 30_000)).toBe(false);
    expect(isLate(NOW - 30_001, NOW, 30_000)).toBe(true);
  });
});
