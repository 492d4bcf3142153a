import { describe, expect, it } from "vitest";
import {
  TicklerError,
  cronFiresAfter,
  looksLikeCron,
  nextFires,
  parseCron,
  parseInstant,
  parseSchedule,
  parseTimeZone,
  jitterOffset,
  resolveSchedule,
  slotsBetween,
} from "../../src/triggers/index.js";

/** A fixed reference instant: Monday 2026-11-23 10:00 UTC. */
const NOW = Date.parse("2026-11-23T10:00:00Z");
const ctx = { nowMs: NOW, defaultTimeZone: "UTC", minIntervalMs: 10_000 };
const at = (s: string) => Date.parse(s);
const isoList = (ms: number[]) => ms.map((m) => new Date(m).toISOString());

function errorOf(fn: () => unknown): TicklerError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TicklerError) return error;
    throw error;
  }
  throw new Error("expected a TicklerError");
}

describe("the when field is detected", () => {
  it.each([
    ["30m", "delay"],
    ["in 30m", "delay"],
    ["in 2 hours", "delay"],
    ["PT45M", "delay"],
    ["every 5m", "every"],
    ["every 15 minutes", "every"],
    ["0 9 * * 1-5", "cron"],
    ["0 9 * * MON-FRI", "cron"],
    ["*/30 * * * * *", "cron"],
    ["@daily", "cron"],
    ["2026-12-01T09:00:00Z", "at"],
    ["2026-12-01T09:00:00", "at"],
    ["2026-12-01 09:00", "at"],
  ])("%j is %s", (when, form) => {
    expect(parseSchedule({ when }, ctx).written.form).toBe(form);
  });

  it("gives cron errors (not duration errors) for cron-looking text with the wrong field count", () => {
    const error = errorOf(() => parseSchedule({ when: "0 9 * *" }, ctx));
    expect(error.code).toBe("invalid_cron");
    expect(error.message).toBe(
      'when: expected 5 or 6 fields, got 4 ("0 9 * *"); the form is "minute hour day-of-month month day-of-week"; did you mean "0 9 * * *"?',
    );
    expect(looksLikeCron("1h 30m")).toBe(false);
    expect(looksLikeCron("in 2 hours")).toBe(false);
  });
});

describe("cron", () => {
  it("matches the issue's message for a 4-field expression", () => {
    expect(errorOf(() => parseCron("0 9 * *")).message).toContain(
      'cron: expected 5 or 6 fields, got 4 ("0 9 * *")',
    );
  });

  it("expands macros and accepts names and seconds", () => {
    expect(parseCron("@hourly")).toBe("0 * * * *");
    expect(parseCron("@daily")).toBe("0 0 * * *");
    expect(parseCron("0 9 * JAN MON-FRI")).toBe("0 9 * JAN MON-FRI");
    expect(parseCron("  30   0 9 * * * ")).toBe("30 0 9 * * *");
  });

  it.each(["61 * * * *", "0 25 * * *", "0 0 30 2 *", "@fortnightly", "a b c d e"])("refuses %j", (expr) => {
    expect(errorOf(() => parseCron(expr)).code).toBe("invalid_cron");
  });

  it("fires weekdays at 09:00 New York time, in UTC across the DST change", () => {
    const fires = cronFiresAfter("0 9 * * 1-5", "America/New_York", at("2026-10-30T00:00:00Z"), 3);
    // Fri 30 Oct is EDT (UTC-4); DST ends Sun 1 Nov; Mon 2 Nov and Tue 3 Nov are EST (UTC-5).
    expect(isoList(fires)).toEqual([
      "2026-10-30T13:00:00.000Z",
      "2026-11-02T14:00:00.000Z",
      "2026-11-03T14:00:00.000Z",
    ]);
  });

  it("runs a time inside the spring-forward gap at the shifted local time (Berlin 02:30 → 03:30 CEST)", () => {
    const fires = cronFiresAfter("30 2 * * *", "Europe/Berlin", at("2026-03-28T12:00:00Z"), 2);
    expect(isoList(fires)).toEqual(["2026-03-29T01:30:00.000Z", "2026-03-30T00:30:00.000Z"]);
  });

  it("runs a fixed time once on the fall-back day, and a */30 minute list on both repeated hours", () => {
    expect(isoList(cronFiresAfter("30 2 * * *", "Europe/Berlin", at("2026-10-24T12:00:00Z"), 2))).toEqual([
      "2026-10-25T00:30:00.000Z",
      "2026-10-26T01:30:00.000Z",
    ]);
    expect(isoList(cronFiresAfter("*/30 * * * *", "Europe/Berlin", at("2026-10-24T23:10:00Z"), 5))).toEqual([
      "2026-10-24T23:30:00.000Z",
      "2026-10-25T00:00:00.000Z",
      "2026-10-25T00:30:00.000Z",
      "2026-10-25T01:00:00.000Z",
      "2026-10-25T01:30:00.000Z",
    ]);
  });
});

