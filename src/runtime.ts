import { createServer, type RequestListener, type Server } from "node:http";
import type { Logger } from "pino";
import { buildApp, buildMetricsApp } from "./api/app.js";
import type { Config } from "./config/index.js";
import { Metrics } from "./metrics.js";
import type { Producer } from "./producer/producer.js";
import { startReconciler } from "./producer/reconciler.js";
import { openStores, type Stores } from "./producer/stores.js";
import { openConnection, type RedisClient } from "./redis/connection.js";
import { RunEventHub } from "./runs/run-events.js";
import type { Runs } from "./runs/runs.js";
import { createDispatcher } from "./worker/deliver.js";
import type { FireHandler } from "./worker/fire-handler.js";
import { startWorker, type FireWorker } from "./worker/fleet.js";

/** The roles a process can run: `all` is api + worker. */
export const ROLES = ["all", "api", "worker"] as const;
/** A process role. */
export type Role = (typeof ROLES)[number];

/** What a process embedding tickler adds to its config. */
export interface StartOptions {
  /** App code's handler: the worker delivers every fire to it, in this process, instead of to a target. */
  onFire?: FireHandler;
}

/** A running tickler process. */
export interface Tickler {
  producer: Producer;
  runs: Runs;
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
export async function startTickler(
  config: Config,
  role: Role,
  logger: Logger,
  options: StartOptions = {},
): Promise<Tickler> {
  const withApi = role === "all" || role === "api";
  const withWorker = role === "all" || role === "worker";
  if (withApi && config.tokens.size === 0 && !isLoopback(config.host)) {
    throw new Error(
      `HOST=${config.host} without tokens: refusing to serve the API beyond loopback; add tokens to tickler.yaml or use HOST=127.0.0.1`,
    );
  }
  const onError = (error: Error): void => logger.debug({ err: error.message }, "Redis connection error");
  const main = await openStores(config, {
    role: withApi ? "api" : "worker",
    name: "tickler-commands",
    onError,
    timeoutMs: 10_000,
  });
  const metrics = new Metrics(main.producer);
  if (withApi && config.schedules.length > 0) {
    // Before anything else starts, so a bad entry stops start-up with nothing left running.
    const seeded = await main.producer.seed(config.schedules).catch(async (thrown: unknown) => {
      await main.close();
      throw thrown;
    });
    logger.info({ schedules: seeded }, "upserted schedules from config");
  }
  const workerSide = withWorker
    ? await startWorkerSide({ config, logger, metrics, main, onError, onFire: options.onFire })
    : null;
  const http = withApi
    ? await startApi(config, role, logger, main, metrics)
    : config.metrics.port === null
      ? null
      : await startMetricsServer(config, logger, main, metrics);
  if (withWorker && !options.onFire && !config.agents.has("default")) warnNoDefaultAgent(config, logger);
  if (workerSide)
    logger.info(
      {
        concurrency: config.concurrency,
        prefix: config.prefix,
        partitions: config.partitions,
        redis: main.target.cluster === null ? "standalone" : "cluster",
        worker: workerSide.worker.name,
        ...(options.onFire ? { delivery: "in-process" } : {}),
      },
      "tickler worker started",
    );

  return {
    producer: main.producer,
    runs: main.runs,
    server: http?.server ?? null,
    port: http?.port ?? null,
    worker: workerSide?.worker ?? null,
    async close() {
      const closing = http
        ? new Promise<void>((resolve) => http.server.close(() => resolve()))
        : Promise.resolve();
      workerSide?.stopReconciler();
      await http?.events?.close(); // ends open SSE responses, so their connections can close
      http?.server.closeIdleConnections();
      await workerSide?.close();
      await closing;
      await http?.closeEvents();
      await main.close();
    },
  };
}

/** The worker side of a process: its own connection and stores, the BullMQ workers, the reconciler. */
async function startWorkerSide({
  config,
  logger,
  metrics,
  main,
  onError,
  onFire,
}: {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  main: Stores;
  onError: (error: Error) => void;
  onFire: FireHandler | undefined;
}) {
  const stores: Stores = await openStores(config, {
    role: "worker",
    name: "tickler-worker-commands",
    onError,
    target: main.target,
  });
  const dispatcher = createDispatcher(Math.max(16, config.concurrency * 2));
  const worker = startWorker({
    redis: stores.redis,
    target: stores.target,
    partitions: stores.partitions,
    config,
    dispatcher,
    logger,
    metrics,
    ...(onFire ? { onFire } : {}),
  });
  const stopReconciler = startReconciler(
    stores.partitions,
    config.worker.reconcileIntervalMs,
    config.worker.reconcileBatch,
    logger,
  );
  return {
    worker,
    stopReconciler,
    async close() {
      await worker.close();
      await dispatcher.close();
      await stores.close();
    },
  };
}

/** The API of a process, with the run-event hub its SSE clients share (its reader on a connection of its own). */
async function startApi(config: Config, role: Role, logger: Logger, main: Stores, metrics: Metrics) {
  const readers: RedisClient[] = [];
  const openReader = () => {
    const reader = openConnection(main.target, "worker", "tickler-events-reader");
    reader.on("error", (error) => logger.debug({ err: error.message }, "Redis connection error"));
    readers.push(reader);
    return reader;
  };
  const events = new RunEventHub(
    main.redis,
    openReader,
    main.layout.keys.map((keys) => keys.events),
    logger,
  );
  const app = buildApp({ ...main, config, events, metrics, logger, roles: [role] });
  const server = await listen(app, config.port, config.host);
  const port = listeningPort(server);
  if (config.tokens.size === 0)
    logger.warn(
      { host: config.host },
      "no tokens configured: every caller is admin, so the API listens on loopback only",
    );
  logger.info({ url: `http://${config.host}:${port}`, role }, "tickler API listening");
  return {
    server,
    port,
    events,
    closeEvents: async () => {
      await Promise.all(readers.map((reader) => reader.quit().catch(() => reader.disconnect())));
    },
  };
}

/** A worker-only process's /metrics and /healthz, on TICKLER_METRICS_PORT. */
async function startMetricsServer(config: Config, logger: Logger, main: Stores, metrics: Metrics) {
  const server = await listen(
    buildMetricsApp({ config, metrics, redis: main.redis, logger }),
    config.metrics.port ?? 0,
    config.host,
  );
  const port = listeningPort(server);
  logger.info({ url: `http://${config.host}:${port}/metrics` }, "worker metrics listening");
  return { server, port, events: null, closeEvents: async () => undefined };
}

function warnNoDefaultAgent(config: Config, logger: Logger): void {
  logger.warn(
    { config: config.configPath ?? "none" },
    config.agents.size === 0
      ? "no default agent: fires have nowhere to go and will fail. Add to tickler.yaml: agents: { default: { url: http://127.0.0.1:8000/turns } }, then restart"
      : `no default agent: triggers that name no target will fail. Add agents.default to tickler.yaml (it has ${[...config.agents.keys()].join(", ")}), then restart`,
  );
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
