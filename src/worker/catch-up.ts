import type { Job } from "bullmq";
import { catchupJobId, type FireJobData, type LatePlan } from "../producer/fire-queue.js";
import type { HandOver, RunRecord } from "../runs/run-store.js";
import {
  isLastSlot,
  kindOf,
  planMissed,
  recordId,
  slotAfter,
  slotsBetween,
  type TriggerRecord,
} from "../triggers/index.js";
import { baseRun } from "./fire-run.js";
import type { RunRecorder } from "./record-run.js";
import type { FireResult, WorkerContext } from "./worker-context.js";

/** The most missed slots enumerated after one outage (older ones are counted in the log, not recorded one by one). */
const MAX_MISSED_SLOTS = 1000;

/** Origins of the jobs of a chain: slots delivered one after another, each job adding the next. */
type ChainOrigin = "catchup" | "skipped";

/**
 * Catch-up chains: the slots of a trigger delivered late, one after another, oldest first, each job adding
 * the next when it finishes and handing it the overlap marker. A chain is started for the slots a late
 * pickup's missed policy delivers (an outage), and for the slots BullMQ skipped after an iteration that
 * started more than one period late. Every plan is written to its job before it is carried out, so a
 * takeover after its worker died carries out the same plan; every step's job id derives from its slot, so
 * adding a step twice adds it once.
 */
export class CatchUp {
  constructor(
    private readonly ctx: WorkerContext,
    private readonly recorder: RunRecorder,
  ) {}

  /**
   * An iteration picked up more than one period late (a busy fleet, a slow previous run, a takeover whose
   * first pickup died before BullMQ planned the next iteration) makes BullMQ plan the next iteration from
   * now, silently skipping the slots in between. They came due less than misfire_grace ago (this slot is
   * within it, and they are later), so they are delivered, in order, after this one: a slot late by less
   * than misfire_grace is never dropped.
   */
  async recoverSkipped(job: Job<FireJobData>, record: TriggerRecord, slot: number): Promise<void> {
    const { ctx } = this;
    let skipped = job.data.skipped;
    if (skipped === undefined) {
      const expected = slotAfter(record.schedule, slot, record.spec.schedule);
      if (expected === null || expected > ctx.now()) return; // the next slot was planned normally
      skipped = await this.slotsBullMqSkipped(record, slot, ctx.now());
      if (skipped.length === 0) return;
      await job.updateData({ ...job.data, skipped });
      ctx.log.info(
        { tid: job.data.tid, skipped: skipped.length },
        "BullMQ skipped slots of a late iteration; delivering them",
      );
    }
    await this.chain(job.data, "skipped", skipped);
  }

  /**
   * A slot first picked up after its misfire grace: applies the missed policy to it and to the slots BullMQ
   * skipped after it, and writes that plan to the job before carrying it out.
   */
  async handleLate(job: Job<FireJobData>, record: TriggerRecord, slot: number): Promise<FireResult> {
    const { ctx } = this;
    const at = ctx.now();
    const late = [slot];
    // BullMQ ran this one late iteration and planned the next from now: the slots in between were skipped.
    if (record.schedule.kind !== "once") late.push(...(await this.slotsBullMqSkipped(record, slot, at)));
    const plan: LatePlan = {
      atMs: at,
      ...planMissed(late, at, record.spec.missedPolicy, record.spec.catchupWindowMs, record.spec.catchupMax),
    };
    await job.updateData({ ...job.data, late: plan });
    ctx.metrics?.fires.inc({ kind: kindOf(record.spec), outcome: "missed" }, plan.missed.length);
    ctx.log.info(
      {
        tid: job.data.tid,
        late: late.length,
        deliver: plan.deliver.length,
        policy: record.spec.missedPolicy,
      },
      "slots came due while no worker ran",
    );
    return this.carryOutLate(job, record, plan);
  }

