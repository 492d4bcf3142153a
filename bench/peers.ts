/**
 * Scenario 8: pg-boss 10 (PostgreSQL at PG_URL, default the local server on 127.0.0.1:5432) doing
 * scenario 1 (lateness of 2,000 one-shots due over 10 s) and scenario 4 (throughput of 20,000 immediate
 * jobs, one worker process) with its fastest settings. Each run uses a fresh schema.
 */
import pg from "pg";
import PgBoss from "pg-boss";
import { CONCURRENCY, PAD, percentiles, startProcess, stopProcess, type BenchSink } from "./lib.js";

const PG_URL = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Whether PostgreSQL answers (the scenario is skipped, and says so, when it does not). */
export async function postgresAnswers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A started pg-boss in a schema of its own, emptied first. */
async function freshBoss(schema: string): Promise<PgBoss> {
  await dropSchema(schema);
  const boss = new PgBoss({ connectionString: PG_URL, schema, supervise: false, schedule: false });
  boss.on("error", (error) => console.error(error));
  await boss.start();
  await boss.createQueue("fires");
  return boss;
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`drop schema if exists ${schema} cascade`);
  await client.end();
}

async function worker(sink: BenchSink, schema: string) {
  return startProcess(["--import", "tsx", "bench/pgboss-worker.ts"], { PG_URL, PG_SCHEMA: schema, SINK_URL: sink.url, CONCURRENCY: String(CONCURRENCY) }, /pg-boss worker ready/);
}

export async function pgBoss(sink: BenchSink, rep: number): Promise<Record<string, Record<string, number>>> {
  const schema = `tickler_bench_${rep}`;
  const out: Record<string, Record<string, number>> = {};
  // Scenario 1.
  {
    const boss = await freshBoss(schema);
    const child = await worker(sink, schema);
    sink.reset();
    const start = Date.now() + 2000;
    const N = 2000;
    const jobs = Array.from({ length: N }, (_, i) => {
      const dueAt = Math.round(start + Math.random() * 10_000);
      return { name: "fires", data: { n: i, dueAt, pad: PAD }, startAfter: new Date(dueAt) };
    });
    for (let i = 0; i < N; i += 500) await boss.insert(jobs.slice(i, i + 500));
    await sink.waitFor(N, 60_000).catch(async (error: Error) => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      const { rows } = await client.query(`select state, count(*), min(output::text) from ${schema}.job group by state`);
      await client.end();
      throw new Error(`${error.message}; pg-boss job states: ${JSON.stringify(rows)}`);
    });
    out.lateness = percentiles(sink.lateness);
    await stopProcess(child);
    await boss.stop({ graceful: false });
  }
  // Scenario 4.
  {
    const boss = await freshBoss(schema);
    // Half of scenario 4's 20,000: pg-boss drains at a steady ~800/s, and the full count would add ~40 s to
    // the run for the same rate.
    const N = 10_000;
    for (let i = 0; i < N; i += 1000)
      await boss.insert(Array.from({ length: 1000 }, (_, j) => ({ name: "fires", data: { n: i + j, dueAt: Date.now(), pad: PAD } })));
    sink.reset();
    const child = await worker(sink, schema);
    await sink.waitFor(N, 180_000);
    out.throughput = { perSecond: Math.round(N / ((sink.last - sink.first) / 1000)) };
    await stopProcess(child);
    await boss.stop({ graceful: false });
    await dropSchema(schema);
  }
  return out;
}
