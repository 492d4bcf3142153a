import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import {
  TRIGGER_DEFAULTS,
  coerceError,
  fromZodError,
  parseDuration,
  parseTimeZone,
  type IfExists,
  type TriggerDefaults,
  type TriggerInput,
} from "../triggers/index.js";
import {
  readAgents,
  readFlow,
  readNotify,
  type AgentConfig,
  type AgentFlow,
  type NotifyConfig,
} from "./agents.js";
import { ConfigError, wrap } from "./config-error.js";
import { DEFAULTS, MAX_PARTITIONS } from "./defaults.js";
import { nonEmpty, readClusterNodes, readInt, readLogLevel, readPrefix, readRedisUrl } from "./env-values.js";
import { fileSchema, type ConfigFile } from "./file-schema.js";

/** A principal a bearer token maps to. */
export type Principal = { role: "admin" } | { role: "user"; userId: string };

export type { AgentConfig, AgentFlow, NotifyConfig } from "./agents.js";

/** A trigger from the YAML `schedules:` list, upserted at start-up. */
export interface SeedSchedule {
  userId: string;
  name: string;
  ifExists: IfExists;
  body: TriggerInput;
  /** Where it is written, for errors: `<file>: schedules[<i>]`. */
  source: string;
}

/** The resolved, complete, frozen configuration. */
export interface Config {
  /** The Redis URL; `redisUrlFromEnv` says whether the user set it (else `npm start` may start its own). */
  redisUrl: string;
  redisUrlFromEnv: boolean;
  /** REDIS_CLUSTER_NODES: the Redis Cluster nodes to start from, or null (REDIS_URL names the one server or node). */
  redisClusterNodes: readonly { host: string; port: number }[] | null;
  /** How many partitions the triggers are spread over (see `layoutFor`); every process of a deployment agrees. */
  partitions: number;
  host: string;
  port: number;
  prefix: string;
  concurrency: number;
  logLevel: string;
  configPath: string | null;
  defaultTimeZone: string;
  minIntervalMs: number;
  maxTriggersPerUser: number;
  maxPromptBytes: number;
  maxPayloadBytes: number;
  maxBodyBytes: number;
  runHistoryLimit: number;
  runRetentionMs: number;
  tokens: ReadonlyMap<string, Principal>;
  agents: ReadonlyMap<string, AgentConfig>;
  /** Each user's fleet-wide limits on requests (every agent together), or null for none. */
  perUserLimits: AgentFlow | null;
  /** Where failure notifications go (an agent's endpoint), or null for none. */
  notify: NotifyConfig | null;
  allowTargetUrls: boolean;
  schedules: readonly SeedSchedule[];
  triggerDefaults: TriggerDefaults;
  worker: {
    lockDurationMs: number;
    stalledIntervalMs: number;
    maxStalledCount: number;
    shutdownTimeoutMs: number;
    reconcileIntervalMs: number;
    reconcileBatch: number;
  };
  events: { maxLen: number; keepAliveMs: number };
  /** At most `max` writes per token per `windowMs`. */
  rateLimit: { max: number; windowMs: number };
  /**
   * When set, a trigger write is answered only once `replicas` replicas of its Redis primary have it
   * (WAIT, up to `timeoutMs`), so a failover right after cannot lose it. Null: Redis's asynchronous
   * replication (a write acknowledged in the last moments before a primary dies may be lost).
   */
  durableWrites: { replicas: number; timeoutMs: number } | null;
  /** `public`: /metrics answers without a token. `port`: where a worker-only process serves /metrics and /healthz. */
  metrics: { public: boolean; port: number | null };
}

export { ConfigError } from "./config-error.js";

export { DEFAULTS, MAX_PARTITIONS } from "./defaults.js";
export type { ConfigFile } from "./file-schema.js";

/** Where configuration comes from. */
export interface ConfigSources {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A config object instead of a YAML file (tests, the library). */
  file?: unknown;
}

/**
 * Reads the environment and the YAML file, validates everything once and returns a frozen Config.
 *
 * @throws ConfigError with one line naming the variable or key and what it accepts
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const explicitPath = nonEmpty(env.TICKLER_CONFIG);
  const defaultPath = resolve(cwd, "tickler.yaml");
  const configPath = explicitPath ? resolve(cwd, explicitPath) : existsSync(defaultPath) ? defaultPath : null;
  let raw: unknown = sources.file ?? {};
  if (sources.file === undefined && configPath !== null) {
    if (!existsSync(configPath))
      throw new ConfigError(
        `TICKLER_CONFIG: no file at ${configPath}; give the path of a YAML file or unset it`,
      );
    try {
      raw = parseYaml(readFileSync(configPath, "utf8")) ?? {};
    } catch (thrown) {
      throw new ConfigError(`${configPath}: not valid YAML: ${coerceError(thrown).message.split("\n")[0]}`);
    }
  }
  const where = configPath ?? "config";
  const file = parseFile(substituteEnv(raw, env, where), where);
  return Object.freeze(resolveConfig(file, env, configPath));
}

function parseFile(raw: unknown, where: string): ConfigFile {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${where}: ${fromZodError(parsed.error, "", raw).message}`);
  return parsed.data;
}

/** Replaces `${NAME}` in every string of the YAML with the environment variable; an unset one is an error. */
function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, where: string, path = ""): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const found = env[name];
      if (found === undefined)
        throw new ConfigError(
          `${where}: ${path || "a value"} uses \${${name}}, which is not set in the environment`,
        );
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, where, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        substituteEnv(item, env, where, path ? `${path}.${key}` : key),
      ]),
    );
  }
  return value;
}

