/**
 * Scenario 10: flow control per agent. A 100 ms agent with `max_in_flight: 50` behind 4 worker processes:
 * deliveries/s of 5,000 due fires against the limit's 50 / 0.1 s = 500/s, and lateness p99 of 2,000
 * one-shots due over 10 s (200/s, under the limit). Then a failing agent (503) with a circuit, down 20 s
 * while 2,000 fires come due: requests sent per due fire during the outage (goal ≤ 0.05), and whether
 * every fire is delivered once it is back.
 */
import { createOneShots, percentiles, producerFor, startSink, stopProcess, ticklerWorkers, type Redis7 } from "./lib.js";

const FIRES = 5_000;
const LATE = 2_000;
const OUTAGE_FIRES = 2_000;
const OUTAGE_MS = 20_000;
const LIMIT_PER_SECOND = 50 / 0.1;

export interface FlowRow {
  perSecond: number;
  /** deliveries/s ÷ 500 (the limit's ceiling). */
  efficiency: number;
  latenessP99: number;
  outageRequests: number;
  requestsPerDueFire: number;
  deliveredAfter: number;
}

export async function flowScenario(redis: Redis7, rep: number): Promise<FlowRow> {
  const slow = await startSink(100);
  const paced = await (async () => {
    const prefix = `f${rep}`;
    const { producer, close } = await producerFor(redis, prefix);
    const workers = await ticklerWorkers(redis, slow, prefix, 4, 1, { max_in_flight: 50 });
    try {
      const farAway = Date.now() + 3600_000;
      await createOneShots(producer, FIRES, () => farAway);
      slow.reset();
      await Promise.all(producer.partitions.map((p) => p.fires.queue.promoteJobs()));
      await slow.waitFor(FIRES, 180_000);
      const perSecond = Math.round(FIRES / ((slow.last - slow.first) / 1000));
      slow.reset();
      const start = Date.now() + 2000;
      await createOneShots(producer, LATE, () => start + Math.random() * 10_000, FIRES);
      await slow.waitFor(LATE, 60_000);
      return { perSecond, latenessP99: percentiles(slow.lateness).p99 };
    } finally {
      await Promise.all(workers.map(stopProcess));
      await close();
      await slow.close();
    }
  })();

  let down = true;
  const flaky = await startSink(0, () => (down ? 503 : 200));
  const prefix = `fo${rep}`;
  const { producer, close } = await producerFor(redis, prefix);
  const workers = await ticklerWorkers(redis, flaky, prefix, 4, 1, {
    max_in_flight: 50,
    circuit: { failures: 5, probe_every: "5s" },
  });
  try {
    const due = Date.now() + 1000;
    await createOneShots(producer, OUTAGE_FIRES, () => due);
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS + 1000));
    const outageRequests = flaky.count;
    down = false;
    const deadline = Date.now() + 120_000;
    while (flaky.ok < OUTAGE_FIRES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return {
      ...paced,
      efficiency: Math.round((paced.perSecond / LIMIT_PER_SECOND) * 100) / 100,
      outageRequests,
      requestsPerDueFire: Math.round((outageRequests / OUTAGE_FIRES) * 1000) / 1000,
      deliveredAfter: flaky.ok,
    };
  } finally {
    await Promise.all(workers.map(stopProcess));
    await close();
    await flaky.close();
  }
}
