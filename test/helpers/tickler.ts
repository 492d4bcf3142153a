import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { loadConfig, type Config } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { startTickler, type Role, type Tickler } from "../../src/runtime.js";
import { clusterMasters } from "./redis-cluster.js";
import { startSink, type Responder, type Sink } from "./sink.js";

/** The shared Redis of the machine (tests isolate themselves by prefix). */
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A fresh random key prefix: one per test file (or per test that needs a clean slate). */
export function testPrefix(label = "t"): string {
  return `tt-${label}-${randomBytes(4).toString("hex")}`;
}

/**
 * Deletes every key under a prefix: untagged (`<prefix>:…`) and partitioned (`{<prefix>:<p>}:…`), on a
 * standalone Redis or on every master of a cluster.
 */
export async function removePrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url);
  const nodes: Redis[] = [];
  try {
    const clustered = /cluster_enabled:1/.test(await redis.info("cluster"));
    if (clustered) {
      for (const { port } of await clusterMasters(redis)) nodes.push(new Redis(port, "127.0.0.1"));
    } else nodes.push(redis);
    for (const node of nodes)
      for (const pattern of [`${prefix}:*`, `{${prefix}:*`]) {
        let cursor = "0";
        do {
          const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
          cursor = next;
          // One key per command: on a cluster node, keys of several slots cannot go in one.
          if (keys.length > 0) await Promise.all(keys.map((key) => node.unlink(key)));
        } while (cursor !== "0");
      }
  } finally {
    for (const node of new Set([redis, ...nodes])) node.disconnect();
  }
}

/** Config for tests: short periods allowed, fast lock takeover, logs silent unless TEST_LOG is set. */
export function testConfig(
  prefix: string,
  file: Record<string, unknown> = {},
  env: Record<string, string> = {},
): Config {
  return loadConfig({
    env: {
      REDIS_URL,
      TICKLER_PREFIX: prefix,
      PORT: "0",
      LOG_LEVEL: process.env.TEST_LOG ?? "silent",
      TICKLER_CONCURRENCY: "20",
      // The cluster suite runs some files with several partitions.
      ...(process.env.TICKLER_TEST_PARTITIONS
        ? { TICKLER_PARTITIONS: process.env.TICKLER_TEST_PARTITIONS }
        : {}),
      ...env,
    },
    file: {
      min_interval: "1s",
      worker: { lock_duration: "3s", stalled_interval: "1s", reconcile_interval: "30s" },
      ...file,
    },
  });
}

/** A running in-process tickler plus a small HTTP client for its API. */
export interface TestTickler {
  tickler: Tickler;
  config: Config;
  base: string;
  api(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startTestTickler(
  prefix: string,
  file: Record<string, unknown> = {},
  role: Role = "all",
  env: Record<string, string> = {},
): Promise<TestTickler> {
  const config = testConfig(prefix, file, env);
  const tickler = await startTickler(config, role, createLogger(config.logLevel));
  const base = tickler.port === null ? "" : `http://127.0.0.1:${tickler.port}`;
  return { tickler, config, base, api: apiClient(base), close: () => tickler.close() };
}

/** A small JSON client for a tickler API at `base` (a function, so the base may be read late). */
export function apiClient(base: string | (() => string)): TestTickler["api"] {
  return async (method, path, body, headers = {}) => {
    const res = await fetch(`${typeof base === "function" ? base() : base}${path}`, {
      method,
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed };
  };
}

/** An ISO time `ms` from now. */
export const inMs = (ms: number): string => new Date(Date.now() + ms).toISOString();

/** A tickler for one describe block (or file): see {@link useTickler}. */
export interface TicklerFixture {
  /** Its Redis key prefix (random, this block's own). */
  readonly prefix: string;
  /** The running tickler (from beforeAll on). */
  readonly t: TestTickler;
  /** The recording agent endpoint, when one was asked for (from beforeAll on). */
  readonly sink: Sink;
}

/**
 * Starts a tickler with its own key prefix (and first, when asked, a recording agent endpoint on 127.0.0.1)
 * in beforeAll, and closes both and removes every key of the prefix in afterAll: the set-up every
 * integration file shares. `file` may be a function, called once the sink is up (for `fx.sink.url`).
 */
export function useTickler(
  label: string,
  options: {
    sink?: Responder | true;
    file?: Record<string, unknown> | (() => Record<string, unknown>);
    role?: Role;
    env?: Record<string, string>;
  } = {},
): TicklerFixture {
  const prefix = testPrefix(label);
  let tickler: TestTickler | undefined;
  let sink: Sink | undefined;
  beforeAll(async () => {
    if (options.sink) sink = await startSink(options.sink === true ? undefined : options.sink);
    const file = typeof options.file === "function" ? options.file() : options.file;
    tickler = await startTestTickler(prefix, file, options.role, options.env);
  });
  afterAll(async () => {
    await tickler?.close();
    await sink?.close();
    await removePrefix(prefix);
  });
  return {
    prefix,
    get t() {
      return tickler ?? missing("t", "it is started in beforeAll");
    },
    get sink() {
      return sink ?? missing("sink", "ask for one with useTickler(label, { sink: true })");
    },
  };
}

function missing(what: string, why: string): never {
  throw new Error(`useTickler: no ${what} yet (${why})`);
}
