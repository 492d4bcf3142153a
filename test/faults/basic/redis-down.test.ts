import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/index.js";
import { createLogger } from "../../../src/logger.js";
import { startPrivateRedis, type PrivateRedis } from "../../../src/redis/private-server.js";
import { startTickler, type Tickler } from "../../../src/runtime.js";
import { freePort } from "../../helpers/ports.js";
import { apiClient } from "../../helpers/tickler.js";
import { waitFor } from "../../helpers/wait.js";

describe("when Redis goes away under a running API (own redis-server, never the shared one)", () => {
  let redis: PrivateRedis;
  let tickler: Tickler;
  let port: number;
  let dir: string;
  const call = apiClient(() => `http://127.0.0.1:${tickler.port}`);

  beforeAll(async () => {
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), "tickler-redis-"));
    redis = await startPrivateRedis(port, dir);
    const config = loadConfig({
      env: { REDIS_URL: redis.url, PORT: "0", LOG_LEVEL: "silent", TICKLER_PREFIX: "down" },
      file: { agents: { default: { url: "http://127.0.0.1:9/" } } },
    });
    tickler = await startTickler(config, "api", createLogger("silent"));
  });
  afterAll(async () => {
    await tickler?.close();
    await redis?.stop();
  });

  it("starts a private redis-server with AOF persistence under its data dir and hz 100", async () => {
    const client = new Redis(redis.url);
    expect(await client.config("GET", "hz")).toEqual(["hz", "100"]);
    expect(await client.config("GET", "appendonly")).toEqual(["appendonly", "yes"]);
    client.disconnect();
    expect(readdirSync(dir).some((name) => name.startsWith("appendonly"))).toBe(true);
  });

  it("answers 503 redis_unavailable while Redis is down and recovers when it is back, without crashing", async () => {
    expect((await call("PUT", "/v1/users/u/triggers/before", { prompt: "x", delay: "1h" })).status).toBe(201);
    await redis.stop();
    const down = await call("PUT", "/v1/users/u/triggers/during", { prompt: "x", delay: "1h" });
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe("redis_unavailable");
    expect((await call("GET", "/v1/users/u/triggers/before")).status).toBe(503);
    expect((await call("GET", "/readyz")).status).toBe(503);
    expect((await call("GET", "/healthz")).status).toBe(200);

    redis = await startPrivateRedis(port, dir);
    await waitFor(async () => (await call("GET", "/readyz")).status === 200, "the API to reconnect", 15_000);
    const after = await call("GET", "/v1/users/u/triggers/before");
    expect(after.status).toBe(200);
    expect(after.body.prompt).toBe("x");
    expect((await call("GET", "/v1/users/u/triggers/during")).status).toBe(404);
  });
});
