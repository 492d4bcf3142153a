import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL, testPrefix, useTickler } from "../helpers/tickler.js";

const past = new Date(Date.now() - 3600_000).toISOString();
const future = new Date(Date.now() + 3600_000).toISOString();

/** [what, body, code, field]: every bad input of the domain, each answered 4xx with its code and field. */
const BAD_BODIES: [string, unknown, string, string | undefined][] = [
  ["no schedule", { prompt: "x" }, "invalid_schedule", "when"],
  ["two schedule forms", { prompt: "x", delay: "5m", cron: "0 9 * * *" }, "invalid_schedule", "cron"],
  ["empty prompt", { prompt: "  ", delay: "5m" }, "invalid_field", "prompt"],
  ["missing prompt", { delay: "5m" }, "invalid_field", "prompt"],
  ["prompt not a string", { prompt: 5, delay: "5m" }, "invalid_field", "prompt"],
  ["oversized prompt", { prompt: "x".repeat(2000), delay: "5m" }, "too_large", "prompt"],
  [
    "oversized payload",
    { prompt: "x", delay: "5m", payload: { blob: "y".repeat(2000) } },
    "too_large",
    "payload",
  ],
  [
    "unknown time zone",
    { prompt: "x", cron: "0 9 * * *", timezone: "Mars/Phobos" },
    "invalid_timezone",
    "timezone",
  ],
  ["cron with 4 fields", { prompt: "x", cron: "0 9 * *" }, "invalid_cron", "cron"],
  ["cron out of range", { prompt: "x", cron: "61 * * * *" }, "invalid_cron", "cron"],
  ["at in the past", { prompt: "x", at: past }, "invalid_time", "at"],
  ["at with a date only", { prompt: "x", at: "2030-01-01" }, "invalid_time", "at"],
  ["at garbage", { prompt: "x", at: "next tuesday" }, "invalid_time", "at"],
  ["zero delay", { prompt: "x", delay: "0s" }, "invalid_duration", "delay"],
  ["negative delay", { prompt: "x", delay: -5 }, "invalid_duration", "delay"],
  ["vague delay", { prompt: "x", delay: "soon" }, "invalid_duration", "delay"],
  ["every below min_interval", { prompt: "x", every: "100ms" }, "interval_too_short", "every"],
  ["cron below min_interval", { prompt: "x", cron: "* * * * * *" }, "interval_too_short", "cron"],
  ["when that says nothing", { prompt: "x", when: "tomorrow morning" }, "invalid_duration", "when"],
  ["unknown field", { prompt: "x", delay: "5m", crom: "0 9 * * *" }, "invalid_field", "crom"],
  [
    "bad missed_policy",
    { prompt: "x", delay: "5m", missed_policy: "sometimes" },
    "invalid_field",
    "missed_policy",
  ],
  [
    "end before start",
    { prompt: "x", every: "1h", start_at: future, end_at: new Date(Date.now() + 60_000).toISOString() },
    "invalid_time",
    "end_at",
  ],
  [
    "retry attempts 0",
    { prompt: "x", delay: "5m", retry: { attempts: 0 } },
    "invalid_field",
    "retry.attempts",
  ],
  [
    "unknown agent",
    { prompt: "x", delay: "5m", target: { agent: "nobody" } },
    "target_not_allowed",
    "target.agent",
  ],
  [
    "target url when not allowed",
    { prompt: "x", delay: "5m", target: { url: "http://169.254.169.254/" } },
    "target_not_allowed",
    "target.url",
  ],
  ["user_id in body differs", { prompt: "x", delay: "5m", user_id: "mallory" }, "invalid_field", "user_id"],
  ["an array body", [1, 2], "invalid_request", "body"],
  ["a string body", '"hi"', "invalid_request", "body"],
];

