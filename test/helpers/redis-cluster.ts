import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { startRedisServer, type RedisServer } from "./redis-server.js";
import { waitFor } from "./wait.js";

const run = promisify(execFile);

/** A key whose slot is in one of `ranges` (the node computes the slots). */
async function keyOn(redis: Redis, ranges: readonly [number, number][]): Promise<string> {
  for (let i = 0; ; i++) {
    const slot = Number(await redis.cluster("KEYSLOT", `probe-${i}`));
    if (ranges.some(([from, to]) => slot >= from && slot <= to)) return `probe-${i}`;
  }
}

/** A master of a cluster as CLUSTER NODES describes it: its id, port and the slot ranges it serves. */
export interface ClusterMaster {
  id: string;
  port: number;
  slots: number;
  ranges: [number, number][];
}

/** The masters a cluster node knows now (failed ones left out), from its CLUSTER NODES. */
export async function clusterMasters(redis: Redis): Promise<ClusterMaster[]> {
  return String(await redis.cluster("NODES"))
    .trim()
    .split("\n")
    .map((line) => line.split(" "))
    .filter((fields) => /master/.test(fields[2] ?? "") && !/fail/.test(fields[2] ?? ""))
    .map((fields) => {
      const ranges = fields
        .slice(8)
        .filter((range) => !range.startsWith("["))
        .map((range): [number, number] => {
          const [from = 0, to = from] = range.split("-").map(Number);
          return [from, to];
        });
      return {
        id: fields[0]!,
        port: Number(/:(\d+)@/.exec(fields[1] ?? "")?.[1]),
        slots: ranges.reduce((sum, [from, to]) => sum + to - from + 1, 0),
        ranges,
      };
    });
}

/** The port of the master that serves `key`'s slot now (the node computes the slot). */
export async function slotOwner(redis: Redis, key: string): Promise<number> {
  const slot = Number(await redis.cluster("KEYSLOT", key));
  const masters = await clusterMasters(redis);
  return masters.find((master) => master.ranges.some(([from, to]) => slot >= from && slot <= to))!.port;
}

/** A Redis Cluster a test started for itself: its own redis-server processes on free loopback ports. */
export interface RedisCluster {
  /** Every node, masters first as created (replicas may be promoted later). */
  nodes: RedisServer[];
  /** A URL of one node (tickler finds the others from it). */
  url: string;
  /** The nodes that are masters now, with the slot ranges they serve. */
  masters(): Promise<ClusterMaster[]>;
  /** Waits until every node says cluster_state:ok and agrees on the masters. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node (by pid). */
  stop(): Promise<void>;
}

/**
 * Starts `masters` masters and `replicas` replicas of each with `--cluster-enabled yes`, joins them with
 * `redis-cli --cluster create`, and resolves once every slot is served. A short node timeout makes a
 * failover take about two seconds.
 */
export async function startRedisCluster(
  options: { masters?: number; replicas?: number; nodeTimeoutMs?: number; args?: string[] } = {},
): Promise<RedisCluster> {
  const { masters = 3, replicas = 0, nodeTimeoutMs = 1500, args = [] } = options;
  const nodes = await Promise.all(
    Array.from({ length: masters * (1 + replicas) }, () =>
      startRedisServer([
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        String(nodeTimeoutMs),
        // A replica of a dead master takes over without waiting out a long data-age check.
        "--cluster-replica-validity-factor",
        "0",
        ...args,
      ]),
    ),
  );
  const cluster: RedisCluster = {
    nodes,
    url: nodes[0]!.url,
    async masters() {
      const alive = nodes.find((node) => node.alive());
      if (!alive) return [];
      const redis = new Redis(alive.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        return await clusterMasters(redis);
      } finally {
        redis.disconnect();
      }
    },
    async waitHealthy(timeoutMs = 20_000) {
      await waitFor(
        async () => {
          for (const node of nodes.filter((n) => n.alive())) {
            const redis = new Redis(node.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 1 });
            try {
              if (!/cluster_state:ok/.test(String(await redis.cluster("INFO")))) return false;
            } catch {
              return false;
            } finally {
              redis.disconnect();
            }
          }
          const masters = await cluster.masters();
          if (masters.reduce((sum, m) => sum + m.slots, 0) !== 16384) return false;
          // Each master's replicas (while enough nodes live to have them) are in sync.
          if (replicas === 0 || nodes.filter((n) => n.alive()).length < masters.length * (1 + replicas))
            return true;
          for (const master of masters) {
            const redis = new Redis(master.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 1 });
            try {
              const info = await redis.info("replication");
              if ((info.match(/state=online/g) ?? []).length < replicas) return false;
              // Online is not yet acknowledging: a write must come back confirmed by WAIT.
              await redis.set(await keyOn(redis, master.ranges), "1");
              if ((await redis.wait(replicas, 200)) < replicas) return false;
            } finally {
              redis.disconnect();
            }
          }
          return true;
        },
        "the cluster to serve every slot",
        timeoutMs,
      );
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
  try {
    await run("redis-cli", [
      "--cluster",
      "create",
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      "--cluster-replicas",
      String(replicas),
      "--cluster-yes",
    ]);
    await cluster.waitHealthy();
  } catch (thrown) {
    await cluster.stop();
    throw thrown;
  }
  return cluster;
}
