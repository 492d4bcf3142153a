import { describe, expect, it } from "vitest";
import { blockedHostReason, isBlockedAddress } from "../../src/net/address-guard.js";
import { useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

const ADMIN = "admin-token-ssrf-0123456789";
const ALICE = "alice-token-ssrf-0123456789";
const admin = { authorization: `Bearer ${ADMIN}` };

describe("target URLs cannot reach what they should not (SSRF)", () => {
  const fx = useTickler("ssrf", {
    sink: (r) =>
      r.path.startsWith("/redirect")
        ? { status: 302, headers: { location: "http://169.254.169.254/latest/meta-data/" } }
        : r.path.startsWith("/huge")
          ? { body: JSON.stringify({ jsonrpc: "2.0", id: 1, result: { pad: "x".repeat(2_000_000) } }) }
          : {},
    file: () => ({
      tokens: [
        { token: ADMIN, role: "admin" },
        { token: ALICE, user_id: "alice" },
      ],
      agents: { default: { url: fx.sink.url } },
      allow_target_urls: true,
      rate_limit: { writes: 20, per: "10s" },
    }),
  });

  it.each([
    ["http://169.254.169.254/latest/meta-data/", "link-local"],
    ["http://[fe80::1]/x", "link-local"],
    ["http://[::ffff:169.254.169.254]/", "link-local"],
    ["http://metadata.google.internal/computeMetadata/v1/", "metadata host"],
    ["http://0.0.0.0:80/", "unspecified"],
    ["file:///etc/passwd", "only http and https"],
    ["gopher://127.0.0.1:6379/_FLUSHALL", "only http and https"],
    ["http://user:secret@127.0.0.1/", "credentials in the URL"],
  ])("refuses the target %s", async (url, words) => {
    const res = await fx.t.api(
      "PUT",
      "/v1/users/ops/triggers/ssrf",
      { prompt: "x", delay: "1h", target: { url } },
      admin,
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "target_not_allowed", field: "target.url" });
    expect(res.body.error.message).toContain(words);
  });

  it.each([
    ["http://169.254.169.254/latest/meta-data/", "link-local"],
    ["http://metadata.google.internal/computeMetadata/v1/", "metadata host"],
    ["gopher://127.0.0.1:6379/_FLUSHALL", "only http and https"],
  ])("refuses the fan-out contexts endpoint %s", async (url, words) => {
    const res = await fx.t.api(
      "PUT",
      "/v1/users/ops/triggers/ssrf",
      { prompt: "x", delay: "1h", expand: { url } },
      admin,
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "target_not_allowed", field: "expand.url" });
    expect(res.body.error.message).toContain(words);
  });

  it("knows blocked addresses in every spelling", () => {
    for (const address of [
      "169.254.169.254",
      "169.254.0.1",
      "fe80::1",
      "::ffff:169.254.169.254",
      "fd00:ec2::254",
      "0.0.0.0",
    ])
      expect(isBlockedAddress(address), address).toBe(true);
    for (const address of ["127.0.0.1", "10.0.0.1", "::1", "8.8.8.8", "example.com"])
      expect(isBlockedAddress(address), address).toBe(false);
    expect(blockedHostReason("[fe80::1]")).toContain("link-local");
  });

  it("does not follow a redirect to another host: the fire fails at once, saying why", async () => {
    const url = fx.sink.url.replace("/turns", "/redirect");
    await fx.t.api(
      "PUT",
      "/v1/users/ops/triggers/redir",
      { prompt: "x", delay: 0.05, target: { url } },
      admin,
    );
    const run = await waitFor(
      async () =>
        (await fx.t.api("GET", "/v1/users/ops/triggers/redir/runs", undefined, admin)).body.items?.[0]
          ?.status === "failed" &&
        (await fx.t.api("GET", "/v1/users/ops/triggers/redir/runs", undefined, admin)).body.items[0],
      "the redirected fire to fail",
    );
    expect(run).toMatchObject({ http_status: 302, attempts: 1 });
    expect(run.error).toContain("redirects are not followed");
    expect(fx.sink.received.filter((r) => r.path.startsWith("/latest"))).toHaveLength(0);
  });

  it("reads an agent's answer only up to a size cap", async () => {
    const url = fx.sink.url.replace("/turns", "/huge");
    await fx.t.api(
      "PUT",
      "/v1/users/ops/triggers/huge",
      { prompt: "x", delay: 0.05, target: { url, format: "a2a" }, retry: { attempts: 1 } },
      admin,
    );
    const run = await waitFor(async () => {
      const items = (await fx.t.api("GET", "/v1/users/ops/triggers/huge/runs", undefined, admin)).body.items;
      return items?.[0]?.status === "failed" ? items[0] : null;
    }, "the oversized answer to be refused");
    expect(run.error).toContain("not JSON-RPC");
  });

  it("limits writes per token (429 with Retry-After), reads stay open, other tokens are unaffected", async () => {
    const alice = { authorization: `Bearer ${ALICE}` };
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++)
      statuses.push(
        (await fx.t.api("PUT", `/v1/users/alice/triggers/r${i}`, { prompt: "x", delay: "1h" }, alice)).status,
      );
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(20);
    expect(statuses).toContain(429);
    const limited = await fetch(`${fx.t.base}/v1/users/alice/triggers/again`, {
      method: "PUT",
      headers: { ...alice, "content-type": "application/json" },
      body: JSON.stringify({ prompt: "x", delay: "1h" }),
    });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
    expect((await fx.t.api("GET", "/v1/users/alice/triggers", undefined, alice)).status).toBe(200);
    expect(
      (await fx.t.api("PUT", "/v1/users/bob/triggers/ok", { prompt: "x", delay: "1h" }, admin)).status,
    ).toBe(201);
  });
});
