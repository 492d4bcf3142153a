import { defineConfig } from "vitest/config";

/**
 * Three suites, each a vitest project:
 * - core (`npm test`): unit, integration, browser, and the basic child-process faults — minutes at most;
 * - faults (`npm run test:faults`): the long fault-injection suites (killed fleets, restarted Redis, …);
 * - security (`npm run test:security`): hostile input, auth, SSRF, limits;
 * - cluster and cluster-partitioned (`npm run test:cluster`): the engine's suites again over a Redis Cluster
 *   the suite starts itself (one partition, then six), and the cluster's own tests (spread, failover,
 *   resharding).
 * Files run in parallel: each uses its own random TICKLER_PREFIX on the shared Redis (or the suite's cluster).
 */

/** Engine suites that hold with any partition count (they reach Redis only through tickler's API). */
const ANY_PARTITIONS = [
  "test/integration/contract.test.ts",
  "test/integration/delivery.test.ts",
  "test/integration/events.test.ts",
  "test/integration/missed-and-overlap.test.ts",
  "test/integration/tools.test.ts",
  "test/integration/tools-stdio.test.ts",
  "test/integration/metrics.test.ts",
  "test/integration/partitions.test.ts",
];
/** Suites that look inside the one partition of a single-partition deployment (its queue, its keys). */
const ONE_PARTITION = [
  "test/integration/upsert.test.ts",
  "test/integration/retries.test.ts",
  "test/integration/reconcile.test.ts",
  "test/integration/bull-board.test.ts",
  "test/integration/examples.test.ts",
];
const CLUSTER = { globalSetup: ["test/cluster/global-setup.ts"], testTimeout: 120_000, hookTimeout: 60_000 };
export default defineConfig({
  test: {
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 4,
    reporters: process.env.CI ? ["default", "json"] : ["default"],
    // After every file: nothing it opened (servers, connections, children) is left open.
    setupFiles: ["test/setup/leak-check.ts"],
    outputFile: { json: "test-results.json" },
    projects: [
      {
        extends: true,
        test: {
          name: "core",
          include: [
            "test/unit/**/*.test.ts",
            "test/integration/**/*.test.ts",
            "test/browser/**/*.test.ts",
            "test/faults/basic/**/*.test.ts",
          ],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: "faults",
          include: ["test/faults/suites/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: { name: "cluster", include: [...ONE_PARTITION, "test/cluster/**/*.test.ts"], ...CLUSTER },
      },
      {
        extends: true,
        test: {
          name: "cluster-partitioned",
          include: ANY_PARTITIONS,
          env: { TICKLER_TEST_PARTITIONS: "6" },
          ...CLUSTER,
        },
      },
      {
        extends: true,
        test: {
          name: "security",
          include: ["test/security/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
