import { ConfigError } from "./config-error.js";
import { DEFAULTS } from "./defaults.js";

// The environment's values, each read or refused with one line naming the variable.

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

export function readRedisUrl(value: string | undefined): string {
  const url = nonEmpty(value) ?? DEFAULTS.redisUrl;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") throw new Error("scheme");
  } catch {
    throw new ConfigError(
      `REDIS_URL: "${url}" is not a redis:// or rediss:// URL (e.g. redis://127.0.0.1:6379)`,
    );
  }
  const db = new URL(url).pathname.replace(/^\//, "");
  if (db !== "" && !/^\d{1,5}$/.test(db))
    throw new ConfigError(
      `REDIS_URL: the path names the database and must be a number, got "/${db}" (e.g. redis://127.0.0.1:6379/0)`,
    );
  return url;
}

export function readClusterNodes(value: string | undefined): { host: string; port: number }[] | null {
  const text = nonEmpty(value);
  if (text === undefined) return null;
  return text.split(",").map((entry) => {
    const match = /^\s*(?:redis:\/\/)?([A-Za-z0-9_.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\/?\s*$/.exec(entry);
    if (!match || Number(match[2]) > 65535)
      throw new ConfigError(
        `REDIS_CLUSTER_NODES: "${entry.trim()}" is not a host:port (e.g. REDIS_CLUSTER_NODES=10.0.0.1:7000,10.0.0.2:7000; credentials and TLS come from REDIS_URL)`,
      );
    return { host: match[1]!.replace(/^\[|\]$/g, ""), port: Number(match[2]) };
  });
}

export function readInt(
  value: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = nonEmpty(value);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new ConfigError(`${name}: "${text}" is not a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

export function readPrefix(value: string | undefined): string {
  const prefix = nonEmpty(value) ?? DEFAULTS.prefix;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    throw new ConfigError(
      `TICKLER_PREFIX: "${prefix}" must be 1–64 letters, digits, _ . or - (no ":" or spaces)`,
    );
  }
  return prefix;
}

export function readLogLevel(value: string | undefined): string {
  const level = (nonEmpty(value) ?? DEFAULTS.logLevel).toLowerCase();
  if (!LOG_LEVELS.includes(level))
    throw new ConfigError(`LOG_LEVEL: "${level}" is not one of ${LOG_LEVELS.join(", ")}`);
  return level;
}
