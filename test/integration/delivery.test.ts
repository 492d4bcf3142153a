import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signWebhook } from "../../src/worker/deliver.js";
import { startSink, type Sink } from "../helpers/sink.js";
import { inMs, useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

/** With Redis's default hz 10 a delayed job may start up to ~100 ms late; allow for that and a busy machine. */
const ON_TIME_MS = 400;
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

describe("delivery to a real HTTP endpoint", () => {
  let signed: Sink;
  let a2a: Sink;
  beforeAll(async () => {
    signed = await startSink();
    a2a = await startSink();
  });
  afterAll(async () => {
    await Promise.all([signed?.close(), a2a?.close()]);
  });
  const fx = useTickler("delivery", {
    sink: true,
    file: () => ({
      agents: {
        default: { url: fx.sink.url, headers: { Authorization: "Bearer agent-secret-token" } },
        signed: { url: signed.url, signing_secret: SECRET },
        a2a: { url: a2a.url, format: "a2a" },
        agno: { url: `${fx.sink.url}/agents/researcher/runs`, format: "agentos" },
      },
    }),
  });

  const forTrigger = (name: string) => (r: { body: Record<string, unknown> }) =>
    (r.body.trigger as { name?: string } | undefined)?.name === name;

  it("delivers a one-shot at its time with the §5 body and headers", async () => {
    const at = inMs(2000);
    const put = await fx.t.api("PUT", "/v1/users/u1/triggers/stretch", {
      prompt: "Time to stretch",
      at,
      thread_key: "th-1",
      payload: { n: 1 },
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({
      id: "u1/stretch",
      kind: "once",
      state: "active",
      next_fire_at: at,
      result: "created",
    });

    const [got] = await fx.sink.waitForCount(1, 10_000, forTrigger("stretch"));
    const late = got!.at - Date.parse(at);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(ON_TIME_MS);
    expect(got!.body).toMatchObject({
      type: "tickler.fire",
      trigger: { id: "u1/stretch", user_id: "u1", name: "stretch", kind: "once" },
      prompt: "Time to stretch",
      thread_key: "th-1",
      channel: null,
      payload: { n: 1 },
      scheduled_at: at,
      attempt: 1,
      manual: false,
      catchup: false,
    });
    expect(got!.headers["idempotency-key"]).toBe(`u1/stretch@${Date.parse(at)}`);
    expect(got!.headers["authorization"]).toBe("Bearer agent-secret-token");
    expect(got!.headers["content-type"]).toBe("application/json");

    const trigger = await waitFor(async () => {
      const res = await fx.t.api("GET", "/v1/users/u1/triggers/stretch");
      return res.body.state === "completed" ? res.body : null;
    }, "the one-shot to complete");
    expect(trigger).toMatchObject({ fire_count: 1, last_status: "succeeded", next_fire_at: null });
    const runs = await fx.t.api("GET", "/v1/users/u1/triggers/stretch/runs");
    expect(runs.body.items).toHaveLength(1);
    expect(runs.body.items[0]).toMatchObject({
      status: "succeeded",
      attempts: 1,
      http_status: 200,
      run_id: got!.body.run_id,
    });
    const run = await fx.t.api("GET", `/v1/runs/${String(got!.body.run_id)}`);
    expect(run.body).toMatchObject({ status: "succeeded", trigger_id: "u1/stretch" });
  });

  it("posts an AgentOS run, form-encoded: message, session_id from the thread key, user_id", async () => {
    const put = await fx.t.api("PUT", "/v1/users/u7/triggers/agno-digest", {
      prompt: "Write the morning digest",
      at: inMs(200),
      thread_key: "sess-42",
      target: { agent: "agno" },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    const [got] = await fx.sink.waitForCount(1, 10_000, (r) => r.path.endsWith("/agents/researcher/runs"));
    expect(got!.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(Object.fromEntries(new URLSearchParams(got!.raw))).toEqual({
      message: "Write the morning digest",
      stream: "false",
      session_id: "sess-42",
      user_id: "u7",
    });
    expect(got!.headers["idempotency-key"]).toMatch(/^u7\/agno-digest@\d+$/);
  });

  it("delivers a heartbeat on its grid, one slot after another", async () => {
    const put = await fx.t.api("PUT", "/v1/users/u1/triggers/pulse", {
      prompt: "pulse",
      every: "1s",
      start_at: inMs(800),
    });
    const start = String(put.body.next_fire_at);
    const got = await fx.sink.waitForCount(3, 10_000, forTrigger("pulse"));
    const slots = got.slice(0, 3).map((r) => Date.parse(String(r.body.scheduled_at)));
    expect(slots).toEqual([Date.parse(start), Date.parse(start) + 1000, Date.parse(start) + 2000]);
    for (const r of got.slice(0, 3))
      expect(r.at - Date.parse(String(r.body.scheduled_at))).toBeLessThan(ON_TIME_MS);
    expect(new Set(got.map((r) => r.headers["idempotency-key"])).size).toBe(got.length);
    await fx.t.api("DELETE", "/v1/users/u1/triggers/pulse");
  });

  it("delivers a cron trigger at its pattern's times in its time zone", async () => {
    await fx.t.api("PUT", "/v1/users/u1/triggers/tick", {
      prompt: "tick",
      cron: "*/2 * * * * *",
      timezone: "America/New_York",
    });
    const got = await fx.sink.waitForCount(2, 10_000, forTrigger("tick"));
    for (const r of got.slice(0, 2)) {
      const slot = Date.parse(String(r.body.scheduled_at));
      expect(slot % 2000).toBe(0);
      expect(r.at - slot).toBeLessThan(ON_TIME_MS);
    }
    expect((got.at(1)!.body.trigger as { kind: string }).kind).toBe("cron");
    await fx.t.api("DELETE", "/v1/users/u1/triggers/tick");
  });

  it("signs with Standard Webhooks when the agent has a signing secret", async () => {
    await fx.t.api("PUT", "/v1/users/u1/triggers/signed", {
      prompt: "signed",
      delay: 0.2,
      target: { agent: "signed" },
    });
    const [got] = await signed.waitForCount(1);
    const id = String(got!.headers["webhook-id"]);
    const timestamp = Number(got!.headers["webhook-timestamp"]);
    expect(id).toBe(got!.body.run_id);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(10);
    expect(got!.headers["webhook-signature"]).toBe(signWebhook(SECRET, id, timestamp, got!.raw));
  });

  it("speaks A2A 1.0 SendMessage and reads a JSON-RPC error in a 200 answer as a failed attempt", async () => {
    a2a.respond((_r, i) =>
      i === 0
        ? {
            body: JSON.stringify({ jsonrpc: "2.0", id: "x", error: { code: -32603, message: "agent busy" } }),
          }
        : {
            body: JSON.stringify({
              jsonrpc: "2.0",
              id: "x",
              result: { message: { role: "ROLE_AGENT", parts: [{ text: "ok" }] } },
            }),
          },
    );
    await fx.t.api("PUT", "/v1/users/u1/triggers/a2a", {
      prompt: "Check the inbox",
      delay: 0.2,
      thread_key: "ctx-42",
      target: { agent: "a2a" },
      retry: { delay: 0.05 },
    });
    const got = await a2a.waitForCount(2);
    expect(got[0]!.headers["a2a-version"]).toBe("1.0");
    expect(got[0]!.body).toMatchObject({
      jsonrpc: "2.0",
      method: "SendMessage",
      params: { message: { role: "ROLE_USER", contextId: "ctx-42", parts: [{ text: "Check the inbox" }] } },
    });
    const runId = (got[0]!.body.params as { message: { messageId: string } }).message.messageId;
    expect(got[1]!.headers["idempotency-key"]).toBe(got[0]!.headers["idempotency-key"]);
    const run = await waitFor(async () => {
      const res = await fx.t.api("GET", `/v1/runs/${runId}`);
      return res.body.status === "succeeded" ? res.body : null;
    }, "the A2A run to succeed");
    expect(run.attempts).toBe(2);
  });
});
