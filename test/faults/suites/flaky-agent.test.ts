import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSink, type Received, type Sink } from "../../helpers/sink.js";
import { removePrefix, startTestTickler, testPrefix, type TestTickler } from "../../helpers/tickler.js";
import { waitFor } from "../../helpers/wait.js";

const FIRES = 2000;
const ATTEMPTS = 4;

describe("when the agent fails 30% of 2,000 requests (503, resets, timeouts, 429 with Retry-After)", () => {
  const prefix = testPrefix("flaky");
  let sink: Sink;
  let t: TestTickler;
  const faults = { s503: 0, reset: 0, timeout: 0, s429: 0 };

  beforeAll(async () => {
    sink = await startSink((_r: Received) => {
      const dice = Math.random();
      if (dice < 0.1) return (faults.s503++, { status: 503 });
      if (dice < 0.17) return (faults.reset++, { destroy: true });
      if (dice < 0.23) return (faults.timeout++, { holdMs: 1500 });
      if (dice < 0.3) return (faults.s429++, { status: 429, headers: { "retry-after": "1" } });
      return {};
    });
    t = await startTestTickler(prefix, {
      agents: { default: { url: sink.url, timeout: "400ms" } },
      defaults: { retry: { attempts: ATTEMPTS, delay: "50ms", max_delay: "1s" } },
      max_triggers_per_user: FIRES,
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await sink?.close();
    await removePrefix(prefix);
  });

  it("delivers each within the retry budget or records it failed with the reason; nothing is lost, retries never exceed attempts", async () => {
    const producer = t.tickler.producer;
    for (let i = 0; i < FIRES; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          producer.upsert("flaky", `f${i + j}`, { prompt: `f${i + j}`, delay: 0.5 + Math.random() * 4 }),
        ),
      );
    }
    const done = await waitFor(
      async () => {
        const page = await producer.list("flaky", { state: "completed" }, null, FIRES);
        return page.items.length === FIRES ? page.items : null;
      },
      "every fire to reach an outcome",
      90_000,
      500,
    );

    let succeeded = 0;
    let failed = 0;
    for (const record of done) {
      const runs = await t.tickler.runs.list(`flaky/${record.spec.name}`, null, 5);
      expect(runs.items, record.spec.name).toHaveLength(1);
      const run = runs.items[0]!;
      expect(run.attempts).toBeLessThanOrEqual(ATTEMPTS);
      if (run.status === "succeeded") succeeded++;
      else {
        expect(run.status).toBe("failed");
        expect(run.error).toMatch(/gave up after \d attempts/);
        failed++;
      }
    }
    const perKey = new Map<string, number>();
    for (const request of sink.received) {
      const key = String(request.headers["idempotency-key"]);
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
    }
    expect(perKey.size).toBe(FIRES);
    expect(Math.max(...perKey.values())).toBeLessThanOrEqual(ATTEMPTS);
    expect(succeeded + failed).toBe(FIRES);
    // With a 30% failure rate and 4 attempts, fewer than 1% should exhaust them (0.3^4 ≈ 0.8%).
    expect(failed).toBeLessThan(FIRES * 0.03);
    console.log(
      `flaky agent suite: ${FIRES} fires, ${sink.received.length} requests, faults ${JSON.stringify(faults)}, ${succeeded} succeeded, ${failed} failed after ${ATTEMPTS} attempts`,
    );
  }, 150_000);
});
