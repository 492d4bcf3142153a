/** The domain: schedule forms, durations, cron and time zones, next fires, missed-slot arithmetic, errors. No I/O. */
export * from "./cron.js";
export * from "./duration.js";
export * from "./errors.js";
export * from "./missed-fires.js";
export * from "./record.js";
export * from "./schedule.js";
export * from "./time-zone.js";
export * from "./definition-equality.js";
export * from "./input-errors.js";
export * from "./names.js";
export * from "./parse-trigger.js";
export * from "./plan-write.js";
export * from "./target.js";
export * from "./trigger-input.js";
export * from "./trigger-spec.js";
export * from "./describe.js";
export * from "./loom.js";
