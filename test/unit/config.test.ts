import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULTS, loadConfig } from "../../src/config/index.js";

const load = (env: Record<string, string>, file?: unknown) =>
  loadConfig({ env, cwd: "/nonexistent", ...(file === undefined ? {} : { file }) });
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("configuration", () => {
  it("has the documented defaults", () => {
    const config = load({});
    expect(config).toMatchObject({
      redisUrl: DEFAULTS.redisUrl,
      redisUrlFromEnv: false,
      host: "127.0.0.1",
      port: 3000,
      prefix: "tickler",
      concurrency: 50,
      logLevel: "info",
    });
    expect(config.minIntervalMs).toBe(10_000);
    expect(config.triggerDefaults).toMatchObject({
      missedPolicy: "run_once",
      misfireGraceMs: 30_000,
      catchupWindowMs: 86_400_000,
      overlap: "skip",
      timeoutMs: 30_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    [{ PORT: "http" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ TICKLER_CONCURRENCY: "0" }, "TICKLER_CONCURRENCY"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ TICKLER_PREFIX: "a:b" }, "TICKLER_PREFIX"],
    [{ REDIS_URL: "http://x" }, "REDIS_URL"],
    [{ REDIS_URL: "redis://127.0.0.1:6379/db1" }, "REDIS_URL"],
    [{ TICKLER_CONFIG: "/no/such/file.yaml" }, "TICKLER_CONFIG"],
  ])("stops on a bad environment value with one line naming it (%j)", (env, name) => {
    const message = configError(() => load(env));
    expect(message.startsWith(name)).toBe(true);
    expect(message).not.toContain("\n");
  });

  it.each([
    [
      { max_triggers_per_user: "1000" },
      'max_triggers_per_user: expected a whole number from 1 up, got the string "1000"; write it without quotes (e.g. max_triggers_per_user: 1000)',
    ],
    [
      { agents: [{ url: "http://127.0.0.1:8000/turns" }] },
      "agents: expected a mapping of agent names to agents, got a list (e.g. agents: { default: { url: http://127.0.0.1:8000/turns } })",
    ],
    [
      { worker: { lock_duration: true } },
      'worker.lock_duration: expected a duration such as "90s" or a number of seconds, got true',
    ],
    [{ tokens: { admin: "x" } }, "tokens: expected a list, got an object"],
    [{ schedules: [{ user_id: "ops" }] }, "schedules[0].name: is required"],
    [{ agents: { default: {} } }, "agents.default needs a url (http or https) or a nats: { url, subject }"],
  ])(
    "says what was given and what is expected, not that a value of the wrong type is missing (%j)",
    (file, line) => {
      expect(configError(() => load({}, file))).toContain(line);
    },
  );

  it("substitutes ${ENV} in YAML strings and refuses an unset one by name", () => {
    const file = { tokens: [{ token: "${ADMIN}", role: "admin" }] };
    expect(load({ ADMIN: "a-very-long-admin-token" }, file).tokens.get("a-very-long-admin-token")).toEqual({
      role: "admin",
    });
    expect(configError(() => load({}, file))).toContain("tokens[0].token uses ${ADMIN}, which is not set");
  });

  it.each([
    [{ min_interval: "soon" }, "min_interval"],
    [{ default_timezone: "Mars/Phobos" }, "default_timezone"],
    [{ tokens: [{ token: "short", role: "admin" }] }, "shorter than 16"],
    [{ agents: { a: { url: "ftp://x" } } }, "agents.a.url"],
    [{ agents: { a: { url: "http://x", signing_secret: "not base64!" } } }, "signing_secret"],
    [{ unknown_key: 1 }, "unknown_key"],
    [
      {
        schedules: [
          { user_id: "a", name: "b", prompt: "x", delay: "1h" },
          { user_id: "a", name: "b", prompt: "y", delay: "1h" },
        ],
      },
      "repeats a/b",
    ],
  ])("refuses a bad YAML value (%j)", (file, words) => {
    expect(configError(() => load({}, file))).toContain(words);
  });
});

describe("notify", () => {
  const agents = { ops: { url: "http://127.0.0.1:9/ops" } };
  it("sends to an agent from config, or to an endpoint of its own", () => {
    expect(load({}, { agents, notify: { agent: "ops" } }).notify).toEqual({ agent: "ops" });
    const own = load({}, { notify: { url: "https://ops.example/hooks", headers: { a: "b" } } }).notify;
    expect(own).toMatchObject({ endpoint: { url: "https://ops.example/hooks", headers: { a: "b" } } });
  });
  it.each([
    [{ notify: {} }, "notify needs an agent or a url"],
    [{ agents, notify: { agent: "ops", url: "https://x.example/" } }, "one of them"],
    [{ notify: { agent: "nobody" } }, 'notify.agent "nobody" is not in agents'],
    [{ notify: { url: "ftp://x.example/" } }, "notify.url must be http or https"],
    [
      { notify: { url: "https://x.example/", signing_secret: "not base64!" } },
      "notify.signing_secret must be base64",
    ],
  ])("refuses %j", (file, words) => {
    expect(configError(() => load({}, file))).toContain(words);
  });
});
