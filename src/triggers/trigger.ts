import { z } from "zod";
import { MINUTE, SECOND, HOUR, describeValue, parseDuration, typeName } from "./duration.js";
import { TicklerError, invalid } from "./errors.js";
import { MISSED_POLICIES, type MissedPolicy } from "./missed-fires.js";
import { parseSchedule, type ParsedSchedule, type ScheduleContext } from "./schedule.js";

/** The form of `user_id` and trigger `name`: no spaces, no `/`, up to 128 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;

/** What to do when an upsert meets an existing trigger. */
export const IF_EXISTS = ["update", "skip", "raise"] as const;
/** `update` replaces, `skip` leaves it, `raise` fails with 409. */
export type IfExists = (typeof IF_EXISTS)[number];

/** What to do with a slot that comes while the previous run of the same trigger is still going. */
export const OVERLAP_POLICIES = ["skip", "allow"] as const;
/** `skip` records the new slot as `skipped_overlap`; `allow` runs both. */
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** The body formats a target can speak. */
export const TARGET_FORMATS = ["json", "a2a"] as const;
/** `json` is tickler's own body; `a2a` is an A2A JSON-RPC `SendMessage`. */
export type TargetFormat = (typeof TARGET_FORMATS)[number];

/** Retry settings of a trigger, resolved. */
export interface RetryPolicy {
  /** Delivery attempts in all, the first included. */
  attempts: number;
  backoff: "exponential" | "fixed";
  /** The first retry's delay. */
  delayMs: number;
  /** The cap on any one delay, `Retry-After` included. */
  maxDelayMs: number;
}

/** Where fires go: an agent named in config, or (admins only, when allowed) an explicit URL. */
export type Target =
  | { agent: string }
  | {
      url: string;
      method: "POST" | "PUT" | "PATCH";
      headers: Record<string, string>;
      format: TargetFormat;
      a2aVersion: "1.0" | "0.3";
    };

/** An HTTP endpoint fires are delivered to, fully resolved (an agent from config, or a trigger's own URL). */
export interface Endpoint {
  url: string;
  method: "POST" | "PUT" | "PATCH";
  format: TargetFormat;
  a2aVersion: "1.0" | "0.3";
  headers: Record<string, string>;
  /** Standard Webhooks secret (`whsec_…`), or null for unsigned deliveries. */
  signingSecret: string | null;
  timeoutMs: number;
}

/** Per-trigger defaults, from config. */
export interface TriggerDefaults {
  missedPolicy: MissedPolicy;
  misfireGraceMs: number;
  catchupWindowMs: number;
  overlap: OverlapPolicy;
  retry: RetryPolicy;
  timeoutMs: number;
}

/** The defaults of {@link TriggerDefaults} when config sets none. */
export const TRIGGER_DEFAULTS = {
  missedPolicy: "run_once",
  misfireGraceMs: 30 * SECOND,
  catchupWindowMs: 24 * HOUR,
  overlap: "skip",
  retry: { attempts: 5, backoff: "exponential", delayMs: 1 * SECOND, maxDelayMs: 5 * MINUTE },
  timeoutMs: 30 * SECOND,
} as const satisfies TriggerDefaults;

/** Everything that validating a trigger depends on besides its own fields. */
export interface TriggerRules extends ScheduleContext {
  defaults: TriggerDefaults;
  maxPromptBytes: number;
  maxPayloadBytes: number;
  /** Names of the agents in config; a `target: {agent}` must name one. */
  agents: ReadonlySet<string>;
  /** Whether this caller may give a target URL (config allows it and the caller is an admin). */
  allowTargetUrls: boolean;
  /** Why a target URL's host is refused (link-local, metadata), or null: injected, the domain does no I/O. */
  blockedHost?: (hostname: string) => string | null;
}

