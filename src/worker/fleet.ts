import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { Worker, type Job } from "bullmq";
import type { Logger } from "pino";
import type { Config } from "../config/index.js";
import { KEEP_FINISHED, slotOf, type FireJobData } from "../producer/fire-queue.js";
import type { Partition } from "../producer/partition.js";
import { openConnection, type RedisClient, type RedisTarget } from "../redis/connection.js";
import { QUEUE_NAME, layoutFor } from "../redis/keys.js";
import { AgentFlowStore } from "../runs/agent-flow.js";
import { AgentGate } from "./agent-gate.js";
import { createNotifier } from "./notifier.js";
import { NatsPublisher } from "./nats-publisher.js";
import { coerceError } from "../triggers/index.js";
import { Budget } from "./budget.js";
import { ErrorBackoff } from "./error-backoff.js";
import { watchStuckWorkers } from "./stuck-workers.js";
import { baseRun } from "./fire-run.js";
import { createProcessor, type FireResult, type ProcessorDeps } from "./processor.js";

/** A running worker process's consumers: one BullMQ Worker per partition, sharing one name and budget. */
export interface FireWorker {
  /** The BullMQ Workers, by partition. */
  workers: readonly Worker<FireJobData, FireResult>[];
  /** The worker's name in the fleet (see {@link workerName}). */
  name: string;
  /** Stops taking jobs, lets in-flight deliveries finish for up to `timeoutMs`, then closes. */
  close(timeoutMs?: number): Promise<void>;
}

/** What a worker process needs: the processor's dependencies but the partition's, and each partition's. */
export interface WorkerDeps extends Omit<ProcessorDeps, "keys" | "store" | "runs" | "fires"> {
  config: Config;
  logger: Logger;
  /** Where the Redis is: the workers open their own connection to it. */
  target: RedisTarget;
  partitions: readonly Pick<Partition, "keys" | "store" | "runs" | "fires" | "pauseBySystem">[];
}

/**
 * A name for one worker, unique in the fleet and telling where it runs: `<host>:<pid>:<random>`. BullMQ
 * names the worker's blocking connection after it and stamps it on each job the worker takes, so whether a
 * job's worker is alive can be read off Redis's client list.
 */
export function workerName(): string {
  return `${hostname().replace(/[^A-Za-z0-9_.-]/g, "_")}:${process.pid}:${randomBytes(3).toString("hex")}`;
}

/**
 * Starts the worker side of a process: a BullMQ Worker on each partition's fire queue, all under one name
 * and one budget of `config.concurrency` deliveries in flight (each partition may use all of it: a hot
 * partition is not held to a share). Any number of these, in any number of processes on any number of
 * hosts, share one Redis: BullMQ hands each job to one worker, and a dead worker's job returns to the
 * queue after its lock expires (lockDuration + up to 2 × stalledInterval).
 */
