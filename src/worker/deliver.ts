import { createHmac } from "node:crypto";
import { Agent, errors as undiciErrors, request, type Dispatcher } from "undici";
import { coerceError, type Endpoint, type TargetFormat } from "../triggers/index.js";
import { guardedLookup, isBlockedAddress } from "../net/address-guard.js";
import { classifyStatus, type AttemptOutcome } from "./outcome.js";

/** The `tickler.fire` body of §5, before it is wrapped for A2A. */
export interface FireBody {
  type: "tickler.fire";
  run_id: string;
  trigger: { id: string; user_id: string; name: string; kind: string };
  prompt: string;
  thread_key: string | null;
  channel: string | null;
  payload: Record<string, unknown>;
  scheduled_at: string;
  fired_at: string;
  attempt: number;
  manual: boolean;
  catchup: boolean;
  /** A fan-out child's: the run it belongs to (its own run id is `<parent_run_id>~<context_key>`). */
  parent_run_id?: string;
  /** A fan-out child's: its context's key (or index). */
  context_key?: string;
}

/** One HTTP request to an agent, fully resolved. */
export interface DeliveryRequest extends Endpoint {
  idempotencyKey: string;
  fire: FireBody;
}

/** The most of an agent's answer that is read (an A2A result needs its body; anything more is dropped). */
const MAX_RESPONSE_BYTES = 256 * 1024;

/** A keep-alive connection pool for deliveries: measured, it delivers about twice as fast as global fetch. */
export function createDispatcher(connections = 256): Dispatcher {
  return new Agent({
    connections,
    keepAliveTimeout: 10_000,
    keepAliveMaxTimeout: 60_000,
    pipelining: 1,
    // Every connection's address is checked after DNS: no delivery reaches link-local or metadata addresses.
    connect: { lookup: guardedLookup },
  });
}

/**
 * The request body for the target's format: tickler's JSON, an A2A JSON-RPC message, or an AgentOS run's
 * form (`message`, `stream=false`, `session_id` from the thread key, `user_id`).
 */
export function encodeBody(format: TargetFormat, a2aVersion: "1.0" | "0.3", fire: FireBody): string {
  if (format === "json") return JSON.stringify(fire);
  if (format === "agentos") {
    const form = new URLSearchParams({
      message: fire.prompt,
      stream: "false",
      user_id: fire.trigger.user_id,
    });
    if (fire.thread_key !== null) form.set("session_id", fire.thread_key);
    return form.toString();
  }
  const metadata = {
    tickler: {
      run_id: fire.run_id,
      trigger: fire.trigger,
      scheduled_at: fire.scheduled_at,
      attempt: fire.attempt,
      manual: fire.manual,
      catchup: fire.catchup,
      channel: fire.channel,
      payload: fire.payload,
      ...(fire.parent_run_id === undefined
        ? {}
        : { parent_run_id: fire.parent_run_id, context_key: fire.context_key }),
    },
  };
  const context = fire.thread_key === null ? {} : { contextId: fire.thread_key };
  if (a2aVersion === "0.3") {
    return JSON.stringify({
      jsonrpc: "2.0",
      id: fire.run_id,
      method: "message/send",
      params: {
        message: {
          kind: "message",
          role: "user",
          messageId: fire.run_id,
          ...context,
          parts: [{ kind: "text", text: fire.prompt }],
          metadata,
        },
      },
    });
  }
  return JSON.stringify({
    jsonrpc: "2.0",
    id: fire.run_id,
    method: "SendMessage",
    params: {
      message: {
        role: "ROLE_USER",
        messageId: fire.run_id,
        ...context,
        parts: [{ text: fire.prompt }],
        metadata,
      },
    },
  });
}

/**
 * The Standard Webhooks signature of a body: `v1,` + base64 HMAC-SHA256 over `id.timestamp.body` with the
 * base64-decoded secret (a `whsec_` prefix is dropped).
 */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64")}`;
}

/** The Standard Webhooks headers of a signed request: `webhook-id`, `webhook-timestamp` (now), `webhook-signature`. */
export function webhookHeaders(secret: string, id: string, body: string): Record<string, string> {
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signWebhook(secret, id, timestamp, body),
  };
}

/** Target URLs already checked: agents are few, fires many (parsing and checking cost ~1.5% of a worker's CPU). */
const checkedUrls = new Map<string, string | null>();

/** The URL's host when it is a literal address deliveries must not reach (DNS answers are checked on connect). */
export function blockedHostOf(url: string): string | null {
  let blocked = checkedUrls.get(url);
  if (blocked === undefined) {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    blocked = isBlockedAddress(host) ? host : null;
    if (checkedUrls.size >= 1000) checkedUrls.clear();
    checkedUrls.set(url, blocked);
  }
  return blocked;
}

