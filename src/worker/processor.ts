import { DelayedError, UnrecoverableError, type Job } from "bullmq";
import type { Redis } from "ioredis";
import type { Dispatcher } from "undici";
import type { Logger } from "pino";
import type { Config } from "../config/index.js";
import {
  catchupJobId,
  slotOf,
  type FireJobData,
  type FireQueue,
  type LatePlan,
} from "../producer/fire-queue.js";
import { decodeTrigger, type TriggerStore } from "../producer/trigger-store.js";
import type { Metrics } from "../metrics.js";
import type { Keys } from "../redis/keys.js";
import {
  runIdFor,
  type FireBookkeeping,
  type RunRecord,
  type RunStore,
  type RunStatus,
} from "../runs/run-store.js";
import {
  isLate,
  iso,
  kindOf,
  planMissed,
  slotAfter,
  slotsBetween,
  stateOf,
  type TriggerRecord,
} from "../triggers/index.js";
import { deliver } from "./deliver.js";
import { buildRequest } from "./fire-request.js";
import { startRun } from "./overlap.js";
import { RetryableDeliveryError, retryDelayMs, type AttemptOutcome } from "./outcome.js";

/** What the processor needs; everything is passed in, nothing is a singleton. */
export interface ProcessorDeps {
  redis: Redis;
  keys: Keys;
  store: TriggerStore;
  runs: RunStore;
  fires: FireQueue;
  config: Config;
  dispatcher: Dispatcher;
  logger: Logger;
  /** Where fire counts, delivery times and lateness are recorded, when metrics are on. */
  metrics?: Metrics;
  now?: () => number;
}

/** What a processed job resolved to (kept as the BullMQ job's return value, visible in Bull Board). */
export type FireResult =
  | { outcome: "succeeded"; run_id: string; http_status: number }
  | { outcome: "dropped"; reason: string }
  | { outcome: "missed"; run_ids: string[] }
  | { outcome: "skipped_overlap"; run_id: string }
  | { outcome: "catchup_planned"; slots: number };

/** Run statuses that are outcomes: the slot is done. */
const OUTCOMES: ReadonlySet<RunStatus> = new Set(["succeeded", "failed", "missed", "skipped_overlap"]);

/** The most missed slots enumerated after one outage (older ones are counted in the log, not recorded one by one). */
const MAX_MISSED_SLOTS = 1000;
/** How long a job newer than its trigger's stored definition waits for the write to commit (the write lock's TTL). */
const WRITE_GRACE_MS = 10_000;
/** How often such a job looks again. */
const WRITE_RECHECK_MS = 100;
/** How long a catch-up waits before trying again while the trigger's previous run is still going. */
const OVERLAP_REQUEUE_MS = 1000;

/**
 * The BullMQ processor: decide (stale? paused? late? overlapping?), deliver, record. Every slot that came due
 * leaves exactly one run record: run ids derive from (trigger, slot), so a retry or a takeover after a
 * worker died rewrites the same record.
 */
