/**
 * tickler's benchmarks, each against raw BullMQ measured in the same run on the same Redis (hz 100, no
 * persistence, its own redis-server). Prints a table, writes bench/results/<timestamp>.json and
 * bench/results/latest.json. Never part of `npm test`.
 *
 *   npm run bench                          # all eleven scenarios, 3 repetitions each (~25 min)
 *   npm run bench -- --reps 1 --only 1,4   # a quick look at some
 *   npm run bench -- --size 100000         # scenario 6 with fewer triggers
 *
 * 1. lateness of 2,000 one-shots due over 10 s; 2. 1,000 heartbeats every 1 s created at once, for 30 s
 * (lateness, missing and duplicate slots); 3. a burst of 10,000 one-shots due at one instant; 4.
 * throughput of 20,000 immediate fires with 1 and 2 worker processes; 5. fleet scaling with a 100 ms agent,
 * 1–8 processes (tickler, then raw BullMQ); 6. a million heartbeat triggers (creation, bytes, listing, idle CPU; once, not repeated);
 * 7. the API under 500 PUT/s for 30 s; 8. pg-boss doing 1 and 4; 9. partitions over a 3-master Redis Cluster
 * (bench/cluster.ts); 10. flow control per agent: a 100 ms agent behind max_in_flight 50, and a failing
 * agent behind a circuit (bench/flow.ts); 11. fan-out of one fire to 2,000 contexts (bench/fan-out.ts). BENCH_CPU_PROF=<dir> and
 * BENCH_REDIS_STATS=1 help find where time goes.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import type { ChildProcess } from "node:child_process";
import type { Producer } from "../src/producer/producer.js";
import { bytesPerTrigger, clusterScenario } from "./cluster.js";
import { fanOutScenario, type FanOutRow } from "./fan-out.js";
import { flowScenario, type FlowRow } from "./flow.js";
import { pgBoss, postgresAnswers } from "./peers.js";
import { apiLoad, size } from "./size-api.js";
import { processCpuSeconds, rawQueue, CONCURRENCY, PAD, ROOT, createOneShots, percentiles, producerFor, quantile, rawWorkers, startRedis, startSink, stopProcess, summary, ticklerWorkers, type BenchSink, type Redis7 } from "./lib.js";

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at === -1 ? undefined : process.argv[at + 1];
}
const REPS = Number(option("--reps") ?? 3) || 3;
/** `--size 100000`: how many triggers scenario 6 creates (a million by default). */
const SIZE = Number(option("--size") ?? 1_000_000);
/** `--only 1,4`: the scenarios to run (all by default). */
const ALL = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const ONLY = new Set((option("--only") ?? ALL.join(",")).split(",").map(Number));
/** Scenario 10's due fires (bench/flow.ts). */
const FLOW_FIRES = "5,000";
/** Scenario 1: 2,000 one-shots due at random times over 10 s; lateness = arrival − due. */
async function lateness(redis: Redis7, sink: BenchSink, rep: number) {
  const N = 2000;
  const out: Record<string, { p50: number; p95: number; p99: number; max: number }> = {};
  // tickler
  {
    const prefix = `l${rep}`;
    const { producer, close } = await producerFor(redis, prefix);
    const workers = await ticklerWorkers(redis, sink, prefix, 1);
    sink.reset();
    const start = Date.now() + 2000;
    await createOneShots(producer, N, () => start + Math.random() * 10_000);
    await sink.waitFor(N, 60_000).catch(async (error: Error) => {
      await explainShortfall(producer, sink, N);
      throw error;
    });
    out.tickler = percentiles(sink.lateness);
    await Promise.all(workers.map(stopProcess));
    await close();
  }
  // raw BullMQ
  {
    const { queue, close } = await rawQueue(redis);
    const workers = await rawWorkers(redis, sink, 1);
    sink.reset();
    const start = Date.now() + 2000;
    const jobs = Array.from({ length: N }, (_, i) => {
      const dueAt = Math.round(start + Math.random() * 10_000);
      return { name: "fire", data: { n: i, dueAt, pad: PAD }, opts: { delay: dueAt - Date.now(), removeOnComplete: true } };
    });
    await queue.addBulk(jobs);
    await sink.waitFor(N, 60_000);
    out.raw = percentiles(sink.lateness);
    await Promise.all(workers.map(stopProcess));
    await close();
  }
  return out;
}

