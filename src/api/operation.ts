import { Router, type Request, type Response } from "express";
import type { z } from "zod";
import type { Principal } from "../config/index.js";
import { TicklerError, fromZodError } from "../triggers/index.js";

/** The HTTP methods operations use. */
export type Method = "get" | "put" | "patch" | "post" | "delete";

/** What a handler is given: the request, parsed as its operation declares. */
export interface Call<Q> {
  req: Request;
  res: Response;
  /** Path parameters by their names in the path template (`user_id`, `name`, `run_id`, `tool`). */
  params: Record<string, string>;
  /** The query string, parsed with the operation's `query` schema (an empty object without one). */
  query: Q;
  /** Who is calling (set by authentication; undefined on routes that need no token). */
  principal: Principal | undefined;
}

/** A JSON answer. A handler that answers otherwise (SSE, MCP, plain text) writes to `res` and returns nothing. */
export interface Reply {
  status?: number;
  body: unknown;
}

/**
 * One HTTP operation, declared once: the Express route is made from it (`operationsRouter`) and so is its
 * entry in /openapi.json (`buildOpenApi`), so no route exists undocumented and no document entry lacks a
 * route. `D` is what its handler needs from the app.
 */
export interface Operation<D, Q extends z.ZodObject | undefined = z.ZodObject | undefined> {
  method: Method;
  /** OpenAPI path template: `/v1/users/{user_id}/triggers/{name}`. */
  path: string;
  summary: string;
  tag: string;
  /** false: no token needed (health, the document). */
  auth?: false;
  /** The query string's schema; without one, any query parameter is refused. */
  query?: Q;
  /** The JSON body's schema, for the document (the handler validates it, with the domain's messages). */
  body?: z.ZodType;
  /** Success status → response schema (null: not JSON, described by `produces`). */
  ok: Record<number, z.ZodType | null>;
  /** Error statuses it answers, besides 401/500/503 which every authenticated route may. */
  errors: number[];
  produces?: string;
  handler(
    call: Call<Q extends z.ZodObject ? z.infer<Q> : Record<string, never>>,
    deps: D,
  ): Promise<Reply | void> | Reply | void;
}

/** Any operation, for lists of them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyOperation<D = any> = Operation<D, any>;

/** Declares an operation with its handler typed from its query schema. */
export function operation<D, Q extends z.ZodObject | undefined = undefined>(
  op: Operation<D, Q>,
): Operation<D, Q> {
  return op;
}

/** The query of an operation without a `query` schema: none is accepted. */
function noQuery(req: Request): Record<string, never> {
  const [key] = Object.keys(req.query as Record<string, unknown>);
  if (key !== undefined)
    throw new TicklerError("invalid_field", `query.${key}: unknown query parameter "${key}"`, {
      field: `query.${key}`,
    });
  return {};
}

/** The query string of `req` parsed with `schema`; a bad one is a 400 naming `query.<field>`. */
export function parseQuery<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  const parsed = schema.safeParse(req.query);
  if (!parsed.success) throw fromZodError(parsed.error, "query", req.query);
  return parsed.data;
}

/** The Express path of an OpenAPI path template: `{user_id}` → `:user_id`. */
export function expressPath(template: string): string {
  return template.replace(/\{(\w+)\}/g, ":$1");
}

/** An Express router serving `operations` with `deps`: each parses its query, runs its handler, sends its reply. */
export function operationsRouter<D>(operations: readonly AnyOperation<D>[], deps: D): Router {
  const router = Router();
  for (const op of operations) {
    router[op.method](expressPath(op.path), async (req, res) => {
      const query = op.query ? parseQuery(op.query, req) : noQuery(req);
      const params = Object.fromEntries(
        Object.entries(req.params as Record<string, string | undefined>).map(([key, value]) => [
          key,
          value ?? "",
        ]),
      );
      const reply = await op.handler({ req, res, params, query, principal: req.principal }, deps);
      if (reply) res.status(reply.status ?? 200).json(reply.body);
    });
  }
  return router;
}

/** The body of `req`, which must be JSON (else 415). */
/**
 * A JSON object body validated by `schema` (no body at all is `{}`): any other JSON is refused with what
 * is expected (`wanted`, e.g. `a JSON object with one of when, at, delay, every, cron`).
 */
export function parseJsonObject<T extends z.ZodType>(req: Request, schema: T, wanted: string): z.infer<T> {
  const body = requireJson(req) ?? {};
  if (typeof body !== "object" || Array.isArray(body))
    throw new TicklerError("invalid_request", `the body must be ${wanted}`, { field: "body" });
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error, "", body);
  return parsed.data;
}

export function requireJson(req: Request): unknown {
  if (!req.is("application/json")) {
    throw new TicklerError("unsupported_media_type", "send the body with Content-Type: application/json");
  }
  return req.body;
}
