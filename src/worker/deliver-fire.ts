import { DelayedError, UnrecoverableError } from "bullmq";
import type { RunRecord } from "../runs/run-store.js";
import type { AgentWait } from "../runs/agent-flow.js";
import { formatDuration, iso, kindOf, type TriggerRecord } from "../triggers/index.js";
import type { GateAdmission, Limiter } from "./agent-gate.js";
import type { CatchUp } from "./catch-up.js";
import { OUTCOMES } from "./decide-fire.js";
import { baseRun } from "./fire-run.js";
import type { DeliveryRequest } from "./deliver.js";
import { FanOut } from "./fan-out.js";
import { buildRequest, flowAgentOf } from "./fire-request.js";
import { RetryableDeliveryError, afterAttempt, type AfterAttempt, type AttemptOutcome } from "./outcome.js";
import { startRun, type StartResult } from "./overlap.js";
import { sendAttempt } from "./transports.js";
import type { RunRecorder } from "./record-run.js";
import type { FireResult, Pickup, WorkerContext } from "./worker-context.js";

/** How long a slot that must wait for the trigger's run in progress waits before it looks again. */
const OVERLAP_REQUEUE_MS = 1000;

/** The run of a slot as an attempt starts: begun by begin-fire.lua, or as an earlier pickup left it. */
export interface RunSoFar {
  /** Its run, when begin-fire.lua already wrote it as running. */
  started?: RunRecord;
  /** Its run as an earlier pickup of this job left it (a takeover). */
  existing?: RunRecord | null;
}

/**
 * Delivers one attempt of a slot: takes the overlap marker (or waits, or records the slot skipped), sends
 * the request, and records the outcome or throws for BullMQ to retry (RetryableDeliveryError, with the
 * delay) or to fail the job for good (UnrecoverableError).
 */
export class FireDelivery {
  constructor(
    private readonly ctx: WorkerContext,
    private readonly recorder: RunRecorder,
    private readonly catchUp: CatchUp,
  ) {
    this.fanOut = new FanOut(ctx);
  }

  private readonly fanOut: FanOut;

  async deliver(
    pickup: Pickup,
    record: TriggerRecord,
    { started, existing = null }: RunSoFar,
  ): Promise<FireResult> {
    const { ctx } = this;
    const { job, slot } = pickup;
    const { data } = job;
    const attempt = job.attemptsMade + 1;
    const startedAt = started?.startedAtMs ?? ctx.now();
    const previous =
      attempt > 1 || data.origin === "redrive"
        ? await ctx.runs.get(ctx.keys.runId(data.tid, slot, data.manualNonce))
        : existing;
    // A slot that already reached an outcome (and is re-delivered from Bull Board) is not a new fire.
    const counted = !(previous && OUTCOMES.has(previous.status));
    // begin-fire.lua writes a taken-over run afresh: what its earlier pickups waited is carried over.
    const run: RunRecord = started
      ? { ...started, ...waitSoFar(previous) }
      : {
          ...baseRun(data.tid, slot, data, previous?.startedAtMs ?? startedAt, ctx.keys),
          status: "running",
          attempts: attempt,
          ...waitSoFar(previous),
        };
    const request = buildRequest(ctx.config, record, run, data, attempt, startedAt, !!ctx.onFire);
    if ("error" in request) return this.failForGood(pickup, record, run, request.error, counted, !!started);
    if (!started) {
      const marker = !run.manual && record.spec.overlap === "skip" ? (job.id ?? "") : null;
      const start = await startRun(ctx, run, marker);
      if (!start.started) return this.overlapping(pickup, record, start, existing !== null);
    }
    const tooOld = tooOldFor(record, slot, ctx.now(), run.manual);
    if (tooOld !== null) return this.failForGood(pickup, record, run, tooOld, counted, true);
    if (record.spec.expand !== null) return this.fannedOut(pickup, record, run, request, previous, counted);
    const limiters = await this.admit(pickup, record, run, request.timeoutMs);
    const outcome = await sendAttempt(ctx, request, pickup.signal);
    if (limiters.length > 0) await ctx.gate.done(limiters, job.id ?? "", outcome);
    const finished = ctx.now();
    const timing = {
      finishedAtMs: finished,
      durationMs: finished - startedAt,
      httpStatus: outcome.httpStatus,
    };
    this.measure(record, run, outcome, attempt, timing.durationMs, startedAt - slot);
    const done = { ...run, ...timing };
    const next = afterAttempt(outcome, attempt, record.spec.retry);
    if (next.next !== "succeeded") return this.failed(pickup, record, done, next, outcome, attempt, counted);
    // As settle(), written out: the path every fire takes, so one async step fewer.
    const handTo = this.catchUp.handOverFor(job);
    await this.recorder.finish(record, done, {
      status: "succeeded",
      error: null,
      counted,
      indexed: true,
      job,
      handTo,
    });
    if (handTo) await this.catchUp.continueChain(job);
    if (ctx.log.isLevelEnabled("debug"))
      ctx.log.debug(
        { tid: data.tid, run: run.runId, slot: iso(slot), lateMs: startedAt - slot },
        "delivered",
      );
    return { outcome: "succeeded", run_id: run.runId, http_status: outcome.httpStatus ?? 0 };
  }

