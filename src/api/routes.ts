import { Router, type Request } from "express";
import type { z } from "zod";
import type { Producer, WriteOutcome } from "../producer/producer.js";
import { runToWire, type RunStore } from "../runs/run-store.js";
import { TicklerError, checkName, fromZodError, iso, recordToWire, triggerId } from "../triggers/index.js";
import { assertAdmin, assertMayActOn } from "./auth.js";
import { previewInputSchema, querySchemas } from "./schemas.js";

/** What the routes need. */
export interface RouteDeps {
  producer: Producer;
  runs: RunStore;
  now?: () => number;
}

const queries = querySchemas;

/** The query string of `req` parsed with `schema`; a bad one is a 400 naming `query.<field>`. */
export function query<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  const parsed = schema.safeParse(req.query);
  if (!parsed.success) throw fromZodError(parsed.error, "query", req.query);
  return parsed.data;
}

/** Cursors are opaque to clients: base64url of the position. */
const encodeCursor = (value: string | null): string | null =>
  value === null ? null : Buffer.from(value).toString("base64url");
function decodeCursor(value: string | undefined): string | null {
  if (value === undefined || value === "") return null;
  const decoded = Buffer.from(value, "base64url").toString("utf8");
  if (decoded === "" || Buffer.from(decoded).toString("base64url") !== value) {
    throw new TicklerError("invalid_field", "query.cursor: not a cursor from a previous page", {
      field: "query.cursor",
    });
  }
  return decoded;
}

function requireJson(req: Request): unknown {
  if (!req.is("application/json")) {
    throw new TicklerError("unsupported_media_type", "send the body with Content-Type: application/json");
  }
  return req.body;
}

/** Route parameters as strings (Express 5 types them loosely). */
function params(req: Request): { userId: string; name: string } {
  const { userId, name } = req.params as { userId?: string; name?: string };
  return { userId: checkName(userId, "user_id"), name: name === undefined ? "" : checkName(name, "name") };
}

/**
 * The trigger routes of §3. Each is thin: check the caller, parse, call the producer, shape the reply.
 */
export function triggerRoutes(deps: RouteDeps): Router {
  const { producer, runs } = deps;
  const now = deps.now ?? Date.now;
  const router = Router();
  const one = "/v1/users/:userId/triggers/:name";

  const reply = (outcome: WriteOutcome, nextCount = 1) => ({
    ...recordToWire(outcome.record, now(), nextCount),
    result: outcome.status,
    ...(outcome.note === undefined ? {} : { note: outcome.note }),
  });

  router.put(one, async (req, res) => {
    const { userId, name } = params(req);
    assertMayActOn(req.principal, userId);
    const { if_exists } = query(queries.upsert, req);
    const outcome = await producer.upsert(userId, name, requireJson(req), {
      ifExists: if_exists,
      caller: req.principal,
    });
    res.status(outcome.status === "created" ? 201 : 200).json(reply(outcome));
  });

  router.patch(one, async (req, res) => {
    const { userId, name } = params(req);
    assertMayActOn(req.principal, userId);
    query(queries.none, req);
    res.json(reply(await producer.patch(userId, name, requireJson(req), req.principal)));
  });

  router.get(one, async (req, res) => {
    const { userId, name } = params(req);
    assertMayActOn(req.principal, userId);
    query(queries.none, req);
    res.json(recordToWire(await producer.get(userId, name), now(), 5));
  });

  router.delete(one, async (req, res) => {
    const { userId, name } = params(req);
    assertMayActOn(req.principal, userId);
    await producer.cancel(userId, name);
    res.json({ canceled: true, id: triggerId(userId, name) });
  });

  router.post(`${one}/pause`, async (req, res) => {
    const { userId, name } = params(req);
    assertMayActOn(req.principal, userId);
    res.json(reply(await producer.pause(userId, name)));
  });

  router.post(`${one}/resume`, async (req, res) => {
    const { userId, name } = params(req);
    assertMayActOn(req.principal, userId);
    res.json(reply(await producer.resume(userId, name)));
  });

  router.post(`${one}/run`, async (req, res) => {
    const { userId, name } = params(req);
    assertMayActOn(req.principal, userId);
    const run = await producer.runNow(userId, name);
    res.status(202).json({
      run_id: run.runId,
      idempotency_key: run.idempotencyKey,
      scheduled_at: iso(run.scheduledAtMs),
      manual: true,
    });
  });

  router.get(`${one}/runs`, async (req, res) => {
    const { userId, name } = params(req);
    assertMayActOn(req.principal, userId);
    const q = query(queries.runs, req);
    await producer.get(userId, name);
    const page = await runs.list(triggerId(userId, name), decodeCursor(q.cursor), q.limit);
    res.json({ items: page.items.map(runToWire), next_cursor: encodeCursor(page.nextCursor) });
  });

  router.get("/v1/users/:userId/triggers", async (req, res) => {
    const { userId } = params(req);
    assertMayActOn(req.principal, userId);
    const q = query(queries.list, req);
    const filter = { ...(q.kind ? { kind: q.kind } : {}), ...(q.state ? { state: q.state } : {}) };
    const page = await producer.list(userId, filter, decodeCursor(q.cursor), q.limit);
    res.json({
      items: page.items.map((record) => recordToWire(record, now())),
      next_cursor: encodeCursor(page.nextCursor),
    });
  });

  router.get("/v1/triggers", async (req, res) => {
    assertAdmin(req.principal);
    const q = query(queries.listAll, req);
    const page =
      q.user_id === undefined
        ? await producer.listAll(decodeCursor(q.cursor), q.limit)
        : await producer.list(checkName(q.user_id, "user_id"), {}, decodeCursor(q.cursor), q.limit);
    res.json({
      items: page.items.map((record) => recordToWire(record, now())),
      next_cursor: encodeCursor(page.nextCursor),
    });
  });

  router.get("/v1/runs/:runId", async (req, res) => {
    const runId = String(req.params.runId);
    const run = /^run_[A-Za-z0-9_-]{22}$/.test(runId) ? await runs.get(runId) : null;
    // A user asking for another user's run learns nothing about its existence: 404, not 403.
    if (!run || (req.principal?.role === "user" && req.principal.userId !== run.userId)) {
      throw new TicklerError("not_found", `no run ${JSON.stringify(runId.slice(0, 64))}`, {
        field: "run_id",
      });
    }
    res.json(runToWire(run));
  });

  router.post("/v1/preview", async (req, res) => {
    const body = requireJson(req);
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new TicklerError(
        "invalid_request",
        "the body must be a JSON object with one of when, at, delay, every, cron",
        {
          field: "body",
        },
      );
    }
    const parsed = previewInputSchema.safeParse(body);
    if (!parsed.success) throw fromZodError(parsed.error, "", body);
    const { count, ...schedule } = parsed.data;
    const preview = producer.preview(schedule, count, req.principal);
    res.json({ kind: preview.kind, timezone: preview.timezone, next: preview.nextMs.map(iso) });
  });

  return router;
}
