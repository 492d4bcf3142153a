import { Redis, type RedisOptions } from "ioredis";

/** What a connection is for; each use wants different failure behaviour. */
export type ConnectionRole = "worker" | "api";

/**
 * Opens an ioredis connection. Workers block (BZPOPMIN) and must wait out Redis restarts, so their requests
 * never give up (`maxRetriesPerRequest: null`, which BullMQ requires). The API must answer 503 at once while
 * Redis is down, so its requests fail fast instead of queueing.
 */
export function connectRedis(url: string, role: ConnectionRole, name = `tickler-${role}`): Redis {
  const options: RedisOptions =
    role === "worker"
      ? { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName: name }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectionName: name, connectTimeout: 5000 };
  return new Redis(url, {
    ...options,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 2000),
    lazyConnect: false,
  });
}

/** Resolves once the connection is ready, or rejects with the last error after `timeoutMs`. */
export async function waitReady(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined;
    const onError = (error: Error): void => {
      lastError = error;
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(lastError ?? new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
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
