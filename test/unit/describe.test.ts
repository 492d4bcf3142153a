import { describe, expect, it } from "vitest";
import { describeCron, describeSchedule } from "../../src/triggers/index.js";

describe("schedules in words", () => {
  it.each([
    ["0 9 * * 1-5", "every weekday at 09:00"],
    ["0 9 * * MON-FRI", "every weekday at 09:00"],
    ["30 7 * * *", "every day at 07:30"],
    ["0 10 * * 0,6", "every weekend day at 10:00"],
    ["0 8 * * MON", "every Monday at 08:00"],
    ["0 8 * * 5", "every Friday at 08:00"],
    ["0 12 1 * *", "on day 1 of every month at 12:00"],
    ["*/15 * * * *", "every 15 minutes"],
    ["5 * * * *", "every hour at :05"],
    ["0 0 9 * * 1-5", "every weekday at 09:00"],
  ])("%s is %s", (cron, words) => {
    expect(describeCron(cron)).toBe(words);
  });
  it.each(["0 9 * JAN *", "0 9-17 * * *", "15 0 9 * * *", "0 9 1 * 1"])("shows %s as written", (cron) => {
    expect(describeCron(cron)).toBeNull();
    expect(describeSchedule({ kind: "cron", cron, timezone: "UTC" })).toBe(`cron "${cron}" UTC`);
  });
  it("describes heartbeats, one-shots and cron with its time zone", () => {
    expect(describeSchedule({ kind: "heartbeat", everyMs: 300_000, anchorMs: 0 })).toBe("every 5m");
    expect(describeSchedule({ kind: "once", atMs: Date.parse("2026-11-23T09:00:00Z") })).toBe(
      "once at Mon 2026-11-23 09:00 UTC",
    );
    expect(describeSchedule({ kind: "cron", cron: "0 9 * * 1-5", timezone: "America/New_York" })).toBe(
      "every weekday at 09:00 America/New_York",
    );
  });
});