  /** Ends a run failed without (another) attempt: its request cannot be made, or its slot is too old. */
  private async failForGood(
    pickup: Pickup,
    record: TriggerRecord,
    run: RunRecord,
    error: string,
    counted: boolean,
    indexed: boolean,
  ): Promise<never> {
    const { ctx } = this;
    const { tid } = pickup.job.data;
    await this.settle(pickup, record, run, { status: "failed", error, counted, indexed });
    ctx.log.warn({ tid, run: run.runId, error }, "delivery failed");
    void ctx.notify?.(
      { type: "tickler.run_failed", trigger: tid, run_id: run.runId, error },
      record.spec.notify,
    );
    throw new UnrecoverableError(error);
  }

  /**
   * Passes the request through its user's and its agent's flow control (the limiters it holds, for
   * `gate.done`), or records the run waiting and delays its job (throwing DelayedError). The run's
   * `waited_ms` grows by the wait that ends here.
   */
  private async admit(
    pickup: Pickup,
    record: TriggerRecord,
    run: RunRecord,
    timeoutMs: number,
  ): Promise<Limiter[]> {
    const { ctx } = this;
    const agent = ctx.onFire ? null : flowAgentOf(record, ctx.config);
    const limiters = ctx.gate.limitersFor(record.spec.userId, agent);
    if (limiters.length === 0) return limiters;
    const partition = ctx.keys.partition ?? 0;
    const admission = await ctx.gate.admit(limiters, pickup.job.id ?? "", partition, timeoutMs);
    if (!admission.admitted) return this.waitForAgent(pickup, run, admission);
    if (run.waitingSinceMs !== undefined) {
      run.waitedMs = (run.waitedMs ?? 0) + Math.max(0, ctx.now() - run.waitingSinceMs);
      delete run.waitingSinceMs;
    }
    return limiters;
  }

  /** A failed attempt: recorded retrying (BullMQ retries it after the delay) or failed for good. */
  private async failed(
    pickup: Pickup,
    record: TriggerRecord,
    run: RunRecord,
    chosen: Exclude<AfterAttempt, { next: "succeeded" }>,
    outcome: AttemptOutcome,
    attempt: number,
    counted: boolean,
  ): Promise<never> {
    const { ctx } = this;
    let next = chosen;
    const error = "error" in outcome ? outcome.error : "";
    // A retry that would start past retry.max_age is not made: the slot fails now.
    const late =
      next.next === "retry" ? tooOldFor(record, pickup.slot, ctx.now() + next.delayMs, run.manual) : null;
    if (late !== null) next = { next: "give_up", reason: `${error}; ${late}` };
    if (next.next === "retry") return this.retryLater(pickup, record, run, next.delayMs, error, attempt);
    return this.giveUp(pickup, record, run, next.reason, counted);
  }

  /** Records the run retrying and throws for BullMQ to make the next attempt after `delayMs`. */
  private async retryLater(
    pickup: Pickup,
    record: TriggerRecord,
    run: RunRecord,
    delayMs: number,
    error: string,
    attempt: number,
  ): Promise<never> {
    const { ctx } = this;
    const nextAttemptAtMs = (run.finishedAtMs ?? ctx.now()) + delayMs;
    await ctx.runs.save([{ ...run, status: "retrying", error, nextAttemptAtMs }]);
    const { tid } = pickup.job.data;
    ctx.log.warn({ tid, run: run.runId, attempt, delayMs, error }, "delivery failed; will retry");
    ctx.metrics?.retries.inc({ kind: kindOf(record.spec) });
    throw new RetryableDeliveryError(error, delayMs);
  }

