import { Queue, type JobsOptions, type Job, type WorkerOptions } from "bullmq";
import type { RedisClient } from "../redis/connection.js";
import { QUEUE_NAME } from "../redis/keys.js";
import type { RunRecord } from "../runs/run-store.js";
import { nextFires, stateOf, triggerId, type TriggerRecord } from "../triggers/index.js";

/**
 * How a fire job came to be: a scheduler iteration, a one-shot, a catch-up of a missed slot, a slot BullMQ
 * skipped although it was late by less than misfire_grace (`skipped`: delivered as an ordinary fire), a
 * manual run, or a failed slot delivered again by an operator (`redrive`: one more attempt of the same run).
 */
export type FireOrigin = "scheduled" | "once" | "catchup" | "skipped" | "manual" | "redrive";

/** The data every fire job carries. The definition itself is read from RedisClient when the job runs. */
export interface FireJobData {
  /** Trigger id `user_id/name`. */
  tid: string;
  /** The trigger's schedule version when this job was planned: a job whose sv is no longer current is stale. */
  sv: number;
  origin: FireOrigin;
  /** The slot (epoch ms) for once, catch-up and manual jobs; scheduler iterations carry it in their job id. */
  slot?: number;
  /** Catch-up and skipped only: the slots still to deliver after this one, oldest first. */
  rest?: number[];
  /** Manual runs only: makes the run id and idempotency key unique. */
  manualNonce?: string;
  /**
   * A late pickup's missed-slot plan, written to the job before any of it is carried out, so that a
   * takeover after its worker died carries out the same plan instead of deciding again (later, and
   * differently).
   */
  late?: LatePlan;
  /** Likewise the slots BullMQ skipped after this iteration, planned by an earlier pickup of the job. */
  skipped?: number[];
}

/** What a late pickup decided: when, which slots are recorded missed and which are delivered as catch-ups. */
export interface LatePlan {
  atMs: number;
  missed: number[];
  deliver: number[];
}

/** The custom backoff type: the processor computes each delay (Retry-After, jitter) and hands it over. */
export const BACKOFF_TYPE = "tickler";

/**
 * BullMQ's attempt budget is set high on purpose: the processor decides from the trigger's *current*
 * `retry.attempts` when an attempt is the last, and fails it with UnrecoverableError. So a retry policy
 * change needs no rewrite of pending jobs.
 */
const ATTEMPT_CEILING = 1000;

/** Options of every fire job and scheduler template. */
export const FIRE_JOB_OPTIONS = {
  attempts: ATTEMPT_CEILING,
  backoff: { type: BACKOFF_TYPE },
} as const satisfies JobsOptions;

/**
 * How many finished jobs are kept for Bull Board. Set on the workers, not on every job: BullMQ applies a
 * worker's setting to jobs that carry none, and each pending job and scheduler is ~200 bytes smaller.
 */
