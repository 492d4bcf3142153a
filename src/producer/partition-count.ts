import type { RedisClient } from "../redis/connection.js";
import { keysFor, type Layout } from "../redis/keys.js";

/** The partition-count record while `tickler repartition` moves the data: `moving <from> -> <to>`. */
export const MOVING = "moving ";

/** How a layout is written in its deployment's partition-count key: `1` (untagged keys) or `<N> tagged`. */
export function describeLayout(layout: Layout): string {
  return layout.keys[0]!.partition === null ? String(layout.partitions) : `${layout.partitions} tagged`;
}

function inWords(stored: string): string {
  const [count = "?", tagged] = stored.split(" ");
  const partitions = `${count} partition${count === "1" ? "" : "s"}`;
  return tagged ? `${partitions} (hash-tagged keys)` : `${partitions} (untagged keys, a standalone Redis)`;
}

/**
 * Refuses to run over data written with another layout: a process configured with 12 partitions over data
 * stored in 4 would find none of the triggers where it looks for them, and fire none of them. The first
 * process to start records its layout; data from before partitions existed (untagged keys, no record)
 * counts as one partition.
 *
 * @throws Error saying what the data has, what the process is configured with, and what to do
 */
export async function checkPartitionCount(redis: RedisClient, layout: Layout): Promise<void> {
  const wanted = describeLayout(layout);
  let stored = await redis.get(layout.partitionCount);
  if (stored === null) {
    const legacy = keysFor(layout.prefix);
    const hasLegacyData = (await redis.exists(legacy.allIndex)) + (await redis.exists(legacy.counts)) > 0;
    stored = hasLegacyData ? "1" : wanted;
    if (stored === wanted) {
      await redis.set(layout.partitionCount, wanted, "NX");
      stored = (await redis.get(layout.partitionCount)) ?? wanted;
    }
  }
  if (stored === wanted) return;
  if (stored.startsWith(MOVING))
    throw new Error(
      `the data under prefix "${layout.prefix}" is being moved between partition counts (${stored.slice(MOVING.length)}): let tickler repartition finish (run it again if it stopped), then start tickler with the new count`,
    );
  throw new Error(
    `the data under prefix "${layout.prefix}" was written with ${inWords(stored)}, but this process is configured with ${inWords(wanted)}: every process of a deployment must use the same layout. Set partitions (tickler.yaml) or TICKLER_PARTITIONS back to ${stored.split(" ")[0]}, or stop every process and move the data with \`tickler repartition --to ${layout.partitions}\` (README: "Changing the partition count")`,
  );
}
