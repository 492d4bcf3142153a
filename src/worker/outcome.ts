import type { RetryPolicy } from "../triggers/index.js";

/** How one delivery attempt ended. */
export type AttemptOutcome =
  /** `httpStatus` is null where no HTTP was spoken (NATS, an in-process handler). */
  | { kind: "succeeded"; httpStatus: number | null }
  /** Worth another attempt: network error, timeout, 408, 425, 429, 5xx, a retryable A2A error. */
  | { kind: "retryable"; httpStatus: number | null; error: string; retryAfterMs?: number }
  /** Will not get better by retrying: any other status, a failed A2A task. */
  | { kind: "permanent"; httpStatus: number | null; error: string };

/** Statuses retried besides 5xx (RFC 9110: timeout, too early, too many requests). */
const RETRYABLE_STATUS = new Set([408, 425, 429]);

/** Classifies an HTTP status (before any A2A body check). */
export function classifyStatus(
  status: number,
  retryAfterHeader?: string | null,
  nowMs = Date.now(),
): AttemptOutcome {
  if (status >= 200 && status < 300) return { kind: "succeeded", httpStatus: status };
  if (status >= 500 || RETRYABLE_STATUS.has(status)) {
    const retryAfterMs = parseRetryAfter(retryAfterHeader, nowMs);
    return {
      kind: "retryable",
      httpStatus: status,
      error: `agent answered HTTP ${status}`,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
  const why =
    status >= 300 && status < 400
      ? " (redirects are not followed; point the agent URL at the final address)"
      : "";
  return { kind: "permanent", httpStatus: status, error: `agent answered HTTP ${status}${why}` };
}

const MONTH = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const DAY = "(Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT$`);
const RFC850 = new RegExp(
  `^(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, \\d{2}-${MONTH}-\\d{2} \\d{2}:\\d{2}:\\d{2} GMT$`,
);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d \\d{2}:\\d{2}:\\d{2} \\d{4}$`);

/**
 * Reads a `Retry-After` header (RFC 9110: delay-seconds or an HTTP-date) into milliseconds from now.
 * Digits are matched first because V8's Date.parse accepts "1.5" and "-3" as dates; asctime dates carry no
 * zone and are read as GMT. Garbage gives undefined (the trigger's own backoff applies); a past date gives 0.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at =
    IMF_FIXDATE.test(text) || RFC850.test(text)
      ? Date.parse(text)
      : ASCTIME.test(text)
        ? Date.parse(`${text} GMT`)
        : NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * The wait before the next attempt. `Retry-After` wins when the agent sent one, capped at `maxDelayMs` so a
 * hostile endpoint cannot park a fire forever. Otherwise exponential backoff with "equal jitter" (half
 * fixed, half random, so a burst of failures does not retry in lockstep), or the fixed delay.
 *
 * @param attemptsMade - attempts already made, the failed one included (1 after the first failure)
 * @param random - a number in [0, 1), injectable for tests
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attemptsMade: number,
  retryAfterMs?: number,
  random = Math.random(),
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs);
  if (policy.backoff === "fixed") return Math.min(policy.delayMs, policy.maxDelayMs);
  const exponential = Math.min(policy.delayMs * 2 ** Math.max(0, attemptsMade - 1), policy.maxDelayMs);
  return Math.round(exponential / 2 + (random * exponential) / 2);
}

/** What follows an attempt: the run succeeded, another attempt after a wait, or the run failed for good. */
export type AfterAttempt =
  { next: "succeeded" } | { next: "retry"; delayMs: number } | { next: "give_up"; reason: string };

/**
 * The retry-or-give-up choice after attempt number `attempt` of a slot ended with `outcome`: retryable
 * failures are retried (after {@link retryDelayMs}) until the trigger's current `retry.attempts` is used up;
 * permanent ones end the run at once.
 */
export function afterAttempt(
  outcome: AttemptOutcome,
  attempt: number,
  policy: RetryPolicy,
  random = Math.random(),
): AfterAttempt {
  if (outcome.kind === "succeeded") return { next: "succeeded" };
  if (outcome.kind === "retryable" && attempt < policy.attempts)
    return { next: "retry", delayMs: retryDelayMs(policy, attempt, outcome.retryAfterMs, random) };
  return {
    next: "give_up",
    reason:
      outcome.kind === "retryable" ? `${outcome.error} (gave up after ${attempt} attempts)` : outcome.error,
  };
}

/** Thrown by the processor for a retryable failure; BullMQ's backoff strategy reads `delayMs` from it. */
export class RetryableDeliveryError extends Error {
  override readonly name = "RetryableDeliveryError";
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}
