import type { Redis } from "ioredis";
import { operation, type AnyOperation } from "../operation.js";
import { healthSchema } from "../schemas.js";

/** Liveness and readiness: no token, for load balancers and orchestrators. */
export const healthOperations: AnyOperation<{ redis: Redis }>[] = [
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
    summary: "Readiness: Redis answers",
    tag: "operations",
    auth: false,
    ok: { 200: healthSchema },
    errors: [503],
    async handler(_call, { redis }: { redis: Redis }) {
      try {
        await redis.ping();
        return { body: { ok: true, redis: "up" } };
      } catch {
        return {
          status: 503,
          body: { error: { code: "redis_unavailable", message: "Redis is not reachable" } },
        };
      }
    },
  }),
];
