import { z } from "zod";
import { IF_EXISTS } from "../triggers/index.js";

/** A duration as YAML carries it: "30s", "1h30m", or a number of seconds. */
const duration = z.union([z.string(), z.number()]);
/** The YAML file: every key optional, unknown keys refused. */
export const fileSchema = z
  .object({
    default_timezone: z.string(),
    min_interval: duration,
    max_triggers_per_user: z.number().int().min(1),
    max_prompt_bytes: z.number().int().min(1),
    max_payload_bytes: z.number().int().min(2),
    max_body_bytes: z.number().int().min(1024),
    run_history_limit: z.number().int().min(1).max(100_000),
    run_retention: duration,
    allow_target_urls: z.boolean(),
    tokens: z.array(
      z.union([
        z.object({ token: z.string(), role: z.literal("admin") }).strict(),
        z.object({ token: z.string(), user_id: z.string(), role: z.literal("user").optional() }).strict(),
      ]),
    ),
    agents: z.record(
      z.string(),
      z
        .object({
          url: z.string(),
          method: z.enum(["POST", "PUT", "PATCH"]).optional(),
          format: z.enum(["json", "a2a"]).optional(),
          a2a_version: z.enum(["1.0", "0.3"]).optional(),
          headers: z.record(z.string(), z.string()).optional(),
          signing_secret: z.string().optional(),
          timeout: duration.optional(),
        })
        .strict(),
    ),
    defaults: z
      .object({
        missed_policy: z.enum(["skip", "run_once", "run_all"]),
        misfire_grace: duration,
        catchup_window: duration,
        overlap: z.enum(["skip", "allow"]),
        timeout: duration,
        retry: z
          .object({
            attempts: z.number().int().min(1).max(25),
            backoff: z.enum(["exponential", "fixed"]),
            delay: duration,
            max_delay: duration,
          })
          .partial()
          .strict(),
      })
      .partial()
      .strict(),
    worker: z
      .object({
        lock_duration: duration,
        stalled_interval: duration,
        max_stalled_count: z.number().int().min(1),
        shutdown_timeout: duration,
        reconcile_interval: duration,
        reconcile_batch: z.number().int().min(100).max(1_000_000),
      })
      .partial()
      .strict(),
    events: z
      .object({ max_len: z.number().int().min(100).max(10_000_000), keepalive: duration })
      .partial()
      .strict(),
    metrics: z.object({ public: z.boolean() }).partial().strict(),
    rate_limit: z
      .object({ writes: z.number().int().min(1), per: duration })
      .partial()
      .strict(),
    schedules: z.array(
      z.looseObject({ user_id: z.string(), name: z.string(), if_exists: z.enum(IF_EXISTS).optional() }),
    ),
  })
  .partial()
  .strict();

/** The YAML file's shape. */
export type ConfigFile = z.infer<typeof fileSchema>;
