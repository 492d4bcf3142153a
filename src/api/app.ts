import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Express } from "express";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Config } from "../config/index.js";
import type { Producer } from "../producer/producer.js";
import type { RunStore } from "../runs/run-store.js";
import { isStreamId, type RunEventHub } from "../runs/run-events.js";
import { TicklerError, checkName } from "../triggers/index.js";
import type { Metrics } from "../metrics.js";
import { VERSION } from "../version.js";
import { adminPages, assertAdmin, assertMayActOn, authenticate, principalFor } from "./auth.js";
import { bullBoard } from "./bull-board.js";
import { errorHandler } from "./errors.js";
import { writeRateLimit } from "./rate-limit.js";
import { keysFor } from "../redis/keys.js";
import { DOCS_HTML, DOCS_INIT_JS, buildOpenApi } from "./openapi.js";
import { querySchemas } from "./schemas.js";

/** The console's page, script and styles (resolved from the package root: the same from src/ and dist/). */
const CONSOLE_DIR = fileURLToPath(new URL("../../src/api/console/", import.meta.url));

/** Swagger UI's files, served by /docs. */
const SWAGGER_UI_DIR = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
import { query, triggerRoutes } from "./routes.js";
import { toolRoutes } from "./tool-routes.js";

/** What the HTTP app needs; it opens nothing itself. */
export interface AppDeps {
  config: Config;
  producer: Producer;
  runs: RunStore;
  events: RunEventHub;
  metrics: Metrics;
  redis: Redis;
  logger: Logger;
  /** Which roles this process runs, for /v1/status. */
  roles?: readonly string[];
  now?: () => number;
}

/** Builds the Express app without listening (tests use it on an ephemeral port). */
export function buildApp(deps: AppDeps): Express {
  const { config, logger, redis, producer } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.get("x-request-id");
    req.requestId = incoming && /^[A-Za-z0-9._-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    res.set("x-request-id", req.requestId);
    res.on("finish", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(
        {
          requestId: req.requestId,
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
        },
        "request",
      );
    });
    next();
  });

  app.get("/healthz", (_req, res) => {
    res.json({ ok: true });
  });
  app.get("/readyz", async (_req, res) => {
    try {
      await redis.ping();
      res.json({ ok: true, redis: "up" });
    } catch {
      res.status(503).json({ error: { code: "redis_unavailable", message: "Redis is not reachable" } });
    }
  });

  const board = bullBoard(producer.fires.queue, config.tokens);
  app.use(board.path, board.guard, board.router);
  const adminOnly = adminPages(config.tokens);
  app.get("/console", adminOnly, (_req, res) => {
    res.sendFile("index.html", { root: CONSOLE_DIR });
  });
  app.use("/console/assets", adminOnly, express.static(CONSOLE_DIR, { index: false }));

  const openapi = buildOpenApi();
  app.get("/openapi.json", (_req, res) => {
    res.json(openapi);
  });
  app.get("/docs", (_req, res) => {
    res.type("html").send(DOCS_HTML);
  });
  app.get("/docs/init.js", (_req, res) => {
    res.type("js").send(DOCS_INIT_JS);
  });
  app.use("/docs/assets", express.static(SWAGGER_UI_DIR, { index: false, maxAge: "1h" }));

  const lookup = principalFor(config.tokens);
  app.get("/metrics", async (req, res) => {
    if (!config.metrics.public) {
      const principal = lookup(req.get("authorization"));
      if ("error" in principal) throw principal.error;
      assertAdmin(principal);
    }
    const { contentType, body } = await deps.metrics.render();
    res.type(contentType).send(body);
  });

  app.use(authenticate(config.tokens));
  app.use(writeRateLimit(redis, keysFor(config.prefix), config.rateLimit));

  app.get("/v1/status", async (req, res) => {
    const queue = producer.fires.queue;
    const redisUp = await redis.ping().then(
      () => true,
      () => false,
    );
    const admin = req.principal?.role === "admin";
    res.json({
      version: VERSION,
      roles: deps.roles ?? [],
      backend: "bullmq",
      redis: redisUp ? "up" : "down",
      prefix: config.prefix,
      workers: redisUp ? await queue.getWorkersCount() : null,
      // Trigger counts span every user: admins only.
      ...(admin && redisUp ? { triggers: await producer.store.counts() } : {}),
      uptime_s: Math.round(process.uptime()),
    });
  });
  app.use(
    express.json({
      limit: config.maxBodyBytes,
      strict: false,
      type: ["application/json", "application/*+json"],
    }),
  );

  app.get("/v1/queue", async (req, res) => {
    assertAdmin(req.principal);
    const queue = producer.fires.queue;
    const [counts, schedulers, workers] = await Promise.all([
      queue.getJobCounts("waiting", "active", "delayed", "prioritized", "completed", "failed"),
      queue.getJobSchedulersCount(),
      queue.getWorkersCount(),
    ]);
    res.json({ queue: queue.name, counts, schedulers, workers });
  });

  app.get("/v1/events", async (req, res) => {
    const principal = req.principal;
    const { user_id: asked, last_event_id } = query(querySchemas.events, req);
    if (asked !== undefined) assertMayActOn(principal, checkName(asked, "user_id"));
    // Users see only their own runs; admins see everyone's, or one user's with ?user_id=.
    const only = principal?.role === "user" ? principal.userId : asked;
    const lastEventId = req.get("last-event-id") ?? last_event_id;
    if (lastEventId !== undefined && !isStreamId(lastEventId)) {
      throw new TicklerError("invalid_field", "Last-Event-ID: not an event id from this stream", {
        field: "last_event_id",
      });
    }
    res.set({
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    res.flushHeaders();
    res.write(`retry: 3000\n\n`);
    const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), config.events.keepAliveMs);
    const unsubscribe = await deps.events.subscribe(
      (event) => only === undefined || event.userId === only,
      (event) => res.write(`id: ${event.id}\nevent: run\ndata: ${event.data}\n\n`),
      () => res.end(),
      lastEventId,
    );
    req.on("close", () => {
      clearInterval(keepAlive);
      unsubscribe();
    });
  });

  app.use(toolRoutes(producer));
  app.use(triggerRoutes({ producer, runs: deps.runs, ...(deps.now ? { now: deps.now } : {}) }));

  app.use((req, _res, next) => {
    next(new TicklerError("not_found", `no route ${req.method} ${req.path}`));
  });
  app.use(errorHandler(logger));
  return app;
}