function resolveConfig(file: ConfigFile, env: NodeJS.ProcessEnv, configPath: string | null): Config {
  const where = configPath ?? "config";
  const dur = (value: string | number | undefined, key: string, fallback: number): number =>
    value === undefined ? fallback : wrap(where, () => parseDuration(value, key));
  const triggerDefaults = readTriggerDefaults(file.defaults ?? {}, dur);
  const worker = file.worker ?? {};
  return {
    ...readRedisSettings(file, env, dur),
    host: nonEmpty(env.HOST) ?? DEFAULTS.host,
    port: readInt(env.PORT, "PORT", DEFAULTS.port, 0, 65535),
    prefix: readPrefix(env.TICKLER_PREFIX),
    concurrency: readInt(env.TICKLER_CONCURRENCY, "TICKLER_CONCURRENCY", DEFAULTS.concurrency, 1, 10_000),
    logLevel: readLogLevel(env.LOG_LEVEL),
    configPath,
    defaultTimeZone: wrap(where, () =>
      parseTimeZone(file.default_timezone ?? DEFAULTS.defaultTimeZone, "default_timezone"),
    ),
    minIntervalMs: dur(file.min_interval, "min_interval", DEFAULTS.minIntervalMs),
    maxTriggersPerUser: file.max_triggers_per_user ?? DEFAULTS.maxTriggersPerUser,
    maxPromptBytes: file.max_prompt_bytes ?? DEFAULTS.maxPromptBytes,
    maxPayloadBytes: file.max_payload_bytes ?? DEFAULTS.maxPayloadBytes,
    maxBodyBytes: file.max_body_bytes ?? DEFAULTS.maxBodyBytes,
    runHistoryLimit: file.run_history_limit ?? DEFAULTS.runHistoryLimit,
    runRetentionMs: dur(file.run_retention, "run_retention", DEFAULTS.runRetentionMs),
    tokens: readTokens(file.tokens ?? [], where),
    agents: readAgents(file.agents ?? {}, where),
    notify: readNotify(file, where),
    perUserLimits: readFlow(file.limits?.per_user ?? {}, "limits.per_user", where),
    allowTargetUrls: file.allow_target_urls ?? DEFAULTS.allowTargetUrls,
    schedules: readSchedules(file.schedules ?? [], where),
    triggerDefaults,
    worker: {
      lockDurationMs: dur(worker.lock_duration, "worker.lock_duration", DEFAULTS.lockDurationMs),
      stalledIntervalMs: dur(worker.stalled_interval, "worker.stalled_interval", DEFAULTS.stalledIntervalMs),
      maxStalledCount: worker.max_stalled_count ?? DEFAULTS.maxStalledCount,
      shutdownTimeoutMs: dur(worker.shutdown_timeout, "worker.shutdown_timeout", DEFAULTS.shutdownTimeoutMs),
      reconcileIntervalMs: dur(
        worker.reconcile_interval,
        "worker.reconcile_interval",
        DEFAULTS.reconcileIntervalMs,
      ),
      reconcileBatch: worker.reconcile_batch ?? DEFAULTS.reconcileBatch,
    },
    rateLimit: {
      max: file.rate_limit?.writes ?? DEFAULTS.rateLimitWrites,
      windowMs: dur(file.rate_limit?.per, "rate_limit.per", DEFAULTS.rateLimitWindowMs),
    },
    metrics: {
      public: file.metrics?.public ?? false,
      port:
        nonEmpty(env.TICKLER_METRICS_PORT) === undefined
          ? null
          : readInt(env.TICKLER_METRICS_PORT, "TICKLER_METRICS_PORT", 0, 0, 65535),
    },
    events: {
      maxLen: file.events?.max_len ?? DEFAULTS.eventsMaxLen,
      keepAliveMs: dur(file.events?.keepalive, "events.keepalive", DEFAULTS.sseKeepAliveMs),
    },
  };
}