describe("time zones and instants", () => {
  it("accepts IANA zones and refuses others", () => {
    expect(parseTimeZone("America/New_York")).toBe("America/New_York");
    expect(parseTimeZone("utc")).toBe("UTC");
    for (const zone of ["Mars/Phobos", "+02:00", "EST5EDTX", ""])
      expect(errorOf(() => parseTimeZone(zone)).code).toBe("invalid_timezone");
  });

  it("reads an at without offset in the timezone, and one with an offset exactly", () => {
    expect(parseInstant("2026-12-01T09:00:00", "America/New_York", "at")).toBe(at("2026-12-01T14:00:00Z"));
    expect(parseInstant("2026-12-01 09:00", "Europe/Berlin", "at")).toBe(at("2026-12-01T08:00:00Z"));
    expect(parseInstant("2026-12-01T09:00:00+02:00", "America/New_York", "at")).toBe(
      at("2026-12-01T07:00:00Z"),
    );
    expect(parseInstant("2026-12-01T09:00:00Z", "Asia/Tokyo", "at")).toBe(at("2026-12-01T09:00:00Z"));
  });

  it("refuses a date without a time, asking for one", () => {
    const error = errorOf(() => parseInstant("2026-12-01", "UTC", "at"));
    expect(error).toMatchObject({ code: "invalid_time", field: "at" });
    expect(error.message).toContain("add one");
  });
});

