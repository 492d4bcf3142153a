/** Shared parts of the benchmarks: an own redis-server, a recording sink, child processes, statistics. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { stringify } from "yaml";
import { loadConfig } from "../src/config/index.js";
import type { Producer } from "../src/producer/producer.js";
import { openStores } from "../src/producer/stores.js";
import { redisAnswers } from "../src/redis/private-server.js";

export const ROOT = new URL("..", import.meta.url).pathname;

/** Every process a benchmark started: killed when the benchmark exits, however it exits. */
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** A redis-server of the benchmark's own: no persistence, the given hz, on a free port. */
export async function startRedis(hz: number): Promise<{ url: string; stop(): Promise<void> }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--hz", String(hz), "--dir", mkdtempSync(join(tmpdir(), "tickler-bench-")), "--maxmemory-policy", "noeviction"], { stdio: "ignore" });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(url, 200))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error("redis-server did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}

/** An agent endpoint that records when each fire arrived and how late it was (against its scheduled time). */
export interface BenchSink {
  url: string;
  /** Requests received, and those answered 2xx. */
  count: number;
  ok: number;
  lateness: number[];
  first: number;
  last: number;
  keys: Map<string, number>;
  reset(): void;
  waitFor(count: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** `status` answers each request (200 unless told otherwise: a failing agent answers 503). */
export async function startSink(holdMs = 0, status: () => number = () => 200): Promise<BenchSink> {
  const sink: BenchSink = {
    url: "",
    count: 0,
    ok: 0,
    lateness: [],
    first: 0,
    last: 0,
    keys: new Map(),
    reset() {
      sink.count = 0;
      sink.ok = 0;
      sink.lateness = [];
      sink.first = 0;
      sink.last = 0;
      sink.keys = new Map();
    },
    async waitFor(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (sink.count < count) {
        if (Date.now() > deadline) throw new Error(`sink got ${sink.count} of ${count} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const now = Date.now();
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { scheduled_at?: string; dueAt?: number };
      const due = body.scheduled_at ? Date.parse(body.scheduled_at) : (body.dueAt ?? now);
      sink.lateness.push(now - due);
      const key = String(req.headers["idempotency-key"] ?? "");
      if (key) sink.keys.set(key, (sink.keys.get(key) ?? 0) + 1);
      if (sink.count === 0) sink.first = now;
      sink.last = now;
      sink.count++;
      const code = status();
      if (code >= 200 && code < 300) sink.ok++;
      const answer = () => res.writeHead(code, { "content-type": "application/json" }).end('{"ok":true}');
      if (holdMs > 0) setTimeout(answer, holdMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/turns`;
  return sink;
}

/** Starts a node process and resolves once its output matches `ready`. */
export async function startProcess(args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", () => reject(new Error(`process exited: ${output}`)));
    setTimeout(() => reject(new Error(`process not ready: ${output}`)), 20_000);
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

/** Stops a process as an operator would (SIGTERM: it drains and exits), and SIGKILLs it if that takes over 5 s. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** The q-quantile (0..1) of numbers. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function percentiles(values: number[]) {
  return { p50: quantile(values, 0.5), p95: quantile(values, 0.95), p99: quantile(values, 0.99), max: Math.max(...values) };
}

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/** Median and spread (min–max) of repeated measurements. */
export function summary(values: number[]): { median: number; min: number; max: number; runs: number[] } {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values };
}

export const CONCURRENCY = 50;
/** BENCH_CPU_PROF=<dir>: tickler and raw workers write V8 CPU profiles there (open them in Chrome DevTools). */
export const PROFILE = process.env.BENCH_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_CPU_PROF] : [];
export const PAD = "x".repeat(220); // with the other fields, a ~300-byte body either way

export type Redis7 = Awaited<ReturnType<typeof startRedis>>;

/** A worker's config file: the default agent is the sink, with `agent`'s settings (flow control) added. */
export function configFile(sinkUrl: string, agent: Record<string, unknown> = {}): string {
  const path = join(tmpdir(), `tickler-bench-${process.pid}-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, stringify({ min_interval: "1s", max_triggers_per_user: 1_000_000, agents: { default: { url: sinkUrl, ...agent } }, rate_limit: { writes: 10_000_000 } }));
  return path;
}

/** CPU seconds (user + system) a process has used, from /proc. */
export function processCpuSeconds(child: ChildProcess): number {
  const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
}

export async function ticklerWorkers(redis: Pick<Redis7, "url">, sink: BenchSink, prefix: string, count: number, partitions = 1, agent: Record<string, unknown> = {}) {
  const env = { REDIS_URL: redis.url, TICKLER_PARTITIONS: String(partitions), TICKLER_PREFIX: prefix, TICKLER_CONFIG: configFile(sink.url, agent), TICKLER_CONCURRENCY: String(CONCURRENCY), LOG_LEVEL: "info" };
  return Promise.all(Array.from({ length: count }, () => startProcess([...PROFILE, "dist/cli.js", "worker"], env, /tickler worker started/)));
}

export async function rawWorkers(redis: Redis7, sink: BenchSink, count: number) {
  const env = { REDIS_URL: redis.url, SINK_URL: sink.url, CONCURRENCY: String(CONCURRENCY) };
  return Promise.all(Array.from({ length: count }, () => startProcess([...PROFILE, "--import", "tsx", "bench/raw-worker.ts"], env, /raw worker ready/)));
}

export async function producerFor(redis: Pick<Redis7, "url">, prefix: string, partitions = 1): Promise<{ producer: Producer; close(): Promise<void> }> {
  // The connection a tickler process would open (one write per tick's commands), as a library user gets it.
  const config = loadConfig({ env: { REDIS_URL: redis.url, TICKLER_PREFIX: prefix, TICKLER_PARTITIONS: String(partitions), LOG_LEVEL: "silent" }, file: { min_interval: "1s", max_triggers_per_user: 1_000_000, agents: { default: { url: "http://127.0.0.1:9/" } } } });
  const stores = await openStores(config, { role: "worker", name: "bench-producer" });
  return { producer: stores.producer, close: () => stores.close() };
}

/** Creates `count` one-shots through the producer (named t<first>, t<first+1>, …), 200 at a time, spread over 100 users. */
export async function createOneShots(producer: Producer, count: number, at: (i: number) => number, first = 0, users = 100): Promise<number> {
  const started = Date.now();
  for (let i = 0; i < count; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, count - i) }, (_, j) => {
        const n = first + i + j;
        return producer.upsert(`u${n % users}`, `t${n}`, { prompt: `fire ${n} ${PAD}`, at: new Date(at(n)).toISOString(), allow_past: true });
      }),
    );
  }
  return Math.round(((Date.now() - started) / count) * 1000);
}

/** The raw BullMQ baseline's queue, emptied of any earlier scenario's jobs. */
export async function rawQueue(redis: Redis7): Promise<{ queue: Queue; close(): Promise<void> }> {
  const connection = new Redis(redis.url);
  const queue = new Queue("raw", { connection, prefix: "raw" });
  await queue.obliterate({ force: true });
  return {
    queue,
    async close() {
      await queue.close();
      connection.disconnect();
    },
  };
}

/** One section of Redis's INFO, as text. */
export async function redisInfo(redis: Redis7, section: string): Promise<string> {
  const client = new Redis(redis.url);
  try {
    return await client.info(section);
  } finally {
    client.disconnect();
  }
}
