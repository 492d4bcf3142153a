import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorker, type InProcessWorker } from "../../src/library/worker.js";
import { openSchedule } from "../../src/library/schedule.js";
import type { RunRecord } from "../../src/runs/run-store.js";
import { TicklerError } from "../../src/triggers/index.js";
import { PermanentError, type Fire, type FireHandler } from "../../src/worker/fire-handler.js";
import { removePrefix, testConfig, testPrefix } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

/** The fires each test's handler saw, by trigger name; the handler is swapped per trigger name. */
const seen = new Map<string, Fire[]>();
const handlers = new Map<string, FireHandler>();
const onFire: FireHandler = (fire) => {
  seen.set(fire.name, [...(seen.get(fire.name) ?? []), fire]);
  return handlers.get(fire.name)?.(fire);
};
const UNSETTLED = new Set(["running", "retrying", "waiting"]);
const firesOf = (name: string): Fire[] => seen.get(name) ?? [];

describe("in-process fires (createWorker and schedule.*)", () => {
  const prefix = testPrefix("inproc");
  let app: InProcessWorker;
  const runsOf = async (name: string): Promise<RunRecord[]> =>
    (await app.runs.list(`u/${name}`, null, 100)).items;
  const finished = (name: string, count = 1) =>
    waitFor(async () => {
      const runs = (await runsOf(name)).filter((run) => !UNSETTLED.has(run.status));
      return runs.length >= count ? runs : null;
    }, `${count} finished run(s) of ${name}`);

  beforeAll(async () => {
    app = await createWorker({ onFire, config: testConfig(prefix) });
  });
  afterAll(async () => {
    await app?.close();
    await removePrefix(prefix);
  });

  it("hands the handler Zeno's fields and records the run as succeeded", async () => {
    const at = new Date(Date.now() + 300);
    const done = await app.schedule.once({
      userId: "u",
      name: "hello",
      prompt: "say hello",
      at,
      threadKey: "thread-1",
      channel: "slack",
      payload: { n: 1 },
    });
    expect(done).toMatchObject({ id: "u/hello", status: "created", kind: "once", state: "active" });
    expect(done.nextFireAt?.getTime()).toBe(at.getTime());
    const [run] = await finished("hello");
    expect(run).toMatchObject({ status: "succeeded", attempts: 1, httpStatus: null });
    const [fire] = firesOf("hello");
    expect(fire).toMatchObject({
      runId: run!.runId,
      userId: "u",
      name: "hello",
      kind: "once",
      prompt: "say hello",
      threadKey: "thread-1",
      channel: "slack",
      payload: { n: 1 },
      attempt: 1,
      manual: false,
      catchup: false,
      idempotencyKey: `u/hello@${at.getTime()}`,
    });
    expect(fire!.scheduledAt.getTime()).toBe(at.getTime());
    expect(fire!.firedAt.getTime()).toBeGreaterThanOrEqual(at.getTime());
  });

  it("retries a handler that throws, with the same idempotency key, until it resolves", async () => {
    handlers.set("flaky", (fire) => {
      if (fire.attempt < 3) throw new Error(`flaky ${fire.attempt}`);
    });
    await app.schedule.once({
      userId: "u",
      name: "flaky",
      prompt: "try",
      delay: "100ms",
      retry: { attempts: 5, backoff: "fixed", delay: "100ms" },
    });
    const [run] = await finished("flaky");
    expect(run).toMatchObject({ status: "succeeded", attempts: 3 });
    const fires = firesOf("flaky");
    expect(fires.map((fire) => fire.attempt)).toEqual([1, 2, 3]);
    expect(new Set(fires.map((fire) => fire.idempotencyKey)).size).toBe(1);
  });

  it("fails the run at once, with no retry, when the handler throws PermanentError", async () => {
    handlers.set("doomed", () => {
      throw new PermanentError("the user deleted their account");
    });
    await app.schedule.once({
      userId: "u",
      name: "doomed",
      prompt: "x",
      delay: "100ms",
      retry: { attempts: 5, delay: "100ms" },
    });
    const [run] = await finished("doomed");
    expect(run).toMatchObject({ status: "failed", attempts: 1 });
    expect(run!.error).toContain("the user deleted their account");
    expect(firesOf("doomed")).toHaveLength(1);
  });

  it("aborts fire.signal and counts a failed attempt when the handler outlives the timeout", async () => {
    let aborted = false;
    handlers.set(
      "slow",
      (fire) =>
        new Promise<void>((resolve) =>
          fire.signal.addEventListener("abort", () => {
            aborted = true;
            resolve();
          }),
        ),
    );
    await app.schedule.once({
      userId: "u",
      name: "slow",
      prompt: "x",
      delay: "100ms",
      timeout: "300ms",
      retry: { attempts: 2, delay: "100ms" },
    });
    const [run] = await finished("slow");
    expect(run).toMatchObject({ status: "failed", attempts: 2 });
    expect(run!.error).toContain("did not finish within 300 ms");
    expect(aborted).toBe(true);
  });

  it("never runs two fires of a trigger at once (overlap: skip records the slot it skipped)", async () => {
    let inFlight = 0;
    let most = 0;
    handlers.set("beat", async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      inFlight--;
    });
    await app.schedule.heartbeat({
      userId: "u",
      name: "beat",
      prompt: "beat",
      every: "1s",
      startAt: new Date(Date.now() + 200),
      overlap: "skip",
      timeout: "5s",
    });
    await waitFor(async () => {
      const runs = await runsOf("beat");
      return runs.some((r) => r.status === "skipped_overlap") && runs.some((r) => r.status === "succeeded");
    }, "a skipped slot and a finished one");
    await app.schedule.pause({ userId: "u", name: "beat" });
    expect(most).toBe(1);
  });

  it("fans a fire out to one handler call per context; a PermanentError for one leaves the parent partial", async () => {
    handlers.set("per-feed", (fire) => {
      if (fire.contextKey === "b") throw new PermanentError("feed b is gone");
    });
    const at = new Date(Date.now() + 300);
    await app.schedule.once({
      userId: "u",
      name: "per-feed",
      prompt: "refresh",
      at,
      payload: { source: "rss" },
      expand: { items: [{ key: "a", url: "https://a" }, { key: "b" }, { key: "c" }] },
    });
    const [run] = await finished("per-feed");
    expect(run).toMatchObject({ status: "partial", fanOut: { succeeded: 2, failed: 1 } });
    const fires = firesOf("per-feed");
    expect(fires.map((fire) => fire.contextKey).sort()).toEqual(["a", "b", "c"]);
    expect(fires.find((fire) => fire.contextKey === "a")).toMatchObject({
      runId: `${run!.runId}~a`,
      parentRunId: run!.runId,
      payload: { source: "rss", key: "a", url: "https://a" },
      idempotencyKey: `u/per-feed@${at.getTime()}#a`,
    });
    // maxExpand is the library's spelling of max_expand; a list over it is refused, naming the argument.
    const over = app.schedule.once({
      userId: "u",
      name: "too-wide",
      prompt: "x",
      delay: "1h",
      expand: { items: [{}, {}, {}], maxExpand: 2 },
    });
    await expect(over).rejects.toMatchObject({ code: "too_large", field: "expand.items" });
  });

  it("refuses bad arguments with the API's error, naming the argument as passed, and stores nothing", async () => {
    const refused = (call: Promise<unknown>) =>
      call.then(
        () => null,
        (thrown: unknown) =>
          thrown instanceof TicklerError ? { code: thrown.code, field: thrown.field } : thrown,
      );
    expect(
      await refused(
        app.schedule.once({
          userId: "u",
          name: "bad",
          prompt: "x",
          delay: "1m",
          missedPolicy: "often" as never,
        }),
      ),
    ).toMatchObject({ code: "invalid_field", field: "missedPolicy" });
    expect(
      await refused(
        app.schedule.heartbeat({
          userId: "u",
          name: "bad",
          prompt: "x",
          every: "1m",
          retry: { maxDelay: "soon" },
        }),
      ),
    ).toMatchObject({ code: "invalid_duration", field: "retry.maxDelay" });
    expect(
      await refused(app.schedule.cron({ userId: "u", name: "bad", prompt: "x", cron: "0 9 * *" })),
    ).toEqual({
      code: "invalid_cron",
      field: "cron",
    });
    expect(await refused(app.producer.get("u", "bad"))).toMatchObject({ code: "not_found" });
    await expect(createWorker({ onFire: undefined as never })).rejects.toThrow(/onFire must be a function/);
  });
});

