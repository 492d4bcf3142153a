/**
 * Scenario 11: fan-out. One fire expanded to 2,000 contexts (`expand.items`) on one worker process, against
 * the same 2,000 deliveries as one-shots due at one instant on the same process, and raw BullMQ's 2,000
 * jobs: deliveries/s while draining and the time from the slot to the last delivery. A fan-out is one job
 * (it runs on one process, 16 children at a time) whose children each write a run record; the one-shots
 * spread over the process's 50 concurrent jobs.
 */
import { PAD, createOneShots, producerFor, rawQueue, rawWorkers, stopProcess, ticklerWorkers, type BenchSink, type Redis7 } from "./lib.js";

const CONTEXTS = 2_000;

export interface FanOutRow {
  fanOutPerSecond: number;
  fanOutDrainMs: number;
  oneShotsPerSecond: number;
  oneShotsDrainMs: number;
  rawPerSecond: number;
  rawDrainMs: number;
}

export async function fanOutScenario(redis: Redis7, sink: BenchSink, rep: number): Promise<FanOutRow> {
  const rate = () => Math.round(CONTEXTS / ((sink.last - sink.first) / 1000));
  const prefix = `x${rep}`;
  const { producer, close } = await producerFor(redis, prefix);
  const workers = await ticklerWorkers(redis, sink, prefix, 1);
  try {
    sink.reset();
    let due = Date.now() + 2000;
    const items = Array.from({ length: CONTEXTS }, (_, i) => ({ key: `c${i}` }));
    await producer.upsert("bench", "wide", { prompt: PAD, at: new Date(due).toISOString(), expand: { items, max_expand: CONTEXTS } });
    await sink.waitFor(CONTEXTS, 120_000);
    const fanOut = { perSecond: rate(), drainMs: sink.last - due };

    sink.reset();
    due = Date.now() + 3000;
    await createOneShots(producer, CONTEXTS, () => due);
    await sink.waitFor(CONTEXTS, 60_000);
    const oneShots = { perSecond: rate(), drainMs: sink.last - due };

    await Promise.all(workers.splice(0).map(stopProcess));
    const { queue, close: closeQueue } = await rawQueue(redis);
    const raw = await rawWorkers(redis, sink, 1);
    try {
      sink.reset();
      due = Date.now() + 2000;
      await queue.addBulk(Array.from({ length: CONTEXTS }, (_, n) => ({ name: "fire", data: { n, dueAt: due, pad: PAD }, opts: { delay: due - Date.now(), removeOnComplete: true } })));
      await sink.waitFor(CONTEXTS, 60_000);
    } finally {
      await Promise.all(raw.map(stopProcess));
      await closeQueue();
    }
    return {
      fanOutPerSecond: fanOut.perSecond,
      fanOutDrainMs: fanOut.drainMs,
      oneShotsPerSecond: oneShots.perSecond,
      oneShotsDrainMs: oneShots.drainMs,
      rawPerSecond: rate(),
      rawDrainMs: sink.last - due,
    };
  } finally {
    await Promise.all(workers.map(stopProcess));
    await close();
  }
}
