import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcilePass } from "../../src/producer/reconciler.js";
import { removePrefix, startTestTickler, testPrefix, useTickler } from "../helpers/tickler.js";
import { runTickler, writeConfig } from "../helpers/processes.js";
import { waitFor } from "../helpers/wait.js";

describe("when BullMQ and the stored definitions disagree", () => {
  const fx = useTickler("reconcile", {
    sink: true,
    file: () => ({ agents: { default: { url: fx.sink.url } } }),
  });
  const producer = () => fx.t.tickler.producer;
  const queue = () => producer().fires.queue;

  beforeAll(async () => {
    // The worker's first reconcile pass runs at startup: let it end (it saves its sweep cursor), or it may
    // mend what these tests break on purpose before they look.
    await waitFor(
      async () => (await producer().redis.exists(producer().keys.sweepCursor)) === 1,
      "the startup reconcile pass",
    );
  });

  it("re-plans a heartbeat whose scheduler is gone (a writer died between steps, or BullMQ #3499)", async () => {
    await fx.t.api("PUT", "/v1/users/r/triggers/lost", { prompt: "x", every: "1h" });
    await producer().fires.removeScheduler("r/lost");
    expect(await queue().getJobScheduler("r/lost")).toBeUndefined();
    expect(await producer().repair("r/lost")).toBe("replanned");
    const scheduler = await queue().getJobScheduler("r/lost");
    expect(scheduler?.every).toBe(3600_000);
    expect(await producer().repair("r/lost")).toBe("ok");
  });

  it("re-plans a one-shot whose job is gone, and it fires", async () => {
    const put = await fx.t.api("PUT", "/v1/users/r/triggers/lost-once", { prompt: "x", delay: 0.8 });
    const record = await producer().get("r", "lost-once");
    await producer().fires.removeOnce("r/lost-once", record.scheduleVersion);
    expect(await producer().repair("r/lost-once")).toBe("replanned");
    const [got] = await fx.sink.waitForCount(
      1,
      5000,
      (r) => (r.body.trigger as { name: string }).name === "lost-once",
    );
    expect(got!.body.scheduled_at).toBe(put.body.next_fire_at);
  });

  it("mends a write whose writer died first, whatever is left of the sweep", async () => {
    await fx.t.api("PUT", "/v1/users/r/triggers/crashed", { prompt: "x", every: "1h" });
    await producer().fires.removeScheduler("r/crashed");
    // What a writer that died between removing the old scheduler and committing leaves behind.
    await producer().redis.zadd(producer().keys.intents, Date.now() - 20_000, "r/crashed");
    const report = await reconcilePass(producer(), 1);
    expect(report.replanned).toBeGreaterThanOrEqual(1);
    expect(await queue().getJobScheduler("r/crashed")).toBeDefined();
    expect(await producer().redis.zscore(producer().keys.intents, "r/crashed")).toBeNull();
  });

  it("leaves a write in progress alone (its intent is younger than a lock)", async () => {
    await producer().redis.zadd(producer().keys.intents, Date.now(), "r/writing");
    await reconcilePass(producer(), 1);
    expect(await producer().redis.zscore(producer().keys.intents, "r/writing")).not.toBeNull();
    await producer().redis.zrem(producer().keys.intents, "r/writing");
  });

  it("re-plans a scheduler whose next iteration is overdue without its job, whatever is left of the sweep", async () => {
    await fx.t.api("PUT", "/v1/users/r/triggers/overdue", { prompt: "x", every: "1h" });
    // BullMQ #3499: the scheduler's `next` lies in the past and no job stands behind it.
    await producer().redis.zadd(queue().toKey("repeat"), Date.now() - 120_000, "r/overdue");
    const report = await reconcilePass(producer(), 1);
    expect(report.replanned).toBeGreaterThanOrEqual(1);
    expect((await queue().getJobScheduler("r/overdue"))?.next).toBeGreaterThan(Date.now());
  });

  it("sweeps everything a slice per pass, resuming where the last pass stopped", async () => {
    for (const name of ["s1", "s2", "s3", "s4", "s5"])
      await fx.t.api("PUT", `/v1/users/r/triggers/${name}`, { prompt: "x", every: "1h" });
    await producer().redis.del(producer().keys.sweepCursor);
    const passes = [await reconcilePass(producer(), 2)];
    expect(passes[0]).toMatchObject({ sweptAll: false, checked: 2 });
    while (!passes.at(-1)!.sweptAll && passes.length < 100) passes.push(await reconcilePass(producer(), 2));
    expect(passes.at(-1)!.sweptAll).toBe(true);
    // Every trigger was checked once in the sweep: at least 5 + the other tests' triggers, over > 3 passes.
    expect(passes.reduce((sum, pass) => sum + pass.checked, 0)).toBeGreaterThanOrEqual(5);
    expect(passes.length).toBeGreaterThan(3);
    // The next pass starts a new sweep from the beginning.
    expect(await reconcilePass(producer(), 2)).toMatchObject({ sweptAll: false, checked: 2 });
  });

  it("removes a scheduler that has no definition", async () => {
    await queue().upsertJobScheduler(
      "r/orphan",
      { every: 3600_000 },
      { name: "heartbeat", data: { tid: "r/orphan", sv: 1, origin: "scheduled" } },
    );
    const report = await reconcilePass(producer());
    expect(report.removed).toBeGreaterThanOrEqual(1);
    expect(report.checked).toBeGreaterThan(report.removed);
    expect(await queue().getJobScheduler("r/orphan")).toBeUndefined();
  });

  it("records a paused trigger's stray job as missed and delivers nothing", async () => {
    await fx.t.api("PUT", "/v1/users/r/triggers/sleepy", { prompt: "x", delay: "1h" });
    const paused = await producer().pause("r", "sleepy");
    await producer().fires.addNow("stray-1", {
      tid: "r/sleepy",
      sv: paused.record.scheduleVersion,
      origin: "once",
      slot: Date.now(),
    });
    const run = await waitFor(async () => {
      const res = await fx.t.api("GET", "/v1/users/r/triggers/sleepy/runs");
      return res.body.items?.[0];
    }, "the stray job's run record");
    expect(run).toMatchObject({ status: "missed", error: "trigger is paused; not delivered" });
    expect(
      fx.sink.received.filter((r) => (r.body.trigger as { name: string }).name === "sleepy"),
    ).toHaveLength(0);
  });

  it("drops a job planned under a replaced schedule", async () => {
    await fx.t.api("PUT", "/v1/users/r/triggers/moved", { prompt: "x", delay: "1h" });
    const old = await producer().get("r", "moved");
    await fx.t.api("PUT", "/v1/users/r/triggers/moved", { prompt: "x", delay: "2h" });
    await producer().fires.addNow("stale-1", {
      tid: "r/moved",
      sv: old.scheduleVersion,
      origin: "once",
      slot: Date.now(),
    });
    // Read again once completed: a copy read just before it completed has no return value yet.
    const job = await waitFor(async () => {
      const found = await queue().getJob("stale-1");
      return found && (await found.isCompleted()) ? queue().getJob("stale-1") : null;
    }, "the stale job to be processed");
    expect(job.returnvalue).toEqual({ outcome: "dropped", reason: "superseded" });
    expect(
      fx.sink.received.filter((r) => (r.body.trigger as { name: string }).name === "moved"),
    ).toHaveLength(0);
  });
});

