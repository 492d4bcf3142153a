import type { Job } from "bullmq";
import type { RedisClient } from "../redis/connection.js";
import type { Logger } from "pino";
import type { Dispatcher } from "undici";
import type { Config } from "../config/index.js";
import type { Metrics } from "../metrics.js";
import type { FireJobData, FireQueue } from "../producer/fire-queue.js";
import type { TriggerStore } from "../producer/trigger-store.js";
import type { Keys } from "../redis/keys.js";
import type { RunStore } from "../runs/run-store.js";

/** What the processor needs; everything is passed in, nothing is a singleton. */
export interface ProcessorDeps {
  redis: RedisClient;
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

/** The processor's dependencies with the clock resolved: what each of its parts is given. */
export interface WorkerContext extends ProcessorDeps {
  now: () => number;
  log: Logger;
}

/** One pickup of one fire job: the job, its slot, and BullMQ's lock token and abort signal for it. */
export interface Pickup {
  job: Job<FireJobData>;
  slot: number;
  token: string | undefined;
  signal: AbortSignal | undefined;
}

/** What a processed job resolved to (kept as the BullMQ job's return value, visible in Bull Board). */
export type FireResult =
  | { outcome: "succeeded"; run_id: string; http_status: number }
  | { outcome: "dropped"; reason: string }
  | { outcome: "missed"; run_ids: string[] }
  | { outcome: "skipped_overlap"; run_id: string }
  | { outcome: "catchup_planned"; slots: number };

/** Resolves the clock and logger of `deps`. */
export function workerContext(deps: ProcessorDeps): WorkerContext {
  return { ...deps, now: deps.now ?? Date.now, log: deps.logger };
}
