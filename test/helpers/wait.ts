import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls `check` until it returns a truthy value other than an empty list (a filter that matched nothing yet
 * is not done) or the deadline passes (then throws with `what`).
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value && !(Array.isArray(value) && value.length === 0)) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`,
      );
    await sleep(everyMs);
  }
}
