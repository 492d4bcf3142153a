import type { Redis } from "ioredis";
import type { Config } from "../../config/index.js";
import type { Metrics } from "../../metrics.js";
import { VERSION } from "../../version.js";
import { assertAdmin, principalFor } from "../auth.js";
import type { ApiContext } from "../context.js";
import { operation, type AnyOperation } from "../operation.js";
import { queueSchema, statusSchema } from "../schemas.js";

/** /metrics: what a worker-only process serves too (with /healthz), so it needs only this much. */
export interface MetricsDeps {
  config: Config;
  metrics: Metrics;
  redis: Redis;
}

/**
 * Prometheus text. Admins only unless `metrics.public`, which is why it is mounted ahead of the API's
 * authentication and checks the token itself.
 */
export const metricsOperation = operation({
  method: "get",
  path: "/metrics",
  summary: "Prometheus metrics (admin unless metrics.public)",
  tag: "operations",
  ok: { 200: null },
  produces: "text/plain",
  errors: [403],
  async handler({ req, res }, { config, metrics }: MetricsDeps) {
    if (!config.metrics.public) {
      const principal = principalFor(config.tokens)(req.get("authorization"));
      if ("error" in principal) throw principal.error;
      assertAdmin(principal);
    }
    const { contentType, body } = await metrics.render();
    res.type(contentType).send(body);
  },
});

/** The queue, the process and the fleet, for operators. */
export const statusOperations: AnyOperation<ApiContext>[] = [
  operation({
    method: "get",
    path: "/v1/queue",
    summary: "Queue counts, schedulers, workers (admin)",
    tag: "operations",
    ok: { 200: queueSchema },
    errors: [403],
    async handler({ principal }, { producer }: ApiContext) {
      assertAdmin(principal);
      const queue = producer.fires.queue;
      const [counts, schedulers, workers] = await Promise.all([
        queue.getJobCounts("waiting", "active", "delayed", "prioritized", "completed", "failed"),
        queue.getJobSchedulersCount(),
        queue.getWorkersCount(),
      ]);
      return { body: { queue: queue.name, counts, schedulers, workers } };
    },
  }),
  operation({
    method: "get",
    path: "/v1/status",
    summary: "Version, roles, Redis, workers",
    tag: "operations",
    ok: { 200: statusSchema },
    errors: [],
    async handler({ principal }, { producer, redis, config, roles }: ApiContext) {
      const redisUp = await redis.ping().then(
        () => true,
        () => false,
      );
      const admin = principal?.role === "admin";
      return {
        body: {
          version: VERSION,
          roles: roles ?? [],
          backend: "bullmq",
          redis: redisUp ? "up" : "down",
          prefix: config.prefix,
          workers: redisUp ? await producer.fires.queue.getWorkersCount() : null,
          // Trigger counts span every user: admins only.
          ...(admin && redisUp ? { triggers: await producer.store.counts() } : {}),
          uptime_s: Math.round(process.uptime()),
        },
      };
    },
  }),
];
