import type { Redis } from "ioredis";
import type { Config } from "../config/index.js";
import { checkRedis, connectRedis, type ConnectionRole } from "../redis/connection.js";
import { keysFor, type Keys } from "../redis/keys.js";
import { RunStore } from "../runs/run-store.js";
import { FireQueue } from "./fire-queue.js";
import { Producer } from "./producer.js";

/** Tickler's state in Redis, over one connection: what the API, the worker, the tools and the library build on. */
export interface Stores {
  redis: Redis;
  keys: Keys;
  fires: FireQueue;
  producer: Producer;
  runs: RunStore;
  /** Closes the queue and the connection. */
  close(): Promise<void>;
}

/** How to open {@link Stores}. */
export interface StoresOptions {
  /** `api`: fail fast while Redis is down (answer 503); `worker`: wait restarts out. */
  role: ConnectionRole;
  /** The connection's client name (CLIENT LIST shows it). */
  name: string;
  /** Where connection errors go (they also surface on the calls that fail). */
  onError?: (error: Error) => void;
  /** Check first that the server is a Redis tickler can run on, and refuse with one line if not (see checkRedis). */
  check?: { timeoutMs: number };
}

/**
 * The composition root of tickler's state: one Redis connection, the key layout of `config.prefix`, the
 * fire queue, the producer and the run store, built the same way for every process role and for
 * `createTools`.
 *
 * @throws Error with one line saying how to fix the Redis when `check` is given and it cannot be used
 */
export async function openStores(config: Config, options: StoresOptions): Promise<Stores> {
  const onError = options.onError ?? (() => undefined);
  const redis = connectRedis(config.redisUrl, options.role, options.name);
  redis.on("error", onError);
  if (options.check) {
    await checkRedis(redis, config.redisUrl, options.check.timeoutMs).catch((thrown: unknown) => {
      redis.disconnect();
      throw thrown;
    });
  }
  const keys = keysFor(config.prefix);
  const fires = new FireQueue(redis, config.prefix, onError);
  const producer = new Producer({ redis, keys, fires, config });
  const runs = new RunStore(redis, keys, {
    historyLimit: config.runHistoryLimit,
    retentionMs: config.runRetentionMs,
    eventsMaxLen: config.events.maxLen,
  });
  return {
    redis,
    keys,
    fires,
    producer,
    runs,
    async close() {
      await fires.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
