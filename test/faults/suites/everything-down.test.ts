import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Child } from "../../helpers/processes.js";
import { spawnTickler, writeConfig } from "../../helpers/processes.js";
import { startSink, type Sink } from "../../helpers/sink.js";
import { removePrefix, testPrefix } from "../../helpers/tickler.js";
import { waitFor } from "../../helpers/wait.js";

const EVERY_S = 5;
const DOWN_MS = 30_000;

interface WireRun {
  scheduled_at: string;
  finished_at: string | null;
  status: string;
  catchup: boolean;
}

describe("when every process is stopped for 30 s across several heartbeat slots", () => {
  const prefix = testPrefix("down");
  let sink: Sink;
  let env: Record<string, string>;
  let tickler: Child | undefined;

  beforeAll(async () => {
    sink = await startSink();
    env = {
      TICKLER_PREFIX: prefix,
      TICKLER_CONFIG: writeConfig({ min_interval: "1s", agents: { default: { url: sink.url } } }),
      PORT: "0",
    };
    tickler = await spawnTickler("all", env);
  }, 60_000);
  afterAll(async () => {
    await tickler?.kill("SIGKILL");
    await sink?.close();
    await removePrefix(prefix);
  });

  it("skip delivers none of the missed slots, run_once one, run_all each inside catchup_window, older ones recorded missed", async () => {
    const put = async (name: string, body: Record<string, unknown>) => {
      const res = await fetch(`${tickler!.url()}/v1/users/d/triggers/${name}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(201);
      return (await res.json()) as { next_fire_at: string };
    };
    const common = { every: `${EVERY_S}s`, misfire_grace: "1s" };
    const first = Date.parse(
      (
        await put("skip", {
          prompt: "skip",
          missed_policy: "skip",
          ...common,
          start_at: new Date(Date.now() + 2000).toISOString(),
        })
      ).next_fire_at,
    );
    const start_at = new Date(first).toISOString();
    await put("once", { prompt: "once", missed_policy: "run_once", ...common, start_at });
    await put("all", { prompt: "all", missed_policy: "run_all", catchup_window: "1m", ...common, start_at });
    await put("window", {
      prompt: "window",
      missed_policy: "run_all",
      catchup_window: "17s",
      ...common,
      start_at,
    });

    // The first slot is delivered normally; then everything stops (SIGTERM: a clean shutdown).
    await sink.waitForCount(4, 15_000);
    expect(await tickler!.kill("SIGTERM")).toBe(0);
    const downAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    tickler = await spawnTickler("all", env);
    const upAt = Date.now();

    const runsOf = async (name: string) => {
      const res = await fetch(`${tickler!.url()}/v1/users/d/triggers/${name}/runs?limit=100`);
      return ((await res.json()) as { items: WireRun[] }).items;
    };
    /** Runs of slots that came due while nothing ran, once the first live slot after the restart exists. */
    const outage = async (name: string, done: (runs: WireRun[]) => boolean) =>
      waitFor(
        async () => {
          const runs = await runsOf(name);
          const missedSlots = runs.filter(
            (r) => Date.parse(r.scheduled_at) > first && Date.parse(r.scheduled_at) < upAt - 1000,
          );
          return missedSlots.length >= Math.floor(DOWN_MS / 1000 / EVERY_S) - 1 && done(missedSlots)
            ? missedSlots
            : null;
        },
        `the outage slots of ${name} to settle`,
        40_000,
        250,
      );
    const delivered = (prompt: string) =>
      sink.received.filter(
        (r) => r.body.prompt === prompt && Date.parse(String(r.body.scheduled_at)) > first,
      );

    const skip = await outage("skip", (runs) => runs.every((r) => r.status === "missed"));
    expect(delivered("skip").filter((r) => r.body.catchup === true)).toHaveLength(0);

    const once = await outage("once", (runs) => runs.filter((r) => r.status === "succeeded").length === 1);
    expect(once.filter((r) => r.status === "missed")).toHaveLength(once.length - 1);
    expect(delivered("once").filter((r) => r.body.catchup === true)).toHaveLength(1);

    const all = await outage("all", (runs) => runs.every((r) => r.status === "succeeded"));
    const allCatchups = delivered("all").filter((r) => r.body.catchup === true);
    expect(allCatchups.map((r) => r.body.scheduled_at).sort()).toEqual(all.map((r) => r.scheduled_at).sort());

    const windowed = await outage(
      "window",
      (runs) =>
        runs.every((r) => r.status === "missed" || r.status === "succeeded") &&
        runs.some((r) => r.status === "succeeded"),
    );
    const decidedAt = Date.parse(String(windowed.find((r) => r.status === "missed")?.finished_at ?? upAt));
    for (const run of windowed)
      expect(run.status, run.scheduled_at).toBe(
        decidedAt - Date.parse(run.scheduled_at) > 17_000 ? "missed" : "succeeded",
      );
    expect(windowed.some((r) => r.status === "missed")).toBe(true);

    console.log(
      `everything-down suite: down ${Math.round((upAt - downAt) / 1000)} s, ${skip.length} slots missed per trigger; skip delivered 0, run_once 1, run_all ${allCatchups.length}, run_all with a 17 s window ${windowed.filter((r) => r.status === "succeeded").length}`,
    );
  }, 120_000);
});
