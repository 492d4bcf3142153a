import { randomUUID } from "node:crypto";
import express, { type Express, type RequestHandler } from "express";
import type { Logger } from "pino";
import { TicklerError } from "../triggers/index.js";
import { authenticate } from "./auth.js";
import type { ApiContext, AppDeps } from "./context.js";
import { errorHandler } from "./errors.js";
import { buildOpenApi } from "./openapi.js";
import { operationsRouter } from "./operation.js";
import { API_OPERATIONS, AUTHENTICATED_OPERATIONS, PUBLIC_OPERATIONS } from "./operations.js";
import { writeRateLimit } from "./rate-limit.js";
import { pagesRouter } from "./routes/pages.js";
import { healthOperations } from "./routes/health.js";
import { metricsOperation, type MetricsDeps } from "./routes/status.js";

export type { AppDeps } from "./context.js";

/**
 * Builds the Express app without listening (tests use it on an ephemeral port). Every route is an operation
 * of `operations.ts` (which /openapi.json is made from) or one of the browser pages of `routes/pages.ts`.
 */
export function buildApp(deps: AppDeps): Express {
  const { config, logger, redis, producer } = deps;
  const ctx: ApiContext & { openapi: Record<string, unknown> } = {
    ...deps,
    now: deps.now ?? Date.now,
    openapi: buildOpenApi(API_OPERATIONS),
  };
  const app = baseApp(logger);
  app.use(operationsRouter(PUBLIC_OPERATIONS, ctx));
  app.use(pagesRouter(deps));
  app.use(authenticate(config.tokens));
  app.use(writeRateLimit(redis, producer.layout, config.rateLimit));
  app.use(
    express.json({
      limit: config.maxBodyBytes,
      strict: false,
      type: ["application/json", "application/*+json"],
    }),
  );
  app.use(operationsRouter(AUTHENTICATED_OPERATIONS, ctx));
  return finish(app, logger);
}

/**
 * A worker-only process's HTTP surface: /healthz and /metrics (admin token unless metrics are public),
 * the same operations the API serves, with the same error shape.
 */
export function buildMetricsApp(deps: MetricsDeps & { logger: Logger }): Express {
  const app = baseApp(deps.logger);
  app.use(
    operationsRouter([...healthOperations.filter((op) => op.path === "/healthz"), metricsOperation], deps),
  );
  return finish(app, deps.logger);
}

/** An Express app with tickler's settings and its request log (a request id per request, echoed back). */
function baseApp(logger: Logger): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  app.use(requestLog(logger));
  return app;
}

/** Ends an app: 404 for any other route, then the error shape of §3 for everything thrown. */
function finish(app: Express, logger: Logger): Express {
  app.use((req, _res, next) => {
    next(new TicklerError("not_found", `no route ${req.method} ${req.path}`));
  });
  app.use(errorHandler(logger));
  return app;
}

function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
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
  };
}