  /** Records the run failed after its last attempt, notifies, and fails the job for good. */
  private async giveUp(
    pickup: Pickup,
    record: TriggerRecord,
    run: RunRecord,
    error: string,
    counted: boolean,
  ): Promise<never> {
    const { ctx } = this;
    const { tid } = pickup.job.data;
    await this.settle(pickup, record, run, { status: "failed", error, counted, indexed: true });
    ctx.log.warn({ tid, run: run.runId, attempts: run.attempts, error }, "delivery failed");
    void ctx.notify?.(
      { type: "tickler.run_failed", trigger: tid, run_id: run.runId, error },
      record.spec.notify,
    );
    throw new UnrecoverableError(error);
  }

  /**
   * An attempt of a fan-out (see `FanOut`): the children left are retried as the parent run's next
   * attempt; once none are left, the parent is recorded as they came out: succeeded, partial or failed.
   */
  private async fannedOut(
    pickup: Pickup,
    record: TriggerRecord,
    run: RunRecord,
    request: DeliveryRequest,
    previous: RunRecord | null,
    counted: boolean,
  ): Promise<FireResult> {
    const { ctx } = this;
    const attempt = pickup.job.attemptsMade + 1;
    const mayRetry = (delayMs: number): string | null =>
      tooOldFor(record, pickup.slot, ctx.now() + delayMs, run.manual);
    const end = await this.fanOut.deliver(pickup, record, run, request, previous, attempt, mayRetry);
    if (end.next === "not_expanded") {
      const done = {
        ...run,
        finishedAtMs: ctx.now(),
        durationMs: ctx.now() - (run.startedAtMs ?? ctx.now()),
      };
      const next = afterAttempt(end.outcome, attempt, record.spec.retry);
      if (next.next === "succeeded") throw new Error("unreachable: a failed expansion");
      return this.failed(pickup, record, done, next, end.outcome, attempt, counted);
    }
    if (end.next === "retry")
      return this.retryLater(pickup, record, end.run, end.delayMs, end.error, attempt);
    if (end.status === "failed") return this.giveUp(pickup, record, end.run, end.error ?? "", counted);
    const { status, error } = end;
    await this.settle(pickup, record, end.run, { status, error, counted, indexed: true });
    const { tid } = pickup.job.data;
    if (status === "partial") {
      ctx.log.warn({ tid, run: run.runId, error }, "fan-out delivered in part");
      return { outcome: "partial", run_id: run.runId, failed: end.run.fanOut?.failed ?? 0 };
    }
    return { outcome: "succeeded", run_id: run.runId, http_status: 0 };
  }

  /**
   * Another run of the trigger holds its overlap marker and is alive. Catch-ups of one outage run in order,
   * one at a time; a taken-over run was started in its time; and a crash's re-delivery of an older slot is
   * not a run this slot came during: each of those waits for the run in progress. Any other slot is
   * recorded skipped.
   */
  private async overlapping(
    pickup: Pickup,
    record: TriggerRecord,
    start: Exclude<StartResult, { started: true }>,
    takeover: boolean,
  ): Promise<FireResult> {
    const { ctx } = this;
    const { job, slot } = pickup;
    const { data } = job;
    const waits = data.origin === "catchup" || data.origin === "skipped" || data.origin === "redrive";
    if (waits || takeover || start.retaken) {
      await job.moveToDelayed(ctx.now() + OVERLAP_REQUEUE_MS, pickup.token);
      throw new DelayedError();
    }
    const skipped = baseRun(data.tid, slot, data, ctx.now(), ctx.keys);
    await this.recorder.finish(record, skipped, {
      status: "skipped_overlap",
      error: `the previous run of this trigger was still in progress (${start.heldBy})`,
    });
    ctx.log.info({ tid: data.tid, run: skipped.runId, heldBy: start.heldBy }, "slot skipped: overlap");
    return { outcome: "skipped_overlap", run_id: skipped.runId };
  }

