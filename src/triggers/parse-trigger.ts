import type { z } from "zod";
import { parseDuration, typeName } from "./duration.js";
import { TicklerError, invalid } from "./errors.js";
import { fromZodError } from "./input-errors.js";
import { checkName } from "./names.js";
import { parseSchedule } from "./schedule.js";
import { checkExpand } from "./expand.js";
import { checkLoomPayload } from "./loom.js";
import { checkPayload } from "./payload.js";
import { checkTarget } from "./target.js";
import { triggerInputSchema, type retrySchema } from "./trigger-input.js";
import type { RetryPolicy, TriggerRules, TriggerSpec } from "./trigger-spec.js";

/**
 * Validates a trigger body against the rules and returns its normalised definition.
 *
 * @param body - the parsed JSON body (unknown: every input is hostile until validated)
 * @param identity - the `(user_id, name)` the caller addresses; a body that names others is refused
 * @throws TicklerError for the first problem found, naming its field
 */
export function parseTrigger(
  body: unknown,
  identity: { userId: string; name: string },
  rules: TriggerRules,
): TriggerSpec {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new TicklerError("invalid_request", `the trigger must be a JSON object, got ${typeName(body)}`, {
      field: "body",
    });
  }
  const parsed = triggerInputSchema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error, "", body);
  const input = parsed.data;
  const userId = checkName(identity.userId, "user_id");
  const name = checkName(identity.name, "name");
  if (input.user_id != null && input.user_id !== userId) {
    throw invalid(
      "invalid_field",
      "user_id",
      `the body says "${input.user_id}" but the path says "${userId}"`,
    );
  }
  if (input.name != null && input.name !== name) {
    throw invalid("invalid_field", "name", `the body says "${input.name}" but the path says "${name}"`);
  }
  const { defaults } = rules;
  const payload = checkPayload(input.payload ?? null, rules.maxPayloadBytes);
  const target = checkTarget(input.target ?? null, rules);
  // A Loom target reads the payload as the goal's or task's config: a bad one is refused now, not at fire time.
  const dispatch =
    target === null || "agent" in target
      ? (rules.dispatchOf?.(target?.agent ?? "default") ?? null)
      : "nats" in target
        ? target.nats.dispatch
        : null;
  if (dispatch !== null) checkLoomPayload(dispatch, payload);
  return {
    userId,
    name,
    prompt: checkPrompt(input.prompt, rules.maxPromptBytes),
    payload,
    threadKey: input.thread_key ?? null,
    channel: input.channel ?? null,
    target,
    expand: checkExpand(input.expand ?? null, rules, payload, dispatch),
    schedule: parseSchedule(input, rules),
    maxFires: input.max_fires ?? null,
    missedPolicy: input.missed_policy ?? defaults.missedPolicy,
    misfireGraceMs: optionalDuration(input.misfire_grace, "misfire_grace", defaults.misfireGraceMs),
    catchupWindowMs: optionalDuration(input.catchup_window, "catchup_window", defaults.catchupWindowMs),
    overlap: input.overlap ?? defaults.overlap,
    retry: checkRetry(input.retry ?? null, defaults.retry),
    timeoutMs: optionalDuration(input.timeout, "timeout", defaults.timeoutMs),
    pauseAfterFailures:
      input.pause_after_failures === undefined ? defaults.pauseAfterFailures : input.pause_after_failures,
    catchupMax: input.catchup_max === undefined ? defaults.catchupMax : input.catchup_max,
    enabled: input.enabled ?? true,
    systemPause: null,
    notify: checkTarget(input.notify ?? null, rules, "notify"),
    metadata: checkMetadata(input.metadata ?? {}),
  };
}

function optionalDuration(
  value: string | number | null | undefined,
  field: string,
  fallback: number,
): number {
  return value === undefined || value === null ? fallback : parseDuration(value, field);
}

function checkPrompt(prompt: string, maxBytes: number): string {
  if (prompt.trim() === "")
    throw invalid("invalid_field", "prompt", "is empty; say what the agent should do when this fires");
  const bytes = Buffer.byteLength(prompt, "utf8");
  if (bytes > maxBytes) {
    throw invalid(
      "too_large",
      "prompt",
      `is ${bytes} bytes, over the limit of ${maxBytes}; shorten it or move data into payload`,
    );
  }
  return prompt;
}

function checkMetadata(metadata: Record<string, string>): Record<string, string> {
  const keys = Object.keys(metadata);
  if (keys.length > 64) throw invalid("too_large", "metadata", `has ${keys.length} keys; the limit is 64`);
  return Object.fromEntries(keys.sort().map((key) => [key, metadata[key] as string]));
}

function checkRetry(retry: z.infer<typeof retrySchema> | null, fallback: RetryPolicy): RetryPolicy {
  const resolved: RetryPolicy = {
    attempts: retry?.attempts ?? fallback.attempts,
    backoff: retry?.backoff ?? fallback.backoff,
    delayMs: optionalDuration(retry?.delay, "retry.delay", fallback.delayMs),
    maxDelayMs: optionalDuration(retry?.max_delay, "retry.max_delay", fallback.maxDelayMs),
    maxAgeMs:
      retry?.max_age === undefined
        ? fallback.maxAgeMs
        : retry.max_age === null
          ? null
          : parseDuration(retry.max_age, "retry.max_age"),
  };
  if (resolved.maxDelayMs < resolved.delayMs) {
    throw invalid("invalid_field", "retry.max_delay", "must not be shorter than retry.delay");
  }
  return resolved;
}