describe("when the input is bad", () => {
  const fx = useTickler("input", {
    file: {
      min_interval: "10s",
      max_prompt_bytes: 1000,
      max_payload_bytes: 1000,
      max_body_bytes: 4096,
      max_triggers_per_user: 3,
      agents: { default: { url: "http://127.0.0.1:9/" } },
    },
  });
  let redis: Redis;
  /** What a write could have stored: trigger definitions, index entries, pending jobs, schedulers. */
  const keyCount = async () => {
    const queue = fx.t.tickler.producer.fires.queue;
    const [defs, index, jobs, schedulers] = await Promise.all([
      redis.keys(`${fx.prefix}:t:*`),
      redis.zcard(`${fx.prefix}:triggers`),
      queue.getJobCountByTypes("delayed", "waiting", "active", "prioritized"),
      queue.getJobSchedulersCount(),
    ]);
    return `${defs.length}/${index}/${jobs}/${schedulers}`;
  };

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(() => {
    redis?.disconnect();
  });

  it.each(BAD_BODIES)(
    "answers %s with 400, its code and field, and stores nothing",
    async (_what, body, code, field) => {
      const before = await keyCount();
      const res = await fx.t.api("PUT", "/v1/users/u1/triggers/bad", body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe(code);
      if (field !== undefined) expect(res.body.error.field).toBe(field);
      expect(typeof res.body.error.message).toBe("string");
      expect(res.body.error.message.length).toBeGreaterThan(10);
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+/);
      expect(await keyCount()).toBe(before);
      expect((await fx.t.api("GET", "/v1/users/u1/triggers/bad")).status).toBe(404);
    },
  );

  it("accepts a good body next to the bad ones", async () => {
    const res = await fx.t.api("PUT", "/v1/users/u1/triggers/good", { prompt: "x", when: "in 30 minutes" });
    expect(res.status).toBe(201);
    expect(res.body.kind).toBe("once");
  });

  it.each([
    ["a name with a space", "/v1/users/u1/triggers/has%20space", "invalid_name", "name"],
    ["a name with a slash", "/v1/users/u1/triggers/a%2Fb", "invalid_name", "name"],
    ["a user id starting with a dot", "/v1/users/.u/triggers/ok", "invalid_name", "user_id"],
    ["a name of 129 characters", `/v1/users/u1/triggers/${"n".repeat(129)}`, "invalid_name", "name"],
  ])("refuses %s", async (_what, path, code, field) => {
    const res = await fx.t.api("PUT", path, { prompt: "x", delay: "5m" });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code, field });
  });

  it("accepts snake_case, dots, colons and @ in names", async () => {
    const res = await fx.t.api("PUT", "/v1/users/team.a@corp/triggers/daily_digest:v2", {
      prompt: "x",
      delay: "5m",
    });
    expect(res.status).toBe(201);
    expect(res.body.id).toBe("team.a@corp/daily_digest:v2");
  });

  it("answers malformed JSON with 400, a non-JSON content type with 415, and a huge body with 413", async () => {
    const malformed = await fx.t.api("PUT", "/v1/users/u1/triggers/j", '{"prompt": ');
    expect(malformed).toMatchObject({
      status: 400,
      body: { error: { code: "invalid_request", field: "body" } },
    });
    const form = await fx.t.api("PUT", "/v1/users/u1/triggers/j", undefined, {
      "content-type": "text/plain",
    });
    expect(form).toMatchObject({ status: 415, body: { error: { code: "unsupported_media_type" } } });
    const huge = await fx.t.api("PUT", "/v1/users/u1/triggers/j", {
      prompt: "x".repeat(10_000),
      delay: "5m",
    });
    expect(huge).toMatchObject({ status: 413, body: { error: { code: "body_too_large" } } });
  });

  it("answers bad query parameters with 400 naming them", async () => {
    const ifExists = await fx.t.api("PUT", "/v1/users/u1/triggers/q?if_exists=maybe", {
      prompt: "x",
      delay: "5m",
    });
    expect(ifExists).toMatchObject({
      status: 400,
      body: { error: { code: "invalid_field", field: "query.if_exists" } },
    });
    const limit = await fx.t.api("GET", "/v1/users/u1/triggers?limit=501");
    expect(limit).toMatchObject({ status: 400, body: { error: { field: "query.limit" } } });
    const cursor = await fx.t.api("GET", "/v1/users/u1/triggers?cursor=%%%");
    expect(cursor.status).toBe(400);
  });

  it("refuses a user's trigger past max_triggers_per_user with 409 quota_exceeded", async () => {
    for (const name of ["q1", "q2", "q3"])
      expect(
        (await fx.t.api("PUT", `/v1/users/quota/triggers/${name}`, { prompt: "x", delay: "5m" })).status,
      ).toBe(201);
    const over = await fx.t.api("PUT", "/v1/users/quota/triggers/q4", { prompt: "x", delay: "5m" });
    expect(over).toMatchObject({ status: 409, body: { error: { code: "quota_exceeded" } } });
    expect((await fx.t.api("PUT", "/v1/users/quota/triggers/q1", { prompt: "y", delay: "5m" })).status).toBe(
      200,
    );
  });

  it("answers unknown routes and runs with 404 in the error shape", async () => {
    expect(await fx.t.api("GET", "/v1/nope")).toMatchObject({
      status: 404,
      body: { error: { code: "not_found" } },
    });
    expect(await fx.t.api("GET", "/v1/runs/run_doesnotexistdoesnotexi")).toMatchObject({
      status: 404,
      body: { error: { code: "not_found" } },
    });
    expect(await fx.t.api("POST", "/v1/users/u1/triggers/none/pause")).toMatchObject({ status: 404 });
  });
});

