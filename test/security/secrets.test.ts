import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import { startTickler, type Tickler } from "../../src/runtime.js";
import { startSink, type Sink } from "../helpers/sink.js";
import { removePrefix, testConfig, testPrefix } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

const ADMIN = "admin-secret-token-7f3a9c1e5b";
const ALICE = "alice-secret-token-2d8e4f6a0c";
const AGENT_TOKEN = "agent-bearer-secret-9b1c3e5d7f";
const SIGNING = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTEyMzQ1Njc4OTA=";
const URL_HEADER_SECRET = "url-target-secret-4a6c8e0b2d";
const SECRETS = [ADMIN, ALICE, AGENT_TOKEN, SIGNING, SIGNING.replace("whsec_", ""), URL_HEADER_SECRET];

describe("secrets in logs and API output", () => {
  const prefix = testPrefix("secrets");
  let sink: Sink;
  let tickler: Tickler;
  let base: string;
  const logs: string[] = [];
  const bodies: string[] = [];
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    bodies.push(text);
    return { status: res.status, text };
  };

  beforeAll(async () => {
    sink = await startSink((_r, i) => (i === 0 ? { status: 503 } : {}));
    const config = testConfig(prefix, {
      tokens: [
        { token: ADMIN, role: "admin" },
        { token: ALICE, user_id: "alice" },
      ],
      agents: {
        default: {
          url: sink.url,
          headers: { Authorization: `Bearer ${AGENT_TOKEN}` },
          signing_secret: SIGNING,
        },
      },
      allow_target_urls: true,
    });
    const logger = createLogger("trace", {}, { write: (line: string) => void logs.push(line) });
    tickler = await startTickler(config, "all", logger);
    base = `http://127.0.0.1:${tickler.port}`;
  });
  afterAll(async () => {
    await tickler?.close();
    await sink?.close();
    await removePrefix(prefix);
  });

  it("never shows a token, an agent's Authorization header or a signing secret", async () => {
    await call("PUT", "/v1/users/alice/triggers/a", ALICE, {
      prompt: "x",
      delay: 0.05,
      retry: { delay: 0.05 },
    });
    await call("PUT", "/v1/users/alice/triggers/u", ADMIN, {
      prompt: "x",
      delay: "1h",
      target: {
        url: sink.url,
        headers: { Authorization: `Bearer ${URL_HEADER_SECRET}`, "X-Trace": "visible" },
      },
      expand: { url: `${sink.url}/contexts`, headers: { "X-Api-Key": URL_HEADER_SECRET } },
    });
    await waitFor(
      async () =>
        (await call("GET", "/v1/users/alice/triggers/a", ALICE)).text.includes('"last_status":"succeeded"'),
      "the fire to succeed",
    );
    const withHeaders = await call("GET", "/v1/users/alice/triggers/u", ADMIN);
    expect(withHeaders.text).toContain('"X-Trace":"visible"');
    expect(withHeaders.text).toContain('"Authorization":"***"');
    expect(withHeaders.text).toContain('"X-Api-Key":"***"');
    await call("GET", "/v1/users/alice/triggers/a/runs", ALICE);
    await call("GET", "/v1/triggers", ADMIN);
    await call("GET", "/v1/status", ADMIN);
    await call("GET", "/v1/users/bob/triggers", ALICE);
    await call("GET", "/v1/users/alice/triggers", "wrong-token-but-long-enough");
    await call("PUT", "/v1/users/alice/triggers/bad", ALICE, { prompt: "x", cron: "nope" });
    // The agent did receive its secrets: they are used, just never shown.
    expect(sink.received.at(-1)!.headers.authorization).toBe(`Bearer ${AGENT_TOKEN}`);

    expect(logs.length).toBeGreaterThan(10);
    const everything = [...logs, ...bodies].join("\n");
    for (const secret of SECRETS)
      expect(everything, `a secret leaked: ${secret.slice(0, 8)}…`).not.toContain(secret);
  });
});
