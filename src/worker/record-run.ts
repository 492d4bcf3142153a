import type { Job } from "bullmq";
import type { FireJobData } from "../producer/fire-queue.js";
import type { FireBookkeeping, HandOver, RunRecord, RunStatus } from "../runs/run-store.js";
import { isLastSlot, kindOf, recordId, type TriggerRecord } from "../triggers/index.js";
import type { WorkerContext } from "./worker-context.js";

/** How a run ended, and what that changes besides the run record. */
export interface Outcome {
  status: RunStatus;
  error: string | null;
  /** The job that delivered it. Not given for a slot never delivered (skipped, paused): it fired nothing. */
  job?: Job<FireJobData>;
  /** Whether it counts in fire_count. False for a slot that already had an outcome (re-delivered from Bull Board). */
  counted?: boolean;
  /** The run started, so it is in its trigger's history already (left as it is). */
  indexed?: boolean;
  /** A catch-up chain's next step, which takes the overlap marker from this run. */
  handTo?: HandOver | null;
}

/** What a fire changes in its trigger's bookkeeping, when it is not one run's outcome. */
export interface Bookkeeping {
  /** For last_status; omitted: left as it is. */
  status?: RunStatus;
  /** For last_fire_at; omitted: left as it is. */
  firedAtMs?: number;
  /** Counts in fire_count. */
  count?: boolean;
  /** Completes the trigger (its last slot is accounted for). */
  done?: boolean;
}

/**
 * Records what became of runs: the run record with its event, the trigger's bookkeeping (fire count, last
 * status, completion) and the overlap marker, in one round trip per outcome (finish-run.lua).
 */
export class RunRecorder {
  constructor(private readonly ctx: WorkerContext) {}

  /**
   * Writes a run's outcome and updates its trigger's bookkeeping. A delivered run (`job` given) also
   * releases the overlap marker, or hands it to `handTo`. The last slot completes its trigger once it is
   * accounted for: delivered (or failed), or skipped.
   */
  async finish(record: TriggerRecord, run: RunRecord, outcome: Outcome): Promise<void> {
    const { ctx } = this;
    const { status, job } = outcome;
    ctx.metrics?.fires.inc({ kind: kindOf(record.spec), outcome: status });
    const counted = job !== undefined && !run.manual && outcome.counted !== false;
    const last = !run.manual && isLastSlot(record, run.scheduledAtMs);
    const releasing = job !== undefined && record.spec.overlap === "skip" && !run.manual;
    const { completed, failuresInRow } = await ctx.runs.finish(
      {
        ...run,
        status,
        error: outcome.error,
        finishedAtMs: run.finishedAtMs ?? ctx.now(),
        nextAttemptAtMs: null,
      },
      this.fire(record, {
        status,
        ...(job !== undefined && run.startedAtMs !== null ? { firedAtMs: run.startedAtMs } : {}),
        count: counted,
        done: last && (counted || status === "skipped_overlap"),
      }),
      releasing ? { holder: job.id ?? "", handTo: outcome.handTo ?? null } : null,
      outcome.indexed,
    );
    if (completed && record.schedule.kind !== "once") await ctx.fires.removeScheduler(recordId(record));
    const limit = record.spec.pauseAfterFailures;
    if (status === "failed" && limit !== null && failuresInRow >= limit && !run.manual)
      await this.pauseForFailures(record, failuresInRow, outcome.error ?? "");
  }

  /**
   * Pauses a trigger whose runs failed `failures` times in a row (its `pause_after_failures`), as the
   * system: a manual pause is left as it is, and resuming clears the system's.
   */
  private async pauseForFailures(record: TriggerRecord, failures: number, error: string): Promise<void> {
    const { ctx } = this;
    const reason = `${failures} runs failed in a row (pause_after_failures ${record.spec.pauseAfterFailures}); the last: ${error}`;
    const paused = await ctx.pauseBySystem?.(record.spec.userId, record.spec.name, reason);
    if (!paused) return;
    ctx.log.warn(
      { tid: recordId(record), failures, error },
      "trigger paused by the system after failed runs",
    );
    void ctx.notify?.(
      { type: "tickler.trigger_paused", trigger: recordId(record), reason },
      record.spec.notify,
    );
  }

  /**
   * Updates a trigger's bookkeeping alone, for what is not one run's outcome (missed slots of an outage).
   *
   * @returns whether this completed the trigger
   */
  async bookkeep(record: TriggerRecord, change: Bookkeeping): Promise<boolean> {
    return this.ctx.runs.recordFire(recordId(record), this.fire(record, change));
  }

  /** Completes a trigger that has no fires left (past end_at, at max_fires). */
  async markCompleted(record: TriggerRecord): Promise<void> {
    await this.bookkeep(record, { done: true });
  }

  private fire(record: TriggerRecord, change: Bookkeeping): FireBookkeeping {
    return {
      scheduleVersion: record.scheduleVersion,
      status: change.status ?? "",
      firedAtMs: change.firedAtMs ?? null,
      count: change.count ?? false,
      done: change.done ?? false,
      nowMs: this.ctx.now(),
      maxFires: record.spec.maxFires,
    };
  }
}
