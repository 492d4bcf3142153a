import { DateTime } from "luxon";
import { beforeAll, describe, expect, it } from "vitest";
import { createTools, type Tools } from "../../src/tools/index.js";
import { useTickler } from "../helpers/tickler.js";

/**
 * Tool calls in the forms models really produce. Each is either accepted with the right next fire
 * (computed here independently, with luxon) or refused with a code and a hint a model can act on.
 */
const MIN = 60_000;
const HOUR = 60 * MIN;

/** The next local wall-clock time hh:mm in `zone` after now whose weekday (1=Mon..7=Sun) passes `day`. */
function nextLocal(
  hour: number,
  minute: number,
  zone: string,
  day: (weekday: number, date: DateTime) => boolean = () => true,
): number {
  let at = DateTime.now().setZone(zone).set({ hour, minute, second: 0, millisecond: 0 });
  for (let i = 0; i < 400; i++, at = at.plus({ days: 1 }).set({ hour, minute })) {
    if (at.toMillis() > Date.now() && day(at.weekday, at)) return at.toMillis();
  }
  throw new Error("no next time");
}
const nextStep = (stepMs: number) => Math.ceil((Date.now() + 1) / stepMs) * stepMs;
const weekday = (d: number) => d <= 5;

type Expect =
  | { kind: "once" | "heartbeat" | "cron"; next: number | (() => number); tolerance?: number }
  | { error: string; hint?: string | RegExp };

const inMs = (ms: number) => () => Date.now() + ms;
const at = (iso: string) => Date.parse(iso);

