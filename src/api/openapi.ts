import { z } from "zod";
import { VERSION } from "../version.js";
import {
  canceledSchema,
  errorWireSchema,
  healthSchema,
  pageOf,
  previewInputSchema,
  previewSchema,
  querySchemas,
  queueSchema,
  runNowSchema,
  runWireSchema,
  statusSchema,
  toolArgsSchema,
  toolDefinitionsSchema,
  toolResultSchema,
  triggerBodySchema,
  triggerPatchSchema,
  triggerWireSchema,
  writeResultSchema,
} from "./schemas.js";

/** One documented operation. */
interface Operation {
  method: "get" | "put" | "patch" | "post" | "delete";
  path: string;
  summary: string;
  tag: string;
  /** false: no token needed. */
  auth?: boolean;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success status → schema (null: not JSON, described in `produces`). */
  ok: Record<number, z.ZodType | null>;
  /** Error statuses this operation answers, besides 401/500/503 which all authenticated routes may. */
  errors: number[];
  produces?: string;
}

const ONE = "/v1/users/{user_id}/triggers/{name}";

/** Every route of the API, once: the document and the route test both walk this list. */
export const OPERATIONS: readonly Operation[] = [
  {
    method: "put",
    path: ONE,
    summary: "Create or replace a trigger",
    tag: "triggers",
    query: querySchemas.upsert,
    body: triggerBodySchema,
    ok: { 200: writeResultSchema, 201: writeResultSchema },
    errors: [400, 403, 409, 413, 415],
  },
  {
    method: "get",
    path: ONE,
    summary: "A trigger, with its next 5 fires",
    tag: "triggers",
    ok: { 200: triggerWireSchema },
    errors: [400, 403, 404],
  },
  {
    method: "patch",
    path: ONE,
    summary: "Change some fields of a trigger",
    tag: "triggers",
    body: triggerPatchSchema,
    ok: { 200: writeResultSchema },
    errors: [400, 403, 404, 409, 415],
  },
  {
    method: "delete",
    path: ONE,
    summary: "Cancel a trigger",
    tag: "triggers",
    ok: { 200: canceledSchema },
    errors: [400, 403, 404],
  },
  {
    method: "post",
    path: `${ONE}/pause`,
    summary: "Pause: keep the definition, fire nothing",
    tag: "triggers",
    ok: { 200: writeResultSchema },
    errors: [400, 403, 404],
  },
  {
    method: "post",
    path: `${ONE}/resume`,
    summary: "Resume a paused trigger",
    tag: "triggers",
    ok: { 200: writeResultSchema },
    errors: [400, 403, 404],
  },
  {
    method: "post",
    path: `${ONE}/run`,
    summary: "Fire now (a manual run)",
    tag: "triggers",
    ok: { 202: runNowSchema },
    errors: [400, 403, 404],
  },
  {
    method: "get",
    path: `${ONE}/runs`,
    summary: "A trigger's run history, newest first",
    tag: "runs",
    query: querySchemas.runs,
    ok: { 200: pageOf(runWireSchema) },
    errors: [400, 403, 404],
  },
  {
    method: "get",
    path: "/v1/users/{user_id}/triggers",
    summary: "A user's triggers, in name order",
    tag: "triggers",
    query: querySchemas.list,
    ok: { 200: pageOf(triggerWireSchema) },
    errors: [400, 403],
  },
  {
    method: "get",
    path: "/v1/triggers",
    summary: "All triggers (admin)",
    tag: "triggers",
    query: querySchemas.listAll,
    ok: { 200: pageOf(triggerWireSchema) },
    errors: [400, 403],
  },
  {
    method: "get",
    path: "/v1/runs/{run_id}",
    summary: "One run",
    tag: "runs",
    ok: { 200: runWireSchema },
    errors: [404],
  },
  {
    method: "get",
    path: "/v1/events",
    summary: "Server-Sent Events: one `run` event per run state change",
    tag: "runs",
    query: querySchemas.events,
    ok: { 200: null },
    produces: "text/event-stream",
    errors: [400, 403],
  },
  {
    method: "post",
    path: "/v1/preview",
    summary: "Validate a schedule and list its next fires, storing nothing",
    tag: "schedules",
    body: previewInputSchema,
    ok: { 200: previewSchema },
    errors: [400, 415],
  },
  {
    method: "get",
    path: "/v1/tools",
    summary: "Agent tool definitions for OpenAI (strict), Anthropic or MCP",
    tag: "tools",
    query: querySchemas.toolDefinitions,
    ok: { 200: toolDefinitionsSchema },
    errors: [400],
  },
  {
    method: "post",
    path: "/v1/tools/{tool}",
    summary: "Call an agent tool for the caller's user",
    tag: "tools",
    query: querySchemas.toolCall,
    body: toolArgsSchema,
    ok: { 200: toolResultSchema },
    errors: [400, 403, 404, 409, 415],
  },
  {
    method: "post",
    path: "/mcp",
    summary: "The agent tools over MCP (Streamable HTTP, stateless, JSON-RPC 2.0)",
    tag: "tools",
    query: querySchemas.toolCall,
    ok: { 200: null },
    produces: "application/json",
    errors: [400, 403],
  },
  {
    method: "get",
    path: "/v1/queue",
    summary: "Queue counts, schedulers, workers (admin)",
    tag: "operations",
    ok: { 200: queueSchema },
    errors: [403],
  },
  {
    method: "get",
    path: "/v1/status",
    summary: "Version, roles, Redis, workers",
    tag: "operations",
    ok: { 200: statusSchema },
    errors: [],
  },
  {
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics (admin unless metrics.public)",
    tag: "operations",
    ok: { 200: null },
    produces: "text/plain",
    errors: [403],
  },
  {
    method: "get",
    path: "/healthz",
    summary: "Liveness",
    tag: "operations",
    auth: false,
    ok: { 200: healthSchema },
    errors: [],
  },
  {
    method: "get",
    path: "/readyz",
    summary: "Readiness: Redis answers",
    tag: "operations",
    auth: false,
    ok: { 200: healthSchema },
    errors: [503],
  },
];

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  400: "Invalid input",
  401: "No or unknown bearer token",
  403: "The token may not do this",
  404: "Not found",
  409: "Conflict: exists (if_exists=raise), busy, or over quota",
  413: "Body too large",
  415: "Not application/json",
  500: "Internal error",
  503: "Redis unreachable",
};

