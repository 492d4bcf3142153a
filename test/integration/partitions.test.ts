import { afterAll, describe, expect, it } from "vitest";
import { layoutFor } from "../../src/redis/keys.js";
import { openSse, type SseClient } from "../helpers/sse.js";
import { removePrefix, startTestTickler, useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

const ADMIN = "admin-token-partitions-0123456789";
const PARTITIONS = 4;
const as = { authorization: `Bearer ${ADMIN}` };

/**
 * A deployment with `partitions: 4` (on the shared standalone Redis here; `npm run test:cluster` runs the
 * same engine over a Redis Cluster): every user's triggers, quota and runs stay in one partition, and
 * everything that spans users reads every partition.
 */
describe("with partitions: 4", () => {
  const fx = useTickler("parts", {
    sink: true,
    env: { TICKLER_PARTITIONS: String(PARTITIONS) },
    file: () => ({
      tokens: [{ token: ADMIN, role: "admin" }],
      agents: { default: { url: fx.sink.url } },
      max_triggers_per_user: 3,
    }),
  });
  const clients: SseClient[] = [];
  afterAll(() => {
    for (const client of clients) client.close();
  });
  const users = Array.from({ length: 24 }, (_, i) => `user${i}`);
  const put = (user: string, name: string, body: Record<string, unknown>) =>
    fx.t.api("PUT", `/v1/users/${user}/triggers/${name}`, body, as);

  it("keeps each user's triggers in their partition, with every partition used", async () => {
    for (const user of users) expect((await put(user, "a", { prompt: "a", delay: "1h" })).status).toBe(201);
    const { producer } = fx.t.tickler;
    const layout = layoutFor(fx.prefix, PARTITIONS);
    const perPartition = await Promise.all(
      producer.partitions.map(async (partition) => (await partition.store.allIds(null, 100)).items),
    );
    expect(perPartition.every((ids) => ids.length > 0)).toBe(true);
    perPartition.forEach((ids, p) => {
      for (const id of ids) expect(layout.partitionOf(id.split("/")[0]!), id).toBe(p);
    });
    expect(perPartition.flat().sort()).toEqual(users.map((u) => `${u}/a`).sort());
    // Every key is a partition's (`{prefix:p}:…`) but the deployment's own few.
    const untagged = await producer.redis.keys(`${fx.prefix}:*`);
    expect(untagged.filter((key) => !/:(partitions|rl:.*)$/.test(key))).toEqual([]);
  });

  it("pages the admin listing across partitions in id order with one cursor", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
      const page = await fx.t.api("GET", `/v1/triggers?limit=5${query}`, undefined, as);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(5);
      seen.push(...page.body.items.map((item: { id: string }) => item.id));
      cursor = page.body.next_cursor;
    } while (cursor !== null);
    const expected = users.map((u) => `${u}/a`).sort();
    expect(seen).toEqual(expected);
  });

  it("sums counts and queues over the partitions", async () => {
    const status = await fx.t.api("GET", "/v1/status", undefined, as);
    expect(status.body.partitions).toBe(PARTITIONS);
    expect(status.body.triggers["once:active"]).toBe(users.length);
    const queue = await fx.t.api("GET", "/v1/queue", undefined, as);
    expect(queue.body).toMatchObject({ partitions: PARTITIONS, counts: { delayed: users.length } });
  });

  it("holds the quota per user inside their partition", async () => {
    await put("quota", "q1", { prompt: "q", delay: "1h" });
    await put("quota", "q2", { prompt: "q", delay: "1h" });
    await put("quota", "q3", { prompt: "q", delay: "1h" });
    const over = await put("quota", "q4", { prompt: "q", delay: "1h" });
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe("quota_exceeded");
  });

  it("fires all three kinds in every partition, and reads each run by its id from its partition", async () => {
    const fireUsers = users.slice(0, 8);
    for (const user of fireUsers) {
      await put(user, "once", { prompt: `once ${user}`, delay: 0.2 });
      await put(user, "beat", { prompt: `beat ${user}`, every: "1s" });
    }
    await put(users[8]!, "cron", { prompt: "cron", cron: "* * * * * *" });
    const got = (prompt: string) => fx.sink.received.some((r) => r.body.prompt === prompt);
    await waitFor(
      () => fireUsers.every((u) => got(`once ${u}`) && got(`beat ${u}`)) && got("cron"),
      "every one-shot, heartbeat and cron to fire",
      10_000,
    );
    for (const user of fireUsers) {
      const runs = await fx.t.api("GET", `/v1/users/${user}/triggers/once/runs`, undefined, as);
      const runId: string = runs.body.items[0].run_id;
      expect(runId).toMatch(/^run_\d+\.[A-Za-z0-9_-]{22}$/);
      const run = await fx.t.api("GET", `/v1/runs/${runId}`, undefined, as);
      expect(run.body).toMatchObject({ run_id: runId, trigger_id: `${user}/once`, status: "succeeded" });
      // The same hash under another partition's number is no run at all.
      const other = runId.replace(/^run_(\d+)\./, (_, p: string) => `run_${(Number(p) + 1) % PARTITIONS}.`);
      expect((await fx.t.api("GET", `/v1/runs/${other}`, undefined, as)).status).toBe(404);
      expect((await fx.t.api("GET", `/v1/runs/${runId.slice(0, -1)}`, undefined, as)).status).toBe(404);
    }
    for (const user of fireUsers)
      expect((await fx.t.api("DELETE", `/v1/users/${user}/triggers/beat`, undefined, as)).status).toBe(200);
    await fx.t.api("DELETE", `/v1/users/${users[8]}/triggers/cron`, undefined, as);
  });

  it("replays each partition's missed events after a Last-Event-ID that holds a position in each", async () => {
    const runsOf = (client: SseClient) =>
      client.events.map((e) => JSON.parse(e.data) as { trigger_id: string; status: string });
    const first = await openSse(`${fx.t.base}/v1/events`, as);
    clients.push(first);
    const before = users.slice(10, 14);
    for (const user of before) await put(user, "sse", { prompt: "sse", delay: 0.05 });
    await waitFor(
      () =>
        before.every((u) =>
          runsOf(first).some((r) => r.trigger_id === `${u}/sse` && r.status === "succeeded"),
        ),
      "the first runs' events",
    );
    const lastId = first.events.at(-1)!.id!;
    expect(lastId.split("_")).toHaveLength(PARTITIONS);
    first.close();

    const after = users.slice(14, 20);
    for (const user of after) await put(user, "sse", { prompt: "sse", delay: 0.05 });
    await waitFor(async () => {
      const records = await Promise.all(
        after.map((u) => fx.t.api("GET", `/v1/users/${u}/triggers/sse`, undefined, as)),
      );
      return records.every((r) => r.body.last_status === "succeeded");
    }, "the missed runs");

    const again = await openSse(`${fx.t.base}/v1/events`, { ...as, "last-event-id": lastId });
    clients.push(again);
    await waitFor(
      () =>
        after.every((u) =>
          runsOf(again).some((r) => r.trigger_id === `${u}/sse` && r.status === "succeeded"),
        ),
      "the replay of every partition's missed runs",
    );
    const replayed = runsOf(again).map((r) => r.trigger_id);
    expect(replayed.filter((id) => before.some((u) => id === `${u}/sse`))).toEqual([]);
    expect(new Set(replayed)).toEqual(new Set(after.map((u) => `${u}/sse`)));
    // An id with the wrong number of positions is refused.
    const bad = await openSse(`${fx.t.base}/v1/events`, { ...as, "last-event-id": "1-0_2-0" });
    clients.push(bad);
    expect(bad.status).toBe(400);
  });

  it("refuses to start a process configured with another partition count over the same data", async () => {
    await expect(startTestTickler(fx.prefix, {}, "api", { TICKLER_PARTITIONS: "8" })).rejects.toThrow(
      /written with 4 partitions \(hash-tagged keys\), but this process is configured with 8 partitions/,
    );
    await expect(startTestTickler(fx.prefix, {}, "api", { TICKLER_PARTITIONS: "1" })).rejects.toThrow(
      /configured with 1 partition /,
    );
  });
});

// Only a standalone Redis can hold data from before partitions (untagged keys do not work on a cluster).
describe.skipIf(process.env.TICKLER_TEST_CLUSTER)("over data from before partitions existed", () => {
  it("counts it as one partition, and refuses a process configured with more", async () => {
    const single = await startTestTickler(`tt-legacy-${Date.now()}`, { agents: {} }, "api");
    const prefix = single.config.prefix;
    try {
      await single.tickler.producer.upsert("old", "t", { prompt: "p", delay: "1h" });
      // As a version without partitions left it: no partition-count record.
      await single.tickler.producer.redis.del(layoutFor(prefix, 1).partitionCount);
      await expect(startTestTickler(prefix, {}, "api", { TICKLER_PARTITIONS: "3" })).rejects.toThrow(
        /written with 1 partition \(untagged keys, a standalone Redis\).*configured with 3 partitions/,
      );
      const again = await startTestTickler(prefix, {}, "api");
      expect((await again.tickler.producer.get("old", "t")).spec.prompt).toBe("p");
      await again.close();
    } finally {
      await single.close();
      await removePrefix(prefix);
    }
  });
});
