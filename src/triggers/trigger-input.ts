import { z } from "zod";
import { MISSED_POLICIES } from "./missed-fires.js";
import { LOOM_DISPATCH, MAX_EXPAND_LIMIT, OVERLAP_POLICIES, TARGET_FORMATS } from "./trigger-spec.js";

/** A duration field's schema: its error says what a duration looks like. */
export const DURATION_EXPECTED = 'expected a duration such as "90s" or a number of seconds';
const durationLike = z.union([z.string(), z.number()], { error: DURATION_EXPECTED }).nullish();
const text = (max: number) => z.string().max(max).nullish();

export const retrySchema = z
  .object({
    attempts: z.number().int().min(1).max(25).nullish(),
    backoff: z.enum(["exponential", "fixed"]).nullish(),
    delay: durationLike,
    max_delay: durationLike,
    max_age: durationLike,
  })
  .strict();

/** A NATS target as written: `{url, subject, jetstream, dispatch}` (subject optional with a Loom dispatch). */
export const natsSchema = z
  .object({
    url: z.string().max(2048),
    subject: z.string().max(256).nullish(),
    jetstream: z.boolean().nullish(),
    dispatch: z.enum(LOOM_DISPATCH).nullish(),
  })
  .strict();

export const targetSchema = z.union([
  z.object({ agent: z.string().min(1).max(128) }).strict(),
  z.object({ nats: natsSchema }).strict(),
  z
    .object({
      url: z.string().max(2048),
      method: z.enum(["POST", "PUT", "PATCH"]).nullish(),
      headers: z.record(z.string().max(256), z.string().max(4096)).nullish(),
      format: z.enum(TARGET_FORMATS).nullish(),
      a2a_version: z.enum(["1.0", "0.3"]).nullish(),
    })
    .strict(),
]);

/**
 * A fan-out as written: the contexts (`items`), or where to fetch them at fire time (`url` with its
 * `headers`, or an `agent` from config), and the cap on how many one fire may have.
 */
export const expandSchema = z
  .object({
    items: z.array(z.record(z.string(), z.unknown())).max(MAX_EXPAND_LIMIT).nullish(),
    url: z.string().max(2048).nullish(),
    headers: z.record(z.string().max(256), z.string().max(4096)).nullish(),
    agent: z.string().min(1).max(128).nullish(),
    max_expand: z.number().int().min(1).max(MAX_EXPAND_LIMIT).nullish(),
  })
  .strict();

/**
 * The wire schema of a trigger body (PUT, YAML `schedules:`, the library). Every optional field also
 * accepts `null`. Unknown fields are refused, so a typo (`crom`) is an error and not a silent default.
 */
export const triggerInputSchema = z
  .object({
    user_id: z.string().nullish(),
    name: z.string().nullish(),
    prompt: z.string(),
    when: z.union([z.string(), z.number()]).nullish(),
    at: z.string().nullish(),
    delay: durationLike,
    every: durationLike,
    cron: z.string().nullish(),
    timezone: z.string().nullish(),
    start_at: z.string().nullish(),
    end_at: z.string().nullish(),
    allow_past: z.boolean().nullish(),
    jitter: durationLike,
    payload: z.record(z.string(), z.unknown()).nullish(),
    thread_key: text(512),
    channel: text(512),
    target: targetSchema.nullish(),
    expand: expandSchema.nullish(),
    missed_policy: z.enum(MISSED_POLICIES).nullish(),
    misfire_grace: durationLike,
    catchup_window: durationLike,
    overlap: z.enum(OVERLAP_POLICIES).nullish(),
    retry: retrySchema.nullish(),
    timeout: durationLike,
    max_fires: z.number().int().min(1).max(1_000_000_000).nullish(),
    notify: targetSchema.nullish(),
    pause_after_failures: z.number().int().min(1).max(10_000).nullish(),
    catchup_max: z.number().int().min(0).max(1_000).nullish(),
    enabled: z.boolean().nullish(),
    metadata: z.record(z.string().max(128), z.string().max(1024)).nullish(),
  })
  .strict();

/** A trigger body as the wire schema reads it. */
export type TriggerInput = z.infer<typeof triggerInputSchema>;