/** When fires are missing, says where each one is (trigger state, its job's state, its runs). */
async function explainShortfall(producer: Producer, sink: BenchSink, count: number): Promise<void> {
  const delivered = new Set([...sink.keys.keys()].map((key) => key.slice(0, key.lastIndexOf("@"))));
  for (let n = 0; n < count; n++) {
    const tid = `u${n % 100}/t${n}`;
    if (delivered.has(tid)) continue;
    const record = await producer.store.get(tid);
    const job = record ? await producer.fires.queue.getJob(`once|${encodeURIComponent(tid)}|${record.scheduleVersion}`) : undefined;
    console.error(
      `missing ${tid}: ${record ? `completed=${record.completedAtMs !== null} last=${record.lastStatus} sv=${record.scheduleVersion}` : "no definition"}; job ${job ? `${await job.getState()} ${JSON.stringify(job.returnvalue)} ${job.failedReason ?? ""} attempts=${job.attemptsMade}/${job.attemptsStarted}` : "none"}`,
    );
  }
}


/**
 * Scenario 2: 1,000 heartbeats every 1 s, all created at once to start 2 s later (so creating them does not
 * overlap their fires), for 30 s: lateness, and slots missing or delivered twice. Slots are counted up to
 * 3 s before the end, so in-flight ones count. `spread`: tickler's heartbeats get `jitter: "1s"` and raw
 * BullMQ's schedulers start dates spread over the second; without it the phases are bunched (a thundering
 * herd every second).
 */
async function heartbeats(redis: Redis7, sink: BenchSink, rep: number, spread: boolean) {
  const N = 1000;
  // The bunched run shows what a herd does within its first seconds; it runs once and shorter.
  const RUN_MS = spread ? 30_000 : 10_000;
  const START_MS = 2000;
  const out: Record<string, Record<string, number>> = {};
  const count = (expected: Map<string, number[]>, until: number) => {
    let missing = 0;
    let slots = 0;
    for (const [key, list] of expected) {
      for (const slot of list) {
        if (slot > until) continue;
        slots++;
        if (!sink.keys.has(`${key}@${slot}`)) missing++;
      }
    }
    const duplicates = [...sink.keys.values()].filter((n) => n > 1).length;
    return { slots, missing, duplicates, p50: quantile(sink.lateness, 0.5), p99: quantile(sink.lateness, 0.99), max: Math.max(...sink.lateness) };
  };
  {
    const prefix = `h${rep}${spread ? "s" : "b"}`;
    const { producer, close } = await producerFor(redis, prefix);
    const workers = await ticklerWorkers(redis, sink, prefix, 2);
    sink.reset();
    const startAt = new Date(Date.now() + START_MS).toISOString();
    await Promise.all(Array.from({ length: N }, (_, n) => producer.upsert(`u${n % 100}`, `h${n}`, { prompt: `beat ${n} ${PAD}`, every: "1s", start_at: startAt, ...(spread ? { jitter: "1s" } : {}) })));
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, RUN_MS));
    const until = Date.now() - 3000;
    const expected = new Map<string, number[]>();
    for (let n = 0; n < N; n++) {
      const record = await producer.get(`u${n % 100}`, `h${n}`);
      const anchor = record.schedule.kind === "heartbeat" ? record.schedule.anchorMs : started;
      expected.set(`u${n % 100}/h${n}`, Array.from({ length: RUN_MS / 1000 + 2 }, (_, k) => anchor + k * 1000));
    }
    out.tickler = count(expected, until);
    await Promise.all(workers.map(stopProcess));
    await close();
  }
  {
    const { queue, close } = await rawQueue(redis);
    const workers = await rawWorkers(redis, sink, 2);
    sink.reset();
    const start = Date.now() + START_MS;
    await Promise.all(Array.from({ length: N }, (_, n) => queue.upsertJobScheduler(`s${n}`, { every: 1000, startDate: start + (spread ? Math.floor((n * 1000) / N) : 0) }, { name: "beat", data: { n, pad: PAD }, opts: { removeOnComplete: true } })));
    await new Promise((resolve) => setTimeout(resolve, RUN_MS));
    const until = Date.now() - 3000;
    // BullMQ's grid for each scheduler starts at its first iteration; expect every 1 s from there.
    const first = new Map<string, number>();
    for (const key of sink.keys.keys()) {
      const [id, slot] = [key.slice(0, key.lastIndexOf(":")), Number(key.slice(key.lastIndexOf(":") + 1))];
      first.set(id, Math.min(first.get(id) ?? Infinity, slot));
    }
    const expected = new Map<string, number[]>();
    for (let n = 0; n < N; n++) {
      const id = `repeat:s${n}`;
      const start = first.get(id);
      if (start !== undefined) expected.set(id, Array.from({ length: RUN_MS / 1000 + 2 }, (_, k) => start + k * 1000));
    }
    // The sink saw "repeat:s<n>:<slot>"; count() looks up "<id>@<slot>".
    sink.keys = new Map([...sink.keys].map(([key, c]) => [`${key.slice(0, key.lastIndexOf(":"))}@${key.slice(key.lastIndexOf(":") + 1)}`, c]));
    out.raw = count(expected, until);
    for (let n = 0; n < N; n += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => queue.removeJobScheduler(`s${n + j}`)));
    await Promise.all(workers.map(stopProcess));
    await close();
  }
  return out;
}