describe("schedules from config", () => {
  const prefix = testPrefix("seed");
  afterAll(() => removePrefix(prefix));

  it("are upserted at start-up with their if_exists", async () => {
    const seed = (prompt: string, ifExists: string) => ({
      agents: { default: { url: "http://127.0.0.1:9/" } },
      schedules: [
        {
          user_id: "ops",
          name: "digest",
          cron: "0 9 * * 1-5",
          timezone: "America/New_York",
          prompt,
          if_exists: ifExists,
        },
      ],
    });
    const first = await startTestTickler(prefix, seed("Post the digest", "update"), "api");
    const created = await first.api("GET", "/v1/users/ops/triggers/digest");
    expect(created.body).toMatchObject({
      kind: "cron",
      prompt: "Post the digest",
      timezone: "America/New_York",
    });
    await first.close();

    const again = await startTestTickler(prefix, seed("Post the digest", "update"), "api");
    expect((await again.api("GET", "/v1/users/ops/triggers/digest")).body.version).toBe(created.body.version);
    await again.close();

    const skipped = await startTestTickler(prefix, seed("Changed", "skip"), "api");
    expect((await skipped.api("GET", "/v1/users/ops/triggers/digest")).body.prompt).toBe("Post the digest");
    await skipped.close();

    const updated = await startTestTickler(prefix, seed("Changed", "update"), "api");
    expect((await updated.api("GET", "/v1/users/ops/triggers/digest")).body.prompt).toBe("Changed");
    await updated.close();
  });
});

