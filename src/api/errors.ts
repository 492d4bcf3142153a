import type { NextFunction, Request, Response } from "express";
import type { Logger } from "pino";
import { TicklerError, coerceError } from "../triggers/index.js";

/** Errors from ioredis and BullMQ that mean "Redis is not reachable right now". */
export function isRedisDown(error: Error): boolean {
  const code = (error as { code?: string }).code ?? "";
  return (
    error.name === "MaxRetriesPerRequestError" ||
    ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTCONN"].includes(code) ||
    /Stream isn't writeable|Connection is closed|enableOfflineQueue|Connection in subscriber mode|Reached the max retries|connect ETIMEDOUT/.test(
      error.message,
    )
  );
}

/** Maps anything thrown to a TicklerError (body-parser, Redis, unknown). */
export function toTicklerError(thrown: unknown): TicklerError {
  if (thrown instanceof TicklerError) return thrown;
  const error = coerceError(thrown);
  const type = (error as { type?: string }).type;
  if (type === "entity.too.large")
    return new TicklerError("body_too_large", "the request body is over the size limit (max_body_bytes)", {
      cause: error,
    });
  if (type === "entity.parse.failed")
    return new TicklerError("invalid_request", "the body is not valid JSON", { field: "body", cause: error });
  if (type === "encoding.unsupported" || type === "charset.unsupported") {
    return new TicklerError("unsupported_media_type", "send the body as UTF-8 application/json", {
      cause: error,
    });
  }
  if (isRedisDown(error))
    return new TicklerError("redis_unavailable", "Redis is not reachable; retry shortly", { cause: error });
  return new TicklerError("internal", "internal error; the server log has the details", { cause: error });
}

/** The error middleware: the §3 error shape, the right status, never a stack trace. */
export function errorHandler(logger: Logger) {
  return (thrown: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const error = toTicklerError(thrown);
    if (error.code === "internal")
      logger.error(
        { err: coerceError(error.cause), requestId: req.requestId, path: req.path },
        "unexpected error",
      );
    else if (error.code === "redis_unavailable")
      logger.warn({ requestId: req.requestId, path: req.path }, "Redis unavailable");
    if (res.headersSent) {
      res.end();
      return;
    }
    if (error.code === "redis_unavailable") res.set("Retry-After", "1");
    res.status(error.status).json({ error: error.toJSON() });
  };
}