/** A validated, normalised trigger definition: what is stored, minus bookkeeping. */
export interface TriggerSpec extends TriggerDefaults {
  userId: string;
  name: string;
  prompt: string;
  payload: Record<string, unknown> | null;
  threadKey: string | null;
  channel: string | null;
  target: Target | null;
  schedule: ParsedSchedule;
  maxFires: number | null;
  enabled: boolean;
  metadata: Record<string, string>;
}

/** A duration field's schema: its error says what a duration looks like. */
export const DURATION_EXPECTED = 'expected a duration such as "90s" or a number of seconds';
const durationLike = z.union([z.string(), z.number()], { error: DURATION_EXPECTED }).nullish();
const text = (max: number) => z.string().max(max).nullish();

const retrySchema = z
  .object({
    attempts: z.number().int().min(1).max(25).nullish(),
    backoff: z.enum(["exponential", "fixed"]).nullish(),
    delay: durationLike,
    max_delay: durationLike,
  })
  .strict();

const targetSchema = z.union([
  z.object({ agent: z.string().min(1).max(128) }).strict(),
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
    missed_policy: z.enum(MISSED_POLICIES).nullish(),
    misfire_grace: durationLike,
    catchup_window: durationLike,
    overlap: z.enum(OVERLAP_POLICIES).nullish(),
    retry: retrySchema.nullish(),
    timeout: durationLike,
    max_fires: z.number().int().min(1).max(1_000_000_000).nullish(),
    enabled: z.boolean().nullish(),
    metadata: z.record(z.string().max(128), z.string().max(1024)).nullish(),
  })
  .strict();

/** A trigger body as the wire schema reads it. */
export type TriggerInput = z.infer<typeof triggerInputSchema>;

/**
 * Turns a zod failure into the catalogue's error for its first issue, naming the field by its dotted path
 * and saying what was given and what is expected. A field is "required" only when it is really absent:
 * given the wrong type, the message says so.
 *
 * @param input - the value that was validated (the issue's path is looked up in it)
 */
export function fromZodError(error: z.ZodError, fieldPrefix = "", input?: unknown): TicklerError {
  const issue = error.issues[0];
  if (!issue) return new TicklerError("invalid_request", "the input is not valid");
  const path = fieldPath(fieldPrefix, issue.path);
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    const field = path === "" ? key : `${path}.${key}`;
    return invalid(
      "invalid_field",
      field,
      `unknown field "${key}"; check the spelling against the API reference`,
    );
  }
  const field = path === "" ? "body" : path;
  const given = lookUp(input, issue.path);
  if (given === undefined && (issue.code === "invalid_type" || issue.code === "invalid_union")) {
    return invalid("invalid_field", field, "is required");
  }
  const [expected = "", example] = expectation(issue).split(", e.g. ");
  const quoted = typeof given === "string" && given.trim() !== "" && Number.isFinite(Number(given));
  const unquote = quoted && /number/.test(expected) ? "; write it without quotes" : "";
  const shown = example === undefined ? "" : ` (e.g. ${example})`;
  return invalid("invalid_field", field, `${expected}, got ${describeValue(given)}${unquote}${shown}`);
}

/**
 * What a schema expected, in words: its own message when it has one (ours all start with "expected", e.g. a
 * duration's), else one made from the issue.
 */
