import type { Job } from "bullmq";
import type { RedisClient } from "../redis/connection.js";
import type { Logger } from "pino";
import type { Dispatcher } from "undici";
import type { Config } from "../config/index.js";
import type { Metrics } from "../metrics.js";
import type { FireJobData, FireQueue } from "../producer/fire-queue.js";
import type { TriggerStore } from "../producer/trigger-store.js";
import type { Keys } from "../redis/keys.js";
import { layoutFor } from "../redis/keys.js";
import { AgentFlowStore } from "../runs/agent-flow.js";
import type { RunStore } from "../runs/run-store.js";
import { AgentGate } from "./agent-gate.js";
import type { Target } from "../triggers/index.js";
import type { Notice } from "./notifier.js";
import { NatsPublisher } from "./nats-publisher.js";
import type { FireHandler } from "./fire-handler.js";

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
  /**
   * Agents' fleet-wide flow control (max_in_flight, rate, circuit). A worker process shares one across its
   * partitions; without it the processor makes one that wakes waiting fires of its own partition only.
   */
  gate?: AgentGate;
  /**
   * Pauses a trigger as the system (after its `pause_after_failures`), unless it is paused already.
   *
   * @returns whether this paused it
   */
  pauseBySystem?: (userId: string, name: string, reason: string) => Promise<boolean>;
  /** Sends a failure notification (a run failed for good, a trigger auto-paused, a circuit opened). */
  notify?: (event: Notice, to?: Target | null) => Promise<void>;
  /** Publishes the fires of NATS targets; a worker process shares one (and closes it). */
  nats?: NatsPublisher;
  /** App code's in-process handler: when set, every fire is delivered to it instead of its target. */
  onFire?: FireHandler;
  now?: () => number;
}

/** The processor's dependencies with the clock and the gate resolved: what each of its parts is given. */
export interface WorkerContext extends ProcessorDeps {
  now: () => number;
  log: Logger;
  gate: AgentGate;
  nats: NatsPublisher;
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
  | { outcome: "partial"; run_id: string; failed: number }
  | { outcome: "catchup_planned"; slots: number };

/** Resolves the clock, logger and agent gate of `deps`. */
export function workerContext(deps: ProcessorDeps): WorkerContext {
  const now = deps.now ?? Date.now;
  const gate = deps.gate ?? ownGate(deps, now);
  const nats = deps.nats ?? new NatsPublisher(deps.logger);
  return { ...deps, now, log: deps.logger, gate, nats };
}

/** A processor's own gate, for a processor built without a worker process's shared one. */
function ownGate(deps: ProcessorDeps, now: () => number): AgentGate {
  const { config, keys } = deps;
  // The same flow keys every process of the deployment uses (tagged exactly when the partition's are).
  const layout = layoutFor(config.prefix, config.partitions, keys.partition !== null);
  return new AgentGate({
    flow: new AgentFlowStore(deps.redis, layout.agent),
    userFlow: new AgentFlowStore(deps.redis, layout.userFlow),
    perUser: config.perUserLimits,
    queueOf: (p) => (p === (keys.partition ?? 0) ? deps.fires : undefined),
    logger: deps.logger,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    now,
  });
}