describe("schedules resolve to fire times", () => {
  it("refuses an at in the past unless allow_past, which fires at once", () => {
    const parsed = parseSchedule({ at: "2026-11-23T09:00:00Z" }, ctx);
    expect(errorOf(() => resolveSchedule(parsed, NOW))).toMatchObject({ code: "invalid_time", field: "at" });
    const allowed = resolveSchedule(
      parseSchedule({ at: "2026-11-23T09:00:00Z", allow_past: true }, ctx),
      NOW,
    );
    expect(allowed).toEqual({ kind: "once", atMs: NOW });
  });

  it("anchors a heartbeat at now + every, or on start_at's grid", () => {
    expect(resolveSchedule(parseSchedule({ every: "5m" }, ctx), NOW)).toEqual({
      kind: "heartbeat",
      everyMs: 300_000,
      anchorMs: NOW + 300_000,
    });
    const past = resolveSchedule(parseSchedule({ every: "1h", start_at: "2026-11-23T08:30:00Z" }, ctx), NOW);
    expect(past).toMatchObject({ anchorMs: at("2026-11-23T10:30:00Z") });
  });

  it("moves a jittered heartbeat's phase by its id's own offset, spread over the jitter", () => {
    const parsed = parseSchedule({ every: "1m", jitter: "1m" }, ctx);
    expect(parsed.jitterMs).toBe(60_000);
    const anchors = Array.from({ length: 1000 }, (_, n) => {
      const schedule = resolveSchedule(parsed, NOW, `u/h${n}`);
      return schedule.kind === "heartbeat" ? schedule.anchorMs - (NOW + 60_000) : NaN;
    });
    expect(anchors.every((offset) => offset >= 0 && offset < 60_000)).toBe(true);
    // Spread: each tenth of the minute holds a fair share of the 1,000 phases (uniform: 100 each).
    const tenths = Array.from(
      { length: 10 },
      (_, k) => anchors.filter((o) => Math.floor(o / 6000) === k).length,
    );
    expect(Math.min(...tenths)).toBeGreaterThan(60);
    // The same id gets the same phase every time: re-running a seed call plans the same fires.
    expect(resolveSchedule(parsed, NOW, "u/h7")).toEqual(resolveSchedule(parsed, NOW, "u/h7"));
    expect(jitterOffset("u/h7", 60_000)).toBe(anchors[7]);
    // No jitter: no offset, and the parsed schedule has no jitter field (stored specs stay as they were).
    expect(parseSchedule({ every: "1m", jitter: 0 }, ctx)).not.toHaveProperty("jitterMs");
    expect(resolveSchedule(parseSchedule({ every: "1m" }, ctx), NOW, "u/h7")).toMatchObject({
      anchorMs: NOW + 60_000,
    });
  });

  it("refuses a jitter on a one-shot or cron, longer than the period, or not a duration", () => {
    expect(errorOf(() => parseSchedule({ delay: "5m", jitter: "1m" }, ctx))).toMatchObject({
      code: "invalid_field",
      field: "jitter",
    });
    expect(errorOf(() => parseSchedule({ cron: "0 9 * * *", jitter: "1m" }, ctx)).message).toMatch(
      /different minutes/,
    );
    expect(errorOf(() => parseSchedule({ every: "1m", jitter: "2m" }, ctx))).toMatchObject({
      code: "invalid_field",
      field: "jitter",
      message: expect.stringMatching(/longer than the period 1m/),
    });
    expect(errorOf(() => parseSchedule({ every: "1m", jitter: "soon" }, ctx))).toMatchObject({
      code: "invalid_duration",
      field: "jitter",
    });
  });

  it("refuses more than one form, none, a short interval and an end_at in the past", () => {
    expect(errorOf(() => parseSchedule({ delay: "5m", every: "5m" }, ctx)).code).toBe("invalid_schedule");
    expect(errorOf(() => parseSchedule({}, ctx)).code).toBe("invalid_schedule");
    expect(errorOf(() => parseSchedule({ every: "5s" }, ctx))).toMatchObject({
      code: "interval_too_short",
      field: "every",
    });
    expect(errorOf(() => parseSchedule({ cron: "*/5 * * * * *" }, ctx))).toMatchObject({
      code: "interval_too_short",
      field: "cron",
    });
    expect(errorOf(() => parseSchedule({ every: "1h", end_at: "2026-11-23T09:00:00Z" }, ctx))).toMatchObject({
      code: "invalid_time",
      field: "end_at",
    });
    expect(
      errorOf(() => parseSchedule({ delay: "5m", start_at: "2026-11-24T09:00:00Z" }, ctx)),
    ).toMatchObject({ field: "start_at" });
  });

  it("lists next fires within start_at and end_at", () => {
    const hb = { kind: "heartbeat" as const, everyMs: 60_000, anchorMs: NOW };
    expect(nextFires(hb, NOW, 3)).toEqual([NOW, NOW + 60_000, NOW + 120_000]);
    expect(nextFires(hb, NOW + 1, 2)).toEqual([NOW + 60_000, NOW + 120_000]);
    expect(nextFires(hb, NOW, 10, { endAtMs: NOW + 90_000 })).toEqual([NOW, NOW + 60_000]);
    const cron = { kind: "cron" as const, cron: "0 9 * * *", timezone: "UTC" };
    expect(isoList(nextFires(cron, NOW, 2, { startAtMs: at("2026-12-01T00:00:00Z") }))).toEqual([
      "2026-12-01T09:00:00.000Z",
      "2026-12-02T09:00:00.000Z",
    ]);
  });

  it("finds the slots between a late one and the next pending one (missed-slot arithmetic)", () => {
    const hb = { kind: "heartbeat" as const, everyMs: 1000, anchorMs: NOW };
    expect(slotsBetween(hb, NOW, NOW + 4000, 100)).toEqual([NOW + 1000, NOW + 2000, NOW + 3000]);
    expect(slotsBetween(hb, NOW, NOW + 4000, 2)).toEqual([NOW + 1000, NOW + 2000]);
    const cron = { kind: "cron" as const, cron: "*/15 * * * *", timezone: "UTC" };
    expect(slotsBetween(cron, NOW, NOW + 3600_000, 100)).toHaveLength(3);
  });
});
