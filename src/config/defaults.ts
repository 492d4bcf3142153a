import { MINUTE, SECOND, DAY } from "../triggers/index.js";

/** Every default, once, with units in the names. */
export const DEFAULTS = {
  redisUrl: "redis://127.0.0.1:6379",
  host: "127.0.0.1",
  port: 3000,
  prefix: "tickler",
  concurrency: 50,
  /** One partition: today's single-Redis layout. More spread the triggers over a Redis Cluster's masters. */
  partitions: 1,
  logLevel: "info",
  defaultTimeZone: "UTC",
  minIntervalMs: 10 * SECOND,
  maxTriggersPerUser: 1000,
  maxPromptBytes: 16 * 1024,
  maxPayloadBytes: 64 * 1024,
  maxBodyBytes: 256 * 1024,
  runHistoryLimit: 100,
  runRetentionMs: 7 * DAY,
  allowTargetUrls: false,
  agentTimeoutMs: 30 * SECOND,
  /** An agent's circuit (when `circuit` is set) opens after this many failed attempts in a row. */
  circuitFailures: 5,
  /** An open circuit lets one probe through this often. */
  circuitProbeEveryMs: 30 * SECOND,
  /** A dead worker's job is taken over after at most lockDuration + 2 × stalledInterval (25 s). */
  lockDurationMs: 15 * SECOND,
  stalledIntervalMs: 5 * SECOND,
  maxStalledCount: 3,
  shutdownTimeoutMs: 30 * SECOND,
  reconcileIntervalMs: 1 * MINUTE,
  /**
   * How many triggers, schedulers and pending jobs one reconcile pass sweeps (crashed writes and overdue
   * schedulers are checked every pass regardless): a million triggers cost an idle fleet little.
   */
  reconcileBatch: 1000,
  /** Run events kept for SSE replay (Last-Event-ID), approximately. */
  eventsMaxLen: 10_000,
  /** How often an idle SSE connection gets a comment frame, so proxies keep it open. */
  sseKeepAliveMs: 15 * SECOND,
  /** Writes (PUT, PATCH, DELETE, POST) one token may make per window. */
  rateLimitWrites: 600,
  rateLimitWindowMs: 1 * MINUTE,
  /** With durable_writes: how long a write waits for its replicas before it is answered 503. */
  durableWriteTimeoutMs: 1 * SECOND,
} as const;

/** The most partitions a deployment may have. */
export const MAX_PARTITIONS = 1024;
