import { MINUTE, SECOND, HOUR } from "./duration.js";
import type { MissedPolicy } from "./missed-fires.js";
import type { ParsedSchedule, ScheduleContext } from "./schedule.js";

/** What to do when an upsert meets an existing trigger. */
export const IF_EXISTS = ["update", "skip", "raise"] as const;
/** `update` replaces, `skip` leaves it, `raise` fails with 409. */
export type IfExists = (typeof IF_EXISTS)[number];

/** What to do with a slot that comes while the previous run of the same trigger is still going. */
export const OVERLAP_POLICIES = ["skip", "allow"] as const;
/** `skip` records the new slot as `skipped_overlap`; `allow` runs both. */
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** The body formats a target can speak. */
export const TARGET_FORMATS = ["json", "a2a", "agentos"] as const;
/**
 * `json` is tickler's own body; `a2a` is an A2A JSON-RPC `SendMessage`; `agentos` is an Agno AgentOS run
 * (`/agents/<id>/runs`), form-encoded `message`, `session_id`, `user_id`.
 */
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
  /** No attempt (and no wait for the agent) once the slot is older than this: the run fails "too old". Null: no limit. */
  maxAgeMs: number | null;
}

/** Loom's dispatch types: a goal for its orchestrators, or a task for its router. */
export const LOOM_DISPATCH = ["goal", "task"] as const;
/** `goal` publishes an OrchestratorGoal, `task` a TaskMessage. */
export type LoomDispatch = (typeof LOOM_DISPATCH)[number];

/** A NATS subject fires are published to, fully resolved. */
export interface NatsTarget {
  /** The server URL(s), comma-separated: `nats://host:4222`. */
  servers: string;
  subject: string;
  /** Publish through JetStream: wait for the stream's ack, with `Nats-Msg-Id` set for its duplicate window. */
  jetstream: boolean;
  /** Publish Loom-shaped messages (the trigger's payload as the goal or task), or null for tickler's body. */
  dispatch: LoomDispatch | null;
}

/** Where fires go: an agent named in config, or (admins only, when allowed) an explicit URL or NATS subject. */
export type Target =
  | { agent: string }
  | { nats: NatsTarget }
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
  /** Set when fires are published to NATS instead (then `url` is the servers, for display). */
  nats?: NatsTarget;
}

/** The most contexts one fire fans out to, unless the trigger's `expand.max_expand` says otherwise. */
export const DEFAULT_MAX_EXPAND = 1000;
/** The highest `expand.max_expand` a trigger may set. */
export const MAX_EXPAND_LIMIT = 10_000;

/**
 * A fan-out: each fire becomes one delivery per context, the context merged into the payload. The contexts
 * are given (`items`) or fetched at fire time from an endpoint (`url`, or an agent's URL from config)
 * answering a JSON list.
 */
export type Expand = { maxExpand: number } & (
  { items: Record<string, unknown>[] } | { url: string; headers: Record<string, string> } | { agent: string }
);

/** Per-trigger defaults, from config. */
export interface TriggerDefaults {
  missedPolicy: MissedPolicy;
  misfireGraceMs: number;
  catchupWindowMs: number;
  overlap: OverlapPolicy;
  retry: RetryPolicy;
  timeoutMs: number;
  /** After this many failed runs in a row the system pauses the trigger; null: never. */
  pauseAfterFailures: number | null;
  /** The most late slots one outage's catch-up delivers (the newest ones); null: as the missed policy says. */
  catchupMax: number | null;
}

/** The defaults of {@link TriggerDefaults} when config sets none. */
export const TRIGGER_DEFAULTS = {
  missedPolicy: "run_once",
  misfireGraceMs: 30 * SECOND,
  catchupWindowMs: 24 * HOUR,
  overlap: "skip",
  retry: { attempts: 5, backoff: "exponential", delayMs: 1 * SECOND, maxDelayMs: 5 * MINUTE, maxAgeMs: null },
  timeoutMs: 30 * SECOND,
  pauseAfterFailures: null,
  catchupMax: null,
} as const satisfies TriggerDefaults;

/** Everything that validating a trigger depends on besides its own fields. */
export interface TriggerRules extends ScheduleContext {
  defaults: TriggerDefaults;
  maxPromptBytes: number;
  maxPayloadBytes: number;
  /** Names of the agents in config; a `target: {agent}` must name one. */
  agents: ReadonlySet<string>;
  /** The Loom dispatch of a config agent that publishes Loom messages (its triggers' payloads are checked as such). */
  dispatchOf?: (agent: string) => LoomDispatch | null;
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
  /** Fan-out of each fire to a list of contexts, or null: one delivery per fire. */
  expand: Expand | null;
  schedule: ParsedSchedule;
  maxFires: number | null;
  enabled: boolean;
  /**
   * Where this trigger's failure notifications go (a run failed for good, the system paused it): an agent
   * from config, or (admins, with allow_target_urls) a URL; null: the config's `notify`.
   */
  notify: Target | null;
  /** Set when the system paused it (after `pauseAfterFailures` failed runs in a row); cleared by resume. */
  systemPause: { reason: string; atMs: number } | null;
  metadata: Record<string, string>;
}

/** The kind a schedule form makes. */
export function kindOf(spec: Pick<TriggerSpec, "schedule">): "once" | "heartbeat" | "cron" {
  const form = spec.schedule.written.form;
  return form === "every" ? "heartbeat" : form === "cron" ? "cron" : "once";
}
