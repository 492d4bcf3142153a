import { request } from "undici";
import type { Config } from "../config/index.js";
import { checkContexts, TicklerError, type Context, type TriggerRecord } from "../triggers/index.js";
import {
  blockedHostOf,
  networkError,
  readCapped,
  refusedByGuard,
  webhookHeaders,
  type FireBody,
} from "./deliver.js";
import { classifyStatus, type AttemptOutcome } from "./outcome.js";
import type { WorkerContext } from "./worker-context.js";

/** The most of a contexts endpoint's answer that is read. */
const MAX_LIST_BYTES = 4 * 1024 * 1024;

/** A fire's contexts, or why there are none this attempt (retryable or not, as a delivery's outcome). */
export type Expansion = { contexts: Context[] } | { failed: Failure };
/** An attempt's outcome other than success. */
type Failure = Exclude<AttemptOutcome, { kind: "succeeded" }>;

/**
 * The contexts a fire fans out to: the trigger's own `expand.items`, or the list its endpoint answers to a
 * `tickler.expand` POST (the fire's body with that type, signed like a delivery when its agent has a
 * secret). The endpoint answers a JSON list, or `{contexts: [...]}` / `{items: [...]}`.
 */
export async function expandContexts(
  ctx: WorkerContext,
  record: TriggerRecord,
  fire: FireBody,
  idempotencyKey: string,
  signal: AbortSignal | undefined,
): Promise<Expansion> {
  const { expand } = record.spec;
  if (expand === null) return { contexts: [] };
  const { maxPayloadBytes } = ctx.config;
  if ("items" in expand)
    return { contexts: checkContexts(expand.items, expand.maxExpand, maxPayloadBytes, "expand.items") };
  const endpoint = endpointOf(expand, ctx.config, record.spec.timeoutMs);
  if ("error" in endpoint) return { failed: { kind: "permanent", httpStatus: null, error: endpoint.error } };
  const answer = await fetchList(ctx, endpoint, { ...fire, type: "tickler.expand" }, idempotencyKey, signal);
  if ("failed" in answer) return answer;
  let list: unknown = answer.json;
  if (list !== null && typeof list === "object" && !Array.isArray(list)) {
    const wrapped = list as { contexts?: unknown; items?: unknown };
    list = wrapped.contexts ?? wrapped.items ?? "an object without contexts or items";
  }
  try {
    return { contexts: checkContexts(list, expand.maxExpand, maxPayloadBytes, "its list") };
  } catch (thrown) {
    if (!(thrown instanceof TicklerError)) throw thrown;
    const error = `expand endpoint ${endpoint.url} answered: ${thrown.message}`;
    return { failed: { kind: "permanent", httpStatus: answer.httpStatus, error } };
  }
}

interface ListEndpoint {
  url: string;
  headers: Record<string, string>;
  signingSecret: string | null;
  timeoutMs: number;
}

/** Where a fan-out's contexts come from: its URL, or its agent's (which must speak HTTP). */
function endpointOf(
  expand: NonNullable<TriggerRecord["spec"]["expand"]>,
  config: Config,
  timeoutMs: number,
): ListEndpoint | { error: string } {
  if ("url" in expand) return { url: expand.url, headers: expand.headers, signingSecret: null, timeoutMs };
  if (!("agent" in expand)) return { error: "unreachable: static contexts have no endpoint" };
  const agent = config.agents.get(expand.agent);
  if (!agent)
    return {
      error: `no agent "${expand.agent}" in config for expand.agent: add agents.${expand.agent} (url)`,
    };
  if (agent.nats)
    return {
      error: `expand.agent "${expand.agent}" publishes to NATS; the contexts come from an HTTP endpoint`,
    };
  const { url, headers, signingSecret } = agent;
  return { url, headers, signingSecret, timeoutMs: Math.min(timeoutMs, agent.timeoutMs) };
}

/** POSTs the fire to a contexts endpoint and reads its JSON answer; every failure is an outcome. */
async function fetchList(
  ctx: WorkerContext,
  endpoint: ListEndpoint,
  fire: Omit<FireBody, "type"> & { type: string },
  idempotencyKey: string,
  signal: AbortSignal | undefined,
): Promise<{ json: unknown; httpStatus: number } | { failed: Failure }> {
  const where = `expand endpoint ${endpoint.url}`;
  const failed = (
    kind: Failure["kind"],
    error: string,
    httpStatus: number | null = null,
  ): { failed: Failure } => ({ failed: { kind, httpStatus, error: `${where}: ${error}` } });
  const host = blockedHostOf(endpoint.url);
  if (host !== null) return failed("permanent", `refused: ${host} is a link-local or metadata address`);
  const body = JSON.stringify(fire);
  const headers: Record<string, string> = {
    ...endpoint.headers,
    "content-type": "application/json",
    accept: "application/json",
    "user-agent": "tickler/0.1",
    "idempotency-key": idempotencyKey,
  };
  if (endpoint.signingSecret !== null)
    Object.assign(headers, webhookHeaders(endpoint.signingSecret, `${fire.run_id}~expand`, body));
  const timeout = AbortSignal.timeout(endpoint.timeoutMs);
  try {
    const response = await request(endpoint.url, {
      method: "POST",
      headers,
      body,
      dispatcher: ctx.dispatcher,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const status = classifyStatus(response.statusCode);
    if (status.kind !== "succeeded") {
      await response.body.dump().catch(() => undefined);
      return {
        failed: { ...status, error: `${where}: ${status.error.replace("agent answered", "answered")}` },
      };
    }
    const text = await readCapped(response.body, MAX_LIST_BYTES);
    if (text === null)
      return failed("permanent", `answered more than ${MAX_LIST_BYTES} bytes`, status.httpStatus);
    try {
      return { json: JSON.parse(text) as unknown, httpStatus: response.statusCode };
    } catch {
      return failed(
        "permanent",
        "answered a body that is not JSON (expected a list of contexts)",
        status.httpStatus,
      );
    }
  } catch (thrown) {
    const kind = refusedByGuard(thrown) ? "permanent" : "retryable";
    return failed(kind, networkError(thrown, endpoint.timeoutMs, timeout.aborted));
  }
}
