/**
 * The peer: a pg-boss 10 worker doing the same POST with the same HTTP client as the raw BullMQ worker,
 * with the fastest settings we found: the shortest polling interval pg-boss allows (0.5 s), and LOOPS
 * polling loops each fetching batches of CONCURRENCY jobs and delivering a batch concurrently. A loop
 * waits for the next poll after each batch, so one loop of 50 tops out at 100 jobs/s.
 */
import PgBoss from "pg-boss";
import { Agent, request } from "undici";

const dispatcher = new Agent({ connections: 256, keepAliveTimeout: 10_000, pipelining: 1 });
const sinkUrl = process.env.SINK_URL!;
const boss = new PgBoss({
  connectionString: process.env.PG_URL!,
  schema: process.env.PG_SCHEMA!,
  supervise: false,
  schedule: false,
});
boss.on("error", (error) => console.error(error));
await boss.start();
const deliverBatch = async (jobs: PgBoss.Job<{ n: number; dueAt: number; pad: string }>[]): Promise<void> => {
  await Promise.all(
    jobs.map(async (job) => {
      const res = await request(sinkUrl, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": job.id },
        body: JSON.stringify(job.data),
        dispatcher,
      });
      await res.body.dump();
      if (res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`);
    }),
  );
};
for (let loop = 0; loop < Number(process.env.LOOPS ?? 8); loop++)
  await boss.work(
    "fires",
    { batchSize: Number(process.env.CONCURRENCY ?? 50), pollingIntervalSeconds: 0.5 },
    deliverBatch,
  );
console.log("pg-boss worker ready");
process.on("SIGTERM", () => void boss.stop({ graceful: false, wait: true }).then(() => process.exit(0)));
