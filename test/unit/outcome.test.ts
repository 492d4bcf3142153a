import { describe, expect, it } from "vitest";
import { classifyA2a, encodeBody, signWebhook, type FireBody } from "../../src/worker/deliver.js";
import { afterAttempt, classifyStatus, parseRetryAfter, retryDelayMs } from "../../src/worker/outcome.js";

const policy = {
  attempts: 5,
  backoff: "exponential" as const,
  delayMs: 1000,
  maxDelayMs: 60_000,
  maxAgeMs: null,
};

describe("classifying an agent's answer", () => {
  it.each([
    [200, "succeeded"],
    [204, "succeeded"],
    [408, "retryable"],
    [425, "retryable"],
    [429, "retryable"],
    [500, "retryable"],
    [503, "retryable"],
    [301, "permanent"],
    [400, "permanent"],
    [401, "permanent"],
    [404, "permanent"],
    [410, "permanent"],
    [422, "permanent"],
  ])("HTTP %i is %s", (status, kind) => {
    expect(classifyStatus(status).kind).toBe(kind);
  });

  it("reads A2A JSON-RPC errors in a 200 answer", () => {
    expect(classifyA2a('{"jsonrpc":"2.0","id":1,"result":{"message":{}}}', 200).kind).toBe("succeeded");
    expect(classifyA2a('{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"x"}}', 200).kind).toBe(
      "retryable",
    );
    expect(
      classifyA2a('{"jsonrpc":"2.0","id":1,"error":{"code":-32009,"message":"version"}}', 200).kind,
    ).toBe("permanent");
    expect(
      classifyA2a('{"jsonrpc":"2.0","id":1,"result":{"task":{"status":{"state":"TASK_STATE_FAILED"}}}}', 200)
        .kind,
    ).toBe("permanent");
    expect(classifyA2a("<html>", 200).kind).toBe("permanent");
  });
});

describe("Retry-After", () => {
  const now = Date.parse("1994-11-06T08:49:37Z");
  it.each([
    ["120", 120_000],
    ["Sun, 06 Nov 1994 08:51:37 GMT", 120_000],
    ["Sunday, 06-Nov-94 08:51:37 GMT", 120_000],
    ["Sun Nov  6 08:51:37 1994", 120_000],
    ["Sun, 06 Nov 1994 08:00:00 GMT", 0],
  ])("reads %j", (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
  it.each(["1.5", "-3", "2026-01-01T00:00:00Z", "soon", ""])("ignores %j", (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe("retry delays", () => {
  it("backs off exponentially with equal jitter, capped at max_delay", () => {
    expect(retryDelayMs(policy, 1, undefined, 0)).toBe(500);
    expect(retryDelayMs(policy, 1, undefined, 0.999)).toBeLessThanOrEqual(1000);
    expect(retryDelayMs(policy, 3, undefined, 0)).toBe(2000);
    expect(retryDelayMs(policy, 20, undefined, 0.999)).toBeLessThanOrEqual(60_000);
  });
  it("uses Retry-After when given, capped at max_delay", () => {
    expect(retryDelayMs(policy, 1, 5000)).toBe(5000);
    expect(retryDelayMs(policy, 1, 3_600_000)).toBe(60_000);
  });
  it("waits the fixed delay with backoff: fixed", () => {
    expect(retryDelayMs({ ...policy, backoff: "fixed" }, 4, undefined, 0.5)).toBe(1000);
  });
});

describe("after an attempt: retry or give up", () => {
  const failed = { kind: "retryable", httpStatus: 503, error: "agent answered HTTP 503" } as const;
  it("retries a retryable failure until the trigger's attempts are used up, then gives up saying so", () => {
    expect(afterAttempt(failed, 1, { ...policy, attempts: 3 }, 0)).toEqual({ next: "retry", delayMs: 500 });
    expect(afterAttempt(failed, 2, { ...policy, attempts: 3 }, 0)).toEqual({ next: "retry", delayMs: 1000 });
    expect(afterAttempt(failed, 3, { ...policy, attempts: 3 })).toEqual({
      next: "give_up",
      reason: "agent answered HTTP 503 (gave up after 3 attempts)",
    });
    expect(afterAttempt({ ...failed, retryAfterMs: 7000 }, 1, { ...policy, attempts: 3 })).toEqual({
      next: "retry",
      delayMs: 7000,
    });
  });
  it("gives up at once on a permanent failure, and succeeds on a 2xx", () => {
    const permanent = { kind: "permanent", httpStatus: 404, error: "agent answered HTTP 404" } as const;
    expect(afterAttempt(permanent, 1, policy)).toEqual({
      next: "give_up",
      reason: "agent answered HTTP 404",
    });
    expect(afterAttempt({ kind: "succeeded", httpStatus: 200 }, 1, policy)).toEqual({ next: "succeeded" });
  });
});

describe("bodies and signatures", () => {
  const fire: FireBody = {
    type: "tickler.fire",
    run_id: "run_x",
    trigger: { id: "u/n", user_id: "u", name: "n", kind: "once" },
    prompt: "hello",
    thread_key: "ctx",
    channel: null,
    payload: {},
    scheduled_at: "2026-01-01T00:00:00.000Z",
    fired_at: "2026-01-01T00:00:00.010Z",
    attempt: 1,
    manual: false,
    catchup: false,
  };
  it("matches the Standard Webhooks test vector", () => {
    expect(
      signWebhook(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        '{"test": 2432232314}',
      ),
    ).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });
  it("wraps a fire as A2A 1.0 SendMessage and as 0.3 message/send", () => {
    expect(JSON.parse(encodeBody("a2a", "1.0", fire))).toMatchObject({
      jsonrpc: "2.0",
      method: "SendMessage",
      params: {
        message: { role: "ROLE_USER", messageId: "run_x", contextId: "ctx", parts: [{ text: "hello" }] },
      },
    });
    expect(JSON.parse(encodeBody("a2a", "0.3", fire))).toMatchObject({
      method: "message/send",
      params: { message: { kind: "message", role: "user", parts: [{ kind: "text", text: "hello" }] } },
    });
    expect(JSON.parse(encodeBody("json", "1.0", fire))).toEqual(fire);
  });
});