/** JSON Schema (2020-12, as OpenAPI 3.1 takes it) of a zod schema, without the `$schema` key. */
export function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
}

const PATH_PARAMS: Record<string, string> = {
  user_id: "The user: 1–128 of A–Z a–z 0–9 _ . : @ -, starting with a letter or digit",
  name: "The trigger's name, same form as user_id",
  run_id: "A run id (run_…)",
  tool: "A tool name: schedule_once, schedule_heartbeat, schedule_cron, list_triggers, get_trigger, cancel_trigger, cancel_trigger_by_name, pause_trigger, resume_trigger, preview_schedule",
};

/** The OpenAPI 3.1 document of the API, generated from the schemas the routes validate with. */
export function buildOpenApi(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const parameters: unknown[] = [];
    for (const [, name] of op.path.matchAll(/\{(\w+)\}/g)) {
      parameters.push({
        name,
        in: "path",
        required: true,
        description: PATH_PARAMS[name as string],
        schema: { type: "string" },
      });
    }
    if (op.query) {
      const query = jsonSchema(op.query, "input") as {
        properties?: Record<string, Record<string, unknown>>;
        required?: string[];
      };
      for (const [name, schema] of Object.entries(query.properties ?? {})) {
        const { description, ...rest } = schema;
        parameters.push({
          name,
          in: "query",
          required: query.required?.includes(name) ?? false,
          description,
          schema: rest,
        });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(op.ok)) {
      responses[status] = {
        description: STATUS_TEXT[Number(status)],
        content:
          schema === null
            ? { [op.produces ?? "text/plain"]: {} }
            : { "application/json": { schema: jsonSchema(schema, "output") } },
      };
    }
    const errors = new Set([...op.errors, ...(op.auth === false ? [] : [401, 500, 503])]);
    for (const status of [...errors].sort()) {
      responses[String(status)] = {
        description: STATUS_TEXT[status],
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      };
    }
    paths[op.path] ??= {};
    (paths[op.path] as Record<string, unknown>)[op.method] = {
      summary: op.summary,
      tags: [op.tag],
      operationId: `${op.method}${op.path.replace(/\{(\w+)\}/g, "By_$1").replace(/[^A-Za-z0-9]+(\w)?/g, (_m, c: string | undefined) => (c ?? "").toUpperCase())}`,
      ...(op.auth === false ? { security: [] } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(op.body
        ? {
            requestBody: {
              required: true,
              content: { "application/json": { schema: jsonSchema(op.body, "input") } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "tickler",
      version: VERSION,
      description:
        "Proactive triggers for AI agents: one-shots, heartbeats and cron on Redis and BullMQ. Errors always have the shape {error: {code, message, field?}}.",
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "A token from tickler.yaml (admin, or one user)",
        },
      },
      schemas: { Error: jsonSchema(errorWireSchema, "output") },
    },
    paths,
  };
}

/** The interactive docs page (Swagger UI, served from the swagger-ui-dist package under /docs/assets). */
export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>tickler API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>`;

/** Started from a file (not inline) so a strict Content-Security-Policy can forbid inline scripts. */
export const DOCS_INIT_JS = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#docs", deepLinking: true, persistAuthorization: true });`;
