/**
 * Scenarios 6 (size: a million heartbeat triggers) and 7 (the API under a steady PUT load). Each starts
 * its own redis-server and tickler processes as a user would run them.
 */
import type { ChildProcess } from "node:child_process";
import autocannon from "autocannon";
import { request } from "undici";
import { PROFILE, processCpuSeconds, rawQueue, redisInfo, configFile, percentiles, producerFor, startProcess, startRedis, stopProcess, type BenchSink, type Redis7 } from "./lib.js";

const PROMPT = "p".repeat(300);

async function usedMemory(redis: Redis7): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redisInfo(redis, "memory"))![1]);
}

async function redisCpuSeconds(redis: Redis7): Promise<number> {
  const info = await redisInfo(redis, "cpu");
  return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
}

/** Starts `tickler <role>` on `redis` and resolves once it says it is up. */
async function tickler(role: "api" | "worker", redis: Redis7, sinkUrl: string, prefix: string, port = 0): Promise<ChildProcess> {
  const env = { REDIS_URL: redis.url, TICKLER_PREFIX: prefix, TICKLER_CONFIG: configFile(sinkUrl), PORT: String(port), LOG_LEVEL: "info" };
  return startProcess([...PROFILE, "dist/cli.js", role], env, role === "api" ? /tickler API listening/ : /tickler worker started/);
}

/**
 * Scenario 6: `count` heartbeat triggers (every 1 h, 300-byte prompt) over count/100 users, created with the
 * batched producer API. Creation rate, Redis bytes per trigger against raw BullMQ schedulers carrying the
 * same prompt, p99 of listing one user's first page through the API, and the CPU an idle worker (and
 * Redis) use over 30 s with all of them stored.
 */
export async function size(sink: BenchSink, count: number, log: (line: string) => void): Promise<Record<string, number>> {
  const redis = await startRedis(100);
  const out: Record<string, number> = { triggers: count };
  try {
    // Raw BullMQ: 10,000 schedulers carrying the prompt in their template.
    {
      const RAW = 10_000;
      const { queue, close } = await rawQueue(redis);
      const before = await usedMemory(redis);
      for (let i = 0; i < RAW; i += 500)
        await Promise.all(Array.from({ length: 500 }, (_, j) => queue.upsertJobScheduler(`s${i + j}`, { every: 3600_000 }, { name: "beat", data: { prompt: PROMPT } })));
      out.rawBytesPerScheduler = Math.round(((await usedMemory(redis)) - before) / RAW);
      await queue.obliterate({ force: true });
      await close();
    }
    const prefix = "size";
    const { producer, close } = await producerFor(redis, prefix);
    const before = await usedMemory(redis);
    const started = Date.now();
    const CHUNK = 10_000;
    for (let i = 0; i < count; i += CHUNK) {
      const items = Array.from({ length: Math.min(CHUNK, count - i) }, (_, j) => {
        const n = i + j;
        return { userId: `user${n % (count / 100)}`, name: `beat-${n}`, body: { prompt: PROMPT, every: "1h" } };
      });
      const results = await producer.upsertMany(items, { concurrency: 256 });
      const failed = results.find((r) => "error" in r);
      if (failed) throw new Error(`upsertMany refused an item: ${JSON.stringify(failed)}`);
      if ((i / CHUNK) % 10 === 9) log(`6. size: ${i + CHUNK} triggers created, ${Math.round((i + CHUNK) / ((Date.now() - started) / 1000))}/s`);
    }
    out.createPerSecond = Math.round(count / ((Date.now() - started) / 1000));
    out.bytesPerTrigger = Math.round(((await usedMemory(redis)) - before) / count);
    await close();

    const apiPort = 20000 + Math.floor(Math.random() * 20000);
    const apiProcess = await tickler("api", redis, sink.url, prefix, apiPort);
    const times: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const user = `user${Math.floor(Math.random() * (count / 100))}`;
      const t0 = performance.now();
      const res = await request(`http://127.0.0.1:${apiPort}/v1/users/${user}/triggers`);
      const body = (await res.body.json()) as { items?: unknown[] };
      times.push(performance.now() - t0);
      if (res.statusCode !== 200 || (body.items?.length ?? 0) === 0) throw new Error(`listing ${user}: HTTP ${res.statusCode}`);
    }
    await stopProcess(apiProcess);
    const listed = percentiles(times);
    out.listP50Ms = Math.round(listed.p50 * 10) / 10;
    out.listP99Ms = Math.round(listed.p99 * 10) / 10;

    const worker = await tickler("worker", redis, sink.url, prefix);
    await new Promise((resolve) => setTimeout(resolve, 2000)); // past start-up
    const [cpu0, redis0] = [processCpuSeconds(worker), await redisCpuSeconds(redis)];
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    out.idleWorkerCpuPercent = Math.round(((processCpuSeconds(worker) - cpu0) / 30) * 1000) / 10;
    out.idleRedisCpuPercent = Math.round((((await redisCpuSeconds(redis)) - redis0) / 30) * 1000) / 10;
    await stopProcess(worker);
  } finally {
    await redis.stop();
  }
  return out;
}

/**
 * Scenario 7: autocannon PUTs upserts at 500 requests/s for 30 s against one `tickler api` process:
 * creates for the first 5,000 names, then updates of them (a changed prompt). Latency p50/p99, errors.
 */
export async function apiLoad(sink: BenchSink, seconds = 30): Promise<Record<string, number>> {
  const redis = await startRedis(100);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const api = await tickler("api", redis, sink.url, "api", port);
  try {
    let n = 0;
    const result = await autocannon({
      url: `http://127.0.0.1:${port}`,
      connections: 20,
      overallRate: 500,
      duration: seconds,
      requests: [
        {
          method: "PUT",
          setupRequest: (req) => {
            const i = n++;
            return {
              ...req,
              path: `/v1/users/user${i % 100}/triggers/t${i % 5000}`,
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ prompt: `check in ${i} ${PROMPT}`, every: "1h" }),
            };
          },
        },
      ],
    });
    return {
      requests: result.requests.total,
      perSecond: Math.round(result.requests.average),
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
      errors: result.errors + result.timeouts + result.non2xx,
    };
  } finally {
    await stopProcess(api);
    await redis.stop();
  }
}
