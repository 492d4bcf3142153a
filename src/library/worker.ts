import type { Logger } from "pino";
import { loadConfig, type Config } from "../config/index.js";
import { createLogger } from "../logger.js";
import type { Producer } from "../producer/producer.js";
import type { Runs } from "../runs/runs.js";
import { startTickler } from "../runtime.js";
import type { FireHandler } from "../worker/fire-handler.js";
import type { FireWorker } from "../worker/fleet.js";
import { scheduleFor, type Scheduler } from "./schedule.js";

/** How to start an in-process worker. */
export interface CreateWorkerOptions {
  /**
   * Called once per attempt of each fire. Resolving is success; throwing is a failed attempt, retried
   * with the trigger's backoff; throwing `PermanentError` fails the run with no retry; not finishing within
   * the trigger's timeout is a failed attempt (and `fire.signal` aborts).
   */
  onFire: FireHandler;
  /** Defaults to `loadConfig()`: REDIS_URL, TICKLER_PREFIX, TICKLER_CONFIG and the rest of the environment. */
  config?: Config;
  /** Defaults to tickler's pino logger at the config's LOG_LEVEL. */
  logger?: Logger;
}

/** A running in-process worker, and the scheduling calls that feed it. */
export interface InProcessWorker {
  /** `schedule.once/heartbeat/cron/cancel/pause/resume`, Zeno's calls. */
  schedule: Scheduler;
  producer: Producer;
  /** Run history: `runs.list({ triggerId })`, `runs.get(runId)`. */
  runs: Runs;
  worker: FireWorker;
  /** Stops taking fires, lets the handler's in-flight calls finish (bounded), closes the connections. */
  close(): Promise<void>;
}

/**
 * `import { createWorker } from "tickler"`: fires delivered to a function of this process, with the
 * semantics a remote agent gets (one delivery per slot across every process of the fleet, retries and
 * backoff, overlap and missed-fire policies, run records, nothing lost when the process dies). Start it in
 * as many processes as you like: each fire goes to one of them.
 */
export async function createWorker(options: CreateWorkerOptions): Promise<InProcessWorker> {
  if (typeof options.onFire !== "function")
    throw new TypeError("createWorker: onFire must be a function (fire) => …, called for every fire");
  const config = options.config ?? loadConfig();
  const logger = options.logger ?? createLogger(config.logLevel);
  const tickler = await startTickler(config, "worker", logger, { onFire: options.onFire });
  return {
    schedule: scheduleFor(tickler.producer),
    producer: tickler.producer,
    runs: tickler.runs,
    worker: tickler.worker!,
    close: () => tickler.close(),
  };
}
