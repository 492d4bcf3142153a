import { z } from "zod";
import { VERSION } from "../version.js";
import type { AnyOperation } from "./operation.js";
import { errorWireSchema } from "./schemas.js";

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  400: "Invalid input",
  401: "No or unknown bearer token",
  403: "The token may not do this",
  404: "Not found",
  405: "Method not allowed",
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

/** The parameters of an operation: its path's, then its query's (from the query schema). */
function parametersOf(op: AnyOperation): unknown[] {
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
  if (!op.query) return parameters;
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
  return parameters;
}

/** The responses of an operation: its successes with their schemas, its errors with the error shape. */
function responsesOf(op: AnyOperation): Record<string, unknown> {
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
  return responses;
}

/** The OpenAPI operation object of an operation. */
function operationObject(op: AnyOperation): Record<string, unknown> {
  const parameters = parametersOf(op);
  return {
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
    responses: responsesOf(op),
  };
}

/** The OpenAPI 3.1 document of `operations`, generated from the schemas the routes validate with. */
export function buildOpenApi(operations: readonly AnyOperation[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    paths[op.path] ??= {};
    (paths[op.path] as Record<string, unknown>)[op.method] = operationObject(op);
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