export function startWorker(deps: WorkerDeps): FireWorker {
  const { config, logger } = deps;
  // One connection for the workers' commands; BullMQ opens each worker's blocking connection beside it.
  const connection = openConnection(deps.target, "worker", "tickler-worker");
  connection.on("error", (error) => logger.debug({ err: error.message }, "worker Redis connection error"));
  const name = workerName();
  const budget = deps.partitions.length > 1 ? new Budget(config.concurrency) : null;
  const backoff = new ErrorBackoff({
    logger,
    pause: async () => {
      await Promise.all(workers.map((worker) => worker.pause(true)));
    },
    resume: async () => {
      for (const worker of workers) worker.resume();
    },
  });
  /** Jobs each partition's worker is processing now. */
  const inFlight = deps.partitions.map(() => 0);
  // One gate for every partition: a request freeing an agent's room wakes a fire of any partition.
  const layout = layoutFor(config.prefix, config.partitions, deps.target.cluster !== null);
  const notify = createNotifier(deps);
  const gate = new AgentGate({
    notify,
    flow: new AgentFlowStore(deps.redis, layout.agent),
    userFlow: new AgentFlowStore(deps.redis, layout.userFlow),
    perUser: config.perUserLimits,
    events: { key: deps.partitions[0]!.keys.events, maxLen: config.events.maxLen },
    queueOf: (p) => deps.partitions[p]?.fires,
    logger,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
  const nats = deps.nats ?? new NatsPublisher(logger, `tickler-worker ${name}`);
  const startOne = (p: number): Worker<FireJobData, FireResult> =>
    partitionWorker({ ...deps, gate, notify, nats }, p, {
      connection,
      name,
      budget,
      backoff,
      inFlight,
    });
  const workers = deps.partitions.map((_, p) => startOne(p));
  // On a Redis Cluster, a failover can leave a worker's blocking connection wedged (BullMQ's own recovery
  // of it may not come back): an idle worker whose queue has fires overdue is replaced by a fresh one.
  const watchdog =
    deps.target.cluster === null
      ? null
      : watchStuckWorkers({
          redis: connection,
          queues: deps.partitions.map((partition) => partition.fires.queue),
          idle: (p) => inFlight[p] === 0 && !workers[p]!.isPaused() && (budget?.hasRoom ?? true),
          replace: async (p, overdueMs) => {
            logger.warn(
              { partition: deps.partitions[p]!.keys.partition, overdueMs },
              "fires are overdue and this worker takes none: replacing its BullMQ worker",
            );
            const stuck = workers[p]!;
            workers[p] = startOne(p);
            await stuck.close(true).catch(() => undefined);
          },
        });
  return {
    workers,
    name,
    async close(timeoutMs = config.worker.shutdownTimeoutMs) {
      backoff.stop();
      watchdog?.stop();
      await closeGracefully(workers, timeoutMs, logger);
      await nats.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

/** What a process's partition workers share: its connection, name, budget, error backoff, in-flight counts. */
interface Shared {
  connection: RedisClient;
  name: string;
  budget: Budget | null;
  backoff: ErrorBackoff;
  inFlight: number[];
}

/** The BullMQ Worker of partition `p`, counting its jobs in flight and running each within the budget. */
function partitionWorker(deps: WorkerDeps, p: number, shared: Shared): Worker<FireJobData, FireResult> {
  const { config, logger } = deps;
  const { budget, inFlight } = shared;
  const partition = deps.partitions[p]!;
  const processorDeps: ProcessorDeps = {
    ...deps,
    keys: partition.keys,
    store: partition.store,
    runs: partition.runs,
    fires: partition.fires,
    pauseBySystem: (userId, name, reason) => partition.pauseBySystem(userId, name, reason),
  };
  const process = createProcessor(processorDeps);
  const counted: typeof process = async (job, token, signal) => {
    inFlight[p]!++;
    try {
      return await (budget ? budget.run(() => process(job, token, signal)) : process(job, token, signal));
    } finally {
      inFlight[p]!--;
    }
  };
  const worker = new Worker<FireJobData, FireResult>(QUEUE_NAME, counted, {
    name: shared.name,
    connection: shared.connection,
    prefix: partition.keys.base,
    concurrency: config.concurrency,
    lockDuration: config.worker.lockDurationMs,
    stalledInterval: config.worker.stalledIntervalMs,
    maxStalledCount: config.worker.maxStalledCount,
    ...KEEP_FINISHED,
    settings: {
      // The processor computed the wait (Retry-After, jitter) and put it on the error.
      backoffStrategy: (_attemptsMade: number, _type?: string, error?: Error) => {
        const delayMs = (error as { delayMs?: unknown } | undefined)?.delayMs;
        return typeof delayMs === "number" ? delayMs : 1000;
      },
    },
  });
  worker.on("failed", (job, error) => {
    if (job && /stalled/i.test(error.message)) recordStalledFailure(processorDeps, job, error);
  });
  worker.on("stalled", (jobId) =>
    logger.warn({ job: jobId }, "a worker died holding this fire; it is being taken over"),
  );
  worker.on("error", (error) => shared.backoff.record(coerceError(error)));
  return worker;
}

/** Lets in-flight deliveries finish for up to `timeoutMs`, then closes the workers regardless. */
async function closeGracefully(
  workers: readonly Worker<FireJobData, FireResult>[],
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceful = Promise.all(workers.map((worker) => worker.close(false)));
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  if ((await Promise.race([graceful, timedOut])) === "timeout") {
    logger.warn(
      { timeoutMs },
      "deliveries still in flight at shutdown; their jobs will be taken over by another worker",
    );
    await Promise.all(workers.map((worker) => worker.close(true)));
  }
  clearTimeout(timer);
}

/**
 * A job failed by BullMQ itself (its workers died more than maxStalledCount times) never reached the
 * processor's bookkeeping: close its run record here (or write one, if no pickup got as far as starting
 * it) so that it neither stays "running" forever nor goes unrecorded.
 */
function recordStalledFailure(deps: ProcessorDeps, job: Job<FireJobData>, error: Error): void {
  const { config, logger } = deps;
  logger.error({ job: job.id, err: error.message }, "fire failed after repeated worker crashes");
  const runId = deps.keys.runId(job.data.tid, slotOf(job), job.data.manualNonce);
  void deps.runs
    .get(runId)
    .then((run) =>
      run && run.status !== "running" && run.status !== "retrying" && run.status !== "waiting"
        ? undefined
        : deps.runs.save([
            {
              ...(run ?? baseRun(job.data.tid, slotOf(job), job.data, null, deps.keys)),
              status: "failed",
              error: `the worker delivering it died ${config.worker.maxStalledCount + 1} times`,
              finishedAtMs: Date.now(),
              nextAttemptAtMs: null,
            },
          ]),
    )
    .catch((thrown) =>
      logger.warn({ err: coerceError(thrown).message, runId }, "could not record a stalled fire's failure"),
    );
}
