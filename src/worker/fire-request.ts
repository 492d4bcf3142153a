import type { AgentConfig, Config } from "../config/index.js";
import type { FireJobData } from "../producer/fire-queue.js";
import { idempotencyKeyFor, type RunRecord } from "../runs/run-store.js";
import { iso, kindOf, type Endpoint, type TriggerRecord } from "../triggers/index.js";
import type { FlowAgent } from "./agent-gate.js";
import type { DeliveryRequest } from "./deliver.js";

/** The HTTP request of one attempt of one run: the §5 body, the endpoint, the idempotency key. */
export function buildRequest(
  config: Config,
  record: TriggerRecord,
  run: RunRecord,
  data: FireJobData,
  attempt: number,
  firedAt: number,
  inProcess = false,
): DeliveryRequest | { error: string } {
  const target = inProcess ? inProcessTarget(record) : resolveTarget(record, config);
  if ("error" in target) return target;
  const { spec } = record;
  const {
    name: _agentName,
    flow: _flow,
    ...endpoint
  } = target as Endpoint & { name?: string; flow?: unknown };
  return {
    ...endpoint,
    // The shorter of the trigger's and the agent's timeout wins.
    timeoutMs: Math.min(spec.timeoutMs, target.timeoutMs),
    idempotencyKey: idempotencyKeyFor(run.triggerId, run.scheduledAtMs, data.manualNonce),
    fire: {
      type: "tickler.fire",
      run_id: run.runId,
      trigger: { id: run.triggerId, user_id: spec.userId, name: spec.name, kind: kindOf(spec) },
      prompt: spec.prompt,
      thread_key: spec.threadKey,
      channel: spec.channel,
      payload: spec.payload ?? {},
      scheduled_at: iso(run.scheduledAtMs),
      fired_at: iso(firedAt),
      attempt,
      manual: run.manual,
      catchup: run.catchup,
    },
  };
}

/** The trigger's agent from config when that agent sets flow control (limits, circuit), else null. */
export function flowAgentOf(record: TriggerRecord, config: Config): FlowAgent | null {
  const target = resolveTarget(record, config);
  return "flow" in target && target.flow ? (target as FlowAgent) : null;
}

/** Where a trigger's fires go: its agent from config, the `default` agent, or its own URL or NATS subject. */
export function resolveTarget(
  record: TriggerRecord,
  config: Config,
): Endpoint | AgentConfig | { error: string } {
  const target = record.spec.target;
  if (target !== null && "url" in target) {
    // A trigger's own URL is never signed: signing secrets live in config, with the agents.
    return { ...target, signingSecret: null, timeoutMs: record.spec.timeoutMs };
  }
  if (target !== null && "nats" in target) {
    const { nats } = target;
    return { ...bareEndpoint(nats.servers, record.spec.timeoutMs), nats };
  }
  const name = target?.agent ?? "default";
  const agent = config.agents.get(name);
  if (!agent)
    return { error: `no agent "${name}" in config: add agents.${name} (url, format) to tickler.yaml` };
  return agent;
}

/** The stand-in endpoint of a worker that hands fires to an in-process handler: only its timeout counts. */
const inProcessTarget = (record: TriggerRecord): Endpoint =>
  bareEndpoint("in-process:", record.spec.timeoutMs);

/** An endpoint that is not HTTP (NATS, an in-process handler): tickler's body, no headers, unsigned. */
function bareEndpoint(url: string, timeoutMs: number): Endpoint {
  return {
    url,
    method: "POST",
    format: "json",
    a2aVersion: "1.0",
    headers: {},
    signingSecret: null,
    timeoutMs,
  };
}
