#!/usr/bin/env node
import { ConfigError, MAX_PARTITIONS, loadConfig } from "./config/index.js";
import { runImport } from "./import/run-import.js";
import { repartition } from "./producer/repartition.js";
import { createLogger } from "./logger.js";
import { displayRedisUrl } from "./redis/connection.js";
import {
  hasRedisServer,
  redisAnswers,
  startPrivateRedis,
  type PrivateRedis,
} from "./redis/private-server.js";
import { ROLES, startTickler, type Role } from "./runtime.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createTools } from "./tools/index.js";
import { buildMcpServer } from "./tools/mcp.js";
import { checkName, coerceError } from "./triggers/index.js";
import { VERSION } from "./version.js";

const HELP = `tickler — proactive triggers for AI agents, on Redis and BullMQ

Usage: tickler <role> [--help]

Roles:
  all       API and worker in one process (what npm start runs)
  api       the HTTP API only (scale it behind a load balancer)
  worker    a delivery worker only (run as many as you like, on any hosts)
  mcp       the agent tools over MCP on stdio, for one user: tickler mcp --user <id>

Maintenance:
  repartition --to <N> [--dry-run]   move every trigger to N partitions (every process stopped first)
  import <file> [--dry-run]          move Loom (YAML), Agno (JSON) or protoPen (jobs.db) schedules in

Environment:
  REDIS_URL            Redis to use (default redis://127.0.0.1:6379; with "all", when it is unset and
                       nothing answers there, a private redis-server is started with its data in ./data)
  TICKLER_CONFIG       YAML config file (default ./tickler.yaml when it exists)
  HOST, PORT           where the API listens (default 127.0.0.1:3000)
  REDIS_CLUSTER_NODES  Redis Cluster nodes to start from, host:port,host:port (else REDIS_URL's node)
  TICKLER_PREFIX       Redis key prefix (default tickler)
  TICKLER_PARTITIONS   partitions the triggers are spread over (default 1; the same in every process)
  TICKLER_CONCURRENCY  deliveries in flight per worker process (default 50)
  LOG_LEVEL            fatal|error|warn|info|debug|trace|silent (default info)

SIGTERM or SIGINT drains: no new requests or jobs, in-flight deliveries finish, then exit 0.
Docs: README.md`;

const ROLE_HELP: Record<Role, string> = {
  all: "tickler all — the API and a worker in one process.\n\nSee tickler --help for the environment.",
  api: "tickler api — the HTTP API only: triggers, runs, preview, queue, health.\n\nSee tickler --help for the environment.",
  worker:
    "tickler worker — delivers fires to agents. Start any number, on any hosts, against one Redis.\n\nSee tickler --help for the environment.",
};

/** Signals this close after the first are the same one passed on twice, not a demand to exit at once. */
const REPEAT_WINDOW_MS = 1000;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-v") {
    console.log(`tickler ${VERSION}`);
    return 0;
  }
  if (command === "mcp") return runMcp(rest);
  if (command === "repartition") return runRepartition(rest);
  if (command === "import") return runImport(rest, console.log, console.error);
  if (!(ROLES as readonly string[]).includes(command)) {
    console.error(`tickler: unknown role "${command}"; use one of ${ROLES.join(", ")} (tickler --help)`);
    return 2;
  }
  const role = command as Role;
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(ROLE_HELP[role]);
    return 0;
  }
  if (rest.length > 0) {
    console.error(`tickler ${role}: unexpected argument "${rest[0]}" (tickler ${role} --help)`);
    return 2;
  }

  return runRole(role);
}

/** `tickler all|api|worker`: starts the role, then runs until SIGTERM or SIGINT, which drain it. */
async function runRole(role: Role): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (thrown) {
    if (thrown instanceof ConfigError) {
      console.error(`tickler: ${thrown.message}`);
      return 2;
    }
    throw thrown;
  }
  const logger = createLogger(config.logLevel, { role });
  const privateRedis = role === "all" ? await privateRedisIfNeeded(config, logger) : null;
  if (privateRedis === "impossible") return 1;
  let tickler;
  try {
    tickler = await startTickler(config, role, logger);
  } catch (thrown) {
    console.error(`tickler: ${coerceError(thrown).message}`);
    await privateRedis?.stop();
    return 1;
  }
  return drainOnSignal(async () => {
    await tickler.close();
    await privateRedis?.stop();
  }, logger);
}

/**
 * `tickler all` with REDIS_URL unset and nothing answering there: a private redis-server (AOF under
 * ./data), or "impossible" (said on stderr) when redis-server is not on PATH either.
 */
async function privateRedisIfNeeded(
  config: ReturnType<typeof loadConfig>,
  logger: ReturnType<typeof createLogger>,
): Promise<PrivateRedis | null | "impossible"> {
  if (config.redisUrlFromEnv || (await redisAnswers(config.redisUrl))) return null;
  if (!hasRedisServer()) {
    console.error(
      `tickler: nothing answers at ${displayRedisUrl(config.redisUrl)} and redis-server is not on PATH; install Redis (apt install redis-server, brew install redis) or set REDIS_URL`,
    );
    return "impossible";
  }
  const privateRedis = await startPrivateRedis(Number(new URL(config.redisUrl).port || 6379), "data");
  logger.info(
    { url: privateRedis.url, dir: "./data", appendonly: true, hz: 100 },
    "no Redis was running: started a private redis-server (stopped on exit)",
  );
  return privateRedis;
}

