import { createHash } from "node:crypto";
import type { WriteOutcome } from "../producer/producer.js";
import {
  describeSchedule,
  describeValue,
  invalid,
  iso,
  kindOf,
  localTime,
  stateOf,
  triggerId,
  upcomingFires,
  type TriggerRecord,
} from "../triggers/index.js";
import type { ToolContext } from "./tool.js";

/** The principal a tool acts as: the calling user, always. */
export function caller(ctx: ToolContext) {
  return { role: "user" as const, userId: ctx.userId };
}

/** The arguments among `keys` that were given (null and absent mean the same: OpenAI strict mode sends null). */
export function pick<T extends Record<string, unknown>, K extends keyof T>(
  args: T,
  keys: readonly K[],
): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (args[key] !== undefined && args[key] !== null) out[key] = args[key];
  return out;
}

/** The arguments every schedule tool takes. */
export type CommonArgs = {
  prompt: string;
  name?: string | null;
  thread_key?: string | null;
  channel?: string | null;
  payload?: string | Record<string, unknown> | null;
};

/** Upserts the trigger a schedule tool describes, named by the caller or after its prompt and schedule. */
export async function upsert(
  ctx: ToolContext,
  kind: string,
  args: CommonArgs,
  schedule: Record<string, unknown>,
): Promise<WriteOutcome> {
  const name = args.name ?? derivedName(kind, args, schedule);
  const body: Record<string, unknown> = {
    prompt: args.prompt,
    ...pick(schedule, Object.keys(schedule)),
    thread_key: args.thread_key ?? null,
    channel: args.channel ?? null,
    payload: parsePayload(args.payload),
  };
  return ctx.producer.upsert(ctx.userId, name, body, { caller: caller(ctx) });
}

/** A stable name for a call without one: the same prompt and schedule always give the same name. */
export function derivedName(kind: string, args: CommonArgs, schedule: Record<string, unknown>): string {
  const slug = args.prompt
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  // null and absent mean the same (OpenAI strict mode sends null for every argument not given).
  const material = JSON.stringify([
    kind,
    args.prompt,
    pick(schedule, Object.keys(schedule)),
    args.thread_key ?? null,
    args.channel ?? null,
  ]);
  const hash = createHash("sha256").update(material).digest("hex").slice(0, 8);
  return `${kind}-${slug || "turn"}-${hash}`;
}

function parsePayload(
  payload: string | Record<string, unknown> | null | undefined,
): Record<string, unknown> | null {
  if (payload !== null && typeof payload === "object") return payload;
  if (payload === null || payload === undefined || payload.trim() === "") return null;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    throw invalid(
      "invalid_field",
      "payload",
      'is not valid JSON; pass a JSON object, e.g. {"ticket": 42} (or the same as a string)',
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalid(
      "invalid_field",
      "payload",
      `expected a JSON object, e.g. {"ticket": 42}, got ${describeValue(value)}`,
    );
  }
  return value as Record<string, unknown>;
}

/** A trigger as a model reads it back: id, kind, schedule in words with the next fire, UTC and local. */
export function summarize(record: TriggerRecord, count = 1): Record<string, unknown> {
  const { spec } = record;
  const zone = spec.schedule.timezone;
  const next = upcomingFires(record, Date.now(), count);
  const words = describeSchedule(record.schedule, zone);
  const first = next[0];
  return {
    id: triggerId(spec.userId, spec.name),
    name: spec.name,
    kind: kindOf(spec),
    state: stateOf(record),
    summary: first === undefined ? words : `${words}; next ${localTime(first, zone)}`,
    timezone: zone,
    next_fire_at: first === undefined ? null : iso(first),
    next_fire_local: first === undefined ? null : localTime(first, zone),
    ...(count > 1 ? { next_fires: next.map(iso) } : {}),
    // Why a paused trigger is paused, when the system paused it (after failed runs): an agent can say so.
    ...(!spec.enabled ? { paused_by: spec.systemPause ? "system" : "user" } : {}),
    ...(!spec.enabled && spec.systemPause ? { paused_reason: spec.systemPause.reason } : {}),
  };
}

/** A write as a model reads it back. */
export function writeResult(outcome: WriteOutcome): Record<string, unknown> {
  return {
    status: outcome.status,
    ...summarize(outcome.record),
    ...(outcome.note === undefined ? {} : { note: outcome.note }),
  };
}
