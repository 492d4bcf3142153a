import { defineConfig } from "vitest/config";

/**
 * Three suites, each a vitest project:
 * - core (`npm test`): unit, integration, browser, and the basic child-process faults — minutes at most;
 * - faults (`npm run test:faults`): the long fault-injection suites (killed fleets, restarted Redis, …);
 * - security (`npm run test:security`): hostile input, auth, SSRF, limits.
 * Files run in parallel: each uses its own random TICKLER_PREFIX on the shared Redis.
 */
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
