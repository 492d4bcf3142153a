import { Job } from "bullmq";
import type { Logger } from "pino";
import type { AgentConfig, AgentFlow } from "../config/index.js";
import type { Metrics } from "../metrics.js";
import type { FireQueue } from "../producer/fire-queue.js";
import type { AgentFlowStore, AgentWait, AttemptVerdict, Done, Limited } from "../runs/agent-flow.js";
import { coerceError } from "../triggers/index.js";
import type { Notice } from "./notifier.js";
import type { AttemptOutcome } from "./outcome.js";

/** An agent with flow control set. */
export type FlowAgent = AgentConfig & { flow: AgentFlow };

/** One set of limits a request passes: its agent's, or its user's (`limits.per_user`). */
export interface Limiter extends Limited {
  kind: "agent" | "user";
  store: AgentFlowStore;
}

/** The gate's answer: go (every limiter admitted the request), or wait for one of them. */
export type GateAdmission =
  { admitted: true } | { admitted: false; waitMs: number; reason: AgentWait; limiter: Limiter };

/** The longest a 429's Retry-After pauses a whole agent (a hostile endpoint cannot park it for days). */
const MAX_PAUSE_MS = 3_600_000;

/**
 * The worker's side of flow control: asks the fleet-wide stores before a request goes out (its user's
 * limits, then its agent's), tells them how the request ended, and wakes the fires that waited for the room
 * it freed (promoting their delayed jobs, in whichever partition they are). A lost wake-up costs latency,
 * never a fire: each waiting job looks again on its own after a bounded delay.
 */
export class AgentGate {
  constructor(
    private readonly deps: {
      /** Agents' flow state. */
      flow: AgentFlowStore;
      /** Users' flow state (`limits.per_user`), when configured. */
      userFlow?: AgentFlowStore;
      /** Each user's limits, or null for none. */
      perUser?: AgentFlow | null;
      /** A partition's fire queue, for waking its waiting jobs. */
      queueOf: (partition: number) => FireQueue | undefined;
      logger: Logger;
      metrics?: Metrics;
      notify?: (notice: Notice) => Promise<void>;
      /** The run event stream circuit changes go on (SSE `event: agent`, admins only). */
      events?: { key: string; maxLen: number };
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** The limits a request of `userId` to `agent` passes, in the order they are asked. */
  limitersFor(userId: string, agent: FlowAgent | null): Limiter[] {
    const { userFlow, perUser } = this.deps;
    const out: Limiter[] = [];
    if (userFlow && perUser) out.push({ kind: "user", name: userId, flow: perUser, store: userFlow });
    if (agent) out.push({ kind: "agent", name: agent.name, flow: agent.flow, store: this.deps.flow });
    return out;
  }

  /**
   * Asks every limiter in turn; when one says wait, the ones that admitted the request already get their
   * room back (so a fire waiting for its agent holds none of its user's).
   */
  async admit(
    limiters: readonly Limiter[],
    jobId: string,
    partition: number,
    timeoutMs: number,
  ): Promise<GateAdmission> {
    const taken: Limiter[] = [];
    for (const limiter of limiters) {
      const admission = await limiter.store.admit(limiter, jobId, partition, timeoutMs, this.now());
      if (!admission.admitted) {
        for (const held of taken) await this.end(held, jobId, "neutral", "", null);
        return { ...admission, limiter };
      }
      taken.push(limiter);
    }
    return { admitted: true };
  }

  /**
   * Tells every limiter how an admitted request ended (never throwing: a failure here must not fail the
   * fire; the lease then expires on its own), logs a circuit's transition and wakes waiting fires.
   */
  async done(limiters: readonly Limiter[], jobId: string, outcome: AttemptOutcome): Promise<void> {
    const failure = "error" in outcome ? outcome.error : "";
    const pauseMs =
      outcome.kind === "retryable" && outcome.httpStatus === 429 && outcome.retryAfterMs !== undefined
        ? Math.min(outcome.retryAfterMs, MAX_PAUSE_MS)
        : 0;
    for (const limiter of limiters) {
      // A user's limits count no outcome and take no pause; the agent's do.
      const agent = limiter.kind === "agent";
      const pause = agent && pauseMs > 0 ? this.now() + pauseMs : null;
      const done = await this.end(limiter, jobId, agent ? verdictOf(outcome) : "neutral", failure, pause);
      if (done) this.report(limiter, done, failure, pauseMs);
    }
  }

  /** Ends one limiter's lease (a rate alone holds none, and counts nothing: no round trip then). */
  private async end(
    limiter: Limiter,
    jobId: string,
    verdict: AttemptVerdict,
    failure: string,
    pauseUntilMs: number | null,
  ): Promise<Done | null> {
    const { flow } = limiter;
    if (flow.circuit === null && flow.maxInFlight === null && pauseUntilMs === null) return null;
    try {
      const done = await limiter.store.done(limiter, jobId, verdict, failure, pauseUntilMs, this.now());
      for (const waiter of done.wake) void this.wake(waiter.partition, waiter.jobId);
      return done;
    } catch (thrown) {
      this.deps.logger.warn(
        { [limiter.kind]: limiter.name, err: coerceError(thrown).message },
        "could not end a flow-control lease (it expires on its own)",
      );
      return null;
    }
  }

  /** Logs, counts and notifies what ending an agent's request changed. */
  private report(limiter: Limiter, done: Done, failure: string, pauseMs: number): void {
    const { logger, metrics, notify } = this.deps;
    const agent = limiter.name;
    if (pauseMs > 0)
      logger.warn({ agent, pauseMs }, "agent answered 429 with Retry-After: pausing the agent");
    if (done.transition === "open") {
      logger.warn(
        { agent, failures: limiter.flow.circuit?.failures, error: failure },
        "agent circuit opened: fires to it wait, one probe goes through per interval",
      );
      void notify?.({ type: "tickler.circuit_open", agent, reason: failure });
    } else if (done.transition === "closed") logger.info({ agent }, "agent circuit closed");
    if (done.transition) {
      metrics?.circuitTransitions.inc({ agent, to: done.transition });
      const { events } = this.deps;
      if (events)
        void limiter.store
          .announce(events, {
            agent,
            circuit: done.transition,
            reason: done.transition === "open" ? failure : null,
            atMs: this.now(),
          })
          .catch(() => undefined);
    }
  }

  /** Moves a waiting fire's delayed job to the queue now (it may have moved on already: then nothing). */
  private async wake(partition: number, jobId: string): Promise<void> {
    const queue = this.deps.queueOf(partition)?.queue;
    if (!queue) return;
    try {
      const job = await Job.fromId(queue, jobId);
      if (job && (await job.isDelayed())) await job.promote();
    } catch {
      // Promoted by another wake-up, or already picked up by its own delay: nothing to do.
    }
  }
}

/** How an attempt counts in its agent's circuit: a network error, timeout, 408/425/429 or 5xx is the agent's. */
function verdictOf(outcome: AttemptOutcome): AttemptVerdict {
  return outcome.kind === "succeeded" ? "ok" : outcome.kind === "retryable" ? "fail" : "neutral";
}
