import { createHash } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import type { RedisClient } from "../redis/connection.js";
import type { Layout } from "../redis/keys.js";
import { TicklerError } from "../triggers/index.js";

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Limits writes (every method but GET/HEAD) per token: at most `max` per `windowMs`, counted in Redis so
 * every API process shares the count. Over the limit: 429 `rate_limited` with Retry-After. A runaway agent
 * hits this before it can fill Redis.
 */
export function writeRateLimit(redis: RedisClient, layout: Layout, limit: { max: number; windowMs: number }) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (READS.has(req.method)) return next();
    const who = createHash("sha256")
      .update(req.get("authorization") ?? `anonymous`)
      .digest("base64url")
      .slice(0, 16);
    const window = Math.floor(Date.now() / limit.windowMs);
    const key = layout.rateLimit(who, window);
    // Two commands sent back to back (one round trip); a MULTI would cost the client more than it saves.
    const [count] = await Promise.all([redis.incr(key), redis.pexpire(key, limit.windowMs)]);
    if (count <= limit.max) return next();
    const retryAfterS = Math.max(1, Math.ceil(((window + 1) * limit.windowMs - Date.now()) / 1000));
    res.set("Retry-After", String(retryAfterS));
    next(
      new TicklerError(
        "rate_limited",
        `more than ${limit.max} writes in ${limit.windowMs / 1000} s with this token; retry in ${retryAfterS} s`,
      ),
    );
  };
}
