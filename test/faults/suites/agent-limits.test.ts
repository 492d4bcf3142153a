import { describe, expect, it } from "vitest";
import { spawnTickler, useFleet } from "../../helpers/processes.js";
import { maxConcurrent, type Received } from "../../helpers/sink.js";
import { waitFor } from "../../helpers/wait.js";

const FIRES = 2_000;
const RATED = 100;
const OUTAGE_FIRES = 1_000;
const OUTAGE_MS = 30_000;

/** Whether the "flaky" agent is down (answers 503). */
let flakyDown = false;

/**
 * Agents' limits hold across a fleet of three worker processes (issue #15): the sink is one real HTTP
 * server; each agent is a path of it with its own limits, shared by every worker through Redis.
 */
describe("a fleet of three workers sending to agents with limits", () => {
  const fleet = useFleet("limits", {
    workers: 3,
    holdMs: 0,
    responder: (request) => {
      if (request.path === "/turns/narrow") return { holdMs: 20 };
      if (request.path === "/turns/flaky") return flakyDown ? { status: 503 } : {};
      return {};
    },
    agents: {
      narrow: { max_in_flight: 5 },
      paced: { rate: { requests: 20, per: "1s" } },
      flaky: { max_in_flight: 20, circuit: { failures: 5, probe_every: "2s" } },
    },
    file: {
      max_triggers_per_user: 5_000,
      defaults: { retry: { attempts: 10, delay: "200ms", max_delay: "1s" } },
    },
  });
  const at = (path: string) => (r: Received) => r.path === path;
  const fireAll = async (user: string, count: number, agent: string) => {
    const items = Array.from({ length: count }, (_, i) => ({
      userId: user,
      name: `f${i}`,
      body: { prompt: `${agent} ${i}`, delay: "1s", target: { agent } },
    }));
    const results = await fleet.api.tickler.producer.upsertMany(items, { concurrency: 64 });
    expect(results.filter((result) => "error" in result)).toEqual([]);
  };
  const keys = (requests: Received[]) => new Set(requests.map((r) => String(r.headers["idempotency-key"])));

  it("never has more than max_in_flight: 5 requests at the agent while 2,000 fires flow and a worker is SIGKILLed", async () => {
    await fireAll("narrow", FIRES, "narrow");
    await fleet.sink.waitForCount(FIRES / 4, 60_000, at("/turns/narrow"));
    // A worker dies mid-flow: its leases expire on their own, its jobs are taken over (and keep their lease).
    const victim = fleet.workers.shift()!;
    await victim.kill("SIGKILL");
    fleet.workers.push(await spawnTickler("worker", fleet.env));
    await waitFor(
      () => keys(fleet.sink.received.filter(at("/turns/narrow"))).size >= FIRES,
      "every fire",
      120_000,
    );
    const received = fleet.sink.received.filter(at("/turns/narrow"));
    await waitFor(
      () => received.filter((r) => r.answeredAt === undefined).length <= 5,
      "every answer but those cut by the kill",
      5_000,
    );
    // A request cut off by the kill ended with its worker: counted as over after the agent's hold (20 ms).
    const most = maxConcurrent(
      received.map((r) => (r.answeredAt === undefined ? { ...r, answeredAt: r.at + 20 } : r)),
    );
    const spanS = (Math.max(...received.map((r) => r.at)) - Math.min(...received.map((r) => r.at))) / 1000;
    console.log(
      `agent limits suite: max_in_flight 5, ${FIRES} fires over 3 workers, one SIGKILLed: at most ${most} at once, ` +
        `${Math.round(FIRES / spanS)} deliveries/s (a 20 ms agent allows 250/s), ${received.length - FIRES} re-sent after the kill`,
    );
    expect(most).toBeLessThanOrEqual(5);
    expect(keys(received).size).toBe(FIRES);
  }, 180_000);

  it("starts no more than rate: 20 per second, within 10 %", async () => {
    await fireAll("paced", RATED, "paced");
    const received = await fleet.sink.waitForCount(RATED, 30_000, at("/turns/paced"));
    const starts = received.map((r) => r.at).sort((a, b) => a - b);
    let busiest = 0;
    for (let i = 0; i < starts.length; i++)
      busiest = Math.max(busiest, starts.filter((t) => t >= starts[i]! && t < starts[i]! + 1000).length);
    const perSecond = (RATED - 1) / ((starts.at(-1)! - starts[0]!) / 1000);
    console.log(
      `agent limits suite: rate 20/s: busiest second ${busiest}, ${perSecond.toFixed(1)}/s on average`,
    );
    // Paced at one each 50 ms, a second holds 20 or 21 starts. The sink sees each request when its process
    // (shared with the API and the test) gets to it: under CI load a few arrive tens of ms late and bunch
    // with the next, so a window may hold one or two more (measured: 21–23).
    expect(busiest).toBeLessThanOrEqual(23);
    expect(perSecond).toBeGreaterThan(18);
    expect(perSecond).toBeLessThanOrEqual(22);
    expect(keys(received).size).toBe(RATED);
  }, 60_000);

  it("sends only probes and the requests in flight while the agent is down, and delivers every fire once it is back", async () => {
    flakyDown = true;
    const before = fleet.sink.received.length;
    await fireAll("flaky", OUTAGE_FIRES, "flaky");
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    const during = fleet.sink.received.slice(before).filter(at("/turns/flaky")).length;
    flakyDown = false;
    const delivered = () => fleet.sink.received.filter((r) => r.path === "/turns/flaky" && r.status === 200);
    await waitFor(
      () => keys(delivered()).size >= OUTAGE_FIRES,
      "every fire delivered after the outage",
      60_000,
    );
    // Five failures open the circuit; up to 20 were in flight then; one probe each 2 s after.
    const bound = 5 + 20 + Math.ceil(OUTAGE_MS / 2_000) + 1;
    console.log(
      `agent limits suite: agent down ${OUTAGE_MS / 1000} s with ${OUTAGE_FIRES} fires due: ${during} requests ` +
        `during the outage (bound ${bound}; without the circuit ~${OUTAGE_FIRES * 10} attempts), ` +
        `${keys(delivered()).size} delivered after it`,
    );
    expect(during).toBeLessThanOrEqual(bound);
    expect(keys(delivered()).size).toBe(OUTAGE_FIRES);
    expect(delivered()).toHaveLength(OUTAGE_FIRES);
  }, 120_000);
});
