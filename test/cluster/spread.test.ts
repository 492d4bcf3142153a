import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { clusterMasters } from "../helpers/redis-cluster.js";
import { REDIS_URL, useTickler } from "../helpers/tickler.js";

/** The keys of every master of the suite's cluster under `prefix` (a pattern per key form). */
async function keysPerMaster(prefix: string): Promise<Map<number, string[]>> {
  const seed = new Redis(REDIS_URL);
  const out = new Map<number, string[]>();
  try {
    for (const { port } of await clusterMasters(seed)) {
      const node = new Redis(port, "127.0.0.1");
      try {
        const keys = [...(await node.keys(`${prefix}:*`)), ...(await node.keys(`{${prefix}:*`))];
        out.set(port, keys);
      } finally {
        node.disconnect();
      }
    }
  } finally {
    seed.disconnect();
  }
  return out;
}

describe("with partitions: 16 on a 3-master Redis Cluster", () => {
  const fx = useTickler("spread", {
    sink: true,
    env: { TICKLER_PARTITIONS: "16" },
    file: () => ({ agents: { default: { url: fx.sink.url } } }),
  });

  it("spreads the triggers and their queues over every master, with only the deployment's own keys untagged", async () => {
    const users = Array.from({ length: 64 }, (_, i) => `spread${i}`);
    const results = await fx.t.tickler.producer.upsertMany(
      users.map((userId) => ({ userId, name: "ping", body: { prompt: userId, delay: 0.2 } })),
    );
    expect(results.every((r) => "status" in r && r.status === "created")).toBe(true);
    await fx.sink.waitForCount(users.length, 10_000);
    expect(new Set(fx.sink.received.map((r) => r.body.prompt))).toEqual(new Set(users));

    const perMaster = await keysPerMaster(fx.prefix);
    expect(perMaster.size).toBe(3);
    for (const [port, keys] of perMaster) {
      expect(keys.filter((key) => key.includes(":t:")).length, `triggers on master ${port}`).toBeGreaterThan(
        0,
      );
      expect(
        keys.filter((key) => key.includes(":fires:")).length,
        `queues on master ${port}`,
      ).toBeGreaterThan(0);
    }
    const all = [...perMaster.values()].flat();
    const untagged = all.filter((key) => !key.startsWith(`{${fx.prefix}:`));
    // Deployment-wide: the partition count (and, once the API is written to, rate-limit counters).
    expect(untagged).toEqual([`${fx.prefix}:partitions`]);
    const partitionsSeen = new Set(all.flatMap((key) => /^\{[^:]+:(\d+)(?:\.\d+)?\}/.exec(key)?.[1] ?? []));
    expect(partitionsSeen.size).toBe(16);
  });
});
