import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import { nextFires, parseSchedule, resolveSchedule, type ScheduleInput } from "../../src/triggers/index.js";

/** Local wall-clock times of UTC instants in a zone, for reading assertions. */
const local = (ms: number[], zone: string) =>
  ms.map((m) => DateTime.fromMillis(m, { zone }).toFormat("yyyy-LL-dd HH:mm ZZZZ"));

/** A schedule written on a fixed day (2026-12-01 UTC), resolved as a write then would. */
const NOW = Date.parse("2026-12-01T00:00:00Z");
const schedule = (input: ScheduleInput) =>
  resolveSchedule(parseSchedule(input, { nowMs: NOW, defaultTimeZone: "UTC", minIntervalMs: 1000 }), NOW);

describe("triggers across DST changes fire at the right local times (computed at fixed instants)", () => {
  it("keeps a New York 09:00 weekday cron at 09:00 local across the November fall-back", () => {
    const fires = nextFires(
      schedule({ cron: "0 9 * * 1-5", timezone: "America/New_York" }),
      Date.parse("2027-11-04T00:00:00Z"),
      3,
    );
    expect(local(fires, "America/New_York")).toEqual([
      "2027-11-04 09:00 EDT",
      "2027-11-05 09:00 EDT",
      "2027-11-08 09:00 EST",
    ]);
    expect(new Date(fires[0]!).toISOString()).toBe("2027-11-04T13:00:00.000Z");
    expect(new Date(fires[2]!).toISOString()).toBe("2027-11-08T14:00:00.000Z");
  });

  it("runs a Berlin 02:30 cron once on both DST days: shifted to 03:30 in the spring gap, once in the autumn repeat", () => {
    const nightly = schedule({ cron: "30 2 * * *", timezone: "Europe/Berlin" });
    expect(local(nextFires(nightly, Date.parse("2027-03-27T12:00:00Z"), 2), "Europe/Berlin")).toEqual([
      "2027-03-28 03:30 GMT+2",
      "2027-03-29 02:30 GMT+2",
    ]);
    expect(local(nextFires(nightly, Date.parse("2027-10-30T12:00:00Z"), 2), "Europe/Berlin")).toEqual([
      "2027-10-31 02:30 GMT+2",
      "2027-11-01 02:30 GMT+1",
    ]);
  });

  it("reads a local `at` inside the spring-forward gap as the shifted time, and in the autumn repeat as the first", () => {
    expect(schedule({ at: "2027-03-14T02:30:00", timezone: "America/New_York" })).toEqual({
      kind: "once",
      atMs: Date.parse("2027-03-14T07:30:00Z"),
    });
    expect(schedule({ at: "2027-11-07T01:30:00", timezone: "America/New_York" })).toEqual({
      kind: "once",
      atMs: Date.parse("2027-11-07T05:30:00Z"),
    });
  });

  it("keeps a heartbeat's period exact in UTC across a change (so its local time moves by the hour)", () => {
    const beat = schedule({ every: "24h", start_at: "2027-11-06T13:00:00Z" });
    const fires = nextFires(beat, Date.parse("2027-11-06T00:00:00Z"), 2);
    expect(fires[1]! - fires[0]!).toBe(24 * 3600 * 1000);
    expect(local(fires, "America/New_York")).toEqual(["2027-11-06 09:00 EDT", "2027-11-07 08:00 EST"]);
  });
});