/**
 * Resolves with the exit code once SIGTERM or SIGINT has drained the process with `stop` (0, or 1 when
 * stopping failed). A second signal given on purpose (after REPEAT_WINDOW_MS) exits at once with 1.
 */
function drainOnSignal(stop: () => Promise<void>, logger: ReturnType<typeof createLogger>): Promise<number> {
  return new Promise<number>((resolve) => {
    let stoppingSince: number | null = null;
    const onSignal = (signal: string): void => {
      if (stoppingSince !== null) {
        // A wrapper (npm, a terminal's process group, a runner) often passes one signal on twice within
        // moments: only a second signal given later, on purpose, cuts the drain short.
        if (Date.now() - stoppingSince < REPEAT_WINDOW_MS) return;
        logger.warn({ signal }, "second signal: exiting now");
        resolve(1);
        return;
      }
      stoppingSince = Date.now();
      logger.info({ signal }, "draining: no new requests or jobs; in-flight deliveries finish");
      stop().then(
        () => {
          logger.info("stopped");
          resolve(0);
        },
        (thrown: unknown) => {
          logger.error({ err: coerceError(thrown).message }, "error while stopping");
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    process.on("SIGINT", () => onSignal("SIGINT"));
  });
}

const REPARTITION_HELP = `tickler repartition --to <N> [--dry-run] — moves every trigger to N partitions.

Stop every tickler process of the deployment first (it refuses while workers are connected). Each trigger
keeps its definition, fire count and phase; its pending fire is planned in its new partition. Run history
stays behind and expires after run_retention. If it stops halfway, run it again: it resumes, and until it
has finished no tickler process starts. Then start every process with TICKLER_PARTITIONS=<N>.
With --dry-run it counts what would move and changes nothing.`;

/** \`tickler repartition --to <N>\`: moves the data between partition counts. */
async function runRepartition(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(REPARTITION_HELP);
    return 0;
  }
  const at = args.indexOf("--to");
  const to = at >= 0 ? Number(args[at + 1]) : NaN;
  const dryRun = args.includes("--dry-run");
  const extra = args.filter((arg, i) => i !== at && i !== at + 1 && arg !== "--dry-run");
  if (!Number.isInteger(to) || to < 1 || to > MAX_PARTITIONS || extra.length > 0) {
    console.error(
      `tickler repartition: ${extra.length > 0 ? `unexpected argument "${extra[0]}"` : `--to <N> is required, a whole number from 1 to ${MAX_PARTITIONS}`} (tickler repartition --help)`,
    );
    return 2;
  }
  try {
    const report = await repartition(loadConfig(), to, { dryRun, log: (line) => console.error(line) });
    console.log(
      `${dryRun ? "would move" : "moved"} ${report.moved} trigger(s) from ${report.from} to ${report.to} partition layout; ${report.stayed} stayed where they were${report.resumed ? `, ${report.resumed} had been moved by an earlier run` : ""}`,
    );
    return 0;
  } catch (thrown) {
    console.error(`tickler repartition: ${coerceError(thrown).message}`);
    return 1;
  }
}

const MCP_HELP = `tickler mcp --user <id> — the schedule tools over MCP on stdio, acting for one user.

For a local agent (Claude Desktop, an IDE, an agent framework): add a stdio server with the command
  tickler mcp --user alice
and the same environment as the rest of tickler (REDIS_URL, TICKLER_PREFIX, TICKLER_CONFIG).
Logs go to stderr; stdout carries only the protocol.`;

/** `tickler mcp --user <id>`: MCP over stdio. Runs until stdin closes or a signal comes. */
async function runMcp(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.error(MCP_HELP);
    return 0;
  }
  const at = args.indexOf("--user");
  const userId = at >= 0 ? args[at + 1] : undefined;
  const extra = args.filter((arg, i) => i !== at && i !== at + 1);
  if (userId === undefined || extra.length > 0) {
    console.error(
      `tickler mcp: ${userId === undefined ? "--user <id> is required" : `unexpected argument "${extra[0]}"`} (tickler mcp --help)`,
    );
    return 2;
  }
  let config;
  try {
    config = loadConfig();
    checkName(userId, "user_id");
  } catch (thrown) {
    console.error(`tickler mcp: ${coerceError(thrown).message}`);
    return 2;
  }
  const logger = createLogger(config.logLevel, { role: "mcp" });
  let tools;
  try {
    tools = await createTools({ config });
  } catch (thrown) {
    console.error(`tickler mcp: ${coerceError(thrown).message}`);
    return 1;
  }
  const transport = new StdioServerTransport();
  const server = buildMcpServer(tools.producer, userId);
  await server.connect(transport);
  logger.info({ user: userId }, "MCP server on stdio");
  return new Promise<number>((resolve) => {
    // Closing the server closes the transport, whose onclose calls this again: once is enough.
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      void server
        .close()
        .then(() => tools.close())
        .then(
          () => resolve(0),
          (thrown) => {
            logger.error({ err: coerceError(thrown).message }, "error while stopping");
            resolve(1);
          },
        );
    };
    transport.onclose = stop;
    process.stdin.on("end", stop);
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (thrown) => {
    console.error(`tickler: ${coerceError(thrown).stack ?? thrown}`);
    process.exit(1);
  },
);
