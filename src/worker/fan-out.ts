import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { childRunId, type RunRecord } from "../runs/run-store.js";
import { mergeContext, type Context, type TriggerRecord } from "../triggers/index.js";
import type { Limiter } from "./agent-gate.js";
import type { DeliveryRequest } from "./deliver.js";
import { expandContexts } from "./expand-contexts.js";
import { flowAgentOf } from "./fire-request.js";
import { NOT_STARTED } from "./fire-run.js";
import { afterAttempt, type AttemptOutcome } from "./outcome.js";
import { sendAttempt } from "./transports.js";
import type { Pickup, WorkerContext } from "./worker-context.js";

/** How many of one fire's children are delivered at once (an agent's max_in_flight may hold fewer). */
const PARALLEL_CHILDREN = 16;
/** The longest a child waiting for its agent's limits sleeps before it asks again. */
const MAX_CHILD_WAIT_MS = 1000;

/** How an attempt of a fan-out ended. */
export type FanOutEnd =
  /** No children this attempt: the contexts could not be had (the endpoint failed). */
  | { next: "not_expanded"; outcome: Exclude<AttemptOutcome, { kind: "succeeded" }> }
  /** Children still to deliver, after `delayMs`: the parent run retries them (only them). */
  | { next: "retry"; delayMs: number; error: string; run: RunRecord }
  /** Every child reached an outcome; the parent's status summarises them. */
  | { next: "done"; status: "succeeded" | "partial" | "failed"; error: string | null; run: RunRecord };

/**
 * Delivers a fan-out's attempt: expands the fire into one child per context (once: the children and the
 * parent's list of their keys are written before any is sent, so a takeover or a retry delivers the same
 * children), then sends the children not yet done, each with its own Idempotency-Key
 * (`<slot key>#<context key>`), run record (`<run id>~<context key>`), retries and flow-control lease.
 */
export class FanOut {
  /** Children of this process waiting for flow-control room: woken when one of its children ends a lease. */
  private readonly waiting = new Set<() => void>();

  constructor(private readonly ctx: WorkerContext) {}

  async deliver(
    pickup: Pickup,
    record: TriggerRecord,
    run: RunRecord,
    request: DeliveryRequest,
    previous: RunRecord | null,
    attempt: number,
    mayRetry: (delayMs: number) => string | null,
  ): Promise<FanOutEnd> {
    const { ctx } = this;
    let children = await this.childrenSoFar(run, previous);
    if (children === null) {
      const expansion = await expandContexts(
        ctx,
        record,
        request.fire,
        request.idempotencyKey,
        pickup.signal,
      );
      if ("failed" in expansion) return { next: "not_expanded", outcome: expansion.failed };
      children = expansion.contexts.map((context) => childOf(run, context));
      // Children first: a parent that lists them always finds them.
      await ctx.runs.save(children, false);
      ctx.log.info({ tid: run.triggerId, run: run.runId, contexts: children.length }, "fan-out expanded");
    }
    const parent: RunRecord = { ...run, attempts: attempt, fanOut: tally(children) };
    await ctx.runs.save([parent]);
    const pending = children.filter((child) => !isDone(child));
    const delays = await this.sendAll(pickup, record, request, pending, attempt);
    return this.end(parent, children, delays, attempt < record.spec.retry.attempts, mayRetry);
  }

  /** The children an earlier attempt (or pickup) wrote, ready for this one; null when none were. */
  private async childrenSoFar(run: RunRecord, previous: RunRecord | null): Promise<RunRecord[] | null> {
    const keys = previous?.fanOut?.keys;
    if (!keys) return null;
    const stored = await this.ctx.runs.getMany(keys.map((key) => childRunId(run.runId, key)));
    // A parent that ended (re-driven by an operator) delivers its failed children again.
    const again = previous !== null && previous.status !== "running" && previous.status !== "retrying";
    return stored.map((child, i) => {
      if (child === null)
        return {
          ...childOf(run, { key: keys[i] ?? String(i), context: {} }),
          status: "failed",
          error: "its run record expired before it was delivered",
        };
      return again && child.status === "failed" ? { ...child, status: "retrying", error: null } : child;
    });
  }