/** Sends one attempt and classifies the answer. Never throws: every failure is an outcome. */
export async function deliver(
  dispatcher: Dispatcher,
  req: DeliveryRequest,
  signal?: AbortSignal,
): Promise<AttemptOutcome> {
  const body = encodeBody(req.format, req.a2aVersion, req.fire);
  const headers: Record<string, string> = {
    ...req.headers,
    "content-type": req.format === "agentos" ? "application/x-www-form-urlencoded" : "application/json",
    "user-agent": "tickler/0.1",
    "idempotency-key": req.idempotencyKey,
  };
  if (req.format === "a2a" && req.a2aVersion === "1.0") headers["a2a-version"] = "1.0";
  if (req.signingSecret !== null)
    Object.assign(headers, webhookHeaders(req.signingSecret, req.fire.run_id, body));
  const host = blockedHostOf(req.url);
  if (host !== null) {
    return {
      kind: "permanent",
      httpStatus: null,
      error: `refused to deliver to ${host}: link-local and metadata addresses are blocked`,
    };
  }
  // One controller for the whole attempt, aborted by the timeout or by the job's own signal: cheaper per
  // fire than AbortSignal.timeout plus AbortSignal.any (measured: ~4% of a worker's CPU in Node 20).
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, req.timeoutMs);
  const onAbort = (): void => abort.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const response = await request(req.url, {
      method: req.method,
      headers,
      body,
      dispatcher,
      signal: abort.signal,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    });
    const retryAfter = response.headers["retry-after"];
    const outcome = classifyStatus(
      response.statusCode,
      Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    );
    if (outcome.kind !== "succeeded" || req.format !== "a2a") {
      await response.body.dump({ limit: MAX_RESPONSE_BYTES }).catch(() => undefined);
      return outcome;
    }
    return classifyA2a((await readCapped(response.body)) ?? "", response.statusCode);
  } catch (thrown) {
    const error = networkError(thrown, req.timeoutMs, timedOut);
    return { kind: refusedByGuard(thrown) ? "permanent" : "retryable", httpStatus: null, error };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

export async function readCapped(
  body: Dispatcher.ResponseData["body"],
  maxBytes = MAX_RESPONSE_BYTES,
): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      return null;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** JSON-RPC codes worth retrying: internal error, and the implementation-defined server-error range. */
const A2A_RETRYABLE = (code: number): boolean =>
  code === -32603 || (code <= -32000 && code >= -32099 && code !== -32009);
const A2A_FAILED_STATES = new Set([
  "TASK_STATE_FAILED",
  "TASK_STATE_REJECTED",
  "TASK_STATE_CANCELED",
  "failed",
  "rejected",
  "canceled",
]);

/** An A2A answer is HTTP 200 even when it failed: the JSON-RPC body decides. */
export function classifyA2a(text: string, httpStatus: number): AttemptOutcome {
  let reply: { error?: { code?: unknown; message?: unknown }; result?: Record<string, unknown> };
  try {
    reply = JSON.parse(text) as typeof reply;
  } catch {
    return {
      kind: "permanent",
      httpStatus,
      error: "A2A agent answered 200 with a body that is not JSON-RPC",
    };
  }
  if (reply.error) {
    const code = typeof reply.error.code === "number" ? reply.error.code : 0;
    const error = `A2A error ${code}: ${String(reply.error.message ?? "no message")}`;
    return A2A_RETRYABLE(code)
      ? { kind: "retryable", httpStatus, error }
      : { kind: "permanent", httpStatus, error };
  }
  if (!reply.result || typeof reply.result !== "object") {
    return { kind: "permanent", httpStatus, error: "A2A agent answered without result or error" };
  }
  const task = (reply.result.task ?? reply.result) as { status?: { state?: unknown } };
  const state = task.status?.state;
  if (typeof state === "string" && A2A_FAILED_STATES.has(state)) {
    return { kind: "permanent", httpStatus, error: `A2A task ended in ${state}` };
  }
  return { kind: "succeeded", httpStatus };
}

/** Whether a request failed because the address guard refused its address: refused again if retried. */
export function refusedByGuard(thrown: unknown): boolean {
  const codes = [(thrown as { code?: string }).code, (thrown as { cause?: { code?: string } }).cause?.code];
  return codes.includes("EBLOCKED");
}

export function networkError(thrown: unknown, timeoutMs: number, timedOut: boolean): string {
  if (
    timedOut ||
    thrown instanceof undiciErrors.HeadersTimeoutError ||
    thrown instanceof undiciErrors.BodyTimeoutError
  ) {
    return `agent did not answer within ${timeoutMs} ms`;
  }
  const error = coerceError(thrown);
  const code = (error as { code?: string }).code;
  return `network error${code ? ` ${code}` : ""}: ${error.message}`;
}
