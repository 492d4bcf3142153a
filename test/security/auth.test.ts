import { beforeAll, describe, expect, it } from "vitest";
import { API_OPERATIONS as OPERATIONS } from "../../src/api/operations.js";
import { useTickler } from "../helpers/tickler.js";

const ADMIN = "admin-token-auth-0123456789";
const ALICE = "alice-token-auth-0123456789";
const ADMIN_ONLY = new Set(["/v1/triggers", "/v1/queue", "/metrics"]);

/** A concrete path for a documented template, acting on `user`. */
const concrete = (template: string, user: string) =>
  template
    .replace("{user_id}", user)
    .replace("{name}", "t")
    .replace("{run_id}", "run_0000000000000000000000")
    .replace("{tool}", "list_triggers");

describe("auth on every documented route, Bull Board and the console", () => {
  const fx = useTickler("auth", {
    role: "api",
    file: {
      tokens: [
        { token: ADMIN, role: "admin" },
        { token: ALICE, user_id: "alice" },
      ],
      agents: { default: { url: "http://127.0.0.1:9/" } },
    },
  });
  const send = (method: string, path: string, headers: Record<string, string> = {}) =>
    fetch(`${fx.t.base}${path}`, {
      method: method.toUpperCase(),
      headers: { "content-type": "application/json", ...headers },
      body: method === "get" ? undefined : "{}",
    });

  beforeAll(async () => {
    await fx.t.api(
      "PUT",
      "/v1/users/bob/triggers/t",
      { prompt: "bob's", delay: "1h" },
      { authorization: `Bearer ${ADMIN}` },
    );
  });

  const authenticated = OPERATIONS.filter((op) => op.auth !== false);
  it.each(authenticated.map((op) => [op.method.toUpperCase(), op.path, op] as const))(
    "%s %s: 401 without, with a malformed and with a wrong token",
    async (_m, _p, op) => {
      for (const headers of [
        {} as Record<string, string>,
        { authorization: "Bearer" },
        { authorization: `Token ${ADMIN}` },
        { authorization: "Bearer wrong-token-0123456789" },
        { authorization: `Bearer ${ADMIN}x` },
      ]) {
        const res = await send(op.method, concrete(op.path, "alice"), headers);
        expect(res.status, JSON.stringify(headers)).toBe(401);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
      }
    },
  );

  const userScoped = OPERATIONS.filter((op) => op.path.includes("{user_id}"));
  it.each(userScoped.map((op) => [op.method.toUpperCase(), op.path, op] as const))(
    "%s %s: 403 for another user's triggers, and bob's trigger is untouched",
    async (_m, _p, op) => {
      const res = await send(op.method, concrete(op.path, "bob"), { authorization: `Bearer ${ALICE}` });
      expect(res.status).toBe(403);
      expect((await fx.t.tickler.producer.get("bob", "t")).spec.prompt).toBe("bob's");
    },
  );

  it.each([...ADMIN_ONLY].map((path) => [path]))("%s: 403 for a user token", async (path) => {
    expect((await send("get", path, { authorization: `Bearer ${ALICE}` })).status).toBe(403);
  });

  it("keeps other users' runs, events, tools and MCP out of reach", async () => {
    const alice = { authorization: `Bearer ${ALICE}` };
    expect((await send("get", "/v1/events?user_id=bob", alice)).status).toBe(403);
    expect((await send("post", "/v1/tools/list_triggers?user_id=bob", alice)).status).toBe(403);
    const mcp = await fetch(`${fx.t.base}/mcp?user_id=bob`, {
      method: "POST",
      headers: {
        ...alice,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(mcp.status).toBe(403);
    const cancel = await fx.t.api("POST", "/v1/tools/cancel_trigger", { id: "bob/t" }, alice);
    expect(cancel.body.error.code).toBe("not_found");
    expect((await fx.t.tickler.producer.get("bob", "t")).spec.prompt).toBe("bob's");
  });

  it("puts Bull Board and the console behind admin auth", async () => {
    for (const path of [
      "/admin/queues",
      "/admin/queues/api/queues",
      "/console",
      "/console/assets/console.js",
    ]) {
      expect((await fetch(`${fx.t.base}${path}`)).status, path).toBe(401);
      expect(
        (await fetch(`${fx.t.base}${path}`, { headers: { authorization: `Bearer ${ALICE}` } })).status,
        path,
      ).toBe(403);
      expect(
        (await fetch(`${fx.t.base}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })).status,
        path,
      ).toBe(200);
    }
  });
});
