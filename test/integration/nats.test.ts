import { headers as natsHeaders } from "nats";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { NATS_URL, useStream } from "../helpers/nats.js";
import { inMs, useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

describe("NATS targets", () => {
  const stream = useStream("nats");
  const subject = (name: string) => `${stream.subjects}.${name}`;
  const fx = useTickler("nats", {
    file: () => ({
      allow_target_urls: true,
      agents: {
        default: { nats: { url: NATS_URL, subject: subject("turns"), jetstream: true } },
        nostream: { nats: { url: NATS_URL, subject: "tt.nowhere.turns", jetstream: true }, timeout: "2s" },
        core: { nats: { url: NATS_URL, subject: subject("core") } },
        goals: { nats: { url: NATS_URL, subject: subject("goals"), jetstream: true, dispatch: "goal" } },
        tasks: { nats: { url: NATS_URL, subject: subject("tasks"), jetstream: true, dispatch: "task" } },
      },
    }),
  });
  const runsOf = async (user: string, name: string) =>
    (await fx.t.api("GET", `/v1/users/${user}/triggers/${name}/runs`)).body.items as Record<
      string,
      unknown
    >[];
  const settled = (user: string, name: string) =>
    waitFor(async () => {
      const [run] = await runsOf(user, name);
      return run && ["succeeded", "failed"].includes(run.status as string) ? run : undefined;
    }, `the run of ${user}/${name} to settle`);
  const onSubject = async (name: string) =>
    (await stream.messages()).filter((m) => m.subject === subject(name));

  it("publishes a fire to JetStream with Nats-Msg-Id = the slot's idempotency key", async () => {
    const put = await fx.t.api("PUT", "/v1/users/u1/triggers/ping", {
      prompt: "Check the inbox",
      at: inMs(300),
      thread_key: "th-1",
      payload: { n: 1 },
    });
    expect(put.status).toBe(201);
    const run = await settled("u1", "ping");
    expect(run).toMatchObject({ status: "succeeded", attempts: 1 });
    const [message, ...more] = await onSubject("turns");
    expect(more).toHaveLength(0);
    expect(message!.body).toMatchObject({
      type: "tickler.fire",
      run_id: run.run_id,
      trigger: { id: "u1/ping", user_id: "u1", name: "ping", kind: "once" },
      prompt: "Check the inbox",
      thread_key: "th-1",
      payload: { n: 1 },
    });
    expect(message!.headers?.get("Nats-Msg-Id")).toMatch(/^u1\/ping@\d+$/);
    expect(message!.headers?.get("Tickler-Run-Id")).toBe(run.run_id);
  });

  it("counts a publish JetStream already holds (a re-delivery after a crash) as delivered, and stores it once", async () => {
    const at = Date.now() + 600;
    const slot = Math.ceil(at / 1000) * 1000; // whole seconds, so the key is known in advance
    const key = `u1/again@${slot}`;
    // What a worker that died after publishing (before recording the run) left in the stream.
    const headers = natsHeaders();
    headers.set("Nats-Msg-Id", key);
    await stream.nc.jetstream().publish(subject("turns"), new TextEncoder().encode('{"first":true}'), {
      msgID: key,
      headers,
    });
    await fx.t.api("PUT", "/v1/users/u1/triggers/again", {
      prompt: "Again",
      at: new Date(slot).toISOString(),
    });
    expect(await settled("u1", "again")).toMatchObject({ status: "succeeded", attempts: 1 });
    const stored = (await onSubject("turns")).filter((m) => m.headers?.get("Nats-Msg-Id") === key);
    expect(stored.map((m) => m.body)).toEqual([{ first: true }]);
  });

  it("fails a fire for good, saying how to fix it, when no stream listens on the subject", async () => {
    await fx.t.api("PUT", "/v1/users/u1/triggers/lost", {
      prompt: "Nowhere",
      at: inMs(200),
      target: { agent: "nostream" },
    });
    const run = await settled("u1", "lost");
    expect(run).toMatchObject({ status: "failed", attempts: 1 });
    expect(run.error).toMatch(/no JetStream stream listens on subject tt\.nowhere\.turns: add one/);
  });

  it("publishes on core NATS to a subscriber when jetstream is off", async () => {
    const sub = stream.nc.subscribe(subject("core"), { max: 1 });
    await stream.nc.flush();
    await fx.t.api("PUT", "/v1/users/u1/triggers/core", {
      prompt: "Core",
      at: inMs(200),
      target: { agent: "core" },
    });
    for await (const message of sub) {
      expect(JSON.parse(new TextDecoder().decode(message.data))).toMatchObject({ prompt: "Core" });
      expect(message.headers?.get("Nats-Msg-Id")).toMatch(/^u1\/core@/);
    }
    expect(await settled("u1", "core")).toMatchObject({ status: "succeeded" });
  });

  it("publishes Loom's OrchestratorGoal and TaskMessage shapes, the payload as their config", async () => {
    await fx.t.api("PUT", "/v1/users/ops/triggers/hourly", {
      prompt: "Summarize all new documents from the last hour",
      at: inMs(200),
      target: { agent: "goals" },
      payload: { context: { source: "incoming_docs" }, priority: "high" },
    });
    await fx.t.api("PUT", "/v1/users/ops/triggers/health", {
      prompt: "health check",
      at: inMs(200),
      target: { agent: "tasks" },
      payload: { worker_type: "health_checker", payload: { check: "system_status" }, model_tier: "local" },
    });
    const goalRun = await settled("ops", "hourly");
    const taskRun = await settled("ops", "health");
    const [goal] = await onSubject("goals");
    expect(goal!.body).toEqual({
      goal_id: goalRun.run_id,
      instruction: "Summarize all new documents from the last hour",
      context: { source: "incoming_docs" },
      priority: "high",
      created_at: expect.any(String),
    });
    const [task] = await onSubject("tasks");
    expect(task!.body).toMatchObject({
      task_id: taskRun.run_id,
      worker_type: "health_checker",
      payload: { check: "system_status" },
      model_tier: "local",
      priority: "normal",
      metadata: { scheduled_by: "health" },
    });
  });

  it("fans a Loom task out to one TaskMessage per context, the context in the task's payload, one message id each", async () => {
    const at = inMs(200);
    await fx.t.api("PUT", "/v1/users/ops/triggers/per-feed", {
      prompt: "refresh",
      at,
      target: { agent: "tasks" },
      payload: { worker_type: "feed_refresher", payload: { depth: 1 } },
      expand: {
        items: [
          { key: "hn", feed: "https://hn" },
          { key: "lobsters", feed: "https://lobste.rs" },
        ],
      },
    });
    const run = await settled("ops", "per-feed");
    expect(run).toMatchObject({ status: "succeeded", children: { total: 2, succeeded: 2 } });
    const tasks = (await onSubject("tasks")).filter(
      (m) => (m.body.metadata as { scheduled_by?: string }).scheduled_by === "per-feed",
    );
    expect(tasks.map((m) => [m.body.task_id, m.body.payload])).toEqual(
      expect.arrayContaining([
        [`${run.run_id}~hn`, { depth: 1, key: "hn", feed: "https://hn" }],
        [`${run.run_id}~lobsters`, { depth: 1, key: "lobsters", feed: "https://lobste.rs" }],
      ]),
    );
    expect(new Set(tasks.map((m) => m.headers?.get("Nats-Msg-Id")))).toEqual(
      new Set([`ops/per-feed@${Date.parse(at)}#hn`, `ops/per-feed@${Date.parse(at)}#lobsters`]),
    );
  });

  it("refuses a Loom task without a worker_type when it is written, not when it fires", async () => {
    const put = await fx.t.api("PUT", "/v1/users/ops/triggers/bad-task", {
      prompt: "x",
      every: "1h",
      target: { agent: "tasks" },
      payload: { payload: {} },
    });
    expect(put.status).toBe(400);
    expect(put.body.error).toMatchObject({ code: "invalid_field", field: "payload.worker_type" });
    const bad = await fx.t.api("PUT", "/v1/users/ops/triggers/bad-goal", {
      prompt: "x",
      every: "1h",
      target: { agent: "goals" },
      payload: { priority: "urgent" },
    });
    expect(bad.body.error).toMatchObject({ code: "invalid_field", field: "payload.priority" });
    expect((await fx.t.api("GET", "/v1/users/ops/triggers/bad-task")).status).toBe(404);
  });

  it("takes a trigger's own NATS target (admins, allow_target_urls) and shows it back", async () => {
    const put = await fx.t.api("PUT", "/v1/users/u2/triggers/own", {
      prompt: "Own subject",
      at: inMs(200),
      target: { nats: { url: NATS_URL, subject: subject("own"), jetstream: true } },
    });
    expect(put.status).toBe(201);
    expect(put.body.target).toEqual({
      nats: { url: NATS_URL, subject: subject("own"), jetstream: true, dispatch: null },
    });
    expect(await settled("u2", "own")).toMatchObject({ status: "succeeded" });
    expect(await onSubject("own")).toHaveLength(1);
    for (const [target, field] of [
      [{ nats: { url: "http://x", subject: "a.b" } }, "target.nats.url"],
      [{ nats: { url: NATS_URL, subject: "a.*" } }, "target.nats.subject"],
      [{ nats: { url: NATS_URL } }, "target.nats.subject"],
    ] as const) {
      const bad = await fx.t.api("PUT", "/v1/users/u2/triggers/bad", { prompt: "x", every: "1h", target });
      expect(bad.status, JSON.stringify(target)).toBe(400);
      expect(bad.body.error.field).toBe(field);
    }
  });
});

describe("NATS agents in config", () => {
  const load = (agents: Record<string, unknown>, more: Record<string, unknown> = {}) =>
    loadConfig({ env: {}, file: { agents, ...more } });

  it("defaults a Loom dispatch's subject to Loom's incoming subjects", () => {
    const config = load({
      goals: { nats: { url: NATS_URL, dispatch: "goal" } },
      tasks: { nats: { url: NATS_URL, dispatch: "task", jetstream: true } },
    });
    expect(config.agents.get("goals")!.nats).toEqual({
      servers: NATS_URL,
      subject: "loom.goals.incoming",
      jetstream: false,
      dispatch: "goal",
    });
    expect(config.agents.get("tasks")!.nats?.subject).toBe("loom.tasks.incoming");
  });

  it("refuses what cannot work, naming the key", () => {
    expect(() => load({ a: { url: "http://x", nats: { url: NATS_URL, subject: "s" } } })).toThrow(
      /agents\.a publishes to NATS, so url \(HTTP settings\) cannot be set beside nats/,
    );
    expect(() => load({ a: { nats: { url: "redis://x", subject: "s" } } })).toThrow(
      /agents\.a\.nats\.url: a NATS server URL starts nats:\/\/ or tls:\/\//,
    );
    expect(() => load({ a: { nats: { url: NATS_URL } } })).toThrow(
      /agents\.a\.nats\.subject: a NATS target needs/,
    );
    expect(() => load({ a: {} })).toThrow(/agents\.a needs a url \(http or https\) or a nats/);
    expect(() =>
      load({ ops: { nats: { url: NATS_URL, subject: "s" } } }, { notify: { agent: "ops" } }),
    ).toThrow(/notify\.agent "ops" publishes to NATS/);
  });
});