describe("in-process workers in two places, and one that was down", () => {
  const prefix = testPrefix("inproc2");
  const config = () => testConfig(prefix);
  const got: { worker: string; fire: Fire }[] = [];
  const workers: InProcessWorker[] = [];

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.close()));
    await removePrefix(prefix);
  });

  it("applies missed_policy to a slot that came due while no worker ran", async () => {
    const schedule = await openSchedule({ config: config() });
    const at = new Date(Date.now() + 100);
    const common = { userId: "m", prompt: "missed", at, misfireGrace: "100ms" } as const;
    await schedule.once({ ...common, name: "skipped", missedPolicy: "skip" });
    await schedule.once({ ...common, name: "caught", missedPolicy: "run_once" });
    await schedule.close();
    await new Promise((resolve) => setTimeout(resolve, 500)); // both are now late by more than misfire_grace
    const worker = await createWorker({
      onFire: (fire) => void got.push({ worker: "a", fire }),
      config: config(),
    });
    workers.push(worker);
    const runs = await waitFor(async () => {
      const [skipped, caught] = await Promise.all([
        worker.runs.list("m/skipped", null, 10),
        worker.runs.list("m/caught", null, 10),
      ]);
      const done = [...skipped.items, ...caught.items].filter((run) => !UNSETTLED.has(run.status));
      return done.length === 2 ? { skipped: skipped.items[0]!, caught: caught.items[0]! } : null;
    }, "both one-shots to be settled");
    expect(runs.skipped.status).toBe("missed");
    expect(runs.caught).toMatchObject({ status: "succeeded", catchup: true });
    expect(got.map(({ fire }) => fire.name)).toEqual(["caught"]);
    expect(got[0]!.fire.catchup).toBe(true);
  });

  it("hands each slot to one of the processes' handlers, never to both", async () => {
    got.length = 0;
    const second = await createWorker({
      onFire: (fire) => void got.push({ worker: "b", fire }),
      config: config(),
    });
    workers.push(second);
    await second.schedule.heartbeat({
      userId: "m",
      name: "shared",
      prompt: "shared",
      every: "1s",
      startAt: new Date(Date.now() + 100),
      maxFires: 4,
    });
    await waitFor(() => got.filter(({ fire }) => fire.name === "shared").length >= 4, "four fires");
    const keys = got.filter(({ fire }) => fire.name === "shared").map(({ fire }) => fire.idempotencyKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toHaveLength(4);
  });
});
