import { formatDuration } from "./duration.js";
import type { Schedule } from "./schedule.js";
import { localTime } from "./time-zone.js";

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const DAY_NAMES: Record<string, number> = { SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6, "7": 0 };

/**
 * A schedule in words, for people and models: "every weekday at 09:00 America/New_York", "every 5m",
 * "once at Mon 2026-11-23 09:00 UTC". Cron patterns it does not recognise are shown as written.
 */
export function describeSchedule(schedule: Schedule, timezone = "UTC"): string {
  switch (schedule.kind) {
    case "once":
      return "once at " + localTime(schedule.atMs, timezone);
    case "heartbeat":
      return `every ${formatDuration(schedule.everyMs)}`;
    case "cron":
      return `${describeCron(schedule.cron) ?? `cron "${schedule.cron}"`} ${schedule.timezone}`;
  }
}

/** Words for the common cron shapes, or null. Six-field patterns are described only with second 0. */
export function describeCron(cron: string): string | null {
  let fields = cron.trim().split(/\s+/);
  if (fields.length === 6) {
    if (fields[0] !== "0") return null;
    fields = fields.slice(1);
  }
  const [minute = "", hour = "", dom = "", month = "", dow = ""] = fields;
  if (month !== "*") return null;
  const step = /^\*\/(\d+)$/.exec(minute);
  if (step && hour === "*" && dom === "*" && dow === "*") return `every ${step[1]} minutes`;
  if (/^\d+$/.test(minute) && hour === "*" && dom === "*" && dow === "*")
    return `every hour at :${minute.padStart(2, "0")}`;
  if (!/^\d+$/.test(minute) || !/^\d+$/.test(hour)) return null;
  const at = `at ${hour.padStart(2, "0")}:${minute.padStart(2, "0")}`;
  if (dom === "*" && dow === "*") return `every day ${at}`;
  if (dom !== "*" && /^\d+$/.test(dom) && dow === "*") return `on day ${dom} of every month ${at}`;
  if (dom !== "*") return null;
  const days = dow.toUpperCase();
  if (days === "1-5" || days === "MON-FRI") return `every weekday ${at}`;
  if (days === "0,6" || days === "6,0" || days === "SAT,SUN" || days === "SUN,SAT")
    return `every weekend day ${at}`;
  const single = DAY_NAMES[days] ?? (/^[0-6]$/.test(days) ? Number(days) : undefined);
  return single === undefined ? null : `every ${DAYS[single]} ${at}`;
}