  /** Records a late pickup's missed slots and starts the chain of its catch-ups (again, after a takeover). */
  async carryOutLate(job: Job<FireJobData>, record: TriggerRecord, plan: LatePlan): Promise<FireResult> {
    const { data } = job;
    const missedRuns: RunRecord[] = plan.missed.map((missedSlot) => ({
      ...baseRun(data.tid, missedSlot, { ...data, origin: "scheduled" }, plan.atMs, this.ctx.keys),
      status: "missed",
      finishedAtMs: plan.atMs,
      error:
        plan.atMs - missedSlot > record.spec.catchupWindowMs
          ? "older than catchup_window when workers came back"
          : record.spec.missedPolicy === "run_all" && record.spec.catchupMax !== null
            ? `over catchup_max ${record.spec.catchupMax}: only the newest late slots are delivered`
            : `missed_policy ${record.spec.missedPolicy}: not delivered late`,
    }));
    await this.ctx.runs.save(missedRuns);
    if (plan.deliver.length === 0) {
      await this.recorder.bookkeep(record, {
        status: "missed",
        done: isLastSlot(record, Math.max(...plan.missed)),
      });
      return { outcome: "missed", run_ids: missedRuns.map((run) => run.runId) };
    }
    await this.chain(data, "catchup", plan.deliver);
    return { outcome: "catchup_planned", slots: plan.deliver.length };
  }

  /** The step after `job` in its chain, which its run hands the overlap marker to; null when there is none. */
  handOverFor(job: Job<FireJobData>): HandOver | null {
    const next = chainOf(job)?.slots[0];
    return next === undefined
      ? null
      : { jobId: catchupJobId(job.data.tid, job.data.sv, next), worker: job.processedBy ?? null };
  }

  /** Adds the step after `job` in its chain, if it is a chain's step and one is left. */
  async continueChain(job: Job<FireJobData>): Promise<void> {
    const following = chainOf(job);
    if (following) await this.chain(job.data, following.origin, following.slots);
  }

  /** Delivers `slots` one after another, oldest first (each job adds the next when it finishes). */
  private async chain(
    { tid, sv }: Pick<FireJobData, "tid" | "sv">,
    origin: ChainOrigin,
    slots: readonly number[],
  ): Promise<void> {
    const [slot, ...rest] = slots;
    if (slot === undefined) return;
    await this.ctx.fires.addNow(catchupJobId(tid, sv, slot), { tid, sv, origin, slot, rest });
  }

  /**
   * The slots after `slot` that BullMQ skipped: a late iteration makes it plan the next one from now, so
   * the slots from this one up to the first that has a job or a run record came due without either. (Past
   * that one, BullMQ planned normally; a takeover long after its slot sees those later slots run already.)
   */
  private async slotsBullMqSkipped(record: TriggerRecord, slot: number, at: number): Promise<number[]> {
    const { ctx } = this;
    const tid = recordId(record);
    const { queue } = ctx.fires;
    const next = (await queue.getJobScheduler(tid))?.next ?? at;
    const candidates = slotsBetween(
      record.schedule,
      slot,
      Math.min(next, at + 1),
      MAX_MISSED_SLOTS,
      record.spec.schedule,
    );
    const covered = await Promise.all(
      candidates.map((candidate) =>
        ctx.redis.exists(
          queue.toKey(`repeat:${tid}:${candidate}`),
          queue.toKey(catchupJobId(tid, record.scheduleVersion, candidate)),
          ctx.keys.run(ctx.keys.runId(tid, candidate)),
        ),
      ),
    );
    const first = covered.findIndex((count) => count > 0);
    return first < 0 ? candidates : candidates.slice(0, first);
  }
}

/** When `job` is a step of a chain: its origin and the slots still to deliver after it. */
function chainOf(job: Job<FireJobData>): { origin: ChainOrigin; slots: number[] } | null {
  const { origin, rest } = job.data;
  return origin === "catchup" || origin === "skipped" ? { origin, slots: rest ?? [] } : null;
}