/**
 * Scenario 3: 10,000 one-shots due at the same instant, 2 worker processes: how long until the last one
 * is delivered, and deliveries per second while draining.
 */
async function burst(redis: Redis7, sink: BenchSink, rep: number) {
  const N = 10_000;
  const out: Record<string, Record<string, number>> = {};
  const measure = (due: number) => ({ drainMs: sink.last - due, perSecond: Math.round(N / ((sink.last - sink.first) / 1000)), firstMs: sink.first - due });
  {
    const prefix = `b${rep}`;
    const { producer, close } = await producerFor(redis, prefix);
    const workers = await ticklerWorkers(redis, sink, prefix, 2);
    sink.reset();
    const due = Date.now() + 5000;
    await createOneShots(producer, N, () => due);
    await sink.waitFor(N, 60_000);
    out.tickler = measure(due);
    await Promise.all(workers.map(stopProcess));
    await close();
  }
  {
    const { queue, close } = await rawQueue(redis);
    const workers = await rawWorkers(redis, sink, 2);
    sink.reset();
    const due = Date.now() + 3000;
    for (let i = 0; i < N; i += 1000)
      await queue.addBulk(Array.from({ length: 1000 }, (_, j) => ({ name: "fire", data: { n: i + j, dueAt: due, pad: PAD }, opts: { delay: due - Date.now(), removeOnComplete: true } })));
    await sink.waitFor(N, 60_000);
    out.raw = measure(due);
    await Promise.all(workers.map(stopProcess));
    await close();
  }
  return out;
}

/**
 * Scenario 5: the agent answers after 100 ms; 1, 2, 4 and 8 worker processes (concurrency 50 each) drain
 * 1,000 fires per process, released at once after every worker is up: deliveries per second, and the
 * efficiency against linear scaling from one process. Then the same fleets of raw BullMQ workers, which
 * show what the machine allows any BullMQ fleet.
 */
