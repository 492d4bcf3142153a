import { Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import type { RedisClient } from "../../src/redis/connection.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import { catchupJobId, type FireJobData } from "../../src/producer/fire-queue.js";
import { runIdFor, type RunRecord } from "../../src/runs/run-store.js";
import { createDispatcher } from "../../src/worker/deliver.js";
import { markerHolder, startRun } from "../../src/worker/overlap.js";
import { createProcessor } from "../../src/worker/processor.js";
import { baseRun } from "../../src/worker/fire-run.js";
import { REDIS_URL, useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

/**
 * The windows a SIGKILLed worker leaves behind (issue #12's fault harness found them), each set up with real
 * BullMQ jobs and run records, then handed to the processor as the next pickup would be.
 */
describe("after a worker died at an unlucky moment", () => {
  const dispatcher = createDispatcher(4);
  afterAll(() => dispatcher.close());
  const fx = useTickler("window", {
    sink: true,
    role: "api",
    file: () => ({ agents: { default: { url: fx.sink.url } } }),
  });
  let redis: RedisClient;
  beforeAll(() => {
    redis = fx.t.tickler.producer.redis;
  });

  const deps = () => {
    const { producer } = fx.t.tickler;
    return { redis, keys: producer.keys, fires: producer.fires, runs: producer.partitions[0]!.runs };
  };
  const process = (job: Job<FireJobData>) =>
    createProcessor({
      ...deps(),
      store: fx.t.tickler.producer.store,
      config: fx.t.config,
      dispatcher,
      logger: createLogger("silent"),
    })(job);
  const create = async (name: string, body: Record<string, unknown>) => {
    const { record } = await fx.t.tickler.producer.upsert("w", name, { prompt: name, ...body });
    return { tid: `w/${name}`, sv: record.scheduleVersion };
  };
  /** A job as BullMQ holds it; scheduler iterations carry their slot in their id, as BullMQ names them. */
  const addJob = async (id: string, data: FireJobData): Promise<Job<FireJobData>> => {
    await fx.t.tickler.producer.fires.queue.add(data.origin, data, { jobId: id, delay: 3_600_000 });
    return (await fx.t.tickler.producer.fires.queue.getJob(id))!;
  };
  const runAt = (tid: string, slot: number, status: RunRecord["status"]): RunRecord => ({
    ...baseRun(tid, slot, { origin: "scheduled" }, slot + 5, fx.t.tickler.producer.keys),
    status,
    attempts: 1,
  });
  const every10s = (ago: number) => Math.floor((Date.now() - ago) / 10_000) * 10_000;
  const requestsFor = (tid: string) =>
    fx.sink.received.filter((r) => (r.body.trigger as { id: string }).id === tid);

  describe("the run holding a trigger's overlap marker", () => {
    it("is alive while its worker's connection is, and free the moment that connection is gone", async () => {
      const { tid } = await create("held", { every: "1h" });
      const keys = fx.t.tickler.producer.keys;
      let release = (): void => undefined;
      const holding = new Promise<void>((resolve) => (release = resolve));
      const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      const worker = new Worker(
        "fires",
        async () => {
          await holding;
        },
        { connection, prefix: fx.prefix, name: "doomed" },
      );
      await fx.t.tickler.producer.fires.queue.add(
        "x",
        { tid, sv: 0, origin: "manual" },
        { jobId: "held-job" },
      );
      await waitFor(
        async () => (await redis.exists(`${fx.prefix}:fires:held-job:lock`)) === 1,
        "the job to run",
      );
      await redis.set(keys.running(tid), "held-job");

      expect(await markerHolder(deps(), "held-job")).toEqual({
        heldBy: "job held-job running on worker doomed",
        retaken: false,
      });
      // Once BullMQ's stall check has moved it back (its earlier worker died), it is a crash's re-delivery,
      // which a new slot waits out instead of being skipped for.
      await redis.hset(`${fx.prefix}:fires:held-job`, "stc", "1");
      expect(await markerHolder(deps(), "held-job")).toMatchObject({ retaken: true });
      const next = runAt(tid, Date.now(), "running");
      expect(await startRun(deps(), next, "next-job")).toMatchObject({ started: false, holder: "held-job" });

      // Closed without waiting, as a SIGKILL would leave it: the job stays active and its lock in place.
      await worker.close(true);
      connection.disconnect();
      release();
      expect(await redis.exists(`${fx.prefix}:fires:held-job:lock`)).toBe(1);
      await waitFor(
        async () => (await markerHolder(deps(), "held-job")) === null,
        "the holder to be seen dead",
      );
      expect(await startRun(deps(), next, "next-job")).toEqual({ started: true });
      expect(await redis.get(keys.running(tid))).toBe("next-job");
    });

    it("is alive while it waits for a retry, and not once the stall check moved it back to wait", async () => {
      const { tid } = await create("retrying", { every: "1h" });
      const slot = Date.now();
      await addJob("retry-job", { tid, sv: 0, origin: "manual", slot, manualNonce: "n" });
      const run = { ...runAt(tid, slot, "retrying"), runId: runIdFor(tid, slot, "n") };
      await fx.t.tickler.runs.save([run]);
      expect(await markerHolder(deps(), "retry-job")).toEqual({
        heldBy: "job retry-job waiting to retry",
        retaken: false,
      });
      await fx.t.tickler.runs.save([{ ...run, status: "running" }]);
      expect(await markerHolder(deps(), "retry-job")).toBeNull();
      expect(await markerHolder(deps(), "no-such-job")).toBeNull();
    });
  });

  it("does not deliver a slot again whose outcome was recorded, and a chain step still adds its next step", async () => {
    const { tid, sv } = await create("chained", { cron: "*/10 * * * * *", misfire_grace: "10m" });
    const [first, second] = [every10s(60_000), every10s(50_000)];
    await fx.t.tickler.runs.save([runAt(tid, first, "succeeded")]);
    const job = await addJob(catchupJobId(tid, sv, first), {
      tid,
      sv,
      origin: "catchup",
      slot: first,
      rest: [second],
    });
    expect(await process(job)).toEqual({ outcome: "dropped", reason: "already finished" });
    expect(requestsFor(tid)).toHaveLength(0);
    expect(await fx.t.tickler.producer.fires.queue.getJob(catchupJobId(tid, sv, second))).toBeDefined();
  });

  it("delivers a taken-over slot even though a later slot completed its trigger meanwhile", async () => {
    const end = every10s(0) + 10_000;
    const { tid, sv } = await create("ended", {
      cron: "*/10 * * * * *",
      misfire_grace: "10m",
      end_at: new Date(end).toISOString(),
    });
    const slot = every10s(30_000);
    await fx.t.tickler.runs.save([runAt(tid, slot, "running")]);
    await redis.hset(fx.t.tickler.producer.keys.trigger(tid), "completed_at", String(Date.now()));
    const job = await addJob(`repeat:${tid}:${slot}`, { tid, sv, origin: "scheduled" });
    expect(await process(job)).toMatchObject({ outcome: "succeeded" });
    expect(requestsFor(tid)).toHaveLength(1);
    expect((await fx.t.tickler.runs.get(runIdFor(tid, slot)))?.status).toBe("succeeded");
  });

  it("delivers a catch-up chain's steps although the trigger's last slot completed it meanwhile", async () => {
    // Under load a chain of slots BullMQ skipped is still going when the trigger's last slot comes due;
    // that slot is skipped for the live chain and completes the trigger. The chain's steps came due
    // before: each is delivered and recorded, not dropped as "completed" without a run record.
    const end = every10s(0) + 10_000;
    const { tid, sv } = await create("chain-ended", {
      cron: "*/10 * * * * *",
      misfire_grace: "10m",
      end_at: new Date(end).toISOString(),
    });
    const [first, second] = [every10s(30_000), every10s(20_000)];
    await redis.hset(fx.t.tickler.producer.keys.trigger(tid), "completed_at", String(Date.now()));
    const step = (slot: number, rest: number[]) =>
      addJob(catchupJobId(tid, sv, slot), { tid, sv, origin: "skipped", slot, rest });
    expect(await process(await step(first, [second]))).toMatchObject({ outcome: "succeeded" });
    expect(await process(await step(second, []))).toMatchObject({ outcome: "succeeded" });
    expect(requestsFor(tid)).toHaveLength(2);
    for (const slot of [first, second])
      expect((await fx.t.tickler.runs.get(runIdFor(tid, slot)))?.status).toBe("succeeded");
  });

  it("carries out the missed-slot plan an earlier pickup wrote, not a new one", async () => {
    const { tid, sv } = await create("planned", { cron: "*/10 * * * * *", missed_policy: "skip" });
    const [missed, deliver] = [every10s(120_000), every10s(110_000)];
    const job = await addJob(`repeat:${tid}:${missed}`, {
      tid,
      sv,
      origin: "scheduled",
      late: { atMs: Date.now() - 1000, missed: [missed], deliver: [deliver] },
    });
    expect(await process(job)).toEqual({ outcome: "catchup_planned", slots: 1 });
    expect((await fx.t.tickler.runs.get(runIdFor(tid, missed)))?.status).toBe("missed");
    expect(await fx.t.tickler.producer.fires.queue.getJob(catchupJobId(tid, sv, deliver))).toBeDefined();
  });

  it("recovers only the slots BullMQ really skipped when it takes over a late iteration", async () => {
    const { tid, sv } = await create("takeover", { cron: "*/10 * * * * *", misfire_grace: "10m" });
    const slot = every10s(40_000);
    // The slot was started by a worker that died; the slot after it ran meanwhile (its run is recorded).
    await fx.t.tickler.runs.save([runAt(tid, slot, "running"), runAt(tid, slot + 10_000, "succeeded")]);
    const job = await addJob(`repeat:${tid}:${slot}`, { tid, sv, origin: "scheduled" });
    expect(await process(job)).toMatchObject({ outcome: "succeeded" });
    for (const later of [slot + 10_000, slot + 20_000, slot + 30_000])
      expect(await fx.t.tickler.producer.fires.queue.getJob(catchupJobId(tid, sv, later))).toBeUndefined();

    // Without a run or a job after it, the slots up to the scheduler's next were skipped: delivered.
    const { tid: gap, sv: gapSv } = await create("gap", { cron: "*/10 * * * * *", misfire_grace: "10m" });
    await fx.t.tickler.runs.save([runAt(gap, slot, "running")]);
    const gapJob = await addJob(`repeat:${gap}:${slot}`, { tid: gap, sv: gapSv, origin: "scheduled" });
    expect(await process(gapJob)).toMatchObject({ outcome: "succeeded" });
    const chained = await fx.t.tickler.producer.fires.queue.getJob(catchupJobId(gap, gapSv, slot + 10_000));
    expect(chained?.data.rest?.length).toBeGreaterThanOrEqual(2);
    expect((await fx.t.tickler.producer.fires.queue.getJob(`repeat:${gap}:${slot}`))?.data.skipped).toEqual([
      slot + 10_000,
      ...chained!.data.rest!,
    ]);
  });
});