describe("a schedule in the config file with an error", () => {
  const prefix = testPrefix("badseed");
  afterAll(() => removePrefix(prefix));

  it("stops start-up with a line naming the file, the entry and the problem", async () => {
    const file = writeConfig({
      schedules: [{ user_id: "ops", name: "daily-digest", cron: "0 9 * * 1-5" }],
    });
    const { code, output } = await runTickler(["api"], {
      TICKLER_PREFIX: prefix,
      TICKLER_CONFIG: file,
      PORT: "0",
    });
    expect(code).toBe(1);
    expect(output).toContain(`tickler: ${file}: schedules[0] (ops/daily-digest): prompt: is required`);
  });
});

describe("a job left by a writer that died before committing", () => {
  const fx = useTickler("stray", {
    role: "api",
    file: { agents: { default: { url: "http://127.0.0.1:9/" } } },
  });

  it("is swept by the repair pass; jobs of current definitions and of writes in flight stay", async () => {
    const producer = fx.t.tickler.producer;
    await producer.upsert("s", "kept", { prompt: "x", delay: "1h" });
    const kept = await producer.get("s", "kept");
    await producer.fires.queue.add(
      "once",
      { tid: "s/ghost", sv: 99, origin: "once", slot: Date.now() + 3600_000 },
      // Its writer died: the trigger's lock is gone.
      { jobId: "once|s%2Fghost|99", delay: 3600_000 },
    );
    // No definition yet, but its writer holds the trigger's lock: a write in flight, which the sweep must
    // leave alone (and count as busy, for a later pass).
    await producer.redis.set(producer.keys.writeLock("s/inflight"), "writer", "PX", 10_000);
    await producer.fires.queue.add(
      "once",
      { tid: "s/inflight", sv: 100, origin: "once", slot: Date.now() + 3600_000 },
      { jobId: "once|s%2Finflight|100", delay: 3600_000 },
    );
    await producer.fires.queue.add(
      "once",
      { tid: "s/kept", sv: kept.scheduleVersion - 1, origin: "once", slot: Date.now() + 3600_000 },
      { jobId: "once|s%2Fkept|old", delay: 3600_000 },
    );
    const report = await reconcilePass(producer);
    expect(report).toMatchObject({ removed: 2, busy: 1 });
    const delayed = await producer.fires.queue.getDelayed();
    expect(delayed.map((job) => job.id).sort()).toEqual(
      [`once|s%2Fkept|${kept.scheduleVersion}`, "once|s%2Finflight|100"].sort(),
    );
  });
});

describe("a job that comes due before the write that planned it has committed", () => {
  const fx = useTickler("commit", {
    sink: true,
    file: () => ({ agents: { default: { url: fx.sink.url } } }),
  });

  it("waits for the definition instead of dropping the fire", async () => {
    const producer = fx.t.tickler.producer;
    await producer.upsert("w", "racing", { prompt: "racing", delay: "1h" });
    const stored = await producer.get("w", "racing");
    const newer = stored.scheduleVersion + 1000;
    // The job of a newer write, due now, whose definition is not written yet (its writer holds the lock).
    const lock = producer.keys.writeLock("w/racing");
    await producer.redis.set(lock, "writer", "PX", 10_000);
    await producer.fires.addNow("once|w%2Fracing|newer", {
      tid: "w/racing",
      sv: newer,
      origin: "once",
      slot: Date.now(),
    });
    // The worker looked at it and put it back to wait for the write (twice: the lock is still held).
    await waitFor(
      async () => ((await producer.fires.queue.getJob("once|w%2Fracing|newer"))?.attemptsStarted ?? 0) >= 2,
      "the worker to pick the job up and put it back",
      5000,
    );
    expect(fx.sink.received).toHaveLength(0);
    // The write commits: the job now matches the stored schedule version and is delivered.
    await producer.redis.hset(producer.keys.trigger("w/racing"), "sv", String(newer));
    await producer.redis.del(lock);
    const [got] = await fx.sink.waitForCount(1, 5000);
    expect(got!.body.prompt).toBe("racing");
  });
});
