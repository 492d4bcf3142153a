import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeTrigger } from "../../src/producer/trigger-store.js";
import { FireQueue } from "../../src/producer/fire-queue.js";
import { keysFor } from "../../src/redis/keys.js";
import { HANDOVER_TTL_MS, RunStore, runIdFor, type RunRecord } from "../../src/runs/run-store.js";
import { startRun } from "../../src/worker/overlap.js";
import { REDIS_URL, useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

/**
 * begin-fire.lua starts a first attempt in the same round trip as reading its trigger, but only where the
 * worker would deliver too: every other case must write nothing and hand the trigger read to the worker.
 */
describe("begin-fire.lua", () => {
  const fx = useTickler("begin", {
    role: "api",
    file: { agents: { default: { url: "http://127.0.0.1:9/" } } },
  });
  const keys = keysFor(fx.prefix);
  let redis: Redis;
  let runs: RunStore;
  let fires: FireQueue;
  let job = 0;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    runs = new RunStore(redis, keys, { historyLimit: 100, retentionMs: 60_000, eventsMaxLen: 1000 });
    fires = new FireQueue(redis, fx.prefix);
  });
  afterAll(async () => {
    await fires?.queue.close();
    redis?.disconnect();
  });

  const create = async (name: string, body: Record<string, unknown>) => {
    const res = await fx.t.api("PUT", `/v1/users/b/triggers/${name}`, { prompt: "hi", ...body });
    expect(res.status).toBeLessThan(300);
    return Number(await redis.hget(keys.trigger(`b/${name}`), "sv"));
  };
  const runOf = (name: string, slot: number, manual: boolean): RunRecord => {
    const tid = `b/${name}`;
    return {
      runId: runIdFor(tid, slot),
      triggerId: tid,
      userId: "b",
      name,
      scheduledAtMs: slot,
      startedAtMs: Date.now(),
      finishedAtMs: null,
      status: "running",
      attempts: 1,
      httpStatus: null,
      durationMs: null,
      error: null,
      manual,
      catchup: false,
      nextAttemptAtMs: null,
    };
  };
  /** Begins slot `slot` of b/<name> as a fresh job would; `sv` null is a manual run. */
  const begin = async (
    name: string,
    sv: number | null,
    slot = Date.now(),
    checkLate = true,
    jobId = `job${++job}`,
  ) => {
    const tid = `b/${name}`;
    const run = runOf(name, slot, sv === null);
    const result = await runs.begin(run, { scheduleVersion: sv, jobId, checkLate, nowMs: Date.now() });
    const written = (await redis.exists(keys.run(run.runId))) === 1;
    expect(written).toBe(result.started); // started and written go together, and nothing else is
    return { ...result, jobId, marker: await redis.get(keys.running(tid)) };
  };

  it("starts a first attempt of an active trigger: marker taken, run running, trigger returned", async () => {
    const sv = await create("beat", { every: "1h" });
    const first = await begin("beat", sv);
    expect(first.started).toBe(true);
    expect(first.marker).toBe(first.jobId);
    expect(first.hash.sv).toBe(String(sv));
    expect(decodeTrigger(first.hash, first.definition)?.spec).toMatchObject({
      name: "beat",
      overlap: "skip",
    });
    // Another job of the same trigger while the first holds the marker: the worker decides.
    const second = await begin("beat", sv, Date.now() + 1);
    expect(second.started).toBe(false);
    expect(second.marker).toBe(first.jobId);
    expect(second.hash.sv).toBe(String(sv));
  });

  it("takes no marker for overlap: allow", async () => {
    const sv = await create("free", { every: "1h", overlap: "allow" });
    const begun = await begin("free", sv);
    expect(begun.started).toBe(true);
    expect(begun.marker).toBeNull();
  });

  it("leaves a rescheduled, paused, completed, ended, maxed-out or late slot to the worker", async () => {
    const sv = await create("old", { every: "1h" });
    expect((await begin("old", sv - 1)).started).toBe(false); // planned under a replaced schedule
    expect((await begin("old", sv + 1)).started).toBe(false); // a write still in flight

    const paused = await create("paused", { every: "1h" });
    await fx.t.api("POST", "/v1/users/b/triggers/paused/pause");
    expect((await begin("paused", paused)).started).toBe(false);
    expect((await begin("paused", null)).started).toBe(true); // a manual run is delivered anyway

    const done = await create("done", { every: "1h" });
    await redis.hset(keys.trigger("b/done"), "completed_at", String(Date.now()));
    expect((await begin("done", done)).started).toBe(false);

    const end = Date.now() + 3_600_000;
    const ending = await create("ending", { every: "1h", end_at: new Date(end).toISOString() });
    expect((await begin("ending", ending, end + 1)).started).toBe(false);
    expect((await begin("ending", ending, end)).started).toBe(true);

    const maxed = await create("maxed", { every: "1h", max_fires: 2 });
    await redis.hset(keys.trigger("b/maxed"), "fire_count", "2");
    expect((await begin("maxed", maxed)).started).toBe(false);

    const late = await create("late", { every: "1h", misfire_grace: "5s" });
    expect((await begin("late", late, Date.now() - 10_000)).started).toBe(false);
    expect((await begin("late", late, Date.now() - 10_000, false)).started).toBe(true); // not a first pickup
  });

  it("leaves a trigger stored the older way (definition in its hash) to the worker, which reads it", async () => {
    const sv = await create("legacy", { every: "1h" });
    const definition = (await redis.get(keys.definition("b/legacy")))!;
    const { spec } = decodeTrigger(await redis.hgetall(keys.trigger("b/legacy")), definition)!;
    const { schedule } = JSON.parse(definition);
    await redis.hset(
      keys.trigger("b/legacy"),
      "spec",
      JSON.stringify(spec),
      "schedule",
      JSON.stringify(schedule),
    );
    await redis.del(keys.definition("b/legacy"));
    const begun = await begin("legacy", sv);
    expect(begun).toMatchObject({ started: false, definition: null });
    expect(decodeTrigger(begun.hash, begun.definition)?.spec).toEqual(spec);
    // Read through the API, and moved to the new layout by its next write.
    expect((await fx.t.api("GET", "/v1/users/b/triggers/legacy")).body.prompt).toBe("hi");
    expect((await fx.t.api("PATCH", "/v1/users/b/triggers/legacy", { prompt: "hello" })).status).toBe(200);
    expect(await redis.hexists(keys.trigger("b/legacy"), "spec")).toBe(0);
    expect(JSON.parse((await redis.get(keys.definition("b/legacy")))!).spec.prompt).toBe("hello");
    expect((await begin("legacy", sv)).started).toBe(true);
  });

  it("hands back an empty trigger when it is gone", async () => {
    const gone = await begin("never-created", 1);
    expect(gone).toMatchObject({ started: false, hash: {}, definition: null });
  });

  it("hands the marker from a catch-up step to the next one, and to nobody else while its worker lives", async () => {
    const sv = await create("chain", { every: "1h" });
    const tid = "b/chain";
    const slot = Date.now() - 3_600_000;
    // The worker handing over: a connection named as BullMQ names a worker's (so the client list shows it).
    const hander = new Redis(REDIS_URL, {
      connectionName: `${fx.prefix}:${Buffer.from("fires").toString("base64")}:w:hander`,
    });
    await hander.ping();
    const step = await begin("chain", sv, slot, false, "step0");
    expect(step.started).toBe(true);
    const fire = { scheduleVersion: sv, status: "succeeded", firedAtMs: slot, count: true, done: false };
    const finish = (jobId: string, handTo: string | null, worker: string | null = "hander") =>
      runs.finish(
        { ...runOf("chain", slot, false), status: "succeeded", finishedAtMs: Date.now() },
        { ...fire, status: "succeeded", nowMs: Date.now(), maxFires: null },
        { holder: jobId, handTo: handTo === null ? null : { jobId: handTo, worker } },
        true,
      );
    const deps = { redis, keys, fires, runs };

    // Another job's finish hands over nothing; the holder's finish hands the marker to the next step.
    await finish("other", "stranger");
    expect(await redis.get(keys.running(tid))).toBe("step0");
    await finish("step0", "step1");
    expect(await redis.get(keys.running(tid))).toBe("next|step1#hander");
    expect(await redis.pttl(keys.running(tid))).toBeLessThanOrEqual(HANDOVER_TTL_MS);

    // Until step1 takes it, no other run starts, even though no job step1 exists yet (it is being added).
    const live = runOf("chain", slot + 3_600_000, false);
    expect((await begin("chain", sv, live.scheduledAtMs, false, "live")).started).toBe(false);
    expect(await startRun(deps, live, "live")).toMatchObject({
      started: false,
      heldBy: expect.stringContaining("on worker hander"),
    });
    expect(await redis.get(keys.running(tid))).toBe("next|step1#hander");

    // The next step takes it with the full TTL.
    expect((await begin("chain", sv, slot + 1, false, "step1")).started).toBe(true);
    expect(await redis.get(keys.running(tid))).toBe("step1");
    expect(await redis.pttl(keys.running(tid))).toBeGreaterThan(HANDOVER_TTL_MS);

    // The last step releases it.
    await finish("step1", null);
    expect(await redis.get(keys.running(tid))).toBeNull();

    // A next step that never comes because its worker died before adding it: the hand-over is free as
    // soon as that worker's connection is gone.
    await begin("chain", sv, slot + 2, false, "step2");
    await finish("step2", "step3");
    expect((await startRun(deps, live, "live")).started).toBe(false);
    hander.disconnect();
    await waitFor(
      async () => !(await fires.connectedWorkers())?.has("hander"),
      "the hander to be gone",
      2000,
    );
    expect((await startRun(deps, live, "live")).started).toBe(true);
    expect(await redis.get(keys.running(tid))).toBe("live");
    await finish("live", null);

    // A hand-over that names no worker (one without a name) holds the others off until its TTL ends.
    await begin("chain", sv, slot + 4, false, "step4");
    await finish("step4", "step5", null);
    expect(await redis.get(keys.running(tid))).toBe("next|step5");
    expect((await startRun(deps, live, "live")).started).toBe(false);
    await redis.pexpire(keys.running(tid), 1);
    await waitFor(async () => (await redis.exists(keys.running(tid))) === 0, "the hand-over to expire", 2000);
    expect((await startRun(deps, live, "live")).started).toBe(true);
    expect(await redis.get(keys.running(tid))).toBe("live");
  });
});
