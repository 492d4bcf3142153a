import type { RedisClient } from "./connection.js";

/**
 * Waits until `replicas` replicas of the primary that holds `key` have every write made so far on it
 * (WAIT), for at most `timeoutMs`, and returns how many did. WAIT names no key, so it goes in a pipeline
 * behind a command on `key`: a Cluster client sends the whole pipeline to the node that owns the key's
 * slot, a standalone one to its server.
 */
export async function replicasHaving(
  redis: RedisClient,
  key: string,
  replicas: number,
  timeoutMs: number,
): Promise<number> {
  const replies = await redis.pipeline().exists(key).wait(replicas, timeoutMs).exec();
  const [error, acknowledged] = replies?.[1] ?? [new Error("WAIT got no reply"), 0];
  if (error) throw error;
  return Number(acknowledged);
}