function expectation(issue: z.core.$ZodIssue): string {
  if (issue.message.startsWith("expected ")) return issue.message;
  switch (issue.code) {
    case "invalid_type":
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((value) => JSON.stringify(value)).join(", ")}`;
    case "too_small":
      return issue.origin === "string" || issue.origin === "array"
        ? `expected at least ${String(issue.minimum)} ${issue.origin === "string" ? "characters" : "items"}`
        : `expected at least ${String(issue.minimum)}`;
    case "too_big":
      return issue.origin === "string" || issue.origin === "array"
        ? `expected at most ${String(issue.maximum)} ${issue.origin === "string" ? "characters" : "items"}`
        : `expected at most ${String(issue.maximum)}`;
    default:
      return issue.message.replace(/^Invalid input: /, "").replace(/^Invalid input$/, "an invalid value");
  }
}

const EXPECTED: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "a string",
  boolean: "true or false",
  record: "a mapping of names to values",
  object: "an object",
  array: "a list",
};

/** A field's path as messages name it: `retry.attempts`, `schedules[0].name`. */
function fieldPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** The value at `path` inside `root`, or undefined when any step of it is absent. */
function lookUp(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * Validates a user id or trigger name.
 * @throws TicklerError `invalid_name`
 */
export function checkName(value: unknown, field: "user_id" | "name"): string {
  if (typeof value !== "string" || !NAME_PATTERN.test(value)) {
    throw invalid(
      "invalid_name",
      field,
      `${typeof value === "string" ? JSON.stringify(value.slice(0, 140)) : typeName(value)} is not a valid ${field}: use 1–128 letters, digits and _ . : @ -, starting with a letter or digit (no spaces or "/")`,
    );
  }
  return value;
}

/**
 * Validates a trigger body against the rules and returns its normalised definition.
 *
 * @param body - the parsed JSON body (unknown: every input is hostile until validated)
 * @param identity - the `(user_id, name)` the caller addresses; a body that names others is refused
 * @throws TicklerError for the first problem found, naming its field
 */
export function parseTrigger(
  body: unknown,
  identity: { userId: string; name: string },
  rules: TriggerRules,
): TriggerSpec {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new TicklerError("invalid_request", `the trigger must be a JSON object, got ${typeName(body)}`, {
      field: "body",
    });
  }
  const parsed = triggerInputSchema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error, "", body);
  const input = parsed.data;
  const userId = checkName(identity.userId, "user_id");
  const name = checkName(identity.name, "name");
  if (input.user_id != null && input.user_id !== userId) {
    throw invalid(
      "invalid_field",
      "user_id",
      `the body says "${input.user_id}" but the path says "${userId}"`,
    );
  }
  if (input.name != null && input.name !== name) {
    throw invalid("invalid_field", "name", `the body says "${input.name}" but the path says "${name}"`);
  }
  const { defaults } = rules;
  return {
    userId,
    name,
    prompt: checkPrompt(input.prompt, rules.maxPromptBytes),
    payload: checkPayload(input.payload ?? null, rules.maxPayloadBytes),
    threadKey: input.thread_key ?? null,
    channel: input.channel ?? null,
    target: checkTarget(input.target ?? null, rules),
    schedule: parseSchedule(input, rules),
    maxFires: input.max_fires ?? null,
    missedPolicy: input.missed_policy ?? defaults.missedPolicy,
    misfireGraceMs: optionalDuration(input.misfire_grace, "misfire_grace", defaults.misfireGraceMs),
    catchupWindowMs: optionalDuration(input.catchup_window, "catchup_window", defaults.catchupWindowMs),
    overlap: input.overlap ?? defaults.overlap,
    retry: checkRetry(input.retry ?? null, defaults.retry),
    timeoutMs: optionalDuration(input.timeout, "timeout", defaults.timeoutMs),
    enabled: input.enabled ?? true,
    metadata: checkMetadata(input.metadata ?? {}),
  };
}

function optionalDuration(
  value: string | number | null | undefined,
  field: string,
  fallback: number,
): number {
  return value === undefined || value === null ? fallback : parseDuration(value, field);
}

function checkPrompt(prompt: string, maxBytes: number): string {
  if (prompt.trim() === "")
    throw invalid("invalid_field", "prompt", "is empty; say what the agent should do when this fires");
  const bytes = Buffer.byteLength(prompt, "utf8");
  if (bytes > maxBytes) {
    throw invalid(
      "too_large",
      "prompt",
      `is ${bytes} bytes, over the limit of ${maxBytes}; shorten it or move data into payload`,
    );
  }
  return prompt;
}

function checkPayload(
  payload: Record<string, unknown> | null,
  maxBytes: number,
): Record<string, unknown> | null {
  if (payload === null) return null;
  const bytes = Buffer.byteLength(JSON.stringify(payload), "utf8");
  if (bytes > maxBytes)
    throw invalid("too_large", "payload", `is ${bytes} bytes as JSON, over the limit of ${maxBytes}`);
  if (depthOf(payload) > MAX_PAYLOAD_DEPTH) {
    throw invalid("too_large", "payload", `nests deeper than ${MAX_PAYLOAD_DEPTH} levels; flatten it`);
  }
  // A JSON.parse round trip drops anything JSON cannot carry and makes `__proto__` an ordinary key.
  return JSON.parse(JSON.stringify(payload)) as Record<string, unknown>;
}

/** How deep a payload may nest: deeper is a parser attack more often than data an agent needs. */
const MAX_PAYLOAD_DEPTH = 32;

function depthOf(value: unknown, depth = 0): number {
  if (depth > MAX_PAYLOAD_DEPTH || value === null || typeof value !== "object") return depth;
  let deepest = depth + 1;
  for (const item of Object.values(value)) deepest = Math.max(deepest, depthOf(item, depth + 1));
  return deepest;
}

function checkMetadata(metadata: Record<string, string>): Record<string, string> {
  const keys = Object.keys(metadata);
  if (keys.length > 64) throw invalid("too_large", "metadata", `has ${keys.length} keys; the limit is 64`);
  return Object.fromEntries(keys.sort().map((key) => [key, metadata[key] as string]));
}

function checkRetry(retry: z.infer<typeof retrySchema> | null, fallback: RetryPolicy): RetryPolicy {
  const resolved: RetryPolicy = {
    attempts: retry?.attempts ?? fallback.attempts,
    backoff: retry?.backoff ?? fallback.backoff,
    delayMs: optionalDuration(retry?.delay, "retry.delay", fallback.delayMs),
    maxDelayMs: optionalDuration(retry?.max_delay, "retry.max_delay", fallback.maxDelayMs),
  };
  if (resolved.maxDelayMs < resolved.delayMs) {
    throw invalid("invalid_field", "retry.max_delay", "must not be shorter than retry.delay");
  }
  return resolved;
}

function checkTarget(target: z.infer<typeof targetSchema> | null, rules: TriggerRules): Target | null {
  if (target === null) return null;
  if ("agent" in target) {
    if (!rules.agents.has(target.agent)) {
      const known = [...rules.agents].join(", ") || "none configured";
      throw invalid(
        "target_not_allowed",
        "target.agent",
        `no agent "${target.agent}" in config (known: ${known})`,
      );
    }
    return { agent: target.agent };
  }
  if (!rules.allowTargetUrls) {
    throw invalid(
      "target_not_allowed",
      "target.url",
      "explicit target URLs are off; name an agent from config with target: {agent}, or (admins) set allow_target_urls: true",
    );
  }
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    throw invalid("invalid_field", "target.url", `"${target.url}" is not an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalid(
      "target_not_allowed",
      "target.url",
      `only http and https URLs are allowed, got ${url.protocol}`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid(
      "target_not_allowed",
      "target.url",
      "credentials in the URL are not allowed; use target.headers (Authorization)",
    );
  }
  const blocked = rules.blockedHost?.(url.hostname);
  if (blocked) throw invalid("target_not_allowed", "target.url", blocked);
  return {
    url: url.toString(),
    method: target.method ?? "POST",
    headers: target.headers ?? {},
    format: target.format ?? "json",
    a2aVersion: target.a2a_version ?? "1.0",
  };
}

/** The kind a schedule form makes. */
export function kindOf(spec: Pick<TriggerSpec, "schedule">): "once" | "heartbeat" | "cron" {
  const form = spec.schedule.written.form;
  return form === "every" ? "heartbeat" : form === "cron" ? "cron" : "once";
}

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
