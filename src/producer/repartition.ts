import type { Config } from "../config/index.js";
import { locateRedis, openConnection, type RedisClient } from "../redis/connection.js";
import { layoutFor, type Layout } from "../redis/keys.js";
import { FireQueue } from "./fire-queue.js";
import { describeLayout, MOVING } from "./partition-count.js";
import { Partition } from "./partition.js";

/** What `tickler repartition` did (or, with dryRun, would do). */
export interface RepartitionReport {
  from: string;
  to: string;
  /** Triggers moved to another partition (with dryRun: that would move). */
  moved: number;
  /** Triggers already where the new layout has them (left alone). */
  stayed: number;
  /** Triggers the new layout held already (a run that stopped halfway): their old copy was removed. */
  resumed: number;
}

/** Reads the layout a stored partition-count record describes (`1`, `<N> tagged`). */
function layoutOf(prefix: string, stored: string): Layout {
  const [count, tagged] = stored.split(" ");
  return layoutFor(prefix, Number(count), tagged === "tagged");
}

function partitionsOf(redis: RedisClient, layout: Layout, config: Config): Partition[] {
  return layout.keys.map(
    (keys) =>
      new Partition({
        redis,
        keys,
        fires: new FireQueue(redis, keys.base),
        config: { ...config, partitions: layout.partitions },
      }),
  );
}

/**
 * Moves every trigger of a deployment from the partition count its data was written with to `to`
 * partitions: each trigger's definition and bookkeeping (fire count, last fire, a heartbeat's phase) are
 * written into its new partition, its pending fire planned there, then its old copy and pending fire
 * removed. Every process of the deployment must be stopped first; while it runs, the stored layout says
 * "moving" and no tickler process starts. Safe to run again after a crash: a trigger found in both places
 * keeps its new copy. Run history stays behind (it expires after `run_retention`).
 *
 * @throws Error when workers are still connected, or a move of another count is halfway
 */
export async function repartition(
  config: Config,
  to: number,
  opts: { dryRun?: boolean; log?: (line: string) => void } = {},
): Promise<RepartitionReport> {
  const log = opts.log ?? (() => undefined);
  const target = await locateRedis(config.redisUrl, config.redisClusterNodes);
  const redis = openConnection(target, "worker", "tickler-repartition");
  redis.on("error", () => undefined);
  const opened: Partition[] = [];
  try {
    const toLayout = layoutFor(config.prefix, to, target.cluster !== null);
    const key = toLayout.partitionCount;
    let stored = await redis.get(key);
    if (stored?.startsWith(MOVING)) {
      const [from = "", next = ""] = stored.slice(MOVING.length).split(" -> ");
      if (next !== describeLayout(toLayout))
        throw new Error(
          `a move from ${from} to ${next} stopped halfway: finish it first (tickler repartition --to ${next.split(" ")[0]})`,
        );
      stored = from;
    }
    stored ??= "1"; // data from before the record existed, or none at all
    const fromLayout = layoutOf(config.prefix, stored);
    const report: RepartitionReport = {
      from: stored,
      to: describeLayout(toLayout),
      moved: 0,
      stayed: 0,
      resumed: 0,
    };
    const from = partitionsOf(redis, fromLayout, config);
    const into = partitionsOf(redis, toLayout, config);
    opened.push(...from, ...into);
    const workers = (await Promise.all(from.map((p) => p.fires.queue.getWorkersCount()))).reduce(
      (a, b) => a + b,
      0,
    );
    if (workers > 0 && !opts.dryRun)
      throw new Error(
        `${workers} worker connection(s) are on the queues: stop every tickler process (API and workers) first, then run tickler repartition again`,
      );
    if (!opts.dryRun) {
      await redis.set(key, `${MOVING}${stored} -> ${report.to}`);
      // Versions only grow: the new partitions go on from the highest number the old ones gave.
      const highest = Math.max(
        0,
        ...(await Promise.all(from.map(async (p) => Number(await redis.get(p.keys.versionSequence)) || 0))),
      );
      for (const p of into)
        if ((Number(await redis.get(p.keys.versionSequence)) || 0) < highest)
          await redis.set(p.keys.versionSequence, highest);
    }
    for (const source of from) {
      let cursor: string | null = null;
      do {
        const page = await source.store.allIds(cursor, 200);
        for (const id of page.items) await moveOne(id, source, into, toLayout, report, opts.dryRun ?? false);
        cursor = page.nextCursor;
        if (report.moved > 0 && report.moved % 10_000 < 200) log(`moved ${report.moved} triggers…`);
      } while (cursor !== null);
    }
    if (!opts.dryRun) await redis.set(key, report.to);
    return report;
  } finally {
    await Promise.all(opened.map((p) => p.fires.close()));
    redis.disconnect();
  }
}

async function moveOne(
  id: string,
  source: Partition,
  into: readonly Partition[],
  toLayout: Layout,
  report: RepartitionReport,
  dryRun: boolean,
): Promise<void> {
  const record = await source.store.get(id);
  if (!record) return;
  const destination = into[toLayout.partitionOf(record.spec.userId)]!;
  if (destination.keys.base === source.keys.base) {
    report.stayed++;
    return;
  }
  if (dryRun) {
    report.moved++;
    return;
  }
  const written = await destination.store.write(record, 0, Number.MAX_SAFE_INTEGER);
  if (written === "written") report.moved++;
  else report.resumed++; // moved by a run that stopped before removing the old copy
  await destination.fires.plan(record, Date.now()); // idempotent: deterministic job ids, an upserted scheduler
  await source.fires.unplan(record);
  await source.store.delete(record.spec, record.version);
  await source.runs.forget(id);
}
