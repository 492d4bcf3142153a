import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Child } from "../../helpers/processes.js";
import { spawnTickler, writeConfig } from "../../helpers/processes.js";
import { startSink, type Sink } from "../../helpers/sink.js";
import { removePrefix, startTestTickler, testPrefix, type TestTickler } from "../../helpers/tickler.js";
import { waitFor } from "../../helpers/wait.js";

describe("when a worker is SIGKILLed in the middle of a delivery", () => {
  const prefix = testPrefix("kill");
  let sink: Sink;
  let api: TestTickler;
  const children: Child[] = [];
  let configPath: string;

  beforeAll(async () => {
    sink = await startSink((_r, i) => (i === 0 ? { holdMs: 60_000 } : {}));
    const file = {
      min_interval: "1s",
      agents: { default: { url: sink.url, timeout: "60s" } },
      worker: { lock_duration: "3s", stalled_interval: "1s" },
    };
    configPath = writeConfig(file);
    api = await startTestTickler(prefix, file, "api");
  });
  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await api?.close();
    await sink?.close();
    await removePrefix(prefix);
  });

  it("lets another worker take the job over and deliver it with the same idempotency key", async () => {
    const env = { TICKLER_PREFIX: prefix, TICKLER_CONFIG: configPath };
    const first = await spawnTickler("worker", env);
    children.push(first);
    expect(
      (await api.api("PUT", "/v1/users/k/triggers/survive", { prompt: "survive", delay: 0.3 })).status,
    ).toBe(201);
    const [held] = await sink.waitForCount(1, 10_000);
    expect(await first.kill("SIGKILL")).not.toBe(0);
    const killedAt = Date.now();

    children.push(await spawnTickler("worker", env));
    const [, again] = await sink.waitForCount(2, 20_000);
    expect(again!.headers["idempotency-key"]).toBe(held!.headers["idempotency-key"]);
    expect(again!.body.run_id).toBe(held!.body.run_id);
    // Taken over once the dead worker's lock expired (3 s) and a stall check ran (every 1 s).
    expect(again!.at - killedAt).toBeLessThan(15_000);

    const run = await waitFor(async () => {
      const res = await api.api("GET", "/v1/users/k/triggers/survive/runs");
      return res.body.items?.[0]?.status === "succeeded" ? res.body.items : null;
    }, "the run to be recorded as succeeded");
    expect(run).toHaveLength(1);
    expect(sink.received).toHaveLength(2);
  });
});

describe("when a worker gets SIGTERM in the middle of a delivery", () => {
  const prefix = testPrefix("drain");
  let sink: Sink;
  let api: TestTickler;
  let worker: Child | undefined;

  beforeAll(async () => {
    sink = await startSink(() => ({ holdMs: 1500 }));
    const file = { min_interval: "1s", agents: { default: { url: sink.url } } };
    api = await startTestTickler(prefix, file, "api");
    worker = await spawnTickler("worker", { TICKLER_PREFIX: prefix, TICKLER_CONFIG: writeConfig(file) });
  });
  afterAll(async () => {
    await worker?.kill();
    await api?.close();
    await sink?.close();
    await removePrefix(prefix);
  });

  it("lets the delivery finish, records it, and exits 0", async () => {
    expect((await api.api("PUT", "/v1/users/d/triggers/drain", { prompt: "drain", delay: 0.3 })).status).toBe(
      201,
    );
    await sink.waitForCount(1);
    const exit = worker!.kill("SIGTERM");
    expect(await exit).toBe(0);
    const runs = await api.api("GET", "/v1/users/d/triggers/drain/runs");
    expect(runs.body.items[0]).toMatchObject({ status: "succeeded", http_status: 200 });
    expect(worker!.output()).toMatch(/draining/);
  });
});