export function createProcessor(deps: ProcessorDeps) {
  const now = deps.now ?? Date.now;
  const log = deps.logger;

  return async function processFire(
    job: Job<FireJobData>,
    token?: string,
    signal?: AbortSignal,
  ): Promise<FireResult> {
    const { data } = job;
    const slot = slotOf(job);
    const manual = data.origin === "manual";
    // A job that already made attempts is resuming a slot that came due (a retry, or a retry of a failed
    // fire from Bull Board): it is delivered even if the trigger completed meanwhile.
    const resumed = job.attemptsMade > 0;

    // A first attempt reads its trigger and, when nothing below would stop it, starts its run in the same
    // round trip; otherwise it decides here with what that read returned. A pickup that finds the slot's run
    // already started is a takeover: the worker of an earlier pickup of this job died.
    let record: TriggerRecord | null;
    let existing: RunRecord | null = null;
    if (!resumed && !data.late) {
      const startedAt = now();
      const run: RunRecord = { ...baseRun(data.tid, slot, data, startedAt), status: "running", attempts: 1 };
      const begun = await deps.runs.begin(run, {
        scheduleVersion: manual ? null : data.sv,
        jobId: job.id ?? "",
        checkLate: data.origin === "scheduled" || data.origin === "once",
        nowMs: startedAt,
      });
      record = decodeTrigger(begun.hash, begun.definition);
      existing = begun.existing;
      if (begun.started && record) {
        if (data.origin === "scheduled") await recoverSkipped(job, record, slot);
        return deliverSlot(job, record, slot, token, signal, { started: run, existing });
      }
    } else record = await deps.store.get(data.tid);

    if (existing && OUTCOMES.has(existing.status)) {
      // Its worker died after recording the outcome, before BullMQ marked the job done: not a new fire.
      // A chain step still adds its next step (that is idempotent: job ids derive from the slots).
      const following = chainOf(job);
      if (following) await chain(data.tid, data.sv, following.origin, following.slots);
      return { outcome: "dropped", reason: "already finished" };
    }
    const takeover = existing !== null;

    // The producer adds a job before it commits the definition that accounts for it (schedule versions
    // only grow), so a job newer than the stored definition may belong to a write still in flight: wait for
    // it rather than drop a fire that is about to be acknowledged. Past the grace, the writer died.
    const uncommitted = !record || record.scheduleVersion < data.sv;
    if (!manual && uncommitted && now() - job.timestamp < WRITE_GRACE_MS) {
      await job.moveToDelayed(now() + WRITE_RECHECK_MS, token);
      throw new DelayedError();
    }
    if (!record) {
      await deps.runs.save(
        [
          {
            ...(existing ?? baseRun(data.tid, slot, data, null)),
            status: "missed",
            finishedAtMs: now(),
            error: "trigger was canceled; not delivered",
          },
        ],
        false,
      );
      return { outcome: "dropped", reason: "canceled" };
    }
    if (!manual && record.scheduleVersion !== data.sv) {
      // Planned under a schedule that has since been replaced: not a slot of the current trigger. A run it
      // started before its worker died is closed, not left running.
      if (existing)
        await deps.runs.save([
          {
            ...existing,
            status: "missed",
            finishedAtMs: now(),
            error: "trigger was rescheduled; not delivered",
          },
        ]);
      log.debug({ job: job.id, tid: data.tid }, "dropped a fire of a replaced schedule");
      return { outcome: "dropped", reason: "superseded" };
    }
    const state = stateOf(record);
    if (!manual && state === "paused") {
      await finishRun(
        record,
        existing ?? baseRun(data.tid, slot, data, now()),
        "missed",
        "trigger is paused; not delivered",
      );
      return { outcome: "dropped", reason: "paused" };
    }
    // A takeover delivers its slot even if the trigger completed meanwhile (a later slot was its last).
    if (
      !manual &&
      !resumed &&
      !takeover &&
      (state === "completed" || pastEnd(record, slot) || maxedOut(record))
    ) {
      if (state !== "completed") await markCompleted(record);
      if (record.schedule.kind !== "once") await deps.fires.removeScheduler(data.tid);
      return { outcome: "dropped", reason: "completed" };
    }

    if (!resumed && data.late) return carryOutLate(job, record, data.late);
    const checkLate = !resumed && !takeover && (data.origin === "scheduled" || data.origin === "once");
    if (checkLate && isLate(slot, now(), record.spec.misfireGraceMs)) return handleLate(job, record, slot);
    if (!resumed && data.origin === "scheduled") await recoverSkipped(job, record, slot);

    return deliverSlot(job, record, slot, token, signal, { existing });
  };

  /**
   * Delivers one attempt of a slot. `started`: its run, when begin-fire.lua already wrote it as running;
   * `existing`: its run as an earlier pickup of this job left it (a takeover).
   */
  async function deliverSlot(
    job: Job<FireJobData>,
    record: TriggerRecord,
    slot: number,
    token: string | undefined,
    signal: AbortSignal | undefined,
    { started, existing = null }: { started?: RunRecord; existing?: RunRecord | null },
  ): Promise<FireResult> {
    const { data } = job;
    const attempt = job.attemptsMade + 1;
    const startedAt = started?.startedAtMs ?? now();
    const previous = attempt > 1 ? await deps.runs.get(runIdFor(data.tid, slot, data.manualNonce)) : existing;
    // A slot that already reached an outcome (and is re-delivered from Bull Board) is not a new fire.
    const bookkeeping = {
      counted: !(previous && OUTCOMES.has(previous.status)),
      indexed: started !== undefined,
    };
    const run: RunRecord = started ?? {
      ...baseRun(data.tid, slot, data, previous?.startedAtMs ?? startedAt),
      status: "running",
      attempts: attempt,
    };
    const request = buildRequest(deps.config, record, run, data, attempt, startedAt);
    if ("error" in request) {
      await finishRun(record, run, "failed", request.error, job, bookkeeping);
      log.warn({ tid: data.tid, run: run.runId, error: request.error }, "delivery failed");
      throw new UnrecoverableError(request.error);
    }
    const marker = !run.manual && record.spec.overlap === "skip" ? (job.id ?? "") : null;
    const start = started ? null : await startRun(deps, run, marker);
    if (start && !start.started) {
      if (data.origin === "catchup" || data.origin === "skipped" || existing !== null || start.retaken) {
        // Catch-ups of one outage run in order, one at a time; a taken-over run was started in its time; and
        // a crash's re-delivery of an older slot is not a run this slot came during: each waits for the
        // run in progress instead of being skipped.
        await job.moveToDelayed(now() + OVERLAP_REQUEUE_MS, token);
        throw new DelayedError();
      }
      const skipped = baseRun(data.tid, slot, data, now());
      await finishRun(
        record,
        skipped,
        "skipped_overlap",
        `the previous run of this trigger was still in progress (${start.heldBy})`,
      );
      log.info({ tid: data.tid, run: skipped.runId, heldBy: start.heldBy }, "slot skipped: overlap");
      return { outcome: "skipped_overlap", run_id: skipped.runId };
    }
    bookkeeping.indexed = true; // the run is in its history since it started
    const outcome: AttemptOutcome = await deliver(deps.dispatcher, request, signal);
    const finished = now();
    const timing = {
      finishedAtMs: finished,
      durationMs: finished - startedAt,
      httpStatus: outcome.httpStatus,
    };
    const kind = kindOf(record.spec);
    deps.metrics?.deliverySeconds.observe({ outcome: outcome.kind }, timing.durationMs / 1000);
    if (attempt === 1 && !run.manual)
      deps.metrics?.latenessSeconds.observe({ kind }, Math.max(0, startedAt - slot) / 1000);
    if (outcome.kind === "succeeded") {
      await finishRun(record, { ...run, ...timing }, "succeeded", null, job, bookkeeping);
      log.debug({ tid: data.tid, run: run.runId, slot: iso(slot), lateMs: startedAt - slot }, "delivered");
      return { outcome: "succeeded", run_id: run.runId, http_status: outcome.httpStatus };
    }
    const attempts = record.spec.retry.attempts;
    if (outcome.kind === "retryable" && attempt < attempts) {
      const delayMs = retryDelayMs(record.spec.retry, attempt, outcome.retryAfterMs);
      await deps.runs.save([
        { ...run, ...timing, status: "retrying", error: outcome.error, nextAttemptAtMs: finished + delayMs },
      ]);
      log.warn(
        { tid: data.tid, run: run.runId, attempt, delayMs, error: outcome.error },
        "delivery failed; will retry",
      );
      deps.metrics?.retries.inc({ kind });
      throw new RetryableDeliveryError(outcome.error, delayMs);
    }
    const reason =
      outcome.kind === "retryable" ? `${outcome.error} (gave up after ${attempt} attempts)` : outcome.error;
    await finishRun(record, { ...run, ...timing }, "failed", reason, job, bookkeeping);
    log.warn({ tid: data.tid, run: run.runId, attempt, error: reason }, "delivery failed");
    throw new UnrecoverableError(reason);
  }

  /**
   * An iteration picked up more than one period late (a busy fleet, a slow previous run, a takeover whose
   * first pickup died before BullMQ planned the next iteration) makes BullMQ plan the next iteration from
   * now, silently skipping the slots in between. They came due less than misfire_grace ago (this slot is
   * within it, and they are later), so they are delivered, in order, after this one: a slot late by less
   * than misfire_grace is never dropped. The slots found are written to the job before their chain is
   * added, so a takeover adds the same chain.
   */
  async function recoverSkipped(job: Job<FireJobData>, record: TriggerRecord, slot: number): Promise<void> {
    let skipped = job.data.skipped;
    if (skipped === undefined) {
      const expected = slotAfter(record.schedule, slot, record.spec.schedule);
      if (expected === null || expected > now()) return; // the next slot was planned normally
      skipped = await slotsBullMqSkipped(record, slot, now());
      if (skipped.length === 0) return;
      await job.updateData({ ...job.data, skipped });
      log.info(
        { tid: job.data.tid, skipped: skipped.length },
        "BullMQ skipped slots of a late iteration; delivering them",
      );
    }
    await chain(job.data.tid, job.data.sv, "skipped", skipped);
  }

  /**
   * The slots after `slot` that BullMQ skipped: a late iteration makes it plan the next one from now, so
   * the slots from this one up to the first that has a job or a run record came due without either. (Past
   * that one, BullMQ planned normally; a takeover long after its slot sees those later slots run already.)
   */
  async function slotsBullMqSkipped(record: TriggerRecord, slot: number, at: number): Promise<number[]> {
    const tid = tidOf(record);
    const next = (await deps.fires.queue.getJobScheduler(tid))?.next ?? at;
    const candidates = slotsBetween(
      record.schedule,
      slot,
      Math.min(next, at + 1),
      MAX_MISSED_SLOTS,
      record.spec.schedule,
    );
    const { queue } = deps.fires;
    const covered = await Promise.all(
      candidates.map((candidate) =>
        deps.redis.exists(
          queue.toKey(`repeat:${tid}:${candidate}`),
          queue.toKey(catchupJobId(tid, record.scheduleVersion, candidate)),
          deps.keys.run(runIdFor(tid, candidate)),
        ),
      ),
    );
    const first = covered.findIndex((count) => count > 0);
    return first < 0 ? candidates : candidates.slice(0, first);
  }

  /** Delivers `slots` one after another, oldest first (each job adds the next when it finishes). */
  async function chain(
    tid: string,
    sv: number,
    origin: ChainOrigin,
    slots: readonly number[],
  ): Promise<void> {
    const [slot, ...rest] = slots;
    if (slot === undefined) return;
    await deps.fires.addNow(catchupJobId(tid, sv, slot), { tid, sv, origin, slot, rest });
  }

  /**
   * A slot first picked up after its misfire grace: apply the missed policy to it and to the slots BullMQ
   * skipped. The plan is written to the job first, so a takeover carries out this plan, not a new one.
   */
  async function handleLate(job: Job<FireJobData>, record: TriggerRecord, slot: number): Promise<FireResult> {
    const at = now();
    const late = [slot];
    // BullMQ ran this one late iteration and planned the next from now: the slots in between were skipped.
    if (record.schedule.kind !== "once") late.push(...(await slotsBullMqSkipped(record, slot, at)));
    const plan = planMissed(late, at, record.spec.missedPolicy, record.spec.catchupWindowMs);
    const decided: LatePlan = { atMs: at, ...plan };
    await job.updateData({ ...job.data, late: decided });
    deps.metrics?.fires.inc({ kind: kindOf(record.spec), outcome: "missed" }, plan.missed.length);
    log.info(
      {
        tid: job.data.tid,
        late: late.length,
        deliver: plan.deliver.length,
        policy: record.spec.missedPolicy,
      },
      "slots came due while no worker ran",
    );
    return carryOutLate(job, record, decided);
  }

  /** Records a late pickup's missed slots and starts the chain of its catch-ups (again, after a takeover). */
  async function carryOutLate(
    job: Job<FireJobData>,
    record: TriggerRecord,
    plan: LatePlan,
  ): Promise<FireResult> {
    const { data } = job;
    const missedRuns = plan.missed.map((missedSlot) => ({
      ...baseRun(data.tid, missedSlot, { ...data, origin: "scheduled" }, plan.atMs),
      status: "missed" as const,
      finishedAtMs: plan.atMs,
      error:
        plan.atMs - missedSlot > record.spec.catchupWindowMs
          ? "older than catchup_window when workers came back"
          : `missed_policy ${record.spec.missedPolicy}: not delivered late`,
    }));
    await deps.runs.save(missedRuns);
    if (plan.deliver.length === 0) {
      await recordFire(record, "missed", null, false, isLastSlot(record, Math.max(...plan.missed)));
      return { outcome: "missed", run_ids: missedRuns.map((run) => run.runId) };
    }
    await chain(data.tid, data.sv, "catchup", plan.deliver);
    return { outcome: "catchup_planned", slots: plan.deliver.length };
  }

  /**
   * Writes a run's outcome and updates the trigger's bookkeeping. For a delivered slot (`job` given) it also
   * releases the overlap marker and continues a catch-up chain with the next missed slot. `indexed`: the
   * run started, so it is in its trigger's history already.
   */
  async function finishRun(
    record: TriggerRecord,
    run: RunRecord,
    status: RunStatus,
    error: string | null,
    job?: Job<FireJobData>,
    opts: { counted?: boolean; indexed?: boolean } = {},
  ): Promise<void> {
    deps.metrics?.fires.inc({ kind: kindOf(record.spec), outcome: status });
    const fired = job !== undefined;
    const counted = fired && !run.manual && opts.counted !== false;
    // The last slot completes its trigger once it is accounted for: delivered (or failed), or skipped.
    const last = !run.manual && isLastSlot(record, run.scheduledAtMs);
    const done = last && (counted || status === "skipped_overlap");
    const releasing = job !== undefined && record.spec.overlap === "skip" && !run.manual;
    // A catch-up chain keeps the marker from one step to the next: handed to the next step's job, it
    // cannot go to another run of the trigger (a second chain, a live slot) in between.
    const following = chainOf(job);
    const next = following?.slots[0];
    const handTo =
      next === undefined
        ? null
        : {
            jobId: catchupJobId(tidOf(record), record.scheduleVersion, next),
            worker: job?.processedBy ?? null,
          };
    // The run's outcome, the trigger's bookkeeping and the overlap marker: one script, one round trip.
    const completed = await deps.runs.finish(
      { ...run, status, error, finishedAtMs: run.finishedAtMs ?? now(), nextAttemptAtMs: null },
      fireOf(record, status, fired ? run.startedAtMs : null, counted, done),
      releasing ? { holder: job.id ?? "", handTo } : null,
      opts.indexed,
    );
    if (completed && record.schedule.kind !== "once") await deps.fires.removeScheduler(tidOf(record));
    if (following) await chain(tidOf(record), record.scheduleVersion, following.origin, following.slots);
  }

  async function recordFire(
    record: TriggerRecord,
    status: RunStatus | "",
    firedAtMs: number | null,
    count: boolean,
    done: boolean,
  ): Promise<boolean> {
    return deps.runs.recordFire(tidOf(record), fireOf(record, status, firedAtMs, count, done));
  }

  function fireOf(
    record: TriggerRecord,
    status: RunStatus | "",
    firedAtMs: number | null,
    count: boolean,
    done: boolean,
  ): FireBookkeeping {
    return {
      scheduleVersion: record.scheduleVersion,
      status,
      firedAtMs,
      count,
      done,
      nowMs: now(),
      maxFires: record.spec.maxFires,
    };
  }

  async function markCompleted(record: TriggerRecord): Promise<void> {
    await recordFire(record, "", null, false, true);
  }

  function isLastSlot(record: TriggerRecord, slot: number): boolean {
    return record.schedule.kind === "once" || slotAfter(record.schedule, slot, record.spec.schedule) === null;
  }
}

