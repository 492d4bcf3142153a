import { z } from "zod";
import { MAX_PAGE } from "../producer/producer.js";
import { RUN_STATUSES } from "../runs/run-store.js";
import {
  ERROR_CODES,
  IF_EXISTS,
  MISSED_POLICIES,
  OVERLAP_POLICIES,
  TARGET_FORMATS,
  LOOM_DISPATCH,
  TRIGGER_KINDS,
  TRIGGER_STATES,
  triggerInputSchema,
} from "../triggers/index.js";

/**
 * The wire schemas of the HTTP API: the routes validate requests with them and /openapi.json is generated
 * from them, so the document cannot drift from what the server checks. Response schemas are closed
 * (no unknown properties), and a test holds every real response of every route against them.
 */

const limit = z.coerce.number().int().min(1).max(MAX_PAGE).default(50).describe(`Page size, 1–${MAX_PAGE}`);
const cursor = z.string().max(1024).optional().describe("next_cursor of the previous page");

/** Query strings, by route. */
export const querySchemas = {
  upsert: z
    .object({ if_exists: z.enum(IF_EXISTS).default("update").describe("What to do when the trigger exists") })
    .strict(),
  list: z
    .object({
      kind: z.enum(TRIGGER_KINDS).optional(),
      state: z.enum(TRIGGER_STATES).optional(),
      limit,
      cursor,
    })
    .strict(),
  listAll: z
    .object({ user_id: z.string().optional().describe("Only this user's triggers"), limit, cursor })
    .strict(),
  runs: z.object({ limit, cursor }).strict(),
  events: z
    .object({
      user_id: z.string().optional().describe("Only this user's runs (admins); users always get their own"),
      last_event_id: z.string().optional().describe("Resume after this event id (or send Last-Event-ID)"),
    })
    .strict(),
  toolDefinitions: z
    .object({
      format: z
        .enum(["openai", "anthropic", "mcp"])
        .default("openai")
        .describe("Which model API's tool format"),
    })
    .strict(),
  toolCall: z
    .object({
      user_id: z
        .string()
        .optional()
        .describe("The user the tools act for: admin tokens only (a user token acts for itself)"),
    })
    .strict(),
  none: z.object({}).strict(),
};

/** GET /v1/tools. */
export const toolDefinitionsSchema = z
  .object({
    format: z.enum(["openai", "anthropic", "mcp"]),
    tools: z.array(z.record(z.string(), z.unknown())),
  })
  .strict();
/** POST /v1/tools/{tool}: the tool's arguments, and its result. */
export const toolArgsSchema = z
  .record(z.string(), z.unknown())
  .describe("The tool's arguments (see GET /v1/tools)");
export const toolResultSchema = z.object({ result: z.record(z.string(), z.unknown()) }).strict();

/** The body of POST /v1/preview. */
export const previewInputSchema = z
  .object({
    when: z.union([z.string(), z.number()]).nullish(),
    at: z.string().nullish(),
    delay: z.union([z.string(), z.number()]).nullish(),
    every: z.union([z.string(), z.number()]).nullish(),
    cron: z.string().nullish(),
    timezone: z.string().nullish(),
    start_at: z.string().nullish(),
    end_at: z.string().nullish(),
    allow_past: z.boolean().nullish(),
    count: z.number().int().min(1).max(50).default(5).describe("How many fire times to list"),
  })
  .strict();

const time = z.string().describe("ISO-8601 UTC");
const nullableTime = time.nullable();

const retryWire = z.object({
  attempts: z.number().int(),
  backoff: z.enum(["exponential", "fixed"]),
  delay: z.string(),
  max_delay: z.string(),
  max_age: z.string().optional().describe("No attempt once the slot is older than this"),
});

const targetWire = z.union([
  z.object({ agent: z.string() }).strict(),
  z
    .object({
      nats: z
        .object({
          url: z.string(),
          subject: z.string(),
          jetstream: z.boolean(),
          dispatch: z.enum(LOOM_DISPATCH).nullable(),
        })
        .strict(),
    })
    .strict(),
  z
    .object({
      url: z.string(),
      method: z.enum(["POST", "PUT", "PATCH"]),
      headers: z.record(z.string(), z.string()).describe('Secret-looking headers are shown as "***"'),
      format: z.enum(TARGET_FORMATS),
      a2a_version: z.enum(["1.0", "0.3"]),
    })
    .strict(),
]);

