import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTools, type ToolReply, type Tools } from "../../src/tools/index.js";
import { waitFor } from "../helpers/wait.js";
import { useTickler } from "../helpers/tickler.js";

const ADMIN = "admin-token-tools-0123456789";
const AGENT_TOKENS: Record<string, string> = {
  library: "",
  http: "http-user-token-0123456789",
  mcp: "mcp-user-token-0123456789",
};

type Call = (name: string, args: Record<string, unknown>) => Promise<ToolReply>;

const fx = useTickler("tools", {
  sink: true,
  file: () => ({
    tokens: [
      { token: ADMIN, role: "admin" },
      { token: AGENT_TOKENS.http, user_id: "agent-http" },
      { token: AGENT_TOKENS.mcp, user_id: "agent-mcp" },
    ],
    agents: { default: { url: fx.sink.url } },
    max_triggers_per_user: 20,
    min_interval: "10s",
  }),
});
let tools: Tools;
const clients: Client[] = [];
beforeAll(async () => {
  tools = await createTools({ producer: fx.t.tickler.producer });
});
afterAll(async () => {
  for (const client of clients) await client.close();
  await tools?.close();
});

/** The same tool calls through the three transports: the library, HTTP, and MCP over HTTP with the SDK's client. */
const TRANSPORTS: Record<string, { user: string; open: () => Promise<Call> }> = {
  library: {
    user: "agent-lib",
    open: async () => (name, args) => tools.call(name, args, { userId: "agent-lib" }),
  },
  http: {
    user: "agent-http",
    open: async () => async (name, args) => {
      const res = await fx.t.api("POST", `/v1/tools/${name}`, args, {
        authorization: `Bearer ${AGENT_TOKENS.http}`,
      });
      return res.body as ToolReply;
    },
  },
  mcp: {
    user: "agent-mcp",
    open: async () => {
      const client = new Client({ name: "test-agent", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${fx.t.base}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${AGENT_TOKENS.mcp}` } },
        }),
      );
      clients.push(client);
      return async (name, args) => {
        const result = await client.callTool({ name, arguments: args });
        const structured = result.structuredContent as Record<string, unknown>;
        return result.isError ? (structured as ToolReply) : { result: structured };
      };
    },
  },
};

describe.each(Object.entries(TRANSPORTS))("the agent tools over %s", (transport, { user, open }) => {
  let call: Call;
  const ok = async (name: string, args: Record<string, unknown>) => {
    const reply = await call(name, args);
    if (!("result" in reply)) throw new Error(`${name} failed: ${JSON.stringify(reply)}`);
    return reply.result as Record<string, any>;
  };
  beforeAll(async () => {
    call = await open();
  });

  it("schedule_once: the fire reaches the agent endpoint, with the caller as user", async () => {
    const created = await ok("schedule_once", {
      prompt: `follow up via ${transport}`,
      when: "in 1s",
      thread_key: "th-9",
      payload: '{"ticket": 42}',
    });
    expect(created).toMatchObject({
      status: "created",
      kind: "once",
      state: "active",
      id: expect.stringMatching(new RegExp(`^${user}/once-follow-up-via-`)),
    });
    expect(created.summary).toMatch(/^once at .* UTC; next /);
    const [fire] = await fx.sink.waitForCount(
      1,
      10_000,
      (r) => r.body.prompt === `follow up via ${transport}`,
    );
    expect(fire!.body).toMatchObject({
      trigger: { user_id: user, kind: "once" },
      thread_key: "th-9",
      payload: { ticket: 42 },
    });
  });

  it("repeats a call without a name as an update of the same trigger, not a duplicate", async () => {
    const args = { prompt: "stretch", when: "in 2 hours" };
    const first = await ok("schedule_once", args);
    const second = await ok("schedule_once", args);
    expect(second.id).toBe(first.id);
    expect(second.status).toBe("unchanged");
    // A strict-mode model sends null for every argument it does not use: still the same trigger.
    const nulls = await ok("schedule_once", {
      ...args,
      at: null,
      delay: null,
      timezone: null,
      name: null,
      thread_key: null,
      channel: null,
      payload: null,
    });
    expect(nulls).toMatchObject({ id: first.id, status: "unchanged" });
  });

  it("schedule_heartbeat, schedule_cron, list, get, pause, resume, preview, cancel by id and by name", async () => {
    const beat = await ok("schedule_heartbeat", {
      prompt: "poll the inbox",
      every: "every 15 minutes",
      name: "inbox",
    });
    expect(beat).toMatchObject({
      id: `${user}/inbox`,
      kind: "heartbeat",
      summary: expect.stringMatching(/^every 15m; next /),
    });
    const cron = await ok("schedule_cron", {
      prompt: "standup notes",
      cron: "0 9 * * MON-FRI",
      timezone: "America/New_York",
      name: "standup",
    });
    expect(cron.summary).toMatch(
      /^every weekday at 09:00 America\/New_York; next (Mon|Tue|Wed|Thu|Fri) \d{4}-\d\d-\d\d 09:00 America\/New_York$/,
    );
    expect(cron.next_fire_local).toMatch(/09:00 America\/New_York$/);

    const listed = await ok("list_triggers", { kind: "heartbeat" });
    expect(listed.triggers.map((x: { name: string }) => x.name)).toEqual(["inbox"]);
    const got = await ok("get_trigger", { name: "standup" });
    expect(got).toMatchObject({ prompt: "standup notes", fire_count: 0, kind: "cron" });
    expect(got.next_fires).toHaveLength(3);

    expect(await ok("pause_trigger", { name: "inbox" })).toMatchObject({
      state: "paused",
      next_fire_at: null,
    });
    expect(await ok("resume_trigger", { name: "inbox" })).toMatchObject({ state: "active" });

    const preview = await ok("preview_schedule", {
      when: "0 9 * * 1-5",
      timezone: "Europe/Berlin",
      count: 2,
    });
    expect(preview).toMatchObject({ kind: "cron", summary: "every weekday at 09:00 Europe/Berlin" });
    expect(preview.next[0].local).toMatch(/09:00 Europe\/Berlin$/);

    expect(await ok("cancel_trigger", { id: `${user}/inbox` })).toEqual({
      canceled: true,
      id: `${user}/inbox`,
    });
    expect(await ok("cancel_trigger_by_name", { name: "standup" })).toEqual({
      canceled: true,
      id: `${user}/standup`,
    });
    expect((await ok("list_triggers", { kind: "cron" })).count).toBe(0);
  });

  it("takes a JSON number as seconds for when, delay and every, and a payload as an object or a string", async () => {
    const once = await ok("schedule_once", { prompt: "numbers", delay: 90, name: "numbers" });
    expect(Date.parse(once.next_fire_at) - Date.now()).toBeGreaterThan(85_000);
    expect(Date.parse(once.next_fire_at) - Date.now()).toBeLessThanOrEqual(90_000);
    const when = await ok("schedule_once", { prompt: "when in seconds", when: 600, name: "when-number" });
    expect(Date.parse(when.next_fire_at) - Date.now()).toBeGreaterThan(590_000);
    const beat = await ok("schedule_heartbeat", { prompt: "beat", every: 900, name: "beat-number" });
    expect(beat.summary).toMatch(/^every 15m;/);
    await ok("schedule_once", {
      prompt: "object",
      delay: "1h",
      name: "payload-object",
      payload: { ticket: 42 },
    });
    await ok("schedule_once", {
      prompt: "string",
      delay: "1h",
      name: "payload-string",
      payload: '{"ticket": 7}',
    });
    expect((await fx.t.tickler.producer.get(user, "payload-object")).spec.payload).toEqual({ ticket: 42 });
    expect((await fx.t.tickler.producer.get(user, "payload-string")).spec.payload).toEqual({ ticket: 7 });
  });

  it("says what was given and what is expected, and how to call a tool whose required argument is missing", async () => {
    const negative = (await call("schedule_once", { prompt: "x", delay: -60 })) as {
      error: Record<string, string>;
    };
    expect(negative.error).toMatchObject({ code: "invalid_duration", field: "delay" });
    expect(negative.error.message).toContain(
      'expected a duration greater than zero such as "90s" or a number of seconds, got the number -60',
    );
    const wrong = (await call("schedule_once", { prompt: "x", delay: true })) as {
      error: Record<string, string>;
    };
    expect(wrong.error.message).toBe(
      'delay: expected a duration such as "90s" or a number of seconds, got true',
    );
    const list = (await call("schedule_once", { prompt: "x", delay: "1h", payload: [1] })) as {
      error: Record<string, string>;
    };
    expect(list.error).toMatchObject({ field: "payload" });
    expect(list.error.message).toMatch(/expected a JSON object.*got a list/);
    const missing = (await call("schedule_once", { when: "in 30m" })) as { error: Record<string, string> };
    expect(missing.error).toMatchObject({ code: "invalid_field", field: "prompt" });
    expect(missing.error.message).toContain("prompt: is required: What you should do when it fires");
    expect(missing.error.message).toContain('A working call: schedule_once {"prompt":');
    const noEvery = (await call("schedule_heartbeat", { prompt: "x" })) as { error: Record<string, string> };
    expect(noEvery.error.message).toMatch(
      /every: is required: The period.*A working call: schedule_heartbeat \{/,
    );
  });

  it("answers bad calls with the API's error shape and a hint, and never touches another user's triggers", async () => {
    const cron = await call("schedule_cron", { prompt: "x", cron: "0 9 * *" });
    expect(cron).toMatchObject({ error: { code: "invalid_cron", field: "cron" } });
    expect((cron as { error: { message: string } }).error.message).toContain('did you mean "0 9 * * *"');
    expect(await call("schedule_once", { prompt: "x", when: "soon" })).toMatchObject({
      error: { code: "invalid_duration", field: "when" },
    });
    expect(await call("schedule_once", { prompt: "x", when: "every 5m" })).toMatchObject({
      error: { code: "invalid_schedule" },
    });
    expect(await call("schedule_heartbeat", { prompt: "x", every: "1s" })).toMatchObject({
      error: { code: "interval_too_short" },
    });
    expect(
      await call("schedule_cron", { prompt: "x", cron: "0 9 * * *", timezone: "Mars/Phobos" }),
    ).toMatchObject({ error: { code: "invalid_timezone" } });
    expect(await call("get_trigger", { name: "nope" })).toMatchObject({ error: { code: "not_found" } });

    await fx.t.tickler.producer.upsert("victim", "secret", { prompt: "x", delay: "1h" });
    expect(await call("cancel_trigger", { id: "victim/secret" })).toMatchObject({
      error: { code: "not_found" },
    });
    expect((await fx.t.tickler.producer.get("victim", "secret")).spec.prompt).toBe("x");
  });
});

describe("tool transports", () => {
  it("lists definitions for OpenAI, Anthropic and MCP", async () => {
    const openai = await fx.t.api("GET", "/v1/tools?format=openai", undefined, {
      authorization: `Bearer ${AGENT_TOKENS.http}`,
    });
    expect(openai.body.tools.map((x: { function: { name: string } }) => x.function.name)).toContain(
      "schedule_cron",
    );
    const anthropic = await fx.t.api("GET", "/v1/tools?format=anthropic", undefined, {
      authorization: `Bearer ${AGENT_TOKENS.http}`,
    });
    expect(anthropic.body.tools[0]).toHaveProperty("input_schema");
    expect(
      (
        await fx.t.api("GET", "/v1/tools?format=gemini", undefined, {
          authorization: `Bearer ${AGENT_TOKENS.http}`,
        })
      ).status,
    ).toBe(400);
  });

  it("needs a token, answers unknown tools with 404, and makes admins say which user", async () => {
    expect((await fx.t.api("POST", "/v1/tools/list_triggers", {})).status).toBe(401);
    expect(
      (await fx.t.api("POST", "/v1/tools/nope", {}, { authorization: `Bearer ${AGENT_TOKENS.http}` })).status,
    ).toBe(404);
    const admin = await fx.t.api("POST", "/v1/tools/list_triggers", {}, { authorization: `Bearer ${ADMIN}` });
    expect(admin).toMatchObject({ status: 400, body: { error: { field: "query.user_id" } } });
    expect(
      (
        await fx.t.api(
          "POST",
          "/v1/tools/list_triggers?user_id=agent-lib",
          {},
          { authorization: `Bearer ${ADMIN}` },
        )
      ).status,
    ).toBe(200);
    expect(
      (
        await fx.t.api(
          "POST",
          "/v1/tools/list_triggers?user_id=agent-lib",
          {},
          { authorization: `Bearer ${AGENT_TOKENS.http}` },
        )
      ).status,
    ).toBe(403);
  });

  it("lists the tools over MCP with their schemas", async () => {
    const client = new Client({ name: "lister", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${fx.t.base}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${AGENT_TOKENS.mcp}` } },
      }),
    );
    clients.push(client);
    const { tools: listed } = await client.listTools();
    expect(listed.map((x) => x.name)).toEqual(tools.definitions.mcp.map((x) => x.name));
    expect(listed.find((x) => x.name === "schedule_cron")?.inputSchema.required).toContain("cron");
    const anonymous = await fetch(`${fx.t.base}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: "{}",
    });
    expect(anonymous.status).toBe(401);
  });

  it("waits for the fire of a trigger scheduled through MCP", async () => {
    await waitFor(
      () => fx.sink.received.some((r) => r.body.prompt === "follow up via mcp"),
      "the MCP-scheduled fire",
    );
  });
});
