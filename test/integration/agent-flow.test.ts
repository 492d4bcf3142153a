import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { maxConcurrent, type Received } from "../helpers/sink.js";
import { openSse } from "../helpers/sse.js";
import { useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

/** Agents' fleet-wide flow control (issue #15): limits, the circuit breaker and a 429's pause. */
describe("agent flow control", () => {
  /** Whether the "breaker" agent is down (answers 500). */
  let breakerDown = true;
  const fx = useTickler("flow", {
    sink: (request) => {
      if (request.path === "/turns/limited") return { holdMs: 100 };
      if (request.path === "/turns/breaker") return breakerDown ? { status: 500 } : {};
      // The first request it gets is answered 429 with Retry-After: 2 (seconds); the rest succeed.
      if (request.path === "/turns/pausing")
        return request.body.prompt === "first" && request.body.attempt === 1
          ? { status: 429, headers: { "retry-after": "2" } }
          : {};
      return {};
    },
    file: () => ({
      agents: {
        default: { url: fx.sink.url },
        limited: { url: `${fx.sink.url}/limited`, max_in_flight: 3 },
        rated: { url: `${fx.sink.url}/rated`, rate: { requests: 5, per: "1s" } },
        breaker: { url: `${fx.sink.url}/breaker`, circuit: { failures: 3, probe_every: "1s" } },
        pausing: { url: `${fx.sink.url}/pausing`, max_in_flight: 10 },
      },
      defaults: { retry: { attempts: 10, delay: "100ms", max_delay: "200ms" } },
    }),
  });
  const to = (path: string) => (r: Received) => r.path === path;
  const fire = (user: string, count: number, agent: string, prompt = (i: number) => `p${i}`) =>
    Promise.all(
      Array.from({ length: count }, (_, i) =>
        fx.t.tickler.producer.upsert(user, `f${i}`, { prompt: prompt(i), delay: "1s", target: { agent } }),
      ),
    );
  const runsOf = async (user: string, count: number) =>
    Promise.all(
      Array.from(
        { length: count },
        async (_, i) => (await fx.t.api("GET", `/v1/users/${user}/triggers/f${i}/runs`)).body,
      ),
    );

  it("never has more than max_in_flight requests at the agent, and records how long each fire waited", async () => {
    await fire("lim", 15, "limited");
    const received = await fx.sink.waitForCount(15, 20_000, to("/turns/limited"));
    await waitFor(() => received.every((r) => r.answeredAt !== undefined), "every request answered", 5_000);
    expect(maxConcurrent(fx.sink.received.filter(to("/turns/limited")))).toBe(3);
    expect(new Set(received.map((r) => r.headers["idempotency-key"])).size).toBe(15);
    let runs: any[] = [];
    await waitFor(
      async () => {
        runs = (await runsOf("lim", 15)).map((page) => page.items[0]);
        return runs.every((run) => run?.status === "succeeded");
      },
      "every run to succeed",
      5_000,
    );
    // No attempt was spent waiting, and the fires that waited say so.
    expect(runs.every((run) => run.attempts === 1)).toBe(true);
    expect(runs.filter((run) => run.waited_ms > 0).length).toBeGreaterThanOrEqual(10);
    expect(fx.sink.received.filter(to("/turns/limited"))).toHaveLength(15);
  });

  it("paces requests at `rate`: one each per / requests", async () => {
    await fire("rate", 12, "rated");
    const received = await fx.sink.waitForCount(12, 20_000, to("/turns/rated"));
    const starts = received.map((r) => r.at).sort((a, b) => a - b);
    // Paced: one each 200 ms, never a burst of five (what the sink sees carries each request's sending
    // jitter, so one more may fall into a second).
    const busiest = Math.max(...starts.map((t) => starts.filter((u) => u >= t && u < t + 1000).length));
    expect(busiest).toBeLessThanOrEqual(6);
    expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(11 * 200 - 50);
  });

  it("opens the circuit after failures in a row, sends one probe per interval, and closes on success", async () => {
    breakerDown = true;
    const sse = await openSse(`${fx.t.base}/v1/events`);
    await fire("brk", 10, "breaker");
    await waitFor(
      async () =>
        (await fx.t.api("GET", "/v1/agents")).body.agents.find((a: any) => a.name === "breaker")?.circuit
          ?.state !== "closed",
      "the circuit to open",
      10_000,
    );
    const agents = (await fx.t.api("GET", "/v1/agents")).body.agents;
    const breaker = agents.find((a: any) => a.name === "breaker");
    expect(breaker.circuit).toMatchObject({ threshold: 3 });
    expect(breaker.circuit.reason).toMatch(/HTTP 500/);
    expect((await fx.t.api("GET", "/v1/status")).body.agents.breaker).toMatchObject({
      state: expect.stringMatching(/^(open|half_open)$/),
      reason: expect.stringMatching(/HTTP 500/),
    });
    // Down for 2.5 s more: 10 fires retrying every 100-200 ms would send ~150 requests; the circuit lets
    // through the ones in flight when it opened and about one probe a second.
    const opened = fx.sink.received.filter(to("/turns/breaker")).length;
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const during = fx.sink.received.filter(to("/turns/breaker")).length - opened;
    expect(during).toBeLessThanOrEqual(4);
    breakerDown = false;
    await waitFor(
      async () => (await runsOf("brk", 10)).every((page) => page.items[0]?.status === "succeeded"),
      "every fire delivered once the agent is back",
      15_000,
    );
    const state = (await fx.t.api("GET", "/v1/agents")).body.agents.find((a: any) => a.name === "breaker");
    expect(state.circuit.state).toBe("closed");
    // Admins' event stream told of both changes.
    await waitFor(() => sse.events.filter((e) => e.event === "agent").length >= 2, "the agent events", 5_000);
    sse.close();
    const changes = sse.events.filter((e) => e.event === "agent").map((e) => JSON.parse(e.data));
    expect(changes[0]).toMatchObject({
      agent: "breaker",
      circuit: "open",
      reason: expect.stringMatching(/HTTP 500/),
    });
    expect(changes.at(-1)).toMatchObject({ agent: "breaker", circuit: "closed", reason: null });
    const succeeded = fx.sink.received.filter((r) => r.path === "/turns/breaker" && r.status === 200);
    expect(new Set(succeeded.map((r) => r.headers["idempotency-key"])).size).toBe(10);
    expect(succeeded).toHaveLength(10);
  });

  it("pauses the whole agent for a 429's Retry-After, not just the job that got it", async () => {
    await fx.t.tickler.producer.upsert("pause", "first", {
      prompt: "first",
      delay: "1s",
      target: { agent: "pausing" },
    });
    const [first] = await fx.sink.waitForCount(1, 10_000, to("/turns/pausing"));
    await fire("pause", 5, "pausing", (i) => `later${i}`);
    const all = await fx.sink.waitForCount(7, 20_000, to("/turns/pausing"));
    // Nothing went to the agent until its Retry-After (2 s) was over; then the 429'd fire and the rest.
    const after = all.filter((r) => r !== first);
    expect(Math.min(...after.map((r) => r.at)) - first!.at).toBeGreaterThanOrEqual(1_900);
    const paused = (await fx.t.api("GET", "/v1/agents")).body.agents.find((a: any) => a.name === "pausing");
    expect(paused.paused_until).toBeNull();
  });

  it("refuses flow settings that are not numbers or durations, saying what was given", () => {
    expect(() => loadConfig({ env: {}, file: { limits: { per_user: { max_in_flight: 0 } } } })).toThrow(
      /max_in_flight.*expected a whole number from 1/,
    );
    expect(
      loadConfig({ env: {}, file: { limits: { per_user: { max_in_flight: 4 } } } }).perUserLimits,
    ).toEqual({ maxInFlight: 4, rate: null, circuit: null });
    expect(loadConfig({ env: {}, file: {} }).perUserLimits).toBeNull();
    const load = (agent: Record<string, unknown>) => () =>
      loadConfig({ env: {}, file: { agents: { a: { url: "http://127.0.0.1:9/", ...agent } } } });
    expect(load({ max_in_flight: 0 })).toThrow(/max_in_flight.*expected a whole number from 1/);
    expect(load({ max_in_flight: "5" })).toThrow(/max_in_flight.*expected a whole number/);
    expect(load({ rate: { requests: 5 } })).toThrow(/rate.*per/);
    expect(load({ rate: { requests: 5, per: "0s" } })).toThrow(
      /rate\.per: expected a duration greater than zero/,
    );
    expect(load({ circuit: { failures: "3" } })).toThrow(/failures.*expected a whole number/);
    expect(load({ circuit: {} })).not.toThrow();
    expect(load({ max_in_flight: 2 })().agents.get("a")?.flow).toEqual({
      maxInFlight: 2,
      rate: null,
      circuit: null,
    });
    expect(load({})().agents.get("a")?.flow).toBeNull();
  });
});

/** limits.per_user: one user's requests to every agent together, fleet-wide. */
describe("per-user limits", () => {
  const fx = useTickler("peruser", {
    sink: () => ({ holdMs: 100 }),
    file: () => ({
      agents: { default: { url: fx.sink.url }, second: { url: `${fx.sink.url}/second` } },
      limits: { per_user: { max_in_flight: 2 } },
    }),
  });

  it("holds a user to max_in_flight across agents, while another user's fires go on", async () => {
    const make = (user: string, i: number) =>
      fx.t.tickler.producer.upsert(user, `f${i}`, {
        prompt: `${user} ${i}`,
        delay: "1s",
        target: { agent: i % 2 === 0 ? "default" : "second" },
      });
    await Promise.all([
      ...Array.from({ length: 8 }, (_, i) => make("busy", i)),
      make("calm", 0),
      make("calm", 1),
    ]);
    const byUser = (user: string) => (r: Received) =>
      (r.body.trigger as { user_id: string }).user_id === user;
    const busy = await fx.sink.waitForCount(8, 20_000, byUser("busy"));
    await waitFor(() => busy.every((r) => r.answeredAt !== undefined), "every answer", 5_000);
    expect(maxConcurrent(busy)).toBe(2);
    expect(maxConcurrent(fx.sink.received.filter(byUser("calm")))).toBe(2);
    // The calm user's two went out at once, not after the busy user's queue.
    const calm = fx.sink.received.filter(byUser("calm"));
    expect(Math.max(...calm.map((r) => r.at)) - Math.min(...busy.map((r) => r.at))).toBeLessThan(300);
  });
});
