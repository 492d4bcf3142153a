import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Child } from "../../helpers/processes.js";
import { spawnTickler, writeConfig } from "../../helpers/processes.js";
import { startSink, type Sink } from "../../helpers/sink.js";
import { removePrefix, startTestTickler, testPrefix, type TestTickler } from "../../helpers/tickler.js";
import { waitFor } from "../../helpers/wait.js";

describe("when 3 worker processes share one Redis", () => {
  const prefix = testPrefix("fleet");
  let sink: Sink;
  let api: TestTickler;
  const workers: Child[] = [];

  beforeAll(async () => {
    sink = await startSink(() => ({ holdMs: Math.floor(Math.random() * 50) }));
    const file = { min_interval: "1s", agents: { default: { url: sink.url } } };
    const configPath = writeConfig(file);
    api = await startTestTickler(prefix, file, "api");
    const env = { TICKLER_PREFIX: prefix, TICKLER_CONFIG: configPath, TICKLER_CONCURRENCY: "20" };
    workers.push(
      ...(await Promise.all([
        spawnTickler("worker", env),
        spawnTickler("worker", env),
        spawnTickler("worker", env),
      ])),
    );
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.kill("SIGTERM")));
    await api?.close();
    await sink?.close();
    await removePrefix(prefix);
  });

  it("delivers 300 one-shots due in the same second exactly once each", async () => {
    // Far enough ahead that all 300 writes land before it even on a loaded machine.
    const due = Math.ceil((Date.now() + 6000) / 1000) * 1000;
    const at = new Date(due).toISOString();
    for (let batch = 0; batch < 300; batch += 50) {
      const puts = Array.from({ length: 50 }, (_, i) =>
        api.api("PUT", `/v1/users/fleet/triggers/t${batch + i}`, { prompt: `t${batch + i}`, at }),
      );
      for (const res of await Promise.all(puts)) expect(res.status).toBe(201);
    }
    expect(Date.now()).toBeLessThan(due);
    await sink.waitForCount(300, 20_000);
    const queue = api.tickler.producer.fires.queue;
    await waitFor(
      async () => (await queue.getJobCountByTypes("active", "waiting", "delayed")) === 0,
      "the queue to drain",
    );
    const keys = sink.received.map((r) => String(r.headers["idempotency-key"]));
    expect(keys).toHaveLength(300);
    expect(new Set(keys).size).toBe(300);
    const latest = Math.max(...sink.received.map((r) => r.at - due));
    expect(latest).toBeLessThan(5000);
  });

  it("drains on SIGTERM: the worker exits 0", async () => {
    const worker = workers.pop()!;
    expect(await worker.kill("SIGTERM")).toBe(0);
    expect(worker.output()).toContain("stopped");
  });
});
