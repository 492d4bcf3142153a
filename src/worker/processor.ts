import { DelayedError, type Job } from "bullmq";
import { slotOf, type FireJobData } from "../producer/fire-queue.js";
import { decodeTrigger } from "../producer/trigger-store.js";
import type { RunRecord } from "../runs/run-store.js";
import type { TriggerRecord } from "../triggers/index.js";
import { CatchUp } from "./catch-up.js";
import { decideFire } from "./decide-fire.js";
import { FireDelivery } from "./deliver-fire.js";
import { baseRun } from "./fire-run.js";
import { RunRecorder } from "./record-run.js";
import {
  workerContext,
  type FireResult,
  type Pickup,
  type ProcessorDeps,
  type WorkerContext,
} from "./worker-context.js";

export type { FireResult, ProcessorDeps } from "./worker-context.js";

/** How often a job newer than its trigger's stored definition looks again for the write to commit. */
const WRITE_RECHECK_MS = 100;

/**
 * The BullMQ processor: a fire is decided (`decide-fire.ts`), delivered (`deliver-fire.ts`), and recorded
 * (`record-run.ts`); late slots and the slots BullMQ skipped go through catch-up chains (`catch-up.ts`).
 * Every slot that came due leaves exactly one run record: run ids derive from (trigger, slot), so a retry
 * or a takeover after a worker died rewrites the same record.
 */
export function createProcessor(deps: ProcessorDeps) {
  const ctx = workerContext(deps);
  const recorder = new RunRecorder(ctx);
  const catchUp = new CatchUp(ctx, recorder);
  const delivery = new FireDelivery(ctx, recorder, catchUp);

  return async function processFire(
    job: Job<FireJobData>,
    token?: string,
    signal?: AbortSignal,
  ): Promise<FireResult> {
    const pickup: Pickup = { job, slot: slotOf(job), token, signal };
    const { data } = job;
    // A job that already made attempts is resuming a slot that came due (a retry, or a retry of a failed
    // fire from Bull Board); so is an operator's re-drive of a failed run.
    const resumed = job.attemptsMade > 0 || data.origin === "redrive";
    let record: TriggerRecord | null;
    let existing: RunRecord | null = null;
    if (!resumed && !data.late) {
      // A first attempt reads its trigger and, where decideFire would say "deliver", starts its run in the
      // same round trip (begin-fire.lua).
      const { run, fire } = beginning(ctx, pickup);
      const begun = await ctx.runs.begin(run, fire);
      record = decodeTrigger(begun.hash, begun.definition);
      existing = begun.existing;
      if (begun.started && record) {
        if (data.origin === "scheduled") await catchUp.recoverSkipped(job, record, pickup.slot);
        return delivery.deliver(pickup, record, { started: run, existing });
      }
    } else record = await ctx.store.get(data.tid);

    const decision = decideFire({
      job: data,
      slotMs: pickup.slot,
      resumed,
      jobAgeMs: ctx.now() - job.timestamp,
      record,
      existing,
      nowMs: ctx.now(),
    });
    switch (decision.act) {
      case "finished":
        // Its worker died after recording the outcome: a chain step still adds its next step.
        await catchUp.continueChain(job);
        return { outcome: "dropped", reason: "already finished" };
      case "wait_for_write":
        await job.moveToDelayed(ctx.now() + WRITE_RECHECK_MS, token);
        throw new DelayedError();
      case "drop_canceled":
        await ctx.runs.save([missed(ctx, pickup, existing, "trigger was canceled; not delivered")], false);
        return { outcome: "dropped", reason: "canceled" };
      case "drop_superseded":
        // A run it started before its worker died is closed, not left running.
        if (existing)
          await ctx.runs.save([missed(ctx, pickup, existing, "trigger was rescheduled; not delivered")]);
        ctx.log.debug({ job: job.id, tid: data.tid }, "dropped a fire of a replaced schedule");
        return { outcome: "dropped", reason: "superseded" };
      case "miss_paused": {
        const run = existing ?? baseRun(data.tid, pickup.slot, data, ctx.now(), ctx.keys);
        await recorder.finish(decision.record, run, {
          status: "missed",
          error: "trigger is paused; not delivered",
        });
        return { outcome: "dropped", reason: "paused" };
      }
      case "complete":
        if (decision.markCompleted) await recorder.markCompleted(decision.record);
        if (decision.record.schedule.kind !== "once") await ctx.fires.removeScheduler(data.tid);
        return { outcome: "dropped", reason: "completed" };
      case "carry_out_late":
        return catchUp.carryOutLate(job, decision.record, decision.plan);
      case "late":
        return catchUp.handleLate(job, decision.record, pickup.slot);
      case "deliver":
        if (decision.recoverSkipped) await catchUp.recoverSkipped(job, decision.record, pickup.slot);
        return delivery.deliver(pickup, decision.record, { existing });
    }
  };
}

/**
 * What a first attempt asks begin-fire.lua: to start the slot's run (as `running`, attempt 1) where nothing
 * stands in the way, reading the trigger and the run as an earlier pickup left it.
 */
function beginning(
  ctx: WorkerContext,
  { job, slot }: Pickup,
): { run: RunRecord; fire: Parameters<WorkerContext["runs"]["begin"]>[1] } {
  const { data } = job;
  const startedAt = ctx.now();
  return {
    run: { ...baseRun(data.tid, slot, data, startedAt, ctx.keys), status: "running", attempts: 1 },
    fire: {
      scheduleVersion: data.origin === "manual" ? null : data.sv,
      jobId: job.id ?? "",
      checkLate: data.origin === "scheduled" || data.origin === "once",
      nowMs: startedAt,
    },
  };
}

/** The slot's run recorded missed (the one an earlier pickup started, if any), with why. */
function missed(
  ctx: WorkerContext,
  { job, slot }: Pickup,
  existing: RunRecord | null,
  error: string,
): RunRecord {
  return {
    ...(existing ?? baseRun(job.data.tid, slot, job.data, null, ctx.keys)),
    status: "missed",
    finishedAtMs: ctx.now(),
    error,
  };
}