const CORPUS: [string, Record<string, unknown>, Expect][] = [
  // schedule_once, relative: the spellings models write
  ...(
    [
      ["30m", 30 * MIN],
      ["in 30m", 30 * MIN],
      ["30 min", 30 * MIN],
      ["30 minutes", 30 * MIN],
      ["in 30 minutes", 30 * MIN],
      ["in 2 hours", 2 * HOUR],
      ["2 hours", 2 * HOUR],
      ["1h30m", 90 * MIN],
      ["1h 30m", 90 * MIN],
      ["1.5h", 90 * MIN],
      ["90s", 90_000],
      ["90", 90_000],
      ["PT45M", 45 * MIN],
      ["pt45m", 45 * MIN],
      ["2d", 48 * HOUR],
      ["1 hour and 15 minutes", 75 * MIN],
      ["in 1 week", 7 * 24 * HOUR],
    ] as const
  ).map(([when, ms]): [string, Record<string, unknown>, Expect] => [
    "schedule_once",
    { prompt: `in ${when}`, when },
    { kind: "once", next: inMs(ms), tolerance: 5000 },
  ]),
  // schedule_once, absolute
  [
    "schedule_once",
    { prompt: "a1", when: "2030-12-01T09:00:00Z" },
    { kind: "once", next: at("2030-12-01T09:00:00Z") },
  ],
  [
    "schedule_once",
    { prompt: "a2", when: "2030-12-01T09:00:00", timezone: "America/New_York" },
    { kind: "once", next: at("2030-12-01T14:00:00Z") },
  ],
  [
    "schedule_once",
    { prompt: "a3", when: "2030-12-01 09:00", timezone: "Europe/Berlin" },
    { kind: "once", next: at("2030-12-01T08:00:00Z") },
  ],
  [
    "schedule_once",
    { prompt: "a4", when: "2030-12-01T09:00:00+02:00" },
    { kind: "once", next: at("2030-12-01T07:00:00Z") },
  ],
  [
    "schedule_once",
    { prompt: "a5", at: "2030-06-15T14:00:00Z" },
    { kind: "once", next: at("2030-06-15T14:00:00Z") },
  ],
  [
    "schedule_once",
    { prompt: "a6", at: "2030-06-15T14:00:00", timezone: "Asia/Tokyo" },
    { kind: "once", next: at("2030-06-15T05:00:00Z") },
  ],
  [
    "schedule_once",
    { prompt: "a7", delay: "45 minutes" },
    { kind: "once", next: inMs(45 * MIN), tolerance: 5000 },
  ],
  [
    "schedule_once",
    {
      prompt: "a8",
      when: "2030-12-01T09:00:00.000Z",
      name: null,
      thread_key: null,
      channel: null,
      payload: null,
      at: null,
      delay: null,
      timezone: null,
    },
    { kind: "once", next: at("2030-12-01T09:00:00Z") },
  ],
  // schedule_once, refused with a hint
  ["schedule_once", { prompt: "x", when: "soon" }, { error: "invalid_duration", hint: /too vague.*"30m"/ }],
  [
    "schedule_once",
    { prompt: "x", when: "tomorrow morning" },
    { error: "invalid_duration", hint: "give an exact time" },
  ],
  ["schedule_once", { prompt: "x", when: "later" }, { error: "invalid_duration", hint: "too vague" }],
  ["schedule_once", { prompt: "x", when: "next week" }, { error: "invalid_duration", hint: "too vague" }],
  ["schedule_once", { prompt: "x", when: "in a bit" }, { error: "invalid_duration", hint: '"30m"' }],
  [
    "schedule_once",
    { prompt: "x", when: "2030-12-01" },
    { error: "invalid_time", hint: "has a date but no time" },
  ],
  [
    "schedule_once",
    { prompt: "x", at: "2020-01-01T00:00:00Z" },
    { error: "invalid_time", hint: "is in the past" },
  ],
  ["schedule_once", { prompt: "x", when: "0m" }, { error: "invalid_duration", hint: "greater than zero" }],
  ["schedule_once", { prompt: "x", when: "-5m" }, { error: "invalid_duration", hint: "greater than zero" }],
  [
    "schedule_once",
    { prompt: "x", when: "every 5m" },
    { error: "invalid_schedule", hint: "schedule_heartbeat" },
  ],
  [
    "schedule_once",
    { prompt: "x", when: "0 9 * * 1-5" },
    { error: "invalid_schedule", hint: "schedule_cron" },
  ],
  [
    "schedule_once",
    { prompt: "x", when: "2030-12-01T09:00:00", timezone: "Mars/Phobos" },
    { error: "invalid_timezone", hint: "IANA" },
  ],
  ["schedule_once", { prompt: "x" }, { error: "invalid_schedule", hint: 'exactly one of "when"' }],
  [
    "schedule_once",
    { prompt: "x", when: "30m", delay: "30m" },
    { error: "invalid_schedule", hint: "more than one" },
  ],
  ["schedule_once", { prompt: "", when: "30m" }, { error: "invalid_field", hint: "empty" }],
  [
    "schedule_once",
    { prompt: "x", when: "30m", payload: "{not json" },
    { error: "invalid_field", hint: "JSON" },
  ],
  [
    "schedule_once",
    { prompt: "x", when: "30m", name: "has space" },
    { error: "invalid_name", hint: "no spaces" },
  ],
  // schedule_heartbeat
  ...(
    [
      ["5m", 5 * MIN],
      ["every 5m", 5 * MIN],
      ["every 15 minutes", 15 * MIN],
      ["15 minutes", 15 * MIN],
      ["1h", HOUR],
      ["every 2h", 2 * HOUR],
      ["PT1H", HOUR],
      ["every 1.5 hours", 90 * MIN],
      ["30s", 30_000],
    ] as const
  ).map(([every, ms]): [string, Record<string, unknown>, Expect] => [
    "schedule_heartbeat",
    { prompt: `every ${every}`, every },
    { kind: "heartbeat", next: inMs(ms), tolerance: 5000 },
  ]),
  [
    "schedule_heartbeat",
    { prompt: "h", every: "1h", start_at: "2030-01-01T00:00:00Z" },
    { kind: "heartbeat", next: at("2030-01-01T00:00:00Z") },
  ],
  [
    "schedule_heartbeat",
    { prompt: "x", every: "1s" },
    { error: "interval_too_short", hint: /minimum interval 10s; use "every 10s"/ },
  ],
  [
    "schedule_heartbeat",
    { prompt: "x", every: "every 5 seconds" },
    { error: "interval_too_short", hint: "minimum interval" },
  ],
  ["schedule_heartbeat", { prompt: "x", every: "often" }, { error: "invalid_duration", hint: '"30m"' }],
  [
    "schedule_heartbeat",
    { prompt: "x", every: "0" },
    { error: "invalid_duration", hint: "greater than zero" },
  ],
  ["schedule_heartbeat", { prompt: "x" }, { error: "invalid_field", hint: "required" }],
  // schedule_cron
  [
    "schedule_cron",
    { prompt: "c1", cron: "0 9 * * 1-5", timezone: "America/New_York" },
    { kind: "cron", next: () => nextLocal(9, 0, "America/New_York", weekday) },
  ],
  [
    "schedule_cron",
    { prompt: "c2", cron: "0 9 * * MON-FRI", timezone: "America/New_York" },
    { kind: "cron", next: () => nextLocal(9, 0, "America/New_York", weekday) },
  ],
  ["schedule_cron", { prompt: "c3", cron: "@daily" }, { kind: "cron", next: () => nextLocal(0, 0, "UTC") }],
  ["schedule_cron", { prompt: "c4", cron: "@hourly" }, { kind: "cron", next: () => nextStep(HOUR) }],
  [
    "schedule_cron",
    { prompt: "c5", cron: "30 17 * * FRI", timezone: "Europe/Berlin" },
    { kind: "cron", next: () => nextLocal(17, 30, "Europe/Berlin", (d) => d === 5) },
  ],
  [
    "schedule_cron",
    { prompt: "c6", cron: "0 8 1 * *" },
    { kind: "cron", next: () => nextLocal(8, 0, "UTC", (_d, date) => date.day === 1) },
  ],
  ["schedule_cron", { prompt: "c7", cron: "*/15 * * * *" }, { kind: "cron", next: () => nextStep(15 * MIN) }],
  [
    "schedule_cron",
    { prompt: "c8", cron: "0 0 * * 0" },
    { kind: "cron", next: () => nextLocal(0, 0, "UTC", (d) => d === 7) },
  ],
  [
    "schedule_cron",
    { prompt: "c9", cron: "0 9 * * *", timezone: "Asia/Tokyo" },
    { kind: "cron", next: () => nextLocal(9, 0, "Asia/Tokyo") },
  ],
  [
    "schedule_cron",
    { prompt: "c10", cron: "0 0 9 * * *" },
    { kind: "cron", next: () => nextLocal(9, 0, "UTC") },
  ],
  [
    "schedule_cron",
    { prompt: "c11", cron: "@weekdays", timezone: "Europe/London" },
    { kind: "cron", next: () => nextLocal(0, 0, "Europe/London", weekday) },
  ],
  [
    "schedule_cron",
    { prompt: "x", cron: "0 9 * *" },
    { error: "invalid_cron", hint: 'did you mean "0 9 * * *"' },
  ],
  [
    "schedule_cron",
    { prompt: "x", cron: "9 * *" },
    { error: "invalid_cron", hint: "expected 5 or 6 fields, got 3" },
  ],
  ["schedule_cron", { prompt: "x", cron: "0 9 * * * * *" }, { error: "invalid_cron", hint: "got 7" }],
  [
    "schedule_cron",
    { prompt: "x", cron: "61 * * * *" },
    { error: "invalid_cron", hint: "expected range 0-59" },
  ],
  ["schedule_cron", { prompt: "x", cron: "0 25 * * *" }, { error: "invalid_cron", hint: "0 9 * * 1-5" }],
  [
    "schedule_cron",
    { prompt: "x", cron: "every day at 9" },
    { error: "invalid_cron", hint: "minute hour day-of-month month day-of-week" },
  ],
  ["schedule_cron", { prompt: "x", cron: "@fortnightly" }, { error: "invalid_cron", hint: "@daily" }],
  [
    "schedule_cron",
    { prompt: "x", cron: "* * * * * *" },
    { error: "interval_too_short", hint: "minimum interval" },
  ],
  [
    "schedule_cron",
    { prompt: "x", cron: "0 9 * * 1-5", timezone: "Mars/Phobos" },
    { error: "invalid_timezone", hint: "America/New_York" },
  ],
  [
    "schedule_cron",
    { prompt: "x", cron: "0 9 * * 1-5", timezone: "+02:00" },
    { error: "invalid_timezone", hint: "IANA" },
  ],
  // preview_schedule
  [
    "preview_schedule",
    { when: "every 15 minutes" },
    { kind: "heartbeat", next: inMs(15 * MIN), tolerance: 5000 },
  ],
  [
    "preview_schedule",
    { when: "0 9 * * MON-FRI", timezone: "America/New_York" },
    { kind: "cron", next: () => nextLocal(9, 0, "America/New_York", weekday) },
  ],
  ["preview_schedule", { when: "in 2 hours" }, { kind: "once", next: inMs(2 * HOUR), tolerance: 5000 }],
  [
    "preview_schedule",
    { cron: "@daily", timezone: "Europe/Berlin" },
    { kind: "cron", next: () => nextLocal(0, 0, "Europe/Berlin") },
  ],
  ["preview_schedule", { when: "0 9 * *" }, { error: "invalid_cron", hint: "did you mean" }],
  ["preview_schedule", {}, { error: "invalid_schedule", hint: 'exactly one of "when"' }],
];

