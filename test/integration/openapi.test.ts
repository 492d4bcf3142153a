import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import { API_OPERATIONS as OPERATIONS } from "../../src/api/operations.js";
import { buildApp } from "../../src/api/app.js";
import { expressPath } from "../../src/api/operation.js";
import { PAGE_PATHS } from "../../src/api/routes/pages.js";
import { createLogger } from "../../src/logger.js";
import { Metrics } from "../../src/metrics.js";
import { RunEventHub } from "../../src/runs/run-events.js";
import { waitFor } from "../helpers/wait.js";
import { useTickler } from "../helpers/tickler.js";

const ADMIN = "admin-token-openapi-0123456789";
const ALICE = "alice-token-openapi-0123456789";

type Doc = {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content: Record<string, { schema?: unknown }> }> }>
  >;
  components: { schemas: Record<string, unknown> };
};

describe("/openapi.json", () => {
  const fx = useTickler("openapi", {
    sink: true,
    file: () => ({
      tokens: [
        { token: ADMIN, role: "admin" },
        { token: ALICE, user_id: "alice" },
      ],
      agents: { default: { url: fx.sink.url } },
    }),
  });
  let doc: Doc;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  /** "METHOD path status" of every response checked against the document. */
  const checked = new Set<string>();

  /** Calls a documented route and checks the real response against the document's schema for its status. */
  async function hit(
    method: string,
    template: string,
    path: string,
    init: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {},
  ) {
    const token = init.token === undefined ? ADMIN : init.token;
    const res = await fetch(`${fx.t.base}${path}`, {
      method: method.toUpperCase(),
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const documented = doc.paths[template]?.[method]?.responses[String(res.status)];
    expect(
      documented,
      `${method.toUpperCase()} ${template} answered ${res.status}, which the document does not list`,
    ).toBeDefined();
    const json = documented!.content["application/json"];
    if (json?.schema) {
      const body = (await res.json()) as unknown;
      const validate = ajv.compile({ ...(json.schema as object), components: doc.components });
      expect(
        validate(body),
        `${method.toUpperCase()} ${template} ${res.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`,
      ).toBe(true);
    } else {
      await res.body?.cancel();
    }
    checked.add(`${method} ${template} ${res.status}`);
    return res.status;
  }

  beforeAll(async () => {
    doc = (await (await fetch(`${fx.t.base}/openapi.json`)).json()) as Doc;
  });

  it("is an OpenAPI 3.1 document listing every route, with schemas that compile", () => {
    expect((doc as unknown as { openapi: string }).openapi).toBe("3.1.0");
    for (const op of OPERATIONS) {
      const operation = doc.paths[op.path]?.[op.method];
      expect(operation, `${op.method} ${op.path}`).toBeDefined();
      for (const response of Object.values(operation!.responses)) {
        const schema = response.content["application/json"]?.schema;
        if (schema)
          expect(() => ajv.compile({ ...(schema as object), components: doc.components })).not.toThrow();
      }
    }
  });

  it("matches every real response of every documented route", async () => {
    const ONE = "/v1/users/{user_id}/triggers/{name}";
    expect(
      await hit("put", ONE, "/v1/users/alice/triggers/doc", {
        body: {
          prompt: "x",
          cron: "0 9 * * 1-5",
          timezone: "Europe/Berlin",
          payload: { a: 1 },
          metadata: { k: "v" },
        },
      }),
    ).toBe(201);
    expect(
      await hit("put", ONE, "/v1/users/alice/triggers/doc", {
        body: { prompt: "y", cron: "0 9 * * 1-5", timezone: "Europe/Berlin" },
      }),
    ).toBe(200);
    expect(
      await hit("put", ONE, "/v1/users/alice/triggers/doc?if_exists=raise", {
        body: { prompt: "y", every: "1h" },
      }),
    ).toBe(409);
    expect(
      await hit("put", ONE, "/v1/users/alice/triggers/doc", { body: { prompt: "y", cron: "0 9 * *" } }),
    ).toBe(400);
    expect(
      await hit("put", ONE, "/v1/users/bob/triggers/doc", {
        body: { prompt: "y", every: "1h" },
        token: ALICE,
      }),
    ).toBe(403);
    expect(
      await hit("put", ONE, "/v1/users/alice/triggers/doc", {
        body: { prompt: "y", every: "1h" },
        token: null,
      }),
    ).toBe(401);
    expect(
      await hit("put", ONE, "/v1/users/alice/triggers/once", {
        body: { prompt: "z", delay: 0.05, target: { agent: "default" } },
      }),
    ).toBe(201);
    expect(await hit("get", ONE, "/v1/users/alice/triggers/doc")).toBe(200);
    expect(await hit("get", ONE, "/v1/users/alice/triggers/none")).toBe(404);
    expect(await hit("patch", ONE, "/v1/users/alice/triggers/doc", { body: { thread_key: "t" } })).toBe(200);
    expect(await hit("post", `${ONE}/pause`, "/v1/users/alice/triggers/doc/pause")).toBe(200);
    expect(await hit("post", `${ONE}/resume`, "/v1/users/alice/triggers/doc/resume")).toBe(200);
    expect(await hit("post", `${ONE}/run`, "/v1/users/alice/triggers/doc/run")).toBe(202);
    await waitFor(
      async () =>
        (
          await fx.t.api("GET", "/v1/users/alice/triggers/once", undefined, {
            authorization: `Bearer ${ADMIN}`,
          })
        ).body.state === "completed",
      "the one-shot to fire",
    );
    expect(await hit("get", `${ONE}/runs`, "/v1/users/alice/triggers/once/runs")).toBe(200);
    const runs = await fx.t.api("GET", "/v1/users/alice/triggers/once/runs", undefined, {
      authorization: `Bearer ${ADMIN}`,
    });
    expect(await hit("get", "/v1/runs/{run_id}", `/v1/runs/${runs.body.items[0].run_id}`)).toBe(200);
    expect(await hit("get", "/v1/runs/{run_id}", "/v1/runs/run_0000000000000000000000")).toBe(404);
    const children = "/v1/runs/{run_id}/children";
    expect(await hit("get", children, `/v1/runs/${runs.body.items[0].run_id}/children`)).toBe(200);
    expect(await hit("get", children, "/v1/runs/run_0000000000000000000000/children")).toBe(404);
    expect(await hit("get", "/v1/users/{user_id}/triggers", "/v1/users/alice/triggers?limit=1")).toBe(200);
    expect(await hit("get", "/v1/users/{user_id}/triggers", "/v1/users/alice/triggers?kind=sometimes")).toBe(
      400,
    );
    expect(await hit("get", "/v1/triggers", "/v1/triggers")).toBe(200);
    expect(await hit("get", "/v1/triggers", "/v1/triggers", { token: ALICE })).toBe(403);
    expect(
      await hit("post", "/v1/preview", "/v1/preview", { body: { when: "every 15 minutes", count: 3 } }),
    ).toBe(200);
    expect(await hit("post", "/v1/preview", "/v1/preview", { body: { when: "soon" } })).toBe(400);
    expect(await hit("get", "/v1/queue", "/v1/queue")).toBe(200);
    expect(await hit("get", "/v1/agents", "/v1/agents")).toBe(200);
    expect(await hit("get", "/v1/agents", "/v1/agents", { token: ALICE })).toBe(403);
    for (const path of ["/v1/triggers/pause", "/v1/triggers/resume"]) {
      expect(await hit("post", path, path, { body: { user_id: "nobody", dry_run: true } })).toBe(200);
      expect(await hit("post", path, path, { body: { dry_run: "yes" } })).toBe(400);
      expect(await hit("post", path, path, { body: {}, token: ALICE })).toBe(403);
    }
    const since = new Date(0).toISOString();
    expect(
      await hit("post", "/v1/runs/redrive", "/v1/runs/redrive", { body: { since, user_id: "nobody" } }),
    ).toBe(200);
    expect(await hit("post", "/v1/runs/redrive", "/v1/runs/redrive", { body: {} })).toBe(400);
    expect(await hit("get", "/v1/tools", "/v1/tools?format=anthropic")).toBe(200);
    expect(await hit("post", "/v1/tools/{tool}", "/v1/tools/list_triggers", { body: {}, token: ALICE })).toBe(
      200,
    );
    expect(
      await hit("post", "/v1/tools/{tool}", "/v1/tools/schedule_cron", {
        body: { prompt: "x", cron: "0 9 * *" },
        token: ALICE,
      }),
    ).toBe(400);
    expect(await hit("post", "/v1/tools/{tool}", "/v1/tools/nope", { body: {}, token: ALICE })).toBe(404);
    const mcp = await hit("post", "/mcp", "/mcp", {
      token: ALICE,
      body: { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} },
      headers: { accept: "application/json, text/event-stream" },
    });
    expect(mcp).toBe(200);
    expect(await hit("get", "/mcp", "/mcp", { token: ALICE })).toBe(405);
    expect(await hit("delete", "/mcp", "/mcp", { token: ALICE })).toBe(405);
    expect(await hit("get", "/openapi.json", "/openapi.json", { token: null })).toBe(200);
    expect(await hit("get", "/v1/status", "/v1/status")).toBe(200);
    expect(await hit("get", "/metrics", "/metrics")).toBe(200);
    expect(await hit("get", "/healthz", "/healthz", { token: null })).toBe(200);
    expect(await hit("get", "/readyz", "/readyz", { token: null })).toBe(200);
    const events = new AbortController();
    const stream = await fetch(`${fx.t.base}/v1/events`, {
      headers: { authorization: `Bearer ${ADMIN}` },
      signal: events.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    events.abort();
    checked.add("get /v1/events 200");
    expect(await hit("delete", ONE, "/v1/users/alice/triggers/doc")).toBe(200);

    for (const op of OPERATIONS) {
      const success = Object.keys(op.ok).some((status) => checked.has(`${op.method} ${op.path} ${status}`));
      expect(success, `no success response of ${op.method.toUpperCase()} ${op.path} was checked`).toBe(true);
    }
  });

  it("has a route for every operation it documents, and none it does not (but the browser pages)", () => {
    const app = buildApp({
      config: fx.t.config,
      producer: fx.t.tickler.producer,
      runs: fx.t.tickler.runs,
      events: new RunEventHub(
        fx.t.tickler.producer.redis,
        () => fx.t.tickler.producer.redis,
        "unused",
        createLogger("silent"),
      ),
      metrics: new Metrics(),
      redis: fx.t.tickler.producer.redis,
      logger: createLogger("silent"),
    });
    const routes = expressRoutes((app as unknown as { router: { stack: Layer[] } }).router.stack);
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method} ${expressPath(path)}`),
    );
    const isPage = (path: string) => PAGE_PATHS.some((page) => path === page || path.startsWith(`${page}/`));
    const served = routes.filter((route) => !isPage(route.split(" ")[1]!));
    expect(new Set(served)).toEqual(new Set(documented));
    expect(routes.filter((route) => route.startsWith("use ")).every((route) => isPage(route.slice(4)))).toBe(
      true,
    );
  });

  it("serves the interactive docs page", async () => {
    const page = await fetch(`${fx.t.base}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("swagger-ui-bundle.js");
    for (const asset of ["/docs/assets/swagger-ui-bundle.js", "/docs/init.js"]) {
      const res = await fetch(`${fx.t.base}${asset}`);
      expect(res.status).toBe(200);
      await res.arrayBuffer(); // read to the end, so the connection is free to close
    }
  });
});

/** A layer of Express 5's router stack, as far as the route listing reads it. */
interface Layer {
  name: string;
  rawPath?: string;
  slash?: boolean;
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
}

/** Every route of an Express app as "method path" (mounted middleware as "use path"), routers walked into. */
function expressRoutes(stack: Layer[], base = ""): string[] {
  return stack.flatMap((layer) => {
    if (layer.route)
      return Object.keys(layer.route.methods).map((method) => `${method} ${base}${layer.route!.path}`);
    const mount = layer.slash ? "" : (layer.rawPath ?? "");
    if (layer.name === "router" && layer.handle.stack) return expressRoutes(layer.handle.stack, base + mount);
    return mount === "" ? [] : [`use ${base}${mount}`];
  });
}