async function fleet(redis: Redis7, slowSink: BenchSink, rep: number) {
  const SIZES = [1, 2, 4, 8];
  const out: Record<string, Record<string, number>> = { perSecond: {}, efficiency: {}, rawPerSecond: {}, rawEfficiency: {} };
  /** Grows the fleet 1 → 2 → 4 → 8 (processes already started stay, idle between rounds, and join the next). */
  const drain = async (start: (count: number) => Promise<ChildProcess[]>, release: (count: number, first: number) => Promise<void>) => {
    const rates: Record<string, number> = {};
    const workers: ChildProcess[] = [];
    for (const processes of SIZES) {
      const N = 1000 * processes;
      workers.push(...(await start(processes - workers.length)));
      slowSink.reset();
      await release(N, processes * 1000);
      await slowSink.waitFor(N, 120_000);
      rates[`${processes}p`] = Math.round(N / ((slowSink.last - slowSink.first) / 1000));
    }
    await Promise.all(workers.map(stopProcess));
    return rates;
  };
  const prefix = `f${rep}`;
  const { producer, close } = await producerFor(redis, prefix);
  out.perSecond = await drain(
    (count) => ticklerWorkers(redis, slowSink, prefix, count),
    async (count, first) => {
      await createOneShots(producer, count, () => Date.now() + 3600_000, first);
      await producer.fires.queue.promoteJobs();
    },
  );
  await close();
  const raw = await rawQueue(redis);
  out.rawPerSecond = await drain(
    (count) => rawWorkers(redis, slowSink, count),
    async (count) => {
      for (let i = 0; i < count; i += 1000) {
        const jobs = Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({ name: "fire", data: { n: i + j, dueAt: Date.now(), pad: PAD }, opts: { delay: 3600_000, removeOnComplete: true } }));
        await raw.queue.addBulk(jobs);
      }
      await raw.queue.promoteJobs();
    },
  );
  await raw.close();
  for (const n of SIZES) {
    const p = `${n}p`;
    out.efficiency![p] = Math.round((out.perSecond![p]! / (n * out.perSecond!["1p"]!)) * 100) / 100;
    out.rawEfficiency![p] = Math.round((out.rawPerSecond![p]! / (n * out.rawPerSecond!["1p"]!)) * 100) / 100;
  }
  return out;
}

/**
 * BENCH_REDIS_STATS=1: prints Redis's own time per command (µs per fire) since the last reset, to find
 * where Redis time goes, and the workers' CPU per fire. Without a label it resets the counters.
 */
async function redisStats(redis: Redis7, label?: string, fires = 1, workerCpuSeconds = 0): Promise<void> {
  if (!process.env.BENCH_REDIS_STATS) return;
  const client = new Redis(redis.url);
  if (label === undefined) {
    await client.config("RESETSTAT");
  } else {
    const info = await client.info("commandstats");
    const rows = [...info.matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+)/g)].map(([, cmd, calls, usec]) => ({ cmd, calls: Number(calls) / fires, usec: Number(usec) / fires }));
    rows.sort((a, b) => b.usec - a.usec);
    const total = rows.reduce((sum, r) => sum + r.usec, 0);
    console.error(`${label}: workers ${((workerCpuSeconds * 1e6) / fires).toFixed(0)} µs CPU per fire; Redis ${total.toFixed(1)} µs and ${rows.reduce((sum, r) => sum + r.calls, 0).toFixed(1)} calls per fire: ${rows.slice(0, 12).map((r) => `${r.cmd} ${r.calls.toFixed(2)}×/${r.usec.toFixed(1)}µs`).join(", ")}`);
  }
  client.disconnect();
}

const workersCpu = (workers: ChildProcess[]): number => workers.reduce((sum, w) => sum + processCpuSeconds(w), 0);

