import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSink, type Received, type Sink } from "../helpers/sink.js";
import {
  removePrefix,
  startTestTickler,
  testPrefix,
  type TestTickler,
  useTickler,
} from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

const nameOf = (r: Received): string => String((r.body.trigger as { name?: string } | undefined)?.name);

interface WireRun {
  run_id: string;
  scheduled_at: string;
  finished_at: string | null;
  status: string;
  catchup: boolean;
}

describe("when workers were down while slots came due", () => {
  const prefix = testPrefix("missed");
  let sink: Sink;
  let api: TestTickler;
  let worker: TestTickler | undefined;
  const agents = () => ({ agents: { default: { url: sink.url } } });
  const runsOf = async (name: string): Promise<WireRun[]> =>
    (await api.api("GET", `/v1/users/m/triggers/${name}/runs?limit=500`)).body.items as WireRun[];

  beforeAll(async () => {
    sink = await startSink();
    api = await startTestTickler(prefix, agents(), "api");
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await sink?.close();
    await removePrefix(prefix);
  });

  it("applies each missed_policy to the slots that came due, and records every slot once", async () => {
    // start_at leaves room for the four writes even on a loaded machine; each trigger's first slot is start.
    const start = Date.now() + 1000;
    const common = { every: "1s", start_at: new Date(start).toISOString(), misfire_grace: "200ms" };
    const created = [
      await api.api("PUT", "/v1/users/m/triggers/skip", { prompt: "skip", missed_policy: "skip", ...common }),
      await api.api("PUT", "/v1/users/m/triggers/once", {
        prompt: "once",
        missed_policy: "run_once",
        ...common,
      }),
      await api.api("PUT", "/v1/users/m/triggers/all", {
        prompt: "all",
        missed_policy: "run_all",
        ...common,
      }),
      await api.api("PUT", "/v1/users/m/triggers/window", {
        prompt: "window",
        missed_policy: "run_all",
        catchup_window: "1500ms",
        ...common,
      }),
    ];
    for (const res of created) expect(res.body.next_fire_at).toBe(new Date(start).toISOString());

    // No worker runs for ~3.5 s: slots start, start+1s, start+2s, start+3s come due and nobody delivers them.
    await waitFor(() => Date.now() > start + 3200, "the outage to span several slots", 10_000);
    const restartedAt = Date.now();
    worker = await startTestTickler(prefix, agents(), "worker");

    const settle = async (name: string): Promise<WireRun[]> =>
      waitFor(
        async () => {
          const runs = await runsOf(name);
          const late = runs.filter((r) => Date.parse(r.scheduled_at) < restartedAt - 200);
          return late.length >= 3 && late.every((r) => r.status === "missed" || r.status === "succeeded")
            ? late
            : null;
        },
        `late slots of ${name} to be settled`,
        10_000,
      );

    const lateSlots = (runs: WireRun[]) => runs.map((r) => Date.parse(r.scheduled_at)).sort((a, b) => a - b);
    const expectGrid = (runs: WireRun[]) => {
      const slots = lateSlots(runs);
      expect(slots[0]).toBe(start);
      slots.forEach((slot, i) => expect(slot).toBe(start + i * 1000));
    };

    const skip = await settle("skip");
    expectGrid(skip);
    expect(skip.every((r) => r.status === "missed")).toBe(true);

    const once = await settle("once");
    expectGrid(once);
    const onceDelivered = once.filter((r) => r.status === "succeeded");
    expect(onceDelivered).toHaveLength(1);
    expect(Date.parse(onceDelivered[0]!.scheduled_at)).toBe(Math.max(...lateSlots(once)));
    expect(onceDelivered[0]!.catchup).toBe(true);

    // The catch-ups run one after another; they are done when every slot before the first live one
    // (the next slot BullMQ planned after the outage) has been delivered.
    const all = await waitFor(async () => {
      const runs = await runsOf("all");
      const live = runs.filter((r) => !r.catchup).map((r) => Date.parse(r.scheduled_at));
      if (live.length === 0) return null;
      const catchups = runs.filter((r) => r.catchup);
      const expected = (Math.min(...live) - start) / 1000;
      return catchups.length === expected && catchups.every((r) => r.status === "succeeded")
        ? catchups
        : null;
    }, "every missed slot of run_all to be delivered");
    expectGrid(all);
    expect(all.every((r) => r.catchup)).toBe(true);
    const allDeliveries = sink.received.filter((r) => nameOf(r) === "all" && r.body.catchup === true);
    expect(allDeliveries.map((r) => Date.parse(String(r.body.scheduled_at)))).toEqual(lateSlots(all));

    const windowed = await waitFor(async () => {
      const runs = await settle("window");
      return runs.filter((r) => r.status === "succeeded").length >= 1 ? runs : null;
    }, "the windowed run_all to deliver the recent slots");
    // The window is judged when the worker handles the late slot; the missed runs carry that instant.
    const decidedAt = Date.parse(String(windowed.find((r) => r.status === "missed")?.finished_at));
    expect(Number.isNaN(decidedAt)).toBe(false);
    for (const run of windowed) {
      const age = decidedAt - Date.parse(run.scheduled_at);
      expect(run.status, `slot ${run.scheduled_at}, ${age} ms old at the decision`).toBe(
        age > 1500 ? "missed" : "succeeded",
      );
    }

    // Nothing of the outage was delivered twice, and nothing skipped was delivered at all.
    const catchupKeys = sink.received
      .filter((r) => r.body.catchup === true)
      .map((r) => r.headers["idempotency-key"]);
    expect(new Set(catchupKeys).size).toBe(catchupKeys.length);
    expect(sink.received.filter((r) => nameOf(r) === "skip" && r.body.catchup === true)).toHaveLength(0);
  });
});

