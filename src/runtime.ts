import { createServer, type RequestListener, type Server } from "node:http";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { buildApp, buildMetricsApp } from "./api/app.js";
import type { Config } from "./config/index.js";
import { FireQueue } from "./producer/fire-queue.js";
import { Producer } from "./producer/producer.js";
import { startReconciler } from "./producer/reconciler.js";
import { checkRedis, connectRedis } from "./redis/connection.js";
import { keysFor } from "./redis/keys.js";
import { Metrics } from "./metrics.js";
import { RunEventHub } from "./runs/run-events.js";
import { RunStore } from "./runs/run-store.js";
import { createDispatcher } from "./worker/deliver.js";
import { startWorker, type FireWorker } from "./worker/fleet.js";

/** The roles a process can run: `all` is api + worker. */
export const ROLES = ["all", "api", "worker"] as const;
/** A process role. */
export type Role = (typeof ROLES)[number];

/** A running tickler process. */
export interface Tickler {
  producer: Producer;
  runs: RunStore;
  /** The HTTP server (api and all roles). */
  server: Server | null;
  /** The port the server listens on (useful with PORT=0). */
  port: number | null;
  worker: FireWorker | null;
  /** Graceful stop: no new requests or jobs, in-flight deliveries finish (bounded), connections close. */
  close(): Promise<void>;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

/**
 * Starts the parts of tickler a role needs, on connections of its own. The API side uses fail-fast Redis
 * connections (503 while Redis is down); the worker side waits Redis restarts out.
 */
export async function startTickler(config: Config, role: Role, logger: Logger): Promise<Tickler> {
  const withApi = role === "all" || role === "api";
  const withWorker = role === "all" || role === "worker";
  if (withApi && config.tokens.size === 0 && !isLoopback(config.host)) {
    throw new Error(
      `HOST=${config.host} without tokens: refusing to serve the API beyond loopback; add tokens to tickler.yaml or use HOST=127.0.0.1`,
    );
  }
  const keys = keysFor(config.prefix);
  const connections: Redis[] = [];
  const open = (kind: "api" | "worker", name: string): Redis => {
    const redis = connectRedis(config.redisUrl, kind, name);
    redis.on("error", (error) =>
      logger.debug({ err: error.message, connection: name }, "Redis connection error"),
    );
    connections.push(redis);
    return redis;
  };
  const redis = open(withApi ? "api" : "worker", "tickler-commands");
  await checkRedis(redis, config.redisUrl, 10_000).catch((thrown) => {
    for (const connection of connections) connection.disconnect();
    throw thrown;
  });
  const queueError = (error: Error): void => logger.debug({ err: error.message }, "queue connection error");
  const fires = new FireQueue(redis, config.prefix, queueError);
  const producer = new Producer({ redis, keys, fires, config });
  const runLimits = {
    historyLimit: config.runHistoryLimit,
    retentionMs: config.runRetentionMs,
    eventsMaxLen: config.events.maxLen,
  };
  const runs = new RunStore(redis, keys, runLimits);
  const metrics = new Metrics({ fires, store: producer.store });

  if (withApi && config.schedules.length > 0) {
    // Before anything else starts, so a bad entry stops start-up with nothing left running.
    const seeded = await producer.seed(config.schedules).catch(async (thrown: unknown) => {
      await fires.close();
      for (const connection of connections) connection.disconnect();
      throw thrown;
    });
    logger.info({ schedules: seeded }, "upserted schedules from config");
  }

  let worker: FireWorker | null = null;
  let stopReconciler: (() => void) | null = null;
  let workerFires: FireQueue | null = null;
  const dispatcher = createDispatcher(Math.max(16, config.concurrency * 2));
  if (withWorker) {
    const workerRedis = open("worker", "tickler-worker-commands");
    workerFires = new FireQueue(workerRedis, config.prefix, queueError);
    const workerProducer = new Producer({ redis: workerRedis, keys, fires: workerFires, config });
    worker = startWorker({
      redis: workerRedis,
      keys,
      store: workerProducer.store,
      runs: new RunStore(workerRedis, keys, runLimits),
      fires: workerFires,
      config,
      dispatcher,
      logger,
      metrics,
    });
    stopReconciler = startReconciler(
      workerProducer,
      config.worker.reconcileIntervalMs,
      config.worker.reconcileBatch,
      logger,
    );
  }

  let events: RunEventHub | null = null;
  let server: Server | null = null;
  let port: number | null = null;
  if (withApi) {
    events = new RunEventHub(redis, () => open("worker", "tickler-events-reader"), keys.events, logger);
    const app = buildApp({ config, producer, runs, events, metrics, redis, logger, roles: [role] });
    server = await listen(app, config.port, config.host);
    port = listeningPort(server);
    if (config.tokens.size === 0)
      logger.warn(
        { host: config.host },
        "no tokens configured: every caller is admin, so the API listens on loopback only",
      );
    logger.info({ url: `http://${config.host}:${port}`, role }, "tickler API listening");
  }
  if (!withApi && config.metrics.port !== null) {
    server = await listen(
      buildMetricsApp({ config, metrics, redis, logger }),
      config.metrics.port,
      config.host,
    );
    port = listeningPort(server);
    logger.info({ url: `http://${config.host}:${port}/metrics` }, "worker metrics listening");
  }
  if (withWorker && !config.agents.has("default"))
    logger.warn(
      { config: config.configPath ?? "none" },
      config.agents.size === 0
        ? "no default agent: fires have nowhere to go and will fail. Add to tickler.yaml: agents: { default: { url: http://127.0.0.1:8000/turns } }, then restart"
        : `no default agent: triggers that name no target will fail. Add agents.default to tickler.yaml (it has ${[...config.agents.keys()].join(", ")}), then restart`,
    );
  if (worker)
    logger.info(
      { concurrency: config.concurrency, prefix: config.prefix, worker: worker.name },
      "tickler worker started",
    );

  return {
    producer,
    runs,
    server,
    port,
    worker,
    async close() {
      const closing = server
        ? new Promise<void>((resolve) => server?.close(() => resolve()))
        : Promise.resolve();
      stopReconciler?.();
      await events?.close(); // ends open SSE responses, so their connections can close
      server?.closeIdleConnections();
      if (worker) await worker.close();
      await closing;
      await fires.close();
      await workerFires?.close();
      await dispatcher.close();
      await Promise.all(
        connections.map((connection) => connection.quit().catch(() => connection.disconnect())),
      );
    },
  };
}

function listen(handler: RequestListener, port: number, host: string): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const server = createServer(handler);
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

function listeningPort(server: Server): number {
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
}
