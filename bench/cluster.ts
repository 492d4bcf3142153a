/**
 * Scenario 9: tickler over a 3-master Redis Cluster with N = 3, 6 and 12 partitions, against N = 1 on one
 * Redis, in the same run: deliveries/s of 20,000 due fires (2 worker processes × 50), lateness of 2,000
 * one-shots due over 10 s, Redis CPU per fire (all masters summed, and each master's share), and how the
 * fires spread over the masters (by which master serves each fire's partition).
 */
import { Redis } from "ioredis";
import { layoutFor } from "../src/redis/keys.js";
import { clusterMasters, slotOwner, startRedisCluster } from "../test/helpers/redis-cluster.js";
import {
  createOneShots,
  percentiles,
  producerFor,
  redisInfo,
  startRedis,
  stopProcess,
  ticklerWorkers,
  type BenchSink,
  type Redis7,
} from "./lib.js";

const FIRES = 20_000;
const LATE = 2_000;
/** Users the fires belong to: enough that a hash spreads them evenly over 12 partitions. */
const USERS = 1_200;

export interface ClusterRow {
  perSecond: number;
  latenessP99: number;
  /** Redis CPU (user + sys, all masters) per fire, in microseconds. */
  redisUsPerFire: number;
  /** Each master's share of the fires (by partition owner), and of the Redis CPU. */
  fireShares: number[];
  cpuShares: number[];
}

/** The ports of a deployment's masters: the one server, or the cluster's masters. */
async function masterPorts(url: string): Promise<number[]> {
  const redis = new Redis(url);
  try {
    if (!/cluster_enabled:1/.test(await redis.info("cluster"))) return [Number(new URL(url).port)];
    return (await clusterMasters(redis)).map((master) => master.port);
  } finally {
    redis.disconnect();
  }
}

async function cpuSeconds(port: number): Promise<number> {
  const redis = new Redis(port, "127.0.0.1");
  try {
    const info = await redis.info("cpu");
    const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    return field("used_cpu_user") + field("used_cpu_sys");
  } finally {
    redis.disconnect();
  }
}

/** Which master port serves each partition of `prefix` (one Redis: all of them). */
async function ownersOf(url: string, prefix: string, partitions: number, ports: number[]): Promise<number[]> {
  if (ports.length === 1) return Array.from({ length: partitions }, () => ports[0]!);
  const redis = new Redis(url);
  try {
    return Promise.all(layoutFor(prefix, partitions, true).keys.map((keys) => slotOwner(redis, keys.counts)));
  } finally {
    redis.disconnect();
  }
}

async function measure(
  url: string,
  sink: BenchSink,
  prefix: string,
  partitions: number,
): Promise<ClusterRow> {
  const ports = await masterPorts(url);
  const { producer, close } = await producerFor({ url }, prefix, partitions);
  try {
    const farAway = Date.now() + 3600_000;
    await createOneShots(producer, FIRES, () => farAway, 0, USERS);
    await Promise.all(producer.partitions.map((p) => p.fires.queue.promoteJobs()));
    const owners = await ownersOf(url, prefix, partitions, ports);
    const layout = layoutFor(prefix, partitions);
    const ownerOfUser = Array.from({ length: USERS }, (_, u) => owners[layout.partitionOf(`u${u}`)]);
    const fireShares = ports.map((port) => ownerOfUser.filter((owner) => owner === port).length / USERS);
    sink.reset();
    const before = await Promise.all(ports.map(cpuSeconds));
    const workers = await ticklerWorkers({ url }, sink, prefix, 2, partitions);
    try {
      await sink.waitFor(FIRES, 180_000);
      const perSecond = Math.round(FIRES / ((sink.last - sink.first) / 1000));
      const used = (await Promise.all(ports.map(cpuSeconds))).map((after, i) => after - before[i]!);
      const total = used.reduce((a, b) => a + b, 0);
      sink.reset();
      const start = Date.now() + 2000;
      await createOneShots(producer, LATE, () => start + Math.random() * 10_000, FIRES, USERS);
      await sink.waitFor(LATE, 60_000);
      return {
        perSecond,
        latenessP99: percentiles(sink.lateness).p99,
        redisUsPerFire: Math.round((total / FIRES) * 1e6),
        fireShares: fireShares.map((share) => Math.round(share * 100) / 100),
        cpuShares: used.map((cpu) => Math.round((cpu / total) * 100) / 100),
      };
    } finally {
      await Promise.all(workers.map(stopProcess));
    }
  } finally {
    await close();
  }
}

/** Scenario 9 once: N = 1 on `single`, then N = 3, 6, 12 on a 3-master cluster started here. */
export async function clusterScenario(
  single: Redis7,
  sink: BenchSink,
  rep: number,
): Promise<Record<string, ClusterRow>> {
  const out: Record<string, ClusterRow> = {};
  out["1 (one Redis)"] = await measure(single.url, sink, `c${rep}n1`, 1);
  const cluster = await startRedisCluster({ masters: 3, args: ["--hz", "100"] });
  try {
    for (const partitions of [3, 6, 12])
      out[`${partitions} (3 masters)`] = await measure(
        cluster.url,
        sink,
        `c${rep}n${partitions}`,
        partitions,
      );
  } finally {
    await cluster.stop();
  }
  return out;
}

/**
 * Scenario 9's memory figure: Redis bytes per trigger for `count` heartbeats (every 1 h, 300-byte prompt,
 * count/100 users, as scenario 6) with `partitions` partitions, each count on a fresh standalone Redis
 * (the layout is the same on a cluster; its keys only carry the tag).
 */
export async function bytesPerTrigger(count: number, partitions: number): Promise<number> {
  const redis = await startRedis(100);
  try {
    const used = async () => Number(/used_memory:(\d+)/.exec(await redisInfo(redis, "memory"))![1]);
    const { producer, close } = await producerFor(redis, "size", partitions);
    const before = await used();
    for (let i = 0; i < count; i += 10_000) {
      const items = Array.from({ length: Math.min(10_000, count - i) }, (_, j) => {
        const n = i + j;
        return {
          userId: `user${n % (count / 100)}`,
          name: `beat-${n}`,
          body: { prompt: "p".repeat(300), every: "1h" },
        };
      });
      const failed = (await producer.upsertMany(items, { concurrency: 256 })).find((r) => "error" in r);
      if (failed) throw new Error(`upsertMany refused an item: ${JSON.stringify(failed)}`);
    }
    const bytes = Math.round(((await used()) - before) / count);
    await close();
    return bytes;
  } finally {
    await redis.stop();
  }
}