  /** Sends the children, at most {@link PARALLEL_CHILDREN} at once. Returns the retry delays of those left. */
  private async sendAll(
    pickup: Pickup,
    record: TriggerRecord,
    request: DeliveryRequest,
    pending: RunRecord[],
    attempt: number,
  ): Promise<number[]> {
    const delays: number[] = [];
    // One signal for the children in flight (each listens to it), aborted with the job's.
    const abort = new AbortController();
    setMaxListeners(4 * PARALLEL_CHILDREN, abort.signal);
    const onAbort = (): void => abort.abort(pickup.signal?.reason);
    pickup.signal?.addEventListener("abort", onAbort, { once: true });
    const lanePickup: Pickup = { ...pickup, signal: abort.signal };
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < pending.length && !abort.signal.aborted) {
        const child = pending[next++]!;
        const delay = await this.sendChild(lanePickup, record, request, child, attempt);
        if (delay !== null) delays.push(delay);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(PARALLEL_CHILDREN, pending.length) }, lane));
    } finally {
      pickup.signal?.removeEventListener("abort", onAbort);
    }
    return delays;
  }

  /**
   * One attempt of one child: through its user's and agent's flow control (waiting in place, the lease
   * `<job id>~<key>`), sent, and recorded. Returns its retry delay while it has attempts left, else null.
   * The child record is updated in place.
   */
  private async sendChild(
    pickup: Pickup,
    record: TriggerRecord,
    request: DeliveryRequest,
    child: RunRecord,
    parentAttempt: number,
  ): Promise<number | null> {
    const { ctx } = this;
    const key = child.child?.key ?? "";
    const lease = `${pickup.job.id ?? ""}~${key}`;
    const limiters = await this.admit(record, lease, request.timeoutMs, child, pickup.signal);
    if (limiters === null) return 0;
    const attempt = child.attempts + 1;
    const startedAt = ctx.now();
    const outcome = await sendAttempt(ctx, childRequest(request, child, attempt, startedAt), pickup.signal);
    if (limiters.length > 0) {
      await ctx.gate.done(limiters, lease, outcome);
      for (const wake of this.waiting) wake();
    }
    const finished = ctx.now();
    ctx.metrics?.deliverySeconds.observe({ outcome: outcome.kind }, (finished - startedAt) / 1000);
    // The parent's attempts bound the child's: a child the parent has no attempt left for gives up.
    const next = afterAttempt(outcome, Math.max(attempt, parentAttempt), record.spec.retry);
    Object.assign(child, {
      status: next.next === "succeeded" ? "succeeded" : next.next === "retry" ? "retrying" : "failed",
      attempts: attempt,
      startedAtMs: child.startedAtMs ?? startedAt,
      finishedAtMs: finished,
      durationMs: finished - startedAt,
      httpStatus: outcome.httpStatus,
      error: next.next === "give_up" ? next.reason : "error" in outcome ? outcome.error : null,
      nextAttemptAtMs: next.next === "retry" ? finished + next.delayMs : null,
    } satisfies Partial<RunRecord>);
    await ctx.runs.save([child], false);
    return next.next === "retry" ? next.delayMs : null;
  }

  /**
   * Admits a child through its flow control, waiting in place (the parent job holds its lock meanwhile)
   * and counting the wait in the child's `waitedMs`. Null when the worker is shutting down first.
   */
  private async admit(
    record: TriggerRecord,
    lease: string,
    timeoutMs: number,
    child: RunRecord,
    signal: AbortSignal | undefined,
  ): Promise<Limiter[] | null> {
    const { ctx } = this;
    const agent = ctx.onFire ? null : flowAgentOf(record, ctx.config);
    const limiters = ctx.gate.limitersFor(record.spec.userId, agent);
    if (limiters.length === 0) return limiters;
    const partition = ctx.keys.partition ?? 0;
    const since = ctx.now();
    for (;;) {
      const admission = await ctx.gate.admit(limiters, lease, partition, timeoutMs);
      if (admission.admitted) break;
      if (signal?.aborted) return null;
      await this.room(Math.max(1, Math.min(admission.waitMs, MAX_CHILD_WAIT_MS)));
    }
    const waited = ctx.now() - since;
    if (waited > 0) child.waitedMs = (child.waitedMs ?? 0) + waited;
    return limiters;
  }

  /** Resolves after `ms`, or sooner when a child of this process ends its lease (room may be free now). */
  private async room(ms: number): Promise<void> {
    let wake = (): void => undefined;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.waiting.add(wake);
    const timer = new AbortController();
    try {
      await Promise.race([sleep(ms, undefined, { signal: timer.signal }).catch(() => undefined), woken]);
    } finally {
      this.waiting.delete(wake);
      timer.abort();
    }
  }

  /**
   * The attempt's end: children left retry after the longest of their delays while the parent has an
   * attempt left that `mayRetry` allows (retry.max_age); otherwise they fail, and the parent summarises.
   */
  private async end(
    parent: RunRecord,
    children: RunRecord[],
    delays: number[],
    retryLeft: boolean,
    mayRetry: (delayMs: number) => string | null,
  ): Promise<FanOutEnd> {
    const left = children.filter((child) => !isDone(child));
    const now = this.ctx.now();
    const timing = { finishedAtMs: now, durationMs: now - (parent.startedAtMs ?? now), httpStatus: null };
    if (left.length > 0) {
      const delayMs = Math.max(0, ...delays);
      const first = left.find((child) => child.error)?.error ?? "not delivered yet";
      const error = `${left.length} of ${children.length} contexts not delivered yet; the first: ${first}`;
      const late = retryLeft ? mayRetry(delayMs) : "no attempt left";
      if (late === null)
        return { next: "retry", delayMs, error, run: { ...parent, ...timing, fanOut: tally(children) } };
      for (const child of left)
        Object.assign(child, {
          status: "failed",
          error: `${child.error ?? "not delivered"}; ${late}`,
          nextAttemptAtMs: null,
        });
      await this.ctx.runs.save(left, false);
    }
    const fanOut = tally(children);
    const status = fanOut.failed === 0 ? "succeeded" : fanOut.succeeded === 0 ? "failed" : "partial";
    const worst = children.find((child) => child.status === "failed");
    const error =
      worst === undefined
        ? null
        : `${fanOut.failed} of ${children.length} contexts failed; the first, ${worst.child?.key}: ${worst.error ?? "not delivered"}`;
    return { next: "done", status, error, run: { ...parent, ...timing, fanOut } };
  }
}