const expandWire = z
  .object({
    items: z.array(z.record(z.string(), z.unknown())).optional(),
    url: z.string().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    agent: z.string().optional(),
    max_expand: z.number().int(),
  })
  .strict()
  .describe("Fan-out: one delivery per context (given, or fetched at fire time), each with its own run");

/** A trigger as every route shows it. */
export const triggerWireSchema = z
  .object({
    id: z.string().describe("user_id/name"),
    user_id: z.string(),
    name: z.string(),
    kind: z.enum(TRIGGER_KINDS),
    state: z.enum(TRIGGER_STATES),
    summary: z.string().describe('The schedule in words, e.g. "every weekday at 09:00 America/New_York"'),
    prompt: z.string(),
    at: time.optional(),
    allow_past: z.boolean().optional(),
    delay: z.string().optional(),
    every: z.string().optional(),
    jitter: z
      .string()
      .optional()
      .describe("Heartbeats: the spread of this trigger's phase, when one was asked for"),
    cron: z.string().optional(),
    timezone: z.string(),
    start_at: nullableTime,
    end_at: nullableTime,
    payload: z.record(z.string(), z.unknown()).nullable(),
    thread_key: z.string().nullable(),
    channel: z.string().nullable(),
    target: targetWire.nullable(),
    expand: expandWire.nullable(),
    notify: targetWire.nullable().describe("Where its failure notifications go (null: the config's notify)"),
    missed_policy: z.enum(MISSED_POLICIES),
    misfire_grace: z.string(),
    catchup_window: z.string(),
    overlap: z.enum(OVERLAP_POLICIES),
    retry: retryWire,
    timeout: z.string(),
    max_fires: z.number().int().nullable(),
    pause_after_failures: z
      .number()
      .int()
      .nullable()
      .describe("The system pauses the trigger after this many failed runs in a row"),
    catchup_max: z.number().int().nullable().describe("The most late slots one outage's catch-up delivers"),
    enabled: z.boolean(),
    metadata: z.record(z.string(), z.string()),
    created_at: time,
    updated_at: time,
    version: z.number().int(),
    next_fire_at: nullableTime,
    next_fires: z.array(time).optional().describe("The next 5 fires (GET of one trigger)"),
    last_fire_at: nullableTime,
    last_status: z.string().nullable(),
    fire_count: z.number().int(),
    failures_in_row: z.number().int().describe("Runs that failed in a row (a success resets it)"),
    paused_by: z.enum(["user", "system"]).nullable().describe("Who paused it, while paused"),
    paused_reason: z.string().nullable().describe("Why the system paused it"),
  })
  .strict();

/** A trigger after a write, with what the write did. */
export const writeResultSchema = triggerWireSchema
  .extend({
    result: z.enum(["created", "updated", "unchanged", "skipped"]),
    note: z
      .string()
      .optional()
      .describe(
        "Set when a one-shot that had fired was re-armed by this write, or stays completed (nothing will fire)",
      ),
  })
  .strict();

/** One run. */
export const runWireSchema = z
  .object({
    run_id: z.string(),
    trigger_id: z.string(),
    user_id: z.string(),
    name: z.string(),
    scheduled_at: time,
    started_at: nullableTime,
    finished_at: nullableTime,
    status: z.enum(RUN_STATUSES),
    attempts: z.number().int(),
    http_status: z.number().int().nullable(),
    duration_ms: z.number().nullable(),
    error: z.string().nullable(),
    manual: z.boolean(),
    catchup: z.boolean(),
    next_attempt_at: nullableTime,
    waited_ms: z.number().int(),
    children: z
      .object({
        total: z.number().int(),
        succeeded: z.number().int(),
        failed: z.number().int(),
        pending: z.number().int(),
      })
      .strict()
      .nullable()
      .describe("A fan-out's run: how its children (GET /v1/runs/{run_id}/children) stand"),
    parent_run_id: z.string().optional().describe("A fan-out child's: the run it belongs to"),
    context_key: z.string().optional().describe("A fan-out child's: its context's key (or index)"),
    context: z.record(z.string(), z.unknown()).optional().describe("A fan-out child's: its context"),
  })
  .strict();

