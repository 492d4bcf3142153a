import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { Redis } from "ioredis";

/** A redis-server this process started (for `npm start` on a machine with no Redis running). */
export interface PrivateRedis {
  url: string;
  /** Stops the server: SIGTERM (it flushes the AOF and exits) or, to simulate a crash, SIGKILL. */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
}

/** Whether something answers PING at `url` within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Whether a `redis-server` binary is on PATH. */
export function hasRedisServer(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

/**
 * Starts `redis-server` on 127.0.0.1:`port` with AOF persistence under `dir` and `hz 100` (delayed jobs are
 * promoted at Redis's `hz` granularity: 100 gives ~10 ms instead of ~100 ms lateness). Stops it on stop().
 */
export async function startPrivateRedis(
  port: number,
  dir: string,
  bind = "127.0.0.1",
): Promise<PrivateRedis> {
  const dataDir = resolve(dir);
  mkdirSync(dataDir, { recursive: true });
  const child: ChildProcess = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      bind,
      // Bound to explicit addresses (loopback unless a caller says otherwise), so protected mode adds nothing.
      "--protected-mode",
      "no",
      "--dir",
      dataDir,
      "--appendonly",
      "yes",
      "--hz",
      "100",
      "--save",
      "",
      "--maxmemory-policy",
      "noeviction",
    ],
    { stdio: "ignore" },
  );
  const url = `redis://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(url, 200))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`redis-server did not start on port ${port} (is the port taken? see ${dataDir})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}
