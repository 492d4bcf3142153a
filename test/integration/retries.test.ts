import { describe, expect, it } from "vitest";
import { type Received, type Sink } from "../helpers/sink.js";
import { useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

describe("when the agent endpoint is flaky", () => {
  const fx = useTickler("retries", {
    sink: (r) => {
      const steps = script.get(nameOf(r)) ?? [];
      const seen = fx.sink.received.filter((x) => nameOf(x) === nameOf(r)).length - 1;
      return steps[seen]?.(r) ?? {};
    },
    file: () => ({ agents: { default: { url: fx.sink.url, timeout: "500ms" } } }),
  });
  /** Per trigger name, the answers to give, in order; past the list the sink answers 200. */
  const script = new Map<string, ((r: Received) => ReturnType<Parameters<Sink["respond"]>[0]>)[]>();
  const nameOf = (r: Received): string => String((r.body.trigger as { name?: string } | undefined)?.name);
  const runOf = async (name: string, status: string) =>
    waitFor(
      async () => {
        const res = await fx.t.api("GET", `/v1/users/flaky/triggers/${name}/runs`);
        const run = res.body.items?.[0];
        return run?.status === status ? run : null;
      },
      `run of ${name} to be ${status}`,
      10_000,
    );

  it("retries a 503 and then succeeds, with one idempotency key for the slot", async () => {
    script.set("r503", [() => ({ status: 503 }), () => ({ status: 503 })]);
    await fx.t.api("PUT", "/v1/users/flaky/triggers/r503", {
      prompt: "x",
      delay: 0.1,
      retry: { attempts: 5, delay: 0.05 },
    });
    const got = await fx.sink.waitForCount(3, 10_000, (r) => nameOf(r) === "r503");
    expect(new Set(got.map((r) => r.headers["idempotency-key"])).size).toBe(1);
    expect(got.map((r) => r.body.attempt)).toEqual([1, 2, 3]);
    expect(new Set(got.map((r) => r.body.run_id)).size).toBe(1);
    const run = await runOf("r503", "succeeded");
    expect(run).toMatchObject({ attempts: 3, http_status: 200, error: null });
  });

  it("fails a 400 at once, without retrying, and keeps the reason", async () => {
    script.set("r400", [() => ({ status: 400 })]);
    await fx.t.api("PUT", "/v1/users/flaky/triggers/r400", {
      prompt: "x",
      delay: 0.1,
      retry: { attempts: 5, delay: 0.05 },
    });
    const run = await runOf("r400", "failed");
    expect(run).toMatchObject({ attempts: 1, http_status: 400 });
    expect(run.error).toContain("HTTP 400");
    expect(fx.sink.received.filter((r) => nameOf(r) === "r400")).toHaveLength(1);
    const failed = await fx.t.tickler.producer.fires.queue.getFailed();
    expect(failed.some((job) => job.data.tid === "flaky/r400")).toBe(true);
    const trigger = (await fx.t.api("GET", "/v1/users/flaky/triggers/r400")).body;
    expect(trigger).toMatchObject({ state: "completed", last_status: "failed" });
  });

  it("honours Retry-After (seconds) on a 429", async () => {
    script.set("r429", [() => ({ status: 429, headers: { "retry-after": "1" } })]);
    await fx.t.api("PUT", "/v1/users/flaky/triggers/r429", {
      prompt: "x",
      delay: 0.1,
      retry: { attempts: 3, delay: 0.01 },
    });
    const [first, second] = await fx.sink.waitForCount(2, 10_000, (r) => nameOf(r) === "r429");
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    await runOf("r429", "succeeded");
  });

  it("caps Retry-After at the trigger's max_delay", async () => {
    script.set("rcap", [() => ({ status: 503, headers: { "retry-after": "3600" } })]);
    await fx.t.api("PUT", "/v1/users/flaky/triggers/rcap", {
      prompt: "x",
      delay: 0.1,
      retry: { attempts: 3, delay: 0.01, max_delay: 0.3 },
    });
    const [first, second] = await fx.sink.waitForCount(2, 10_000, (r) => nameOf(r) === "rcap");
    expect(second!.at - first!.at).toBeLessThan(2000);
  });

  it("retries a timeout and a reset connection, and gives up after `attempts` with the reason", async () => {
    script.set("rdead", [() => ({ holdMs: 2000 }), () => ({ destroy: true }), () => ({ status: 502 })]);
    await fx.t.api("PUT", "/v1/users/flaky/triggers/rdead", {
      prompt: "x",
      delay: 0.1,
      retry: { attempts: 3, delay: 0.05 },
    });
    const run = await runOf("rdead", "failed");
    expect(run.attempts).toBe(3);
    expect(run.error).toContain("gave up after 3 attempts");
    expect(fx.sink.received.filter((r) => nameOf(r) === "rdead")).toHaveLength(3);
  });

  it("shows a retrying run while it waits for its next attempt", async () => {
    script.set("rwait", [() => ({ status: 503, headers: { "retry-after": "2" } })]);
    await fx.t.api("PUT", "/v1/users/flaky/triggers/rwait", {
      prompt: "x",
      delay: 0.1,
      retry: { attempts: 2 },
    });
    const run = await runOf("rwait", "retrying");
    expect(run).toMatchObject({ attempts: 1, http_status: 503 });
    expect(Date.parse(run.next_attempt_at)).toBeGreaterThan(Date.now());
    await runOf("rwait", "succeeded");
  });
});