/** Origins of the jobs of a chain: slots delivered one after another, each job adding the next. */
type ChainOrigin = "catchup" | "skipped";

/** When `job` is a step of a chain: its origin and the slots still to deliver after it. */
function chainOf(job: Job<FireJobData> | undefined): { origin: ChainOrigin; slots: number[] } | null {
  const origin = job?.data.origin;
  return origin === "catchup" || origin === "skipped" ? { origin, slots: job?.data.rest ?? [] } : null;
}

function tidOf(record: TriggerRecord): string {
  return `${record.spec.userId}/${record.spec.name}`;
}

function pastEnd(record: TriggerRecord, slot: number): boolean {
  return record.spec.schedule.endAtMs !== null && slot > record.spec.schedule.endAtMs;
}

function maxedOut(record: TriggerRecord): boolean {
  return record.spec.maxFires !== null && record.fireCount >= record.spec.maxFires;
}

/** A run of slot `slot` of trigger `tid` (user id, then name: user ids hold no slash), not started. */
export function baseRun(tid: string, slot: number, data: FireJobData, startedAtMs: number | null): RunRecord {
  const [userId = "", ...name] = tid.split("/");
  return {
    runId: runIdFor(tid, slot, data.manualNonce),
    triggerId: tid,
    userId,
    name: name.join("/"),
    scheduledAtMs: slot,
    startedAtMs,
    finishedAtMs: null,
    status: "running",
    attempts: 0,
    httpStatus: null,
    durationMs: null,
    error: null,
    manual: data.origin === "manual",
    catchup: data.origin === "catchup",
    nextAttemptAtMs: null,
  };
}