  /**
   * The agent's limits (or its open circuit, or a 429's pause) hold the request back: the run is recorded
   * `waiting` and its job delayed until it may look again. No attempt is spent, the overlap marker stays
   * this run's, and the next pickup is a takeover, so the wait never makes the slot "late".
   */
  private async waitForAgent(
    pickup: Pickup,
    run: RunRecord,
    admission: Extract<GateAdmission, { admitted: false }>,
  ): Promise<never> {
    const { ctx } = this;
    const now = ctx.now();
    await ctx.runs.save([
      {
        ...run,
        status: "waiting",
        error: waitReason(admission.limiter, admission.reason),
        nextAttemptAtMs: now + admission.waitMs,
        waitingSinceMs: run.waitingSinceMs ?? now,
      },
    ]);
    const { kind, name } = admission.limiter;
    ctx.metrics?.agentWaits.inc({
      agent: kind === "agent" ? name : "(user limits)",
      reason: admission.reason,
    });
    await pickup.job.moveToDelayed(now + admission.waitMs, pickup.token);
    throw new DelayedError();
  }

  /** Records a delivered run's outcome, hands the marker on and adds its chain's next step. */
  private async settle(
    pickup: Pickup,
    record: TriggerRecord,
    run: RunRecord,
    outcome: {
      status: "succeeded" | "failed" | "partial";
      error: string | null;
      counted: boolean;
      indexed: boolean;
    },
  ): Promise<void> {
    const { job } = pickup;
    const handTo = this.catchUp.handOverFor(job);
    await this.recorder.finish(record, run, { ...outcome, job, handTo });
    // Only a chain's step has a next step to add (most fires are not: no extra await for them).
    if (handTo) await this.catchUp.continueChain(job);
  }

  private measure(
    record: TriggerRecord,
    run: RunRecord,
    outcome: AttemptOutcome,
    attempt: number,
    durationMs: number,
    latenessMs: number,
  ): void {
    const { metrics } = this.ctx;
    metrics?.deliverySeconds.observe({ outcome: outcome.kind }, durationMs / 1000);
    if (attempt === 1 && !run.manual)
      metrics?.latenessSeconds.observe({ kind: kindOf(record.spec) }, Math.max(0, latenessMs) / 1000);
  }
}

/** What an earlier pickup's waits for the agent left in the slot's run, carried into this attempt's. */
function waitSoFar(previous: RunRecord | null): Pick<RunRecord, "waitedMs" | "waitingSinceMs"> {
  if (!previous) return {};
  return {
    ...(previous.waitedMs ? { waitedMs: previous.waitedMs } : {}),
    ...(previous.status === "waiting" && previous.waitingSinceMs !== undefined
      ? { waitingSinceMs: previous.waitingSinceMs }
      : {}),
  };
}

/** Why a fire waits for its agent (or its user's limits), in words. */
function waitReason(limiter: Limiter, reason: AgentWait): string {
  const { flow } = limiter;
  const whose =
    limiter.kind === "agent" ? `agent ${limiter.name}` : `user ${limiter.name}'s limits (limits.per_user)`;
  switch (reason) {
    case "in_flight":
      return `waiting for ${whose}: ${flow.maxInFlight} requests in flight (max_in_flight ${flow.maxInFlight})`;
    case "rate":
      return `waiting for ${whose}: rate ${flow.rate?.requests} per ${formatDuration(flow.rate?.perMs ?? 0)}`;
    case "open":
      return `waiting for ${whose}: its circuit is open after failed attempts in a row; one probe goes through per interval`;
    case "paused":
      return `waiting for ${whose}: it answered 429 with Retry-After; the whole agent is paused until then`;
  }
}

/**
 * Why a slot is too old for another attempt at `atMs` (its trigger's `retry.max_age`), or null. A manual run
 * is as old as its request.
 */
function tooOldFor(record: TriggerRecord, slotMs: number, atMs: number, manual: boolean): string | null {
  const maxAge = record.spec.retry.maxAgeMs;
  if (maxAge === null || manual || atMs - slotMs <= maxAge) return null;
  return `too old: the slot came due ${formatDuration(atMs - slotMs)} before, past retry.max_age ${formatDuration(maxAge)}`;
}
