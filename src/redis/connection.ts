import type { Socket } from "node:net";
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";

/** What a connection is for; each use wants different failure behaviour. */
export type ConnectionRole = "worker" | "api";

/** A connection to a standalone Redis or to a Redis Cluster: tickler issues the same commands on either. */
export type RedisClient = Redis | Cluster;

/** One node of a Redis Cluster. */
export interface ClusterNode {
  host: string;
  port: number;
}

/**
 * Where tickler's Redis is: `url` (credentials, TLS, database; the one node to ask when `cluster` is null)
 * and, on a Redis Cluster, the nodes to start from.
 */
export interface RedisTarget {
  url: string;
  cluster: readonly ClusterNode[] | null;
}

/** The options of a role's connections (on a cluster: of each node's connection). */
function roleOptions(role: ConnectionRole, name: string): RedisOptions {
  return role === "worker"
    ? { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName: name }
    : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectionName: name, connectTimeout: 5000 };
}

const retryStrategy = (times: number): number => Math.min(100 * 2 ** Math.min(times, 6), 2000);

/** Opens a connection to `target`: a Cluster client when it names cluster nodes, else as {@link connectRedis}. */
export function openConnection(
  target: RedisTarget,
  role: ConnectionRole,
  name = `tickler-${role}`,
): RedisClient {
  return target.cluster === null
    ? connectRedis(target.url, role, name)
    : connectCluster(target.url, target.cluster, role, name);
}

/**
 * Opens an ioredis Cluster client. Credentials and TLS come from `url`. Commands follow MOVED and ASK
 * redirections (slot migrations) and wait out a failover (CLUSTERDOWN, TRYAGAIN, a master gone) before the
 * role's own failure behaviour applies.
 */
export function connectCluster(
  url: string,
  nodes: readonly ClusterNode[],
  role: ConnectionRole,
  name = `tickler-${role}`,
): Cluster {
  const parsed = new URL(url);
  const { enableOfflineQueue, ...perNode } = roleOptions(role, name);
  const options: ClusterOptions = {
    redisOptions: {
      ...perNode,
      ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
      ...(parsed.protocol === "rediss:" ? { tls: {} } : {}),
    },
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableReadyCheck: true,
    clusterRetryStrategy: retryStrategy,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    maxRedirections: 32,
    slotsRefreshTimeout: 2000,
    scaleReads: "master",
  };
  const cluster = new Cluster(
    nodes.map((node) => ({ ...node })),
    options,
  );
  cluster.on("+node", (node: Redis) =>
    node.on("connect", () => coalesceWrites((node as unknown as { stream?: Socket }).stream)),
  );
  return cluster;
}

/**
 * Opens an ioredis connection. Workers block (BZPOPMIN) and must wait out Redis restarts, so their requests
 * never give up (`maxRetriesPerRequest: null`, which BullMQ requires). The API must answer 503 at once while
 * Redis is down, so its requests fail fast instead of queueing.
 */
export function connectRedis(url: string, role: ConnectionRole, name = `tickler-${role}`): Redis {
  const redis = new Redis(url, { ...roleOptions(role, name), retryStrategy, lazyConnect: false });
  redis.on("connect", () => coalesceWrites((redis as unknown as { stream?: Socket }).stream));
  return redis;
}

const COALESCING = Symbol("tickler.coalescing");

/**
 * Makes the commands a connection is given in one turn of the event loop go out in one write. ioredis writes
 * each command to the socket at once, a system call apiece; a worker issues several per fire, and many at a
 * time when one read hands it a batch of replies. Corking the socket until the current tick's callbacks and
 * promise continuations have run costs no latency and measured a fifth to a quarter less client CPU per
 * command (bench: 50 concurrent fires' scripts). Applied to each socket the connection opens.
 */
function coalesceWrites(socket: (Socket & { [COALESCING]?: true }) | undefined): void {
  if (!socket || socket[COALESCING]) return;
  socket[COALESCING] = true;
  const write = socket.write;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket["write"]>): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Socket["write"];
}

/** A Redis URL as it may be shown in a message or a log: without its password. */
export function displayRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(REDIS_URL)";
  }
}

/** Errors that waiting will not mend: the connection is refused for good, or the peer is not Redis. */
const HOPELESS = /NOAUTH|WRONGPASS|invalid password|Protocol error|invalid username-password/i;

/**
 * Resolves once the connection is ready. Rejects with the error that tells most after `timeoutMs`, or at
 * once on an error that waiting will not mend (a password is wanted or wrong, the peer is not Redis).
 */
export async function waitReady(redis: RedisClient, timeoutMs = 5000): Promise<void> {
  if (redis.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const errors: Error[] = [];
    const fail = (): void => {
      cleanup();
      const telling = errors.find((error) => HOPELESS.test(error.message)) ?? errors.at(-1);
      reject(telling ?? new Error(`Redis not ready after ${timeoutMs} ms`));
    };
    const onError = (error: Error): void => {
      errors.push(error);
      if (HOPELESS.test(error.message)) fail();
    };
    const timer = setTimeout(fail, timeoutMs);
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    function cleanup(): void {
      clearTimeout(timer);
      redis.off("ready", onReady);
      redis.off("error", onError);
    }
    redis.on("ready", onReady);
    redis.on("error", onError);
  });
}

