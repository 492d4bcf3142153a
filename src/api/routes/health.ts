import type { RedisClient } from "../../redis/connection.js";
import { operation, type AnyOperation } from "../operation.js";
import { healthSchema } from "../schemas.js";

/** Liveness and readiness: no token, for load balancers and orchestrators. */
export const healthOperations: AnyOperation<{ redis: RedisClient }>[] = [
  operation({
    method: "get",
    path: "/healthz",
    summary: "Liveness",
    tag: "operations",
    auth: false,
    ok: { 200: healthSchema },
    errors: [],
    handler: () => ({ body: { ok: true } }),
  }),
  operation({
    method: "get",
    path: "/readyz",
    summary: "Readiness: RedisClient answers",
    tag: "operations",
    auth: false,
    ok: { 200: healthSchema },
    errors: [503],
    async handler(_call, { redis }: { redis: RedisClient }) {
      try {
        await redis.ping();
        return { body: { ok: true, redis: "up" } };
      } catch {
        return {
          status: 503,
          body: { error: { code: "redis_unavailable", message: "RedisClient is not reachable" } },
        };
      }
    },
  }),
];
