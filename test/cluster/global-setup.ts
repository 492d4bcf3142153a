import { startRedisCluster, type RedisCluster } from "../helpers/redis-cluster.js";

let cluster: RedisCluster | undefined;

/**
 * `npm run test:cluster`: one 3-master Redis Cluster of the suite's own (never the machine's shared Redis),
 * which every test file reaches through REDIS_URL (one node; tickler finds the rest), each under its own
 * prefix. The failover and resharding files start clusters of their own.
 */
export async function setup(): Promise<void> {
  cluster = await startRedisCluster({ masters: 3 });
  process.env.REDIS_URL = cluster.url;
  process.env.TICKLER_TEST_CLUSTER = "1";
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}
