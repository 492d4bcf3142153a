import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisCluster, type RedisCluster } from "../helpers/redis-cluster.js";
import { startSink, type Sink } from "../helpers/sink.js";
import { startTestTickler, testPrefix, type TestTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

const run = promisify(execFile);
const HEARTBEATS = 24;

/**
 * Every slot of one master is migrated to another (`redis-cli --cluster reshard`: MIGRATE key by key, ASK
 * redirections meanwhile) while heartbeats fire and one-shots are written: every one-shot fires once, every
 * heartbeat goes on, and no write is refused for good.
 */
describe("when a Redis Cluster is resharded while fires flow", () => {
  let cluster: RedisCluster;
  let sink: Sink;
  let t: TestTickler;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    sink = await startSink();
    t = await startTestTickler(testPrefix("reshard"), { agents: { default: { url: sink.url } } }, "all", {
      REDIS_URL: cluster.url,
      TICKLER_PARTITIONS: "6",
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await sink?.close();
    await cluster?.stop();
  });

  it("keeps delivering every slot, once per key, while slots move", async () => {
    const beats = Array.from({ length: HEARTBEATS }, (_, i) => `beat${i}`);
    for (const user of beats)
      expect(
        (await t.api("PUT", `/v1/users/${user}/triggers/hb`, { prompt: user, every: "1s" })).status,
      ).toBe(201);
    await waitFor(
      () => beats.every((u) => sink.received.some((r) => r.body.prompt === u)),
      "every heartbeat",
    );

    const onces: string[] = [];
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n++) {
        const user = `once${n}`;
        // A write that meets a slot in migration may be answered 503: the client writes it again.
        await waitFor(
          async () =>
            (await t.api("PUT", `/v1/users/${user}/triggers/o`, { prompt: user, delay: 0.3 })).status < 300,
          `the one-shot of ${user} to be written`,
          20_000,
        );
        onces.push(user);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();

    const [from, to] = await cluster.masters();
    const startedAt = Date.now();
    await run("redis-cli", [
      "--cluster",
      "reshard",
      `127.0.0.1:${from!.port}`,
      "--cluster-from",
      from!.id,
      "--cluster-to",
      to!.id,
      "--cluster-slots",
      String(from!.slots),
      "--cluster-yes",
      "--cluster-pipeline",
      "100",
    ]);
    const reshardedAt = Date.now();
    await cluster.waitHealthy();
    expect((await cluster.masters()).find((m) => m.port === from!.port)?.slots ?? 0).toBe(0);
    console.log(`reshard: ${from!.slots} slots moved in ${reshardedAt - startedAt} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    writing = false;
    await writer;

    const firedSince = (user: string) =>
      sink.received.some(
        (r) => r.body.prompt === user && Date.parse(r.body.scheduled_at as string) > reshardedAt,
      );
    await waitFor(() => beats.every(firedSince), "every heartbeat to fire after the reshard", 30_000);
    await waitFor(
      () => onces.every((user) => sink.received.some((r) => r.body.prompt === user)),
      "every one-shot written during the reshard to fire",
      20_000,
    );
    const perKey = new Map<string, number>();
    for (const r of sink.received) {
      const key = String(r.headers["idempotency-key"]);
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
    }
    const repeats = [...perKey.values()].filter((count) => count > 1).length;
    console.log(
      `reshard: ${onces.length} one-shots written meanwhile, ${sink.received.length} deliveries, ${repeats} repeated keys`,
    );
    expect(onces.length).toBeGreaterThan(10);
    for (const user of onces)
      expect(
        sink.received.filter((r) => r.body.prompt === user),
        user,
      ).toHaveLength(1);
  });
});
