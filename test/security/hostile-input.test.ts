import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL, useTickler } from "../helpers/tickler.js";

const ADMIN = "admin-token-fuzz-0123456789";
const USER = "fuzz-user-token-0123456789";

/** Strings that have broken parsers before: unicode, control characters, injection attempts, huge. */
const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "__proto__",
    "constructor",
    "../../etc/passwd",
    "%2F",
    "'; DROP TABLE triggers; --",
    "\u202e",
    "🕘",
    "0 9 * *",
    "every 0s",
    "in -5 minutes",
    "PT",
    "P1Y",
    "9999-99-99T99:99",
    "2026-02-30T09:00:00Z",
    "@reboot",
    "* * * * * * *",
    "NaN",
    "Infinity",
    "1e309",
    "x".repeat(20_000),
  ),
);
const scheduleValue = fc.oneof(
  nasty,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.constantFrom("30m", "every 5m", "0 9 * * 1-5", "2030-01-01T09:00:00Z", "in 2 hours"),
);
const triggerBody = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record(
    {
      prompt: fc.oneof(nasty, fc.constant("do the thing")),
      when: scheduleValue,
      at: scheduleValue,
      delay: scheduleValue,
      every: scheduleValue,
      cron: scheduleValue,
      timezone: fc.oneof(nasty, fc.constantFrom("UTC", "America/New_York", "Mars/Phobos")),
      payload: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant({ ["__proto__"]: { polluted: true } })),
      retry: fc.jsonValue({ maxDepth: 2 }),
      metadata: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())),
      target: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ url: nasty })),
      max_fires: fc.oneof(fc.integer(), fc.double(), nasty),
    },
    { requiredKeys: [] },
  ),
);
const pathSegment = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/),
  nasty.filter((s) => s.length < 300),
);

describe("hostile input: every answer is 2xx or a 4xx with the error shape, and only a 2xx changes state", () => {
  const fx = useTickler("fuzz", {
    role: "api",
    file: {
      tokens: [
        { token: ADMIN, role: "admin" },
        { token: USER, user_id: "fuzz" },
      ],
      agents: { default: { url: "http://127.0.0.1:9/" } },
      rate_limit: { writes: 100_000 },
      max_body_bytes: 65536,
    },
  });
  let redis: Redis;
  const state = async () => {
    const queue = fx.t.tickler.producer.fires.queue;
    const [defs, jobs, schedulers] = await Promise.all([
      redis.zcard(`${fx.prefix}:triggers`),
      queue.getJobCountByTypes("delayed", "waiting", "active"),
      queue.getJobSchedulersCount(),
    ]);
    return `${defs}/${jobs}/${schedulers}`;
  };
  const check = async (res: Response, before: string) => {
    const text = await res.text();
    expect(res.status, text.slice(0, 300)).toBeLessThan(500);
    if (res.status >= 400) {
      const body = JSON.parse(text) as { error: { code: string; message: string } };
      expect(typeof body.error.code).toBe("string");
      expect(typeof body.error.message).toBe("string");
      expect(text).not.toMatch(/\n\s+at .*\.(ts|js):\d+/);
      expect(await state()).toBe(before);
    }
  };

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(() => {
    redis?.disconnect();
  });

  it("PUT a trigger with random bodies and names", async () => {
    await fc.assert(
      fc.asyncProperty(pathSegment, pathSegment, triggerBody, async (user, name, body) => {
        const before = await state();
        const res = await fetch(
          `${fx.t.base}/v1/users/${encodeURIComponent(user)}/triggers/${encodeURIComponent(name)}`,
          {
            method: "PUT",
            headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
            body: JSON.stringify(body),
          },
        );
        await check(res, before);
      }),
      { numRuns: 1000 },
    );
  });

  it("PATCH, preview and tool calls with random arguments", async () => {
    await fx.t.api(
      "PUT",
      "/v1/users/fuzz/triggers/base",
      { prompt: "x", every: "1h" },
      { authorization: `Bearer ${ADMIN}` },
    );
    const tool = fc.constantFrom(
      "schedule_once",
      "schedule_heartbeat",
      "schedule_cron",
      "list_triggers",
      "get_trigger",
      "cancel_trigger",
      "pause_trigger",
      "preview_schedule",
      "no_such_tool",
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("patch", "preview", "tool"),
        tool,
        triggerBody,
        async (kind, name, body) => {
          const before = await state();
          const [method, path] =
            kind === "patch"
              ? ["PATCH", "/v1/users/fuzz/triggers/base"]
              : kind === "preview"
                ? ["POST", "/v1/preview"]
                : ["POST", `/v1/tools/${name}`];
          const res = await fetch(`${fx.t.base}${path}`, {
            method,
            headers: { authorization: `Bearer ${USER}`, "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          // A successful tool call or patch may change state; only failures must leave it alone.
          await check(res, before);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("malformed JSON, wrong content types, deep nesting and huge strings", async () => {
    const cases: [string, string][] = [
      ["application/json", "{"],
      ["application/json", '{"prompt": "x", "delay": "1h",}'],
      ["application/json", "[".repeat(100_000) + "]".repeat(100_000)],
      [
        "application/json",
        JSON.stringify({
          prompt: "x",
          delay: "1h",
          payload: JSON.parse('{"a":'.repeat(500) + "1" + "}".repeat(500)),
        }),
      ],
      ["application/json", JSON.stringify({ prompt: "x".repeat(60_000), delay: "1h" })],
      ["application/json", "\u0000\u0001\u0002"],
      ["text/plain", "prompt=x"],
      ["application/x-www-form-urlencoded", "prompt=x&delay=1h"],
      ["application/json; charset=latin1", '{"prompt":"x","delay":"1h"}'],
    ];
    for (const [type, body] of cases) {
      const before = await state();
      const res = await fetch(`${fx.t.base}/v1/users/fuzz/triggers/raw`, {
        method: "PUT",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": type },
        body,
      });
      expect(res.status, `${type} ${body.slice(0, 40)}`).toBeGreaterThanOrEqual(400);
      await check(res, before);
    }
    expect((await fetch(`${fx.t.base}/healthz`)).status).toBe(200);
  });

  it("stores __proto__ keys as plain data and pollutes nothing", async () => {
    const res = await fetch(`${fx.t.base}/v1/users/fuzz/triggers/proto`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: '{"prompt":"x","delay":"1h","payload":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}},"metadata":{"__proto__":"x"}}',
    });
    expect(res.status).toBeLessThan(500);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });
});