describe("when a slot comes while the previous run is still going", () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const fx = useTickler("overlap", {
    sink: (r) => {
      if (nameOf(r) !== "slow") return {};
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => inFlight--, 2500).unref();
      return { holdMs: 2500 };
    },
    file: () => ({ agents: { default: { url: fx.sink.url, timeout: "5s" } } }),
  });

  it("records the new slot as skipped_overlap and never runs two at once (overlap: skip)", async () => {
    await fx.t.api("PUT", "/v1/users/o/triggers/slow", {
      prompt: "slow",
      every: "1s",
      start_at: new Date(Date.now() + 200).toISOString(),
    });
    const runs = await waitFor(
      async () => {
        const res = await fx.t.api("GET", "/v1/users/o/triggers/slow/runs");
        const items = res.body.items as WireRun[];
        return items.some((r) => r.status === "skipped_overlap") &&
          items.some((r) => r.status === "succeeded")
          ? items
          : null;
      },
      "a skipped slot and a finished one",
      10_000,
    );
    await fx.t.api("POST", "/v1/users/o/triggers/slow/pause");
    expect(maxInFlight).toBe(1);
    const skipped = runs.filter((r) => r.status === "skipped_overlap");
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    const delivered = new Set(
      fx.sink.received.filter((r) => nameOf(r) === "slow").map((r) => r.body.scheduled_at),
    );
    for (const run of skipped) expect(delivered.has(run.scheduled_at)).toBe(false);
  });
});

describe("when an iteration is picked up more than one period late (BullMQ then skips slots)", () => {
  // The first delivery holds the only worker slot for 2.5 s, so the next iteration starts 1.5 s late.
  const fx = useTickler("skipped", {
    sink: (_r, i) => (i === 0 ? { holdMs: 2500 } : {}),
    file: () => ({ agents: { default: { url: fx.sink.url, timeout: "5s" } } }),
    env: { TICKLER_CONCURRENCY: "1" },
  });

  it("delivers the skipped slots (late by less than misfire_grace), in order, and records every slot once", async () => {
    const put = await fx.t.api("PUT", "/v1/users/s/triggers/beat", {
      prompt: "beat",
      every: "1s",
      start_at: new Date(Date.now() + 500).toISOString(),
    });
    const start = Date.parse(put.body.next_fire_at);
    const got = await fx.sink.waitForCount(5, 15_000);
    await fx.t.api("POST", "/v1/users/s/triggers/beat/pause");
    const slots = got.map((r) => Date.parse(String(r.body.scheduled_at)));
    expect(slots.slice(0, 5)).toEqual([0, 1, 2, 3, 4].map((k) => start + k * 1000));
    expect(got.slice(0, 5).every((r) => r.body.catchup === false)).toBe(true);
    const runs = (await fx.t.api("GET", "/v1/users/s/triggers/beat/runs")).body.items as WireRun[];
    const first5 = runs.filter((r) => Date.parse(r.scheduled_at) <= start + 4000);
    expect(first5.map((r) => Date.parse(r.scheduled_at)).sort()).toEqual(
      [0, 1, 2, 3, 4].map((k) => start + k * 1000),
    );
    expect(first5.every((r) => r.status === "succeeded")).toBe(true);
  });
});