/** Why a Redis connection failed, in one line that says how to fix it. */
export function explainRedisError(url: string, error: Error): string {
  const shown = displayRedisUrl(url);
  let address = shown;
  try {
    const parsed = new URL(url);
    address = `${parsed.hostname}:${parsed.port || "6379"}`;
  } catch {
    /* shown as is */
  }
  const { message } = error;
  if (/NOAUTH/i.test(message))
    return `Redis at ${address} wants a password (NOAUTH): give it in REDIS_URL, e.g. redis://:<password>@${address} (or redis://<user>:<password>@${address} for an ACL user)`;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(message))
    return `Redis at ${address} refused the user or password in REDIS_URL (${message.split(" ")[0]}): check them`;
  if (/Protocol error/i.test(message))
    return `the server at ${address} does not speak Redis (it answered PING with something else): check the host and port in REDIS_URL`;
  if (/ECONNRESET|Stream isn't writeable|Connection is closed/i.test(message))
    return `the server at ${address} closed the connection before answering PING: is it a Redis? Check the host and port in REDIS_URL`;
  if (/ECONNREFUSED/.test(message))
    return `nothing listens at ${address} (ECONNREFUSED): start Redis there, or point REDIS_URL at it`;
  if (/ENOTFOUND|EAI_AGAIN/.test(message))
    return `cannot resolve the host of REDIS_URL (${shown}): ${message}`;
  return `cannot reach Redis at ${shown}: ${message}`;
}

/**
 * Finds out what REDIS_URL (or, when given, the cluster nodes) reaches, and checks that tickler can run on
 * it: a standalone primary whose database REDIS_URL selects exists (else Redis stays on database 0 with
 * only an error event, and tickler would write there), or a Redis Cluster whose slots are all served. A
 * node of a cluster is answered with the cluster's target, so REDIS_URL may name any one node.
 *
 * @throws Error with one line naming the problem and how to fix it
 */
export async function locateRedis(
  url: string,
  clusterNodes: readonly ClusterNode[] | null,
  timeoutMs = 10_000,
): Promise<RedisTarget> {
  const probe: RedisClient =
    clusterNodes === null
      ? connectRedis(url, "api", "tickler-probe")
      : connectCluster(url, clusterNodes, "api", "tickler-probe");
  probe.on("error", () => undefined); // waitReady collects them
  try {
    try {
      await waitReady(probe, timeoutMs);
    } catch (thrown) {
      throw new Error(explainRedisError(url, thrown instanceof Error ? thrown : new Error(String(thrown))));
    }
    return await checkServer(probe, url, clusterNodes);
  } finally {
    probe.disconnect();
  }
}

async function checkServer(
  redis: RedisClient,
  url: string,
  clusterNodes: readonly ClusterNode[] | null,
): Promise<RedisTarget> {
  const shown = displayRedisUrl(url);
  const db = databaseOf(url);
  const info = await redis.info().catch(() => "");
  if (clusterNodes !== null || /^(redis_mode:cluster|cluster_enabled:1)\r?$/m.test(info)) {
    const clusterInfo = String(await redis.cluster("INFO").catch(() => ""));
    const state = /^cluster_state:(\w+)/m.exec(clusterInfo)?.[1] ?? "unknown";
    if (state !== "ok")
      throw new Error(
        `Redis at ${shown} runs in cluster mode, but its cluster is not ready (cluster_state:${state}): create it (redis-cli --cluster create …) or wait until every slot is served, then start tickler`,
      );
    if (db > 0)
      throw new Error(
        `REDIS_URL selects database ${db}, but a Redis Cluster has only database 0: drop the /${db} from REDIS_URL`,
      );
    const parsed = new URL(url);
    const given = clusterNodes ?? [{ host: parsed.hostname, port: Number(parsed.port || 6379) }];
    // Every node the cluster knows, beside the ones given: a client that must reconnect from scratch
    // (say, after the one node REDIS_URL names died in a failover) starts from any of them.
    const known = String(await redis.cluster("NODES").catch(() => ""))
      .split("\n")
      .flatMap((line) => {
        const match = /^\S+ ([^\s:]+):(\d+)@\d+\S* (\S+)/.exec(line);
        return match && !/fail|handshake|noaddr/.test(match[3]!) && match[1] !== ""
          ? [{ host: match[1]!, port: Number(match[2]) }]
          : [];
      });
    const nodes = [...given, ...known].filter(
      (node, i, all) => all.findIndex((n) => n.host === node.host && n.port === node.port) === i,
    );
    return { url, cluster: nodes };
  }
  if (db > 0) await checkDatabase(redis as Redis, db);
  const master = /^master_host:(.*?)\r?$/m.exec(info)?.[1];
  if (/^role:slave\r?$/m.test(info))
    throw new Error(
      `Redis at ${shown} is a read-only replica${master ? ` of ${master}` : ""}: point REDIS_URL at its primary`,
    );
  return { url, cluster: null };
}

async function checkDatabase(redis: Redis, db: number): Promise<void> {
  try {
    await redis.select(db);
  } catch (thrown) {
    const count = await redis
      .config("GET", "databases")
      .then((reply) => Number((reply as string[])[1]))
      .catch(() => NaN);
    const has = Number.isInteger(count) ? ` (it has ${count}: use 0 to ${count - 1})` : "";
    throw new Error(
      `REDIS_URL selects database ${db}, which this Redis refuses${has}: ${thrown instanceof Error ? thrown.message : String(thrown)}`,
    );
  }
}

/** The database number a Redis URL selects (its path), 0 when it names none. */
export function databaseOf(url: string): number {
  const path = new URL(url).pathname.replace(/^\//, "");
  return path === "" ? 0 : Number(path);
}
