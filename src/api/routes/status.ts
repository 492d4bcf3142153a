import type { RedisClient } from "../../redis/connection.js";
import type { Config } from "../../config/index.js";
import type { Metrics } from "../../metrics.js";
import { QUEUE_NAME } from "../../redis/keys.js";
import { VERSION } from "../../version.js";
import { assertAdmin, principalFor } from "../auth.js";
import type { ApiContext } from "../context.js";
import { operation, type AnyOperation } from "../operation.js";
import { AgentFlowStore, type AgentState } from "../../runs/agent-flow.js";
import { agentsSchema, queueSchema, statusSchema } from "../schemas.js";

/** /metrics: what a worker-only process serves too (with /healthz), so it needs only this much. */
export interface MetricsDeps {
  config: Config;
  metrics: Metrics;
  redis: RedisClient;
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
      const [counts, schedulers, workers] = await Promise.all([
        producer.jobCounts("waiting", "active", "delayed", "prioritized", "completed", "failed"),
        producer.schedulerCount(),
        producer.workerCount(),
      ]);
      const partitions = producer.layout.partitions;
      return { body: { queue: QUEUE_NAME, partitions, counts, schedulers, workers } };
    },
  }),
  operation({
    method: "get",
    path: "/v1/agents",
    summary: "Agents: flow-control limits, circuit state, in flight and waiting (admin)",
    tag: "operations",
    ok: { 200: agentsSchema },
    errors: [403],
    async handler({ principal }, ctx: ApiContext) {
      assertAdmin(principal);
      return { body: { agents: await agentStates(ctx) } };
    },
  }),
  operation({
    method: "get",
    path: "/v1/status",
    summary: "Version, roles, RedisClient, workers",
    tag: "operations",
    ok: { 200: statusSchema },
    errors: [],
    async handler({ principal }, ctx: ApiContext) {
      const { producer, redis, config, roles } = ctx;
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
          partitions: producer.layout.partitions,
          workers: redisUp ? await producer.workerCount() : null,
          // Trigger counts span every user: admins only.
          ...(admin && redisUp
            ? { triggers: await producer.counts(), agents: circuits(await agentStates(ctx)) }
            : {}),
          uptime_s: Math.round(process.uptime()),
        },
      };
    },
  }),
];

/** Every configured agent's flow-control state, read from Redis. */
function agentStates({ producer, redis, config, now }: ApiContext): Promise<AgentState[]> {
  return new AgentFlowStore(redis, producer.layout.agent).states(config.agents.values(), now());
}

/** A flow-controlled agent's state for /v1/status: its circuit's (or paused, after a 429), since when, why. */
interface AgentSummary {
  state: "closed" | "open" | "half_open" | "paused";
  since: string | null;
  reason: string | null;
}

/** For /v1/status: each agent with flow control, by its circuit's state (or paused, after a 429). */
function circuits(states: AgentState[]): Record<string, AgentSummary> {
  const out: Record<string, AgentSummary> = {};
  for (const agent of states) {
    if (agent.paused_until !== null)
      out[agent.name] = { state: "paused", since: null, reason: agent.paused_reason };
    else if (agent.circuit)
      out[agent.name] = {
        state: agent.circuit.state,
        since: agent.circuit.since,
        reason: agent.circuit.reason,
      };
    else if (agent.max_in_flight !== null || agent.rate !== null)
      out[agent.name] = { state: "closed", since: null, reason: null };
  }
  return out;
}