/** A page of a list. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable() }).strict();

/** The error shape of every 4xx and 5xx. */
export const errorWireSchema = z
  .object({
    error: z
      .object({
        code: z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...(keyof typeof ERROR_CODES)[]]),
        message: z.string(),
        field: z.string().optional(),
      })
      .strict(),
  })
  .strict();

export const canceledSchema = z.object({ canceled: z.literal(true), id: z.string() }).strict();
/** Which triggers a bulk operation touches (every field given must match), and whether only to count. */
export const bulkFilterSchema = z
  .object({
    user_id: z.string().optional(),
    agent: z
      .string()
      .optional()
      .describe('The agent its fires go to ("default" for a trigger with no target)'),
    kind: z.enum(TRIGGER_KINDS).optional(),
    state: z.enum(TRIGGER_STATES).optional(),
    metadata: z.record(z.string(), z.string()).optional().describe("Metadata entries it must carry"),
    dry_run: z.boolean().optional().describe("Count what would change, change nothing"),
  })
  .strict();
export const bulkResultSchema = z
  .object({ matched: z.number().int(), changed: z.number().int(), dry_run: z.boolean() })
  .strict();
export const redriveInputSchema = bulkFilterSchema
  .extend({ since: z.string().describe("Failed runs scheduled at or after this ISO time") })
  .strict();
export const redriveResultSchema = z
  .object({
    triggers: z.number().int(),
    runs: z.number().int(),
    dry_run: z.boolean(),
    run_ids: z.array(z.string()).describe("The first (up to 100) runs re-driven"),
  })
  .strict();
export const runNowSchema = z
  .object({ run_id: z.string(), idempotency_key: z.string(), scheduled_at: time, manual: z.literal(true) })
  .strict();
export const previewSchema = z
  .object({ kind: z.enum(TRIGGER_KINDS), timezone: z.string(), next: z.array(time) })
  .strict();
export const queueSchema = z
  .object({
    queue: z.string(),
    partitions: z.number().int().describe("Each partition has its own queue; counts sum them"),
    counts: z.record(z.string(), z.number().int()),
    schedulers: z.number().int(),
    workers: z.number().int(),
  })
  .strict();
export const statusSchema = z
  .object({
    version: z.string(),
    roles: z.array(z.string()),
    backend: z.literal("bullmq"),
    redis: z.enum(["up", "down"]),
    prefix: z.string(),
    partitions: z.number().int(),
    workers: z.number().int().nullable(),
    triggers: z.record(z.string(), z.number().int()).optional().describe('Counts per "kind:state" (admins)'),
    agents: z
      .record(
        z.string(),
        z
          .object({
            state: z.enum(["closed", "open", "half_open", "paused"]),
            since: nullableTime,
            reason: z.string().nullable(),
          })
          .strict(),
      )
      .optional()
      .describe(
        "Each agent with flow control: its circuit's state (or paused after a 429), since when, why (admins)",
      ),
    uptime_s: z.number().int(),
  })
  .strict();

/** One agent's flow control: its limits, its circuit, what is in flight and waiting. */
export const agentStateSchema = z
  .object({
    name: z.string(),
    max_in_flight: z.number().int().nullable(),
    rate: z.object({ requests: z.number().int(), per_ms: z.number().int() }).strict().nullable(),
    circuit: z
      .object({
        state: z.enum(["closed", "open", "half_open"]),
        failures: z.number().int().describe("failed attempts in a row"),
        threshold: z.number().int(),
        since: nullableTime,
        reason: z.string().nullable(),
        next_probe_at: nullableTime,
      })
      .strict()
      .nullable(),
    in_flight: z.number().int(),
    waiting: z.number().int(),
    paused_until: nullableTime,
    paused_reason: z.string().nullable(),
  })
  .strict();
export const agentsSchema = z.object({ agents: z.array(agentStateSchema) }).strict();
/** The JSON-RPC error an MCP endpoint answers a method it does not serve with. */
export const mcpErrorSchema = z
  .object({
    jsonrpc: z.literal("2.0"),
    error: z.object({ code: z.number().int(), message: z.string() }).strict(),
    id: z.null(),
  })
  .strict();
export const healthSchema = z.object({ ok: z.literal(true), redis: z.literal("up").optional() }).strict();

/** The trigger body (PUT, and PATCH where every field is optional). */
export const triggerBodySchema = triggerInputSchema;
export const triggerPatchSchema = triggerInputSchema.partial();
