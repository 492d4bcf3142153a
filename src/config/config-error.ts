/** A configuration problem: one line naming the variable or key and what it accepts. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}
