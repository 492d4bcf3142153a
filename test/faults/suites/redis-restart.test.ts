import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/index.js";
import { createLogger } from "../../../src/logger.js";
import { startPrivateRedis, type PrivateRedis } from "../../../src/redis/private-server.js";
import { startTickler, type Tickler } from "../../../src/runtime.js";
import type { Child } from "../../helpers/processes.js";
import { spawnTickler, writeConfig } from "../../helpers/processes.js";
import { freePort } from "../../helpers/ports.js";
import { startSink, type Sink } from "../../helpers/sink.js";
import { apiClient } from "../../helpers/tickler.js";
import { waitFor } from "../../helpers/wait.js";

const DOWN_MS = 5000;

describe.each(["SIGTERM", "SIGKILL"] as const)(
  "when Redis (own redis-server, appendonly yes) is stopped with %s for 5 s",
  (signal) => {
    let redis: PrivateRedis;
    let port: number;
    let dir: string;
    let sink: Sink;
    let api: Tickler;
    const workers: Child[] = [];
    const call = apiClient(() => `http://127.0.0.1:${api.port}`);

    beforeAll(async () => {
      port = await freePort();
      dir = mkdtempSync(join(tmpdir(), "tickler-restart-"));
      redis = await startPrivateRedis(port, dir);
      sink = await startSink();
      const file = {
        min_interval: "1s",
        agents: { default: { url: sink.url } },
        worker: { lock_duration: "3s", stalled_interval: "1s" },
      };
      const env = { REDIS_URL: redis.url, TICKLER_PREFIX: "restart", PORT: "0", LOG_LEVEL: "silent" };
      api = await startTickler(loadConfig({ env, file }), "api", createLogger("silent"));
      const childEnv = { REDIS_URL: redis.url, TICKLER_PREFIX: "restart", TICKLER_CONFIG: writeConfig(file) };
      workers.push(await spawnTickler("worker", childEnv), await spawnTickler("worker", childEnv));
    }, 60_000);
    afterAll(async () => {
      await Promise.all(workers.map((worker) => worker.kill("SIGKILL")));
      await api?.close();
      await sink?.close();
      await redis?.stop("SIGKILL");
    });

    it("answers 503 meanwhile, never crashes, reconnects, and keeps every trigger, which then fires per its missed_policy", async () => {
      expect(
        (
          await call("PUT", "/v1/users/r/triggers/beat", {
            prompt: "beat",
            every: "1s",
            misfire_grace: "500ms",
          })
        ).status,
      ).toBe(201);
      expect(
        (
          await call("PUT", "/v1/users/r/triggers/during", {
            prompt: "during",
            delay: 3,
            misfire_grace: "500ms",
          })
        ).status,
      ).toBe(201);
      expect(
        (await call("PUT", "/v1/users/r/triggers/daily", { prompt: "daily", cron: "0 9 * * *" })).status,
      ).toBe(201);
      await sink.waitForCount(1, 10_000, (r) => r.body.prompt === "beat");
      // appendfsync everysec: a crash may lose the last second of writes, so let a second pass.
      await new Promise((resolve) => setTimeout(resolve, 1200));

      await redis.stop(signal);
      const downSince = Date.now();
      const answers: number[] = [];
      while (Date.now() - downSince < DOWN_MS) {
        const put = await call("PUT", "/v1/users/r/triggers/while-down", { prompt: "x", delay: "1h" });
        const get = await call("GET", "/v1/users/r/triggers/beat");
        answers.push(put.status, get.status);
        expect(put.body.error.code).toBe("redis_unavailable");
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(new Set(answers)).toEqual(new Set([503]));
      expect((await fetch(`http://127.0.0.1:${api.port}/healthz`)).status).toBe(200);

      const heardBefore = sink.received.length;
      redis = await startPrivateRedis(port, dir);
      await waitFor(
        async () => (await call("GET", "/readyz")).status === 200,
        "the API to reconnect",
        20_000,
      );
      for (const name of ["beat", "during", "daily"])
        expect((await call("GET", `/v1/users/r/triggers/${name}`)).status, name).toBe(200);
      expect((await call("GET", "/v1/users/r/triggers/while-down")).status).toBe(404);

      // The one-shot that came due while Redis was down is delivered once, as a catch-up (run_once).
      const [late] = await sink.waitForCount(1, 20_000, (r) => r.body.prompt === "during");
      expect(late!.body.catchup).toBe(true);
      // The heartbeat goes on: the workers reconnected by themselves.
      await sink.waitForCount(heardBefore + 3, 20_000);
      for (const worker of workers) expect(worker.process.exitCode).toBeNull();
      const during = sink.received.filter((r) => r.body.prompt === "during");
      expect(during).toHaveLength(1);
    }, 90_000);
  },
);
