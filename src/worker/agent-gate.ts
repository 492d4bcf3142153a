import { Job } from "bullmq";
import type { Logger } from "pino";
import type { AgentConfig, AgentFlow } from "../config/index.js";
import type { Metrics } from "../metrics.js";
import type { FireQueue } from "../producer/fire-queue.js";
import type { AgentFlowStore, Admission, AttemptVerdict } from "../runs/agent-flow.js";
import { coerceError } from "../triggers/index.js";
import type { AttemptOutcome } from "./outcome.js";
import type { Notice } from "./notifier.js";

/** An agent with flow control set. */
export type FlowAgent = AgentConfig & { flow: AgentFlow };

/** The longest a 429's Retry-After pauses a whole agent (a hostile endpoint cannot park it for days). */
const MAX_PAUSE_MS = 3_600_000;

/**
 * The worker's side of agents' flow control: asks the fleet-wide store before a request goes out, tells it
 * how the request ended, and wakes the fires that waited for the room it freed (promoting their delayed
 * jobs, in whichever partition they are). A lost wake-up costs latency, never a fire: each waiting job
 * looks again on its own after a bounded delay.
 */
export class AgentGate {
  constructor(
    private readonly deps: {
      flow: AgentFlowStore;
      /** A partition's fire queue, for waking its waiting jobs. */
      queueOf: (partition: number) => FireQueue | undefined;
      logger: Logger;
      metrics?: Metrics;
      notify?: (notice: Notice) => Promise<void>;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Asks to send `jobId`'s request to `agent`. */
  admit(agent: FlowAgent, jobId: string, partition: number, timeoutMs: number): Promise<Admission> {
    return this.deps.flow.admit(agent, jobId, partition, timeoutMs, this.now());
  }

  /**
   * Tells the store how an admitted request ended (it never throws: a failure here must not fail the fire;
   * the lease then expires on its own), logs a circuit's transition and wakes waiting fires.
   */
  async done(agent: FlowAgent, jobId: string, outcome: AttemptOutcome): Promise<void> {
    const { logger } = this.deps;
    const failure = "error" in outcome ? outcome.error : "";
    const pauseMs =
      outcome.kind === "retryable" && outcome.httpStatus === 429 && outcome.retryAfterMs !== undefined
        ? Math.min(outcome.retryAfterMs, MAX_PAUSE_MS)
        : 0;
    // A rate alone holds no lease and counts no outcome: nothing to tell, unless a 429 pauses the agent.
    if (agent.flow.circuit === null && agent.flow.maxInFlight === null && pauseMs === 0) return;
    const now = this.now();
    try {
      const done = await this.deps.flow.done(
        agent,
        jobId,
        verdictOf(outcome),
        failure,
        pauseMs > 0 ? now + pauseMs : null,
        now,
      );
      if (pauseMs > 0)
        logger.warn({ agent: agent.name, pauseMs }, "agent answered 429 with Retry-After: pausing the agent");
      if (done.transition === "open")
        logger.warn(
          { agent: agent.name, failures: agent.flow.circuit?.failures, error: failure },
          "agent circuit opened: fires to it wait, one probe goes through per interval",
        );
      else if (done.transition === "closed") logger.info({ agent: agent.name }, "agent circuit closed");
      if (done.transition === "open")
        void this.deps.notify?.({ type: "tickler.circuit_open", agent: agent.name, reason: failure });
      if (done.transition)
        this.deps.metrics?.circuitTransitions.inc({ agent: agent.name, to: done.transition });
      for (const waiter of done.wake) void this.wake(waiter.partition, waiter.jobId);
    } catch (thrown) {
      logger.warn({ agent: agent.name, err: coerceError(thrown).message }, "could not end an agent lease");
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
