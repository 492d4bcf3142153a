/**
 * The baseline: a raw BullMQ worker doing the same POST with the same HTTP client (undici.request with a
 * keep-alive pool) and the same concurrency as a tickler worker, and nothing else.
 */
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { Agent, request } from "undici";

const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const dispatcher = new Agent({ connections: 256, keepAliveTimeout: 10_000, pipelining: 1 });
const sinkUrl = process.env.SINK_URL!;
const worker = new Worker(
  "raw",
  async (job) => {
    // A scheduler iteration's slot is the numeric suffix of its job id (BullMQ gives it no other way).
    const id = String(job.id);
    const dueAt = job.repeatJobKey ? Number(id.slice(id.lastIndexOf(":") + 1)) : job.data.dueAt;
    const res = await request(sinkUrl, { method: "POST", headers: { "content-type": "application/json", "idempotency-key": id }, body: JSON.stringify({ ...job.data, dueAt }), dispatcher });
    await res.body.dump();
    if (res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`);
  },
  { connection: redis, concurrency: Number(process.env.CONCURRENCY ?? 50), prefix: "raw" },
);
worker.on("ready", () => console.log("raw worker ready"));
process.on("SIGTERM", () => void worker.close().then(() => process.exit(0)));
