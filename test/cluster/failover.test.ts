import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { layoutFor } from "../../src/redis/keys.js";
import { STUCK_AFTER_MS } from "../../src/worker/stuck-workers.js";
import { slotOwner, startRedisCluster, type RedisCluster } from "../helpers/redis-cluster.js";
import { startSink, type Sink } from "../helpers/sink.js";
import { startTestTickler, testPrefix, type TestTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

const PARTITIONS = 6;
const HEARTBEATS = 36;

/** Which master (by port) serves a key's slot now. */
async function ownerOf(cluster: RedisCluster, key: string): Promise<number> {
  const redis = new Redis(cluster.nodes.find((n) => n.alive())!.port, "127.0.0.1");
  try {
    return await slotOwner(redis, key);
  } finally {
    redis.disconnect();
  }
}

/**
 * A master of a 3-master + 3-replica cluster is SIGKILLed while heartbeats fire and writes go on; its
 * replica is promoted. tickler finds the new master by itself, keeps every acknowledged write
 * (durable_writes: each waited for its replica), and delivers no slot under two keys.
 */
describe("when a Redis Cluster master dies under load", () => {
  let cluster: RedisCluster;
  let sink: Sink;
  let t: TestTickler;
  const prefix = testPrefix("failover");
  const acknowledged = new Set<string>();
  const refused: string[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicas: 1 });
    sink = await startSink();
    t = await startTestTickler(
      prefix,
      {
        agents: { default: { url: sink.url } },
        durable_writes: { replicas: 1, timeout: "2s" },
        worker: { lock_duration: "3s", stalled_interval: "1s", reconcile_interval: "2s" },
      },
      "all",
      { REDIS_URL: cluster.url, TICKLER_PARTITIONS: String(PARTITIONS) },
    );
  }, 60_000);
  afterAll(async () => {
    const closing = Date.now();
    await t?.close();
    console.log(`tickler closed in ${Date.now() - closing} ms`);
    await sink?.close();
    await cluster?.stop();
  });

  it("reconnects by itself, loses no acknowledged write, and delivers no slot under two keys", async () => {
    const beats = Array.from({ length: HEARTBEATS }, (_, i) => `beat${i}`);
    // Replicas of a new cluster may take a moment to acknowledge: a write answered 503 by durable_writes
    // is made again, as a client would (the same write is safe to repeat).
    for (const user of beats)
      await waitFor(
        async () =>
          (await t.api("PUT", `/v1/users/${user}/triggers/hb`, { prompt: user, every: "1s" })).status < 300,
        `the heartbeat of ${user} to be written and replicated`,
      );
    await waitFor(
      () => beats.every((user) => sink.received.some((r) => r.body.prompt === user)),
      "every heartbeat to fire once",
    );

    // Writes keep coming while the master dies: each answered 2xx must survive.
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        const user = `w${n++}`;
        const res = await t
          .api("PUT", `/v1/users/${user}/triggers/note`, { prompt: user, delay: "1h" })
          .catch(() => null);
        if (res && res.status < 300) acknowledged.add(user);
        else refused.push(`${user}: ${res?.status ?? "no answer"}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    // Kill the master holding the most partitions.
    const layout = layoutFor(prefix, PARTITIONS, true);
    const owners = await Promise.all(layout.keys.map((keys) => ownerOf(cluster, keys.counts)));
    const victimPort = [...new Set(owners)].sort(
      (a, b) => owners.filter((o) => o === b).length - owners.filter((o) => o === a).length,
    )[0]!;
    const victim = cluster.nodes.find((node) => node.port === victimPort)!;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const killedAt = Date.now();
    await victim.stop();
    await waitFor(
      async () => (await cluster.masters()).every((m) => m.port !== victimPort),
      "a replica to be promoted",
      20_000,
    );
    await cluster.waitHealthy(20_000);
    const healedAt = Date.now();
    console.log(
      `failover: master :${victimPort} killed, cluster healthy again after ${healedAt - killedAt} ms`,
    );

    // Every heartbeat fires again after the failover: the ones on the dead master's partitions too.
    const firedSince = (user: string) =>
      sink.received.some(
        (r) => r.body.prompt === user && Date.parse(r.body.scheduled_at as string) > healedAt,
      );
    try {
      await waitFor(() => beats.every(firedSince), "every heartbeat to fire after the failover", 75_000);
    } catch (thrown) {
      // Say where it is stuck: per partition, its master, its silent heartbeats, its queue.
      for (const [p, partition] of t.tickler.producer.partitions.entries()) {
        const silent = beats.filter((user) => layout.partitionOf(user) === p && !firedSince(user));
        const counts = await partition.fires.queue.getJobCounts().catch((e: Error) => e.message);
        console.log(
          `partition ${p} (master :${owners[p]}${owners[p] === victimPort ? ", killed" : ""}): ${silent.length} silent`,
          JSON.stringify(counts),
        );
        for (const user of silent.slice(0, 3)) {
          const scheduler = await partition.fires.queue.getJobScheduler(`${user}/hb`);
          const job = scheduler?.next
            ? await partition.fires.queue.getJob(`repeat:${user}/hb:${scheduler.next}`)
            : null;
          const runs = await partition.runs.list(`${user}/hb`, null, 3);
          console.log(
            `  ${user}: next ${scheduler?.next ? new Date(scheduler.next).toISOString() : "none"}, job ${job ? await job.getState() : "none"}`,
            `stalled ${job?.stalledCounter} attempts ${job?.attemptsStarted}/${job?.attemptsMade}`,
            `marker ${await partition.redis.get(partition.keys.running(`${user}/hb`))}`,
            runs.items.map((r) => `${new Date(r.scheduledAtMs).toISOString()} ${r.status}`).join(", "),
          );
        }
      }
      throw thrown;
    }
    const recoveredMs = Date.now() - healedAt;
    console.log(`every heartbeat fired again ${recoveredMs} ms after the cluster was healthy`);
    // BullMQ alone may never bring a wedged blocking connection back; tickler's watchdog replaces such a
    // worker once fires are STUCK_AFTER_MS overdue.
    expect(recoveredMs).toBeLessThan(STUCK_AFTER_MS + 20_000);
    // Enough writes that "none lost" says something: on a loaded machine the failover's timeouts leave few.
    await waitFor(() => acknowledged.size > 20, "more than 20 acknowledged writes", 30_000);
    writing = false;
    await writer;

    // No acknowledged write is lost.
    const lost: string[] = [];
    for (const user of acknowledged) {
      const res = await t.api("GET", `/v1/users/${user}/triggers/note`);
      if (res.status !== 200) lost.push(`${user}: ${res.status}`);
    }
    console.log(
      `writes: ${acknowledged.size} acknowledged, ${refused.length} refused during the failover, ${lost.length} lost`,
    );
    expect(lost).toEqual([]);
    expect(acknowledged.size).toBeGreaterThan(20);

    // A slot is delivered under one key only; repeats of a key (at-least-once) are counted.
    const keysBySlot = new Map<string, Set<string>>();
    const perKey = new Map<string, number>();
    for (const r of sink.received) {
      const key = String(r.headers["idempotency-key"]);
      const slot = `${(r.body.trigger as { id: string }).id}@${r.body.scheduled_at}`;
      keysBySlot.set(slot, (keysBySlot.get(slot) ?? new Set()).add(key));
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
    }
    expect([...keysBySlot.values()].filter((keys) => keys.size > 1)).toEqual([]);
    const repeats = [...perKey.values()].filter((count) => count > 1).length;
    console.log(`deliveries: ${sink.received.length}, slots delivered more than once (same key): ${repeats}`);
  });
});