/** Where the Redis is, how the triggers are spread over it, and how durable a write must be. */
/** Duration reader of one config file (a bad value is a ConfigError naming the key). */
type DurationReader = (value: string | number | undefined, key: string, fallback: number) => number;

/** The `defaults:` section: what a trigger that sets none of these gets. */
function readTriggerDefaults(
  defaults: NonNullable<ConfigFile["defaults"]>,
  dur: DurationReader,
): TriggerDefaults {
  return {
    missedPolicy: defaults.missed_policy ?? TRIGGER_DEFAULTS.missedPolicy,
    misfireGraceMs: dur(defaults.misfire_grace, "defaults.misfire_grace", TRIGGER_DEFAULTS.misfireGraceMs),
    catchupWindowMs: dur(
      defaults.catchup_window,
      "defaults.catchup_window",
      TRIGGER_DEFAULTS.catchupWindowMs,
    ),
    overlap: defaults.overlap ?? TRIGGER_DEFAULTS.overlap,
    timeoutMs: dur(defaults.timeout, "defaults.timeout", TRIGGER_DEFAULTS.timeoutMs),
    retry: {
      attempts: defaults.retry?.attempts ?? TRIGGER_DEFAULTS.retry.attempts,
      backoff: defaults.retry?.backoff ?? TRIGGER_DEFAULTS.retry.backoff,
      delayMs: dur(defaults.retry?.delay, "defaults.retry.delay", TRIGGER_DEFAULTS.retry.delayMs),
      maxDelayMs: dur(
        defaults.retry?.max_delay,
        "defaults.retry.max_delay",
        TRIGGER_DEFAULTS.retry.maxDelayMs,
      ),
      maxAgeMs:
        defaults.retry?.max_age === undefined
          ? TRIGGER_DEFAULTS.retry.maxAgeMs
          : dur(defaults.retry.max_age, "defaults.retry.max_age", 0),
    },
    pauseAfterFailures: defaults.pause_after_failures ?? TRIGGER_DEFAULTS.pauseAfterFailures,
    catchupMax: defaults.catchup_max ?? TRIGGER_DEFAULTS.catchupMax,
  };
}

function readRedisSettings(
  file: ConfigFile,
  env: NodeJS.ProcessEnv,
  dur: (value: string | number | undefined, key: string, fallback: number) => number,
): Pick<Config, "redisUrl" | "redisUrlFromEnv" | "redisClusterNodes" | "partitions" | "durableWrites"> {
  return {
    redisUrl: readRedisUrl(env.REDIS_URL),
    redisUrlFromEnv: nonEmpty(env.REDIS_URL) !== undefined || nonEmpty(env.REDIS_CLUSTER_NODES) !== undefined,
    redisClusterNodes: readClusterNodes(env.REDIS_CLUSTER_NODES),
    partitions: readInt(
      env.TICKLER_PARTITIONS,
      "TICKLER_PARTITIONS",
      file.partitions ?? DEFAULTS.partitions,
      1,
      MAX_PARTITIONS,
    ),
    durableWrites: file.durable_writes
      ? {
          replicas: file.durable_writes.replicas ?? 1,
          timeoutMs: dur(
            file.durable_writes.timeout,
            "durable_writes.timeout",
            DEFAULTS.durableWriteTimeoutMs,
          ),
        }
      : null,
  };
}

function readTokens(tokens: NonNullable<ConfigFile["tokens"]>, where: string): Map<string, Principal> {
  const out = new Map<string, Principal>();
  tokens.forEach((entry, i) => {
    if (entry.token.length < 16) {
      throw new ConfigError(
        `${where}: tokens[${i}].token is shorter than 16 characters; use a long random string (e.g. openssl rand -hex 32)`,
      );
    }
    if (out.has(entry.token)) throw new ConfigError(`${where}: tokens[${i}].token is listed twice`);
    if ("user_id" in entry) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/.test(entry.user_id)) {
        throw new ConfigError(`${where}: tokens[${i}].user_id "${entry.user_id}" is not a valid user id`);
      }
      out.set(entry.token, { role: "user", userId: entry.user_id });
    } else {
      out.set(entry.token, { role: "admin" });
    }
  });
  return out;
}

function readSchedules(schedules: NonNullable<ConfigFile["schedules"]>, where: string): SeedSchedule[] {
  const seen = new Set<string>();
  return schedules.map((entry, i) => {
    const { user_id: userId, name, if_exists: ifExists, ...body } = entry;
    const key = `${userId}/${name}`;
    if (seen.has(key)) throw new ConfigError(`${where}: schedules[${i}] repeats ${key}`);
    seen.add(key);
    return {
      userId,
      name,
      ifExists: ifExists ?? "update",
      body: body as TriggerInput,
      source: `${where}: schedules[${i}]`,
    };
  });
}
