import type { Config } from "../config/index.js";
import {
  locateRedis,
  openConnection,
  type ConnectionRole,
  type RedisClient,
  type RedisTarget,
  waitReady,
} from "../redis/connection.js";
import { layoutFor, type Layout } from "../redis/keys.js";
import { Runs } from "../runs/runs.js";
import { FireQueue } from "./fire-queue.js";
import { checkPartitionCount } from "./partition-count.js";
import { Partition } from "./partition.js";
import { Producer } from "./producer.js";

/** Tickler's state in Redis, over one connection: what the API, the worker, the tools and the library build on. */
export interface Stores {
  redis: RedisClient;
  /** Where the Redis is (a standalone server, or a cluster's nodes): other connections open to the same. */
  target: RedisTarget;
  layout: Layout;
  /** Each partition's keys, fire queue, trigger store and run history, by index. */
  partitions: readonly Partition[];
  producer: Producer;
  /** Run history across the partitions, by run id or trigger id. */
  runs: Runs;
  /** Closes the queues and the connection. */
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
  /**
   * Where the Redis is, as an earlier {@link openStores} of this process found it. Without it, REDIS_URL
   * (or REDIS_CLUSTER_NODES) is probed first and refused with one line when tickler cannot run there.
   */
  target?: RedisTarget;
  /** How long the probe waits for Redis. */
  timeoutMs?: number;
}

/**
 * The composition root of tickler's state: one Redis connection (a Cluster client on a Redis Cluster), the
 * key layout of `config.prefix` over `config.partitions`, and per partition its fire queue, trigger store,
 * run history and write path, behind the producer; built the same way for every process role and for
 * `createTools`.
 *
 * @throws Error with one line saying how to fix the Redis when it cannot be used, or when the stored data
 *   has another partition count than `config.partitions`
 */
export async function openStores(config: Config, options: StoresOptions): Promise<Stores> {
  const onError = options.onError ?? (() => undefined);
  const target =
    options.target ?? (await locateRedis(config.redisUrl, config.redisClusterNodes, options.timeoutMs));
  const redis = openConnection(target, options.role, options.name);
  redis.on("error", onError);
  const layout = layoutFor(config.prefix, config.partitions, target.cluster !== null);
  try {
    if (!options.target) {
      await waitReady(redis, options.timeoutMs);
      await checkPartitionCount(redis, layout);
    }
  } catch (thrown) {
    redis.disconnect();
    throw thrown;
  }
  const partitions = layout.keys.map(
    (keys) => new Partition({ redis, keys, fires: new FireQueue(redis, keys.base, onError), config }),
  );
  return {
    redis,
    target,
    layout,
    partitions,
    producer: new Producer(redis, layout, partitions),
    runs: new Runs(
      layout,
      partitions.map((partition) => partition.runs),
    ),
    async close() {
      await Promise.all(partitions.map((partition) => partition.fires.close()));
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