describe("bearer tokens and principals", () => {
  const ADMIN = "admin-token-0123456789abcdef";
  const ALICE = "alice-token-0123456789abcdef";
  const fx = useTickler("principals", {
    file: {
      tokens: [
        { token: ADMIN, role: "admin" },
        { token: ALICE, user_id: "alice" },
      ],
      agents: { default: { url: "http://127.0.0.1:9/" } },
    },
  });
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  it("answers 401 without a token, with a malformed one and with an unknown one", async () => {
    expect(await fx.t.api("GET", "/v1/users/alice/triggers")).toMatchObject({
      status: 401,
      body: { error: { code: "unauthorized" } },
    });
    expect(
      (await fx.t.api("GET", "/v1/users/alice/triggers", undefined, { authorization: "Basic abc" })).status,
    ).toBe(401);
    expect(
      (await fx.t.api("GET", "/v1/users/alice/triggers", undefined, as("wrong-token-0123456789"))).status,
    ).toBe(401);
    expect((await fx.t.api("GET", "/healthz")).status).toBe(200);
  });

  it("lets a user act on its own triggers only (403 for another user's)", async () => {
    expect(
      (await fx.t.api("PUT", "/v1/users/alice/triggers/mine", { prompt: "x", delay: "5m" }, as(ALICE)))
        .status,
    ).toBe(201);
    expect(
      await fx.t.api("PUT", "/v1/users/bob/triggers/theirs", { prompt: "x", delay: "5m" }, as(ALICE)),
    ).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect((await fx.t.api("GET", "/v1/users/bob/triggers", undefined, as(ALICE))).status).toBe(403);
    expect((await fx.t.api("GET", "/v1/triggers", undefined, as(ALICE))).status).toBe(403);
    expect((await fx.t.api("GET", "/v1/queue", undefined, as(ALICE))).status).toBe(403);
    expect((await fx.t.api("GET", "/v1/triggers", undefined, as(ADMIN))).status).toBe(200);
    expect((await fx.t.api("GET", "/v1/queue", undefined, as(ADMIN))).body).toMatchObject({ queue: "fires" });
    expect(
      (await fx.t.api("PUT", "/v1/users/bob/triggers/theirs", { prompt: "x", delay: "5m" }, as(ADMIN)))
        .status,
    ).toBe(201);
  });

  it("refuses target URLs from users even where admins may set them", async () => {
    const res = await fx.t.api(
      "PUT",
      "/v1/users/alice/triggers/url",
      { prompt: "x", delay: "5m", target: { url: "http://127.0.0.1:1/x" } },
      as(ALICE),
    );
    expect(res).toMatchObject({ status: 400, body: { error: { code: "target_not_allowed" } } });
  });
});

describe("listening without tokens", () => {
  it("refuses to serve the API beyond loopback, saying how to fix it", async () => {
    const { testConfig } = await import("../helpers/tickler.js");
    const { startTickler } = await import("../../src/runtime.js");
    const { createLogger } = await import("../../src/logger.js");
    const config = testConfig(testPrefix("host"), {}, { HOST: "0.0.0.0" });
    await expect(startTickler(config, "api", createLogger("silent"))).rejects.toThrow(
      /without tokens: refusing to serve the API beyond loopback; add tokens/,
    );
  });
});
