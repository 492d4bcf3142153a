import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { runTickler, spawnTickler, type Child } from "../../helpers/processes.js";
import { startRedisServer, type RedisServer } from "../../helpers/redis-server.js";
import { testPrefix } from "../../helpers/tickler.js";
import { waitFor } from "../../helpers/wait.js";

/**
 * A REDIS_URL that reaches something tickler cannot run on is refused at start-up with one line that says
 * how to fix it; a Redis that starts refusing every command later is met with backoff, not a log flood.
 */
describe("when REDIS_URL reaches something tickler cannot run on", () => {
  const servers: RedisServer[] = [];
  const server = async (args: string[] = []) => {
    const started = await startRedisServer(args);
    servers.push(started);
    return started;
  };
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });
  const refuses = async (url: string, line: RegExp) => {
    const { code, output } = await runTickler(["worker"], {
      REDIS_URL: url,
      TICKLER_PREFIX: testPrefix("bad"),
    });
    expect(code, output).toBe(1);
    expect(output).toMatch(line);
    expect(output).not.toMatch(/at .*\.(ts|js):\d+/); // one line, no stack trace
    return output;
  };

  it("refuses a database number the server does not have, instead of writing to database 0", async () => {
    const { url } = await server();
    await refuses(
      `${url}/99`,
      /REDIS_URL selects database 99, which this Redis refuses \(it has 16: use 0 to 15\)/,
    );
  });

  it("says that an address which answers something else does not speak Redis", async () => {
    const http: Server = createServer((_req, res) => res.end("hello"));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const { port } = http.address() as AddressInfo;
    try {
      await refuses(
        `redis://127.0.0.1:${port}`,
        /does not speak Redis|closed the connection before answering PING/,
      );
    } finally {
      http.close();
    }
  });

  it("asks for the password when Redis wants one, and never prints the one given", async () => {
    const { url, port } = await server(["--requirepass", "correct-horse-battery"]);
    await refuses(url, /wants a password \(NOAUTH\): give it in REDIS_URL/);
    const output = await refuses(
      `redis://:wrong-secret-value@127.0.0.1:${port}`,
      /refused the user or password/,
    );
    expect(output).not.toContain("wrong-secret-value");
  });

  it("refuses a read-only replica and a cluster node", async () => {
    const primary = await server();
    const replica = await server(["--replicaof", "127.0.0.1", String(primary.port)]);
    await refuses(replica.url, new RegExp(`read-only replica of 127.0.0.1: point REDIS_URL at its primary`));
    const node = await server([
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      `nodes-${Date.now()}.conf`,
    ]);
    await refuses(node.url, /runs in cluster mode/);
  });
});

describe("when Redis starts refusing every command under a running worker (it became a replica)", () => {
  let primary: RedisServer;
  let other: RedisServer;
  let worker: Child | undefined;
  afterAll(async () => {
    await worker?.kill("SIGKILL");
    await primary?.stop();
    await other?.stop();
  });

  it("logs the first error with a hint, counts the rest, and stops hammering Redis", async () => {
    primary = await startRedisServer();
    other = await startRedisServer();
    worker = await spawnTickler("worker", { REDIS_URL: primary.url, TICKLER_PREFIX: testPrefix("ro") });
    const admin = new Redis(primary.url);
    const commands = async () =>
      Number(/total_commands_processed:(\d+)/.exec(await admin.info("stats"))?.[1]);
    try {
      await admin.replicaof("127.0.0.1", String(other.port));
      const errorLines = () =>
        worker!
          .output()
          .split("\n")
          .filter((line) => /READONLY/.test(line) && /worker error/.test(line));
      await waitFor(() => errorLines().length > 0, "the first READONLY error", 10_000);
      expect(errorLines()[0], errorLines().join("\n")).toContain("point REDIS_URL at the primary");
      // Let the backoff take hold, then measure: BullMQ alone retried such errors thousands of times a second.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const before = await commands();
      const linesBefore = worker.output().split("\n").length;
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const perSecond = ((await commands()) - before) / 3;
      const newLines = worker.output().split("\n").length - linesBefore;
      console.log(
        `READONLY storm: ${perSecond.toFixed(0)} commands/s at Redis, ${newLines} log lines in 3 s`,
      );
      expect(perSecond).toBeLessThan(100);
      expect(newLines).toBeLessThanOrEqual(6);
    } finally {
      admin.disconnect();
    }
  });
});
