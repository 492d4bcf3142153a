import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Producer } from "./producer/producer.js";

/**
 * Where queue- and trigger-level gauges read from (Redis, every partition summed), so every process
 * reports the same numbers.
 */
export type MetricSources = Pick<Producer, "jobCounts" | "counts" | "schedulerCount" | "workerCount">;

const JOB_STATES = ["waiting", "active", "delayed", "prioritized", "completed", "failed"] as const;

/**
 * Prometheus metrics of one process. Counters and histograms are this process's own (a fleet is summed by
 * Prometheus); gauges about the queue and the triggers read Redis at scrape time.
 */
export class Metrics {
  readonly registry = new Registry();
  /** Slots that reached an outcome, by trigger kind and outcome (succeeded, failed, partial, missed, skipped_overlap). */
  readonly fires: Counter<"kind" | "outcome">;
  /** One delivery attempt's HTTP round trip, by attempt outcome (succeeded, retryable, permanent). */
  readonly deliverySeconds: Histogram<"outcome">;
  /** Delivery start minus scheduled time, first attempts of scheduled slots only. */
  readonly latenessSeconds: Histogram<"kind">;
  /** Attempts that failed and will be retried. */
  readonly retries: Counter<"kind">;
  /** Fires that waited for their agent's flow control, by agent and why (in_flight, rate, open, paused). */
  readonly agentWaits: Counter<"agent" | "reason">;
  /** Agents' circuits opening and closing (seen by this process's deliveries). */
  readonly circuitTransitions: Counter<"agent" | "to">;

  constructor(sources?: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "tickler_" });
    this.fires = new Counter({
      name: "tickler_fires_total",
      help: "Slots that reached an outcome",
      labelNames: ["kind", "outcome"],
      registers,
    });
    this.deliverySeconds = new Histogram({
      name: "tickler_delivery_duration_seconds",
      help: "HTTP round trip of one delivery attempt",
      labelNames: ["outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.latenessSeconds = new Histogram({
      name: "tickler_fire_lateness_seconds",
      help: "Delivery start minus scheduled time (first attempt)",
      labelNames: ["kind"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300],
      registers,
    });
    this.retries = new Counter({
      name: "tickler_retries_total",
      help: "Delivery attempts that failed and will be retried",
      labelNames: ["kind"],
      registers,
    });
    ({ waits: this.agentWaits, transitions: this.circuitTransitions } = agentCounters(registers));
    if (!sources) return;
    new Gauge({
      name: "tickler_queue_jobs",
      help: "Fire jobs in the queue by state",
      labelNames: ["state"],
      registers,
      async collect() {
        const counts = await sources.jobCounts(...JOB_STATES);
        for (const state of JOB_STATES) this.set({ state }, counts[state] ?? 0);
      },
    });
    new Gauge({
      name: "tickler_triggers",
      help: "Triggers by kind and state",
      labelNames: ["kind", "state"],
      registers,
      async collect() {
        this.reset();
        for (const [bucket, count] of Object.entries(await sources.counts())) {
          const [kind = "", state = ""] = bucket.split(":");
          this.set({ kind, state }, count);
        }
      },
    });
    new Gauge({
      name: "tickler_job_schedulers",
      help: "BullMQ job schedulers (heartbeat and cron triggers that are active)",
      registers,
      async collect() {
        this.set(await sources.schedulerCount());
      },
    });
    new Gauge({
      name: "tickler_workers",
      help: "Worker connections seen in Redis",
      registers,
      async collect() {
        this.set(await sources.workerCount());
      },
    });
  }

  /** The Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** The flow-control counters: fires that waited for their agent, and circuits opening and closing. */
function agentCounters(registers: Registry[]): {
  waits: Counter<"agent" | "reason">;
  transitions: Counter<"agent" | "to">;
} {
  return {
    waits: new Counter({
      name: "tickler_agent_waits_total",
      help: "Fires that waited for their agent's limits or open circuit",
      labelNames: ["agent", "reason"],
      registers,
    }),
    transitions: new Counter({
      name: "tickler_agent_circuit_transitions_total",
      help: "Agent circuits opened or closed by this process's deliveries",
      labelNames: ["agent", "to"],
      registers,
    }),
  };
}
