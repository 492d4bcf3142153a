import { connect, headers as natsHeaders, type NatsConnection } from "nats";
import type { Logger } from "pino";
import { coerceError, loomMessage, type NatsTarget } from "../triggers/index.js";
import type { DeliveryRequest, FireBody } from "./deliver.js";
import type { AttemptOutcome } from "./outcome.js";

/** The longest a connect to a NATS server may take before the attempt counts as failed (and is retried). */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Publishes fires to NATS: one connection per server list, shared by every fire of the worker process. With
 * `jetstream`, a publish waits for the stream's ack and carries `Nats-Msg-Id: <idempotency key>`, so a slot
 * re-published after a crash (or a retry after a lost ack) is dropped by the stream's duplicate window
 * (JetStream's default: 2 minutes) and its consumers see it once. Core NATS publishes are fire-and-forget:
 * delivered at most once to whoever is subscribed then.
 */
export class NatsPublisher {
  private readonly connections = new Map<string, Promise<NatsConnection>>();
  private closed = false;

  constructor(
    private readonly logger: Logger,
    private readonly name = "tickler-worker",
  ) {}

  /** Publishes one attempt and classifies the answer. Never throws: every failure is an outcome. */
  async publish(req: DeliveryRequest): Promise<AttemptOutcome> {
    const target = req.nats!;
    let data: Uint8Array;
    try {
      data = new TextEncoder().encode(JSON.stringify(natsBody(target, req.fire)));
    } catch (thrown) {
      return { kind: "permanent", httpStatus: null, error: coerceError(thrown).message };
    }
    let nc: NatsConnection;
    try {
      nc = await this.connection(target.servers, Math.min(req.timeoutMs, CONNECT_TIMEOUT_MS));
    } catch (thrown) {
      return {
        kind: "retryable",
        httpStatus: null,
        error: `could not connect to NATS at ${target.servers}: ${natsCode(thrown)}`,
      };
    }
    const headers = natsHeaders();
    for (const [name, value] of Object.entries(req.headers)) headers.set(name, value);
    headers.set("Nats-Msg-Id", req.idempotencyKey);
    headers.set("Tickler-Run-Id", req.fire.run_id);
    headers.set("Tickler-Trigger", req.fire.trigger.id);
    headers.set("Tickler-Scheduled-At", req.fire.scheduled_at);
    try {
      if (!target.jetstream) {
        nc.publish(target.subject, data, { headers });
        await nc.flush();
        return { kind: "succeeded", httpStatus: null };
      }
      // A duplicate ack (the stream had this Nats-Msg-Id already) is a success: the slot was published once.
      const ack = await nc.jetstream().publish(target.subject, data, {
        msgID: req.idempotencyKey,
        headers,
        timeout: req.timeoutMs,
      });
      if (ack.duplicate)
        this.logger.info(
          { key: req.idempotencyKey, stream: ack.stream, seq: ack.seq },
          "JetStream already held this slot's message (a re-publish after a crash or a lost ack): not stored twice",
        );
      return { kind: "succeeded", httpStatus: null };
    } catch (thrown) {
      return publishFailure(thrown, target, req.timeoutMs);
    }
  }

  /** Drains every connection (publishes in flight are flushed first). */
  async close(): Promise<void> {
    this.closed = true;
    const connections = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(
      connections.map(async (pending) => {
        const nc = await pending.catch(() => null);
        await nc?.drain().catch(() => undefined);
      }),
    );
  }

  private connection(servers: string, timeoutMs: number): Promise<NatsConnection> {
    if (this.closed) return Promise.reject(new Error("the worker is shutting down"));
    let pending = this.connections.get(servers);
    if (pending === undefined) {
      pending = connect({
        servers: servers.split(","),
        name: this.name,
        timeout: timeoutMs,
        // Once up, a connection rides out server restarts itself; publishes meanwhile time out and are retried.
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1_000,
      });
      this.connections.set(servers, pending);
      pending.then(
        (nc) => {
          this.logger.info({ servers }, "connected to NATS");
          void nc.closed().then(() => {
            if (this.connections.get(servers) === pending) this.connections.delete(servers);
          });
        },
        () => {
          // A failed connect is not kept: the next attempt dials again.
          if (this.connections.get(servers) === pending) this.connections.delete(servers);
        },
      );
    }
    return pending;
  }
}

/** What a fire publishes: tickler's `tickler.fire` body, or the Loom goal or task its payload describes. */
export function natsBody(target: NatsTarget, fire: FireBody): Record<string, unknown> {
  if (target.dispatch === null) return fire as unknown as Record<string, unknown>;
  return loomMessage(target.dispatch, fire);
}

function natsCode(thrown: unknown): string {
  const error = coerceError(thrown);
  const code = (error as { code?: string }).code;
  return code && code !== error.message ? `${code} ${error.message}` : error.message;
}

function publishFailure(thrown: unknown, target: NatsTarget, timeoutMs: number): AttemptOutcome {
  const code = String((thrown as { code?: unknown }).code ?? "");
  if (code === "503")
    return {
      kind: "permanent",
      httpStatus: null,
      error: `no JetStream stream listens on subject ${target.subject}: add one (e.g. nats stream add TURNS --subjects "${target.subject}"), or set jetstream: false for core NATS`,
    };
  if (code === "TIMEOUT")
    return {
      kind: "retryable",
      httpStatus: null,
      error: `JetStream did not ack the publish to ${target.subject} within ${timeoutMs} ms`,
    };
  return {
    kind: "retryable",
    httpStatus: null,
    error: `NATS publish to ${target.subject} failed: ${natsCode(thrown)}`,
  };
}