describe("a corpus of tool calls as models write them", () => {
  const fx = useTickler("corpus", {
    file: { min_interval: "10s", max_triggers_per_user: 1000 },
    role: "api",
  });
  let tools: Tools;
  beforeAll(async () => {
    tools = await createTools({ producer: fx.t.tickler.producer });
  });

  it("has at least 60 calls", () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(60);
  });

  it.each(
    CORPUS.map(([tool, args, expected], i) => [i, tool, JSON.stringify(args), args, expected] as const),
  )("#%i %s %s", async (_i, tool, _label, args, expected) => {
    const reply = await tools.call(tool, args, { userId: "model" });
    if ("error" in expected) {
      expect(reply, JSON.stringify(reply)).toHaveProperty("error");
      const { error } = reply as { error: { code: string; message: string } };
      expect(error.code).toBe(expected.error);
      if (expected.hint instanceof RegExp) expect(error.message).toMatch(expected.hint);
      else if (expected.hint) expect(error.message).toContain(expected.hint);
      return;
    }
    expect(reply, JSON.stringify(reply)).toHaveProperty("result");
    const result = (reply as { result: Record<string, any> }).result;
    expect(result.kind).toBe(expected.kind);
    const actual = Date.parse(tool === "preview_schedule" ? result.next[0].utc : result.next_fire_at);
    const want = typeof expected.next === "function" ? expected.next() : expected.next;
    expect(
      Math.abs(actual - want),
      `next fire ${new Date(actual).toISOString()} vs ${new Date(want).toISOString()}`,
    ).toBeLessThanOrEqual(expected.tolerance ?? 0);
  });
});