export const KEEP_FINISHED = {
  removeOnComplete: { age: 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
} as const satisfies Pick<WorkerOptions, "removeOnComplete" | "removeOnFail">;

/** A scheduler whose current iteration started this long ago without a successor is taken as broken. */
export const STUCK_AFTER_MS = 60_000;

const encode = (id: string): string => encodeURIComponent(id);

/** The job id of a one-shot's fire: unique per schedule version, `:`-free as BullMQ requires of custom ids. */
export function onceJobId(tid: string, sv: number): string {
  return `once|${encode(tid)}|${sv}`;
}

/** The job id of a catch-up delivery of one missed slot. Deterministic, so re-planning it adds nothing. */
export function catchupJobId(tid: string, sv: number, slot: number): string {
  return `catchup|${encode(tid)}|${sv}|${slot}`;
}

/** The slot of a fire job: from data, or for a scheduler iteration the numeric suffix of its id. */
export function slotOf(job: Pick<Job<FireJobData>, "id" | "data">): number {
  if (job.data.slot !== undefined) return job.data.slot;
  const id = job.id ?? "";
  return Number(id.slice(id.lastIndexOf(":") + 1));
}

/**
 * The BullMQ side of the fire schedule: the queue, and turning a trigger record into its pending job or
 * job scheduler. Used only by the producer and by the worker's catch-up and completion steps.
 */
export class FireQueue {
  readonly queue: Queue<FireJobData>;
  /** How BullMQ names a named worker's blocking connection, up to the name (`<prefix>:<base64 queue>:w:`). */
  private readonly workerClientPrefix: string;

  /**
   * @param onError - where the queue's connection errors go. They also surface on every call that fails
   *   (the API answers 503), so they are worth a debug line, not BullMQ's default console.error.
   */
  constructor(connection: RedisClient, prefix: string, onError: (error: Error) => void = () => undefined) {
    this.queue = new Queue<FireJobData>(QUEUE_NAME, { connection, prefix });
    this.queue.on("error", onError);
    this.workerClientPrefix = `${prefix}:${Buffer.from(QUEUE_NAME).toString("base64")}:w:`;
  }

  /**
   * The names of the workers connected to Redis now (BullMQ names each worker's blocking connection after
   * it), or null where Redis does not list its clients (or refuses to).
   */
  async connectedWorkers(): Promise<Set<string> | null> {
    // CLIENT LIST may be refused (ACLs, managed services): then nobody's liveness is known this way.
    const clients = (await this.queue.getWorkers().catch(() => null)) as { rawname?: string }[] | null;
    if (clients === null) return null;
    if (clients.length > 0 && clients.every((client) => client.rawname === undefined)) return null;
    const names = new Set<string>();
    for (const { rawname } of clients)
      if (rawname?.startsWith(this.workerClientPrefix))
        names.add(rawname.slice(this.workerClientPrefix.length));
    return names;
  }

  /**
   * Makes BullMQ hold exactly the pending fire `record` needs (none unless active). Schedulers are removed
   * and created afresh rather than upserted in place: BullMQ fires at once when an `every` changes and
   * drops an overdue cron run on re-upsert, neither of which a schedule change should do.
   */
  async plan(record: TriggerRecord, nowMs: number): Promise<void> {
    const tid = triggerId(record.spec.userId, record.spec.name);
    if (stateOf(record) !== "active") return;
    const { schedule } = record;
    const { startAtMs, endAtMs } = record.spec.schedule;
    const data: FireJobData = {
      tid,
      sv: record.scheduleVersion,
      origin: schedule.kind === "once" ? "once" : "scheduled",
    };
    if (schedule.kind === "once") {
      await this.queue.add(
        "once",
        { ...data, slot: schedule.atMs },
        {
          ...FIRE_JOB_OPTIONS,
          jobId: onceJobId(tid, record.scheduleVersion),
          // BullMQ makes a job due at its timestamp + delay, and stamps it when the job object is made:
          // later than nowMs by however long the write took. Stamped with nowMs it is due at atMs exactly.
          timestamp: nowMs,
          delay: Math.max(0, schedule.atMs - nowMs),
        },
      );
      return;
    }
    const first = nextFires(schedule, nowMs, 1, { startAtMs, endAtMs })[0];
    if (first === undefined) return; // nothing left before end_at: the worker completes it
    const repeat =
      schedule.kind === "heartbeat"
        ? { every: schedule.everyMs, startDate: first }
        : {
            pattern: schedule.cron,
            tz: schedule.timezone,
            ...(startAtMs === null ? {} : { startDate: startAtMs }),
          };
    await this.queue.upsertJobScheduler(
      tid,
      { ...repeat, ...(endAtMs === null ? {} : { endDate: endAtMs }) },
      { name: schedule.kind, data, opts: FIRE_JOB_OPTIONS },
    );
  }

  /**
   * Whether BullMQ holds the pending fire `record` needs: the one-shot's job, or a scheduler of the current
   * schedule version whose next iteration exists and is not stuck (BullMQ #3499: a scheduler whose chain
   * broke keeps a `next` in the past with no job behind it).
   */
  async hasPendingFire(record: TriggerRecord, nowMs: number): Promise<boolean> {
    const tid = triggerId(record.spec.userId, record.spec.name);
    if (record.schedule.kind === "once")
      return (await this.queue.getJob(onceJobId(tid, record.scheduleVersion))) !== undefined;
    const scheduler = await this.queue.getJobScheduler(tid);
    if (!scheduler || scheduler.template?.data?.sv !== record.scheduleVersion || scheduler.next == null)
      return false;
    const job = await this.queue.getJob(`repeat:${tid}:${scheduler.next}`);
    if (!job) return false;
    const state = await job.getState();
    return (
      state === "delayed" ||
      state === "waiting" ||
      state === "prioritized" ||
      scheduler.next > nowMs - STUCK_AFTER_MS
    );
  }

  /** Removes a trigger's job scheduler (and its delayed next iteration). */
  async removeScheduler(tid: string): Promise<void> {
    await this.queue.removeJobScheduler(tid);
  }

  /** Removes a one-shot's pending job; a job already running is left to finish (it is no longer pending). */
  async removeOnce(tid: string, sv: number): Promise<void> {
    await this.queue.remove(onceJobId(tid, sv));
  }

  /** Removes whatever pending fire `record` has. */
  async unplan(record: TriggerRecord): Promise<void> {
    const tid = triggerId(record.spec.userId, record.spec.name);
    if (record.schedule.kind === "once") await this.removeOnce(tid, record.scheduleVersion);
    else await this.removeScheduler(tid);
  }

  /** Adds a job that delivers `slot` now (catch-up of missed slots, or a manual run). */
  async addNow(jobId: string, data: FireJobData): Promise<void> {
    await this.queue.add(data.origin, data, { ...FIRE_JOB_OPTIONS, jobId });
  }

  /**
   * Adds a job that delivers a failed run's slot again (one more attempt, same run id and key); its id
   * derives from the run and its failure, so re-driving one failure twice adds one job.
   */
  async redrive(tid: string, sv: number, run: RunRecord): Promise<void> {
    const slot = run.scheduledAtMs;
    const jobId = `redrive|${encode(tid)}|${slot}|${run.finishedAtMs ?? 0}`;
    await this.addNow(jobId, { tid, sv, origin: "redrive", slot });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