const isDone = (run: RunRecord): boolean => run.status === "succeeded" || run.status === "failed";

function tally(children: RunRecord[]): NonNullable<RunRecord["fanOut"]> {
  let succeeded = 0;
  let failed = 0;
  for (const child of children) {
    if (child.status === "succeeded") succeeded++;
    else if (child.status === "failed") failed++;
  }
  return { keys: children.map((child) => child.child?.key ?? ""), succeeded, failed };
}

/** A child's run, not yet sent: its parent's slot, its own id and its context. */
function childOf(parent: RunRecord, { key, context }: Context): RunRecord {
  const { fanOut: _fanOut, waitedMs: _waited, waitingSinceMs: _since, ...base } = parent;
  return {
    ...base,
    runId: childRunId(parent.runId, key),
    ...NOT_STARTED,
    child: { parentRunId: parent.runId, key, context },
  };
}

/**
 * A child's request: the parent's, with the child's run id, key and attempt, and its context merged into
 * the payload as its target reads it.
 */
function childRequest(
  parent: DeliveryRequest,
  child: RunRecord,
  attempt: number,
  firedAt: number,
): DeliveryRequest {
  const key = child.child?.key ?? "";
  const context = child.child?.context ?? {};
  return {
    ...parent,
    idempotencyKey: `${parent.idempotencyKey}#${key}`,
    fire: {
      ...parent.fire,
      run_id: child.runId,
      payload: mergeContext(parent.fire.payload, context, parent.nats?.dispatch ?? null),
      fired_at: new Date(firedAt).toISOString(),
      attempt,
      parent_run_id: child.child?.parentRunId ?? "",
      context_key: key,
    },
  };
}