/** Scenario 4: 20,000 fires ready at once, drained by `processes` worker processes; deliveries per second. */
async function throughput(redis: Redis7, sink: BenchSink, rep: number, processes: number) {
  const N = 20_000;
  const out: Record<string, number> = {};
  {
    const prefix = `t${rep}p${processes}`;
    const { producer, close } = await producerFor(redis, prefix);
    const farAway = Date.now() + 3600_000;
    out.createUsPerTrigger = await createOneShots(producer, N, () => farAway);
    await producer.fires.queue.promoteJobs();
    await redisStats(redis);
    sink.reset();
    const workers = await ticklerWorkers(redis, sink, prefix, processes);
    const cpuBefore = workersCpu(workers);
    await sink.waitFor(N, 120_000);
    out.tickler = Math.round(N / ((sink.last - sink.first) / 1000));
    await redisStats(redis, "tickler", N, workersCpu(workers) - cpuBefore);
    await Promise.all(workers.map(stopProcess));
    await close();
  }
  {
    const { queue, close } = await rawQueue(redis);
    for (let i = 0; i < N; i += 1000) {
      await queue.addBulk(Array.from({ length: 1000 }, (_, j) => ({ name: "fire", data: { n: i + j, dueAt: Date.now(), pad: PAD }, opts: { removeOnComplete: true } })));
    }
    await redisStats(redis);
    sink.reset();
    const workers = await rawWorkers(redis, sink, processes);
    const cpuBefore = workersCpu(workers);
    await sink.waitFor(N, 120_000);
    out.raw = Math.round(N / ((sink.last - sink.first) / 1000));
    await redisStats(redis, "raw", N, workersCpu(workers) - cpuBefore);
    await Promise.all(workers.map(stopProcess));
    await close();
  }
  out.ratio = Math.round((out.tickler! / out.raw!) * 100) / 100;
  return out;
}

type Cell = { median: number; min: number; max: number; runs: number[] };
/** The ratio of two repeated measurements, run by run. */
const ratioOf = (a: Cell, b: Cell): Cell => summary(a.runs.map((x, i) => Math.round((x / b.runs[i]!) * 100) / 100));
const cell = (s: Cell | undefined) => (s === undefined ? "" : `${s.median} (${s.min}–${s.max})`);

