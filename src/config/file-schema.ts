import { z } from "zod";
import { DURATION_EXPECTED, IF_EXISTS } from "../triggers/index.js";

/** A duration as YAML carries it: "30s", "1h30m", or a number of seconds. */
const duration = z.union([z.string(), z.number()], { error: DURATION_EXPECTED });
/** A whole number of at least `min` (at most `max`), with an example of the key written right. */
const whole = (key: string, example: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
  const error = `expected a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : " up"}, e.g. ${key}: ${example}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const flag = (key: string) => z.boolean({ error: `expected true or false, e.g. ${key}: true` });
/** A YAML mapping (`key: value` lines, or `{…}`) of the given fields, with an example of its shape. */
const section = <T extends z.ZodRawShape>(shape: T, example: string) =>
  z
    .object(shape, { error: `expected a mapping, e.g. ${example}` })
    .partial()
    .strict();
/** The YAML file: every key optional, unknown keys refused. */
export const fileSchema = z
  .object({
    default_timezone: z.string(),
    min_interval: duration,
    partitions: whole("partitions", 12, 1, 1024),
    max_triggers_per_user: whole("max_triggers_per_user", 1000, 1),
    max_prompt_bytes: whole("max_prompt_bytes", 16384, 1),
    max_payload_bytes: whole("max_payload_bytes", 65536, 2),
    max_body_bytes: whole("max_body_bytes", 262144, 1024),
    run_history_limit: whole("run_history_limit", 100, 1, 100_000),
    run_retention: duration,
    allow_target_urls: flag("allow_target_urls"),
    tokens: z.array(
      z.union(
        [
          z.object({ token: z.string(), role: z.literal("admin") }).strict(),
          z.object({ token: z.string(), user_id: z.string(), role: z.literal("user").optional() }).strict(),
        ],
        {
          error:
            'expected {token, role: admin} or {token, user_id}, e.g. - { token: "${ALICE_TOKEN}", user_id: alice }',
        },
      ),
      { error: 'expected a list, e.g. tokens: [{ token: "${TICKLER_ADMIN_TOKEN}", role: admin }]' },
    ),
    agents: z.record(
      z.string(),
      z
        .object({
          url: z.string().optional(),
          nats: z
            .object(
              {
                url: z.string(),
                subject: z.string().optional(),
                jetstream: flag("jetstream").optional(),
                dispatch: z.enum(["goal", "task"]).optional(),
              },
              {
                error:
                  "expected a mapping, e.g. nats: { url: nats://127.0.0.1:4222, subject: agents.turns, jetstream: true }",
              },
            )
            .strict()
            .optional(),
          method: z.enum(["POST", "PUT", "PATCH"]).optional(),
          format: z.enum(["json", "a2a", "agentos"]).optional(),
          a2a_version: z.enum(["1.0", "0.3"]).optional(),
          headers: z.record(z.string(), z.string()).optional(),
          signing_secret: z.string().optional(),
          timeout: duration.optional(),
          max_in_flight: whole("max_in_flight", 5, 1, 100_000).optional(),
          rate: z
            .object(
              { requests: whole("requests", 20, 1, 1_000_000), per: duration },
              { error: "expected a mapping, e.g. rate: { requests: 20, per: 1s }" },
            )
            .strict()
            .optional(),
          circuit: section(
            { failures: whole("failures", 5, 1, 10_000), probe_every: duration },
            "circuit: { failures: 5, probe_every: 30s }",
          ).optional(),
        })
        .strict(),
      {
        error:
          "expected a mapping of agent names to agents, e.g. agents: { default: { url: http://127.0.0.1:8000/turns } }",
      },
    ),
    defaults: section(
      {
        missed_policy: z.enum(["skip", "run_once", "run_all"]),
        misfire_grace: duration,
        catchup_window: duration,
        overlap: z.enum(["skip", "allow"]),
        timeout: duration,
        pause_after_failures: whole("pause_after_failures", 10, 1, 10_000),
        catchup_max: whole("catchup_max", 3, 0, 1_000),
        retry: z
          .object({
            attempts: z.number().int().min(1).max(25),
            backoff: z.enum(["exponential", "fixed"]),
            delay: duration,
            max_delay: duration,
            max_age: duration,
          })
          .partial()
          .strict(),
      },
      "defaults: { missed_policy: run_once, timeout: 30s }",
    ),
    worker: section(
      {
        lock_duration: duration,
        stalled_interval: duration,
        max_stalled_count: whole("max_stalled_count", 3, 1),
        shutdown_timeout: duration,
        reconcile_interval: duration,
        reconcile_batch: whole("reconcile_batch", 1000, 100, 1_000_000),
      },
      "worker: { lock_duration: 15s, shutdown_timeout: 30s }",
    ),
    events: section(
      { max_len: whole("max_len", 10000, 100, 10_000_000), keepalive: duration },
      "events: { max_len: 10000 }",
    ),
    metrics: section({ public: flag("public") }, "metrics: { public: true }"),
    durable_writes: section(
      { replicas: whole("replicas", 1, 1, 16), timeout: duration },
      "durable_writes: { replicas: 1, timeout: 1s }",
    ),
    notify: section(
      {
        agent: z.string(),
        url: z.string(),
        signing_secret: z.string(),
        headers: z.record(z.string(), z.string()),
      },
      "notify: { agent: ops }",
    ),
    limits: section(
      {
        per_user: section(
          {
            max_in_flight: whole("max_in_flight", 10, 1, 100_000),
            rate: z
              .object(
                { requests: whole("requests", 60, 1, 1_000_000), per: duration },
                { error: "expected a mapping, e.g. rate: { requests: 60, per: 1m }" },
              )
              .strict(),
          },
          "per_user: { max_in_flight: 10 }",
        ),
      },
      "limits: { per_user: { max_in_flight: 10 } }",
    ),
    rate_limit: section(
      { writes: whole("writes", 600, 1), per: duration },
      "rate_limit: { writes: 600, per: 1m }",
    ),
    schedules: z.array(
      z.looseObject(
        { user_id: z.string(), name: z.string(), if_exists: z.enum(IF_EXISTS).optional() },
        {
          error:
            'expected a trigger, e.g. - { user_id: ops, name: digest, cron: "0 9 * * *", prompt: Post the digest }',
        },
      ),
      {
        error:
          "expected a list of triggers, e.g. schedules: [{ user_id: ops, name: digest, every: 1h, prompt: Check }]",
      },
    ),
  })
  .partial()
  .strict();

/** The YAML file's shape. */
export type ConfigFile = z.infer<typeof fileSchema>;
