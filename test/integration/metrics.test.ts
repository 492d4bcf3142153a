import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import { startTickler } from "../../src/runtime.js";
import { removePrefix, testConfig, testPrefix, useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

const ADMIN = "admin-token-metrics-0123456789";
const ALICE = "alice-token-metrics-0123456789";
const tokens = [
  { token: ADMIN, role: "admin" },
  { token: ALICE, user_id: "alice" },
];

/** The value of one sample line of a Prometheus text exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("metrics and status", () => {
  const fx = useTickler("metrics", {
    sink: (r) => (r.body.prompt === "flaky" && r.body.attempt === 1 ? { status: 503 } : {}),
    file: () => ({ tokens, agents: { default: { url: fx.sink.url } } }),
  });
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const scrape = async (headers: Record<string, string> = as(ADMIN)) => {
    const res = await fetch(`${fx.t.base}/metrics`, { headers });
    return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
  };

  it("keeps /metrics for admins (401 anonymous, 403 for a user)", async () => {
    expect((await scrape({})).status).toBe(401);
    expect((await scrape(as(ALICE))).status).toBe(403);
    const ok = await scrape();
    expect(ok.status).toBe(200);
    expect(ok.type).toContain("text/plain");
  });

  it("counts fires by kind and outcome, retries, delivery time and lateness, and reads queue and trigger gauges from Redis", async () => {
    await fx.t.api("PUT", "/v1/users/alice/triggers/ok", { prompt: "ok", delay: 0.05 }, as(ADMIN));
    await fx.t.api(
      "PUT",
      "/v1/users/alice/triggers/flaky",
      { prompt: "flaky", delay: 0.05, retry: { delay: 0.05 } },
      as(ADMIN),
    );
    await fx.t.api("PUT", "/v1/users/alice/triggers/later", { prompt: "later", every: "1h" }, as(ADMIN));
    const text = await waitFor(async () => {
      const { text } = await scrape();
      return sample(text, 'tickler_fires_total{kind="once",outcome="succeeded"}') === 2 ? text : null;
    }, "two succeeded fires in the metrics");
    expect(sample(text, 'tickler_retries_total{kind="once"}')).toBe(1);
    expect(sample(text, 'tickler_fire_lateness_seconds_count{kind="once"}')).toBe(2);
    expect(sample(text, 'tickler_delivery_duration_seconds_count{outcome="succeeded"}')).toBe(2);
    expect(sample(text, 'tickler_delivery_duration_seconds_count{outcome="retryable"}')).toBe(1);
    expect(sample(text, 'tickler_triggers{kind="once",state="completed"}')).toBe(2);
    expect(sample(text, 'tickler_triggers{kind="heartbeat",state="active"}')).toBe(1);
    expect(sample(text, 'tickler_queue_jobs{state="delayed"}')).toBe(1);
    expect(sample(text, "tickler_job_schedulers")).toBe(1);
    expect(sample(text, "tickler_workers")).toBeGreaterThanOrEqual(1);
    expect(text).toContain("tickler_process_cpu_seconds_total");
  });

  it("reports status: version, roles, backend, Redis, workers; trigger counts to admins only", async () => {
    const admin = await fx.t.api("GET", "/v1/status", undefined, as(ADMIN));
    expect(admin.status).toBe(200);
    expect(admin.body).toMatchObject({
      version: "0.1.0",
      roles: ["all"],
      backend: "bullmq",
      redis: "up",
      prefix: fx.prefix,
    });
    expect(admin.body.workers).toBeGreaterThanOrEqual(1);
    expect(admin.body.triggers).toMatchObject({ "heartbeat:active": 1 });
    const user = await fx.t.api("GET", "/v1/status", undefined, as(ALICE));
    expect(user.body.triggers).toBeUndefined();
    expect((await fx.t.api("GET", "/v1/status")).status).toBe(401);
  });
});

describe("a worker-only process", () => {
  const prefix = testPrefix("wmetrics");
  afterAll(() => removePrefix(prefix));

  it("serves /metrics and /healthz on TICKLER_METRICS_PORT, with public metrics when configured", async () => {
    const config = testConfig(prefix, { metrics: { public: true } }, { TICKLER_METRICS_PORT: "0" });
    const worker = await startTickler(config, "worker", createLogger("silent"));
    try {
      const base = `http://127.0.0.1:${worker.port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain("tickler_workers");
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      await worker.close();
    }
  });
});
