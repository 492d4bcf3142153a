import { describe, expect, it } from "vitest";
import { TicklerError, formatDuration, parseDuration } from "../../src/triggers/index.js";

describe("parseDuration", () => {
  it.each([
    ["90s", 90_000],
    ["30m", 1_800_000],
    ["1h30m", 5_400_000],
    ["1h 30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["2d", 172_800_000],
    ["1w", 604_800_000],
    ["PT30M", 1_800_000],
    ["PT1H30M", 5_400_000],
    ["P1DT2H", 93_600_000],
    ["pt45m", 2_700_000],
    ["30 min", 1_800_000],
    ["30 minutes", 1_800_000],
    ["in 2 hours", 7_200_000],
    ["2 hours from now", 7_200_000],
    ["1 hour and 15 minutes", 4_500_000],
    ["250ms", 250],
    ["90", 90_000],
    [90, 90_000],
    [0.5, 500],
  ] as const)("reads %j as %i ms", (input, ms) => {
    expect(parseDuration(input, "delay")).toBe(ms);
  });

  it.each([
    ["0", "greater than zero"],
    ["0s", "greater than zero"],
    ["-5m", "greater than zero"],
    [-5, "greater than zero"],
    ["", "empty"],
    ["soon", "too vague"],
    ["tomorrow morning", "too vague"],
    ["later", "too vague"],
    ["abc", "cannot read"],
    ["5 parsecs", "cannot read"],
    ["P1X", "ISO-8601"],
    [true, 'expected a duration such as "90s" or a number of seconds, got true'],
    [null, 'expected a duration such as "90s" or a number of seconds, got null'],
    [-60, 'greater than zero such as "90s" or a number of seconds, got the number -60'],
    ["99999d", "longer than 10 years"],
  ] as const)("refuses %j with a hint (%s)", (input, words) => {
    try {
      parseDuration(input, "delay");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TicklerError);
      expect((error as TicklerError).code).toBe("invalid_duration");
      expect((error as TicklerError).field).toBe("delay");
      expect((error as TicklerError).message).toContain(words);
      expect((error as TicklerError).message).toContain('"30m"');
    }
  });

  it("formats durations compactly and readably back", () => {
    for (const ms of [250, 1000, 90_000, 5_400_000, 86_400_000, 90_061_500])
      expect(parseDuration(formatDuration(ms), "x")).toBe(ms);
    expect(formatDuration(5_400_000)).toBe("1h30m");
  });
});
