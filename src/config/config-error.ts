import { TicklerError } from "../triggers/index.js";

/** A configuration problem: one line naming the variable or key and what it accepts. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Runs a domain reader, turning its TicklerError into a ConfigError that names `where`. */
export function wrap<T>(where: string, read: () => T): T {
  try {
    return read();
  } catch (thrown) {
    if (thrown instanceof TicklerError) throw new ConfigError(`${where}: ${thrown.message}`);
    throw thrown;
  }
}