/** Runs `once` REPS times and summarises every numeric field of `who` (e.g. tickler, raw) across the runs. */
async function repeated<R extends Record<string, Record<string, number>>>(
  label: string,
  once: (rep: number) => Promise<R>,
  reps = REPS,
): Promise<Record<string, Record<string, Cell>>> {
  const runs: R[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const started = Date.now();
    runs.push(await once(rep));
    process.stderr.write(`${label} rep ${rep + 1}/${reps} done in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  }
  return Object.fromEntries(
    Object.keys(runs[0]!).map((who) => [who, Object.fromEntries(Object.keys(runs[0]![who]!).map((k) => [k, summary(runs.map((r) => r[who]![k]!))]))]),
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  const redis = await startRedis(100);
  const sink = await startSink();
  const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, reps: REPS, redis: "7, hz 100, no persistence", concurrency: CONCURRENCY };
  const rows: string[] = [];
  try {
    if (ONLY.has(1)) {
      const l = await repeated("1. lateness", (rep) => lateness(redis, sink, rep));
      results.lateness = l;
      for (const k of ["p50", "p95", "p99", "max"]) rows.push(`| 1. lateness ${k}, 2,000 one-shots over 10 s (ms) | ${cell(l.tickler![k])} | ${cell(l.raw![k])} | |`);
    }
    if (ONLY.has(2)) {
      const what: Record<string, string> = { slots: "slots due", missing: "missing slots", duplicates: "slots delivered twice" };
      // Spread phases (tickler's jitter) are what the lateness goal is about, repeated; bunched phases show
      // what a thundering herd does to each (raw BullMQ skips slots), once.
      const h = await repeated("2. heartbeats, jitter", (rep) => heartbeats(redis, sink, rep, true));
      const bunched = await repeated("2. heartbeats, bunched", (rep) => heartbeats(redis, sink, rep, false), 1);
      results.heartbeats = h;
      results.heartbeatsBunched = bunched;
      for (const k of ["p50", "p99", "max"]) rows.push(`| 2. heartbeats: 1,000 every 1 s created at once with jitter 1 s (raw: start dates spread), 30 s, 2 processes — lateness ${k} (ms) | ${cell(h.tickler![k])} | ${cell(h.raw![k])} | |`);
      for (const k of ["slots", "missing", "duplicates"]) rows.push(`| 2. heartbeats, jitter — ${what[k]} | ${cell(h.tickler![k])} | ${cell(h.raw![k])} | |`);
      for (const k of ["p50", "p99"]) rows.push(`| 2. heartbeats without jitter (phases bunched), 10 s, once — lateness ${k} (ms) | ${cell(bunched.tickler![k])} | ${cell(bunched.raw![k])} | |`);
      for (const k of ["missing", "duplicates"]) rows.push(`| 2. heartbeats without jitter — ${what[k]} | ${cell(bunched.tickler![k])} | ${cell(bunched.raw![k])} | |`);
    }
    if (ONLY.has(3)) {
      const b = await repeated("3. burst", (rep) => burst(redis, sink, rep));
      results.burst = b;
      rows.push(`| 3. burst: 10,000 one-shots due at one instant, 2 processes — last delivered after (ms) | ${cell(b.tickler!.drainMs)} | ${cell(b.raw!.drainMs)} | |`);
      rows.push(`| 3. burst — first delivered after (ms) | ${cell(b.tickler!.firstMs)} | ${cell(b.raw!.firstMs)} | |`);
      rows.push(`| 3. burst — deliveries/s while draining | ${cell(b.tickler!.perSecond)} | ${cell(b.raw!.perSecond)} | ${cell(ratioOf(b.tickler!.perSecond!, b.raw!.perSecond!))} |`);
    }
    if (ONLY.has(4)) {
      const through: Record<string, unknown> = {};
      for (const processes of [1, 2]) {
        const t = await repeated(`4. throughput ${processes}p`, async (rep) => ({ all: await throughput(redis, sink, rep, processes) }));
        through[`${processes}p`] = t.all;
        rows.push(`| 4. throughput, 20,000 fires, ${processes === 1 ? "1 process" : "2 processes"} × ${CONCURRENCY} (deliveries/s) | ${cell(t.all!.tickler)} | ${cell(t.all!.raw)} | ${cell(t.all!.ratio)} |`);
        if (processes === 1) rows.push(`| producer: upsert cost while creating 20,000 one-shots (µs per trigger, 200 in flight) | ${cell(t.all!.createUsPerTrigger)} | | |`);
      }
      results.throughput = through;
    }
    if (ONLY.has(5)) {
      const slowSink = await startSink(100);
      try {
        const f = await repeated("5. fleet", (rep) => fleet(redis, slowSink, rep));
        results.fleet = f;
        for (const p of ["1p", "2p", "4p", "8p"])
          rows.push(`| 5. fleet: agent answers in 100 ms, ${p.replace("p", "")} × ${CONCURRENCY} — deliveries/s (efficiency vs linear) | ${cell(f.perSecond![p])} (${f.efficiency![p]!.median}) | ${cell(f.rawPerSecond![p])} (${f.rawEfficiency![p]!.median}) | ${cell(ratioOf(f.perSecond![p]!, f.rawPerSecond![p]!))} |`);
      } finally {
        await slowSink.close();
      }
    }
    if (ONLY.has(9)) {
      const runs: Awaited<ReturnType<typeof clusterScenario>>[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        runs.push(await clusterScenario(redis, sink, rep));
        process.stderr.write(`9. cluster rep ${rep + 1}/${REPS}: ${JSON.stringify(runs.at(-1))}\n`);
      }
      results.cluster = runs;
      const single = summary(runs.map((r) => r["1 (one Redis)"]!.redisUsPerFire));
      for (const label of Object.keys(runs[0]!)) {
        const of = (field: "perSecond" | "latenessP99" | "redisUsPerFire") => summary(runs.map((r) => r[label]![field]));
        const cost = of("redisUsPerFire");
        const worst = (field: "fireShares" | "cpuShares") => summary(runs.map((r) => Math.max(...r[label]![field])));
        rows.push(`| 9. partitions ${label}: deliveries/s; lateness p99 (ms) | ${cell(of("perSecond"))}; ${cell(of("latenessP99"))} | | |`);
        rows.push(`| 9. partitions ${label}: Redis CPU per fire (µs, masters summed; ratio to one Redis); busiest master's share of fires / of Redis CPU | ${cell(cost)}; ${cell(ratioOf(cost, single))}; ${cell(worst("fireShares"))} / ${cell(worst("cpuShares"))} | | |`);
      }
      // Bytes per trigger do not depend on the machine's load: measured once per layout.
      const memory: Record<string, number> = {};
      for (const partitions of [1, 12]) memory[partitions] = await bytesPerTrigger(SIZE, partitions);
      results.clusterMemory = memory;
      rows.push(`| 9. memory: Redis bytes per trigger, ${SIZE.toLocaleString("en-US")} heartbeats, 1 partition / 12 partitions | ${memory[1]} / ${memory[12]} | | ${Math.round((memory[12]! / memory[1]!) * 100) / 100} |`);
    }
    if (ONLY.has(10)) {
      const runs: FlowRow[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        runs.push(await flowScenario(redis, rep));
        process.stderr.write(`10. flow rep ${rep + 1}/${REPS}: ${JSON.stringify(runs.at(-1))}\n`);
      }
      results.flow = runs;
      const of = (field: keyof FlowRow) => summary(runs.map((r) => r[field]));
      rows.push(`| 10. flow: a 100 ms agent with max_in_flight 50, 4 workers — deliveries/s of ${FLOW_FIRES} due fires (÷ the limit's 500/s); lateness p99 of 2,000 one-shots over 10 s (ms) | ${cell(of("perSecond"))} (${cell(of("efficiency"))}); ${cell(of("latenessP99"))} | | |`);
      rows.push(`| 10. flow: an agent down 20 s (503, circuit failures 5, probe every 5 s) with 2,000 fires due — requests per due fire during the outage (goal ≤ 0.05); delivered after it | ${cell(of("requestsPerDueFire"))}; ${cell(of("deliveredAfter"))} | | |`);
    }
    if (ONLY.has(11)) {
      const runs: FanOutRow[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        runs.push(await fanOutScenario(redis, sink, rep));
        process.stderr.write(`11. fan-out rep ${rep + 1}/${REPS}: ${JSON.stringify(runs.at(-1))}\n`);
      }
      results.fanOut = runs;
      const of = (field: keyof FanOutRow) => summary(runs.map((r) => r[field]));
      const ratio = (a: keyof FanOutRow, b: keyof FanOutRow) => summary(runs.map((r) => Math.round((r[a] / r[b]) * 100) / 100));
      rows.push(`| 11. fan-out: one fire × 2,000 contexts, 1 process — deliveries/s; last delivered after (ms) | ${cell(of("fanOutPerSecond"))}; ${cell(of("fanOutDrainMs"))} | ${cell(of("rawPerSecond"))}; ${cell(of("rawDrainMs"))} | ${cell(ratio("fanOutPerSecond", "rawPerSecond"))} |`);
      rows.push(`| 11. fan-out — the same 2,000 as one-shots due at one instant (tickler; ratio: fan-out ÷ one-shots) | ${cell(of("oneShotsPerSecond"))}; ${cell(of("oneShotsDrainMs"))} | | ${cell(ratio("fanOutPerSecond", "oneShotsPerSecond"))} |`);
    }
    if (ONLY.has(6)) {
      // Once, not REPS times: a million triggers take minutes to create, and each figure is already an
      // average over all of them (or 1,000 requests, or 30 s).
      const z = await size(sink, SIZE, (line) => process.stderr.write(`${line}\n`));
      results.size = z;
      const n = SIZE.toLocaleString("en-US");
      rows.push(`| 6. size: ${n} heartbeats (every 1 h, 300-byte prompt) created with upsertMany — triggers/s | ${z.createPerSecond} | | |`);
      rows.push(`| 6. size — Redis bytes per trigger (raw: per scheduler with the same prompt) | ${z.bytesPerTrigger} | ${z.rawBytesPerScheduler} | ${Math.round((z.bytesPerTrigger! / z.rawBytesPerScheduler!) * 100) / 100} |`);
      rows.push(`| 6. size — list one user's first page via the API, p50 / p99 (ms, 1,000 requests) | ${z.listP50Ms} / ${z.listP99Ms} | | |`);
      rows.push(`| 6. size — idle worker CPU over 30 s (% of a core); Redis CPU meanwhile | ${z.idleWorkerCpuPercent}; Redis ${z.idleRedisCpuPercent} | | |`);
      process.stderr.write("6. size done\n");
    }
    if (ONLY.has(7)) {
      const a = await repeated("7. api", async () => ({ api: await apiLoad(sink) }));
      results.api = a.api;
      rows.push(`| 7. API: PUT upserts at 500 req/s for 30 s, one process — latency p50 / p99 / max (ms) | ${cell(a.api!.p50Ms)} / ${cell(a.api!.p99Ms)} / ${cell(a.api!.maxMs)} | | |`);
      rows.push(`| 7. API — requests answered; errors (non-2xx, timeouts) | ${cell(a.api!.requests)}; ${cell(a.api!.errors)} | | |`);
    }
    if (ONLY.has(8)) {
      if (await postgresAnswers()) {
        const g = await repeated("8. pg-boss", (rep) => pgBoss(sink, rep));
        results.pgBoss = g;
        const l = results.lateness as Record<string, Record<string, Cell>> | undefined;
        const t = (results.throughput as Record<string, Record<string, Cell>> | undefined)?.["1p"];
        rows.push(`| 8. pg-boss 10 (polling 0.5 s, 8 loops × batches of ${CONCURRENCY}) — scenario 1 lateness p50 / p99 (ms) | ${l ? `${cell(l.tickler!.p50)} / ${cell(l.tickler!.p99)}` : ""} | pg-boss: ${cell(g.lateness!.p50)} / ${cell(g.lateness!.p99)} | |`);
        rows.push(`| 8. pg-boss — scenario 4 throughput, 1 process (deliveries/s; pg-boss drains 10,000) | ${t ? cell(t.tickler) : ""} | pg-boss: ${cell(g.throughput!.perSecond)} | ${t ? cell(ratioOf(t.tickler!, g.throughput!.perSecond!)) : ""} |`);
      } else {
        rows.push("| 8. pg-boss — skipped: no PostgreSQL at PG_URL (default postgres://postgres@127.0.0.1:5432/test) | | | |");
      }
    }
  } finally {
    await sink.close();
    await redis.stop();
  }
  results.minutes = Math.round((Date.now() - started) / 6000) / 10;
  const lines = [
    `tickler benchmarks — ${results.date}, Node ${process.version}, Redis hz 100, ${REPS} reps (median, min–max), ${results.minutes} min`,
    "",
    "| scenario | tickler | raw BullMQ | tickler/raw |",
    "|---|---|---|---|",
    ...rows,
  ];
  console.log(lines.join("\n"));
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify({ ...results, table: lines }, null, 2);
  writeFileSync(join(dir, `${String(results.date).replace(/[:.]/g, "-")}.json`), json);
  if (ALL.every((scenario) => ONLY.has(scenario)) && REPS >= 3) writeFileSync(join(dir, "latest.json"), json);
}

await main();
