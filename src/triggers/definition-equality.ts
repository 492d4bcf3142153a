import type { TriggerSpec } from "./trigger-spec.js";

/** The part of a schedule that decides fire times; which field it came in does not count. */
function scheduleIdentity(spec: TriggerSpec): unknown {
  const { field: _field, ...identity } = spec.schedule;
  return identity;
}

/** Whether two definitions fire at the same times (so a write between them keeps the pending fire and phase). */
export function sameSchedule(a: TriggerSpec, b: TriggerSpec): boolean {
  return jsonEqual(scheduleIdentity(a), scheduleIdentity(b));
}

/** Whether a write of `b` over `a` changes nothing at all. */
export function sameDefinition(a: TriggerSpec, b: TriggerSpec): boolean {
  return sameSchedule(a, b) && jsonEqual({ ...a, schedule: null }, { ...b, schedule: null });
}

/**
 * Whether two JSON values are stored alike: equal once written as JSON, whatever their key order
 * (undefined properties are absent), compared without writing either.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item ?? null, b[i] ?? null));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left).filter((key) => left[key] !== undefined);
  return (
    keys.length === Object.keys(right).filter((key) => right[key] !== undefined).length &&
    keys.every((key) => jsonEqual(left[key], right[key]))
  );
}
