import { invalid } from "./errors.js";
import type { LoomDispatch } from "./trigger-spec.js";

/** Loom's priorities and model tiers (its `TaskPriority` and `ModelTier`). */
const PRIORITIES = ["low", "normal", "high", "critical"];
const MODEL_TIERS = ["local", "standard", "frontier"];

/** What of a fire a Loom message carries. */
export interface LoomFire {
  run_id: string;
  prompt: string;
  payload: Record<string, unknown>;
  fired_at: string;
  trigger: { id: string; name: string };
}

/**
 * Checks a trigger's payload as the config of a Loom goal (`{instruction?, context?, priority?}`; the
 * instruction defaults to the prompt) or task (`{worker_type, payload?, model_tier?, priority?}`), as
 * Loom's scheduler reads its YAML `goal:` and `task:` entries.
 *
 * @throws TicklerError `invalid_field` naming the payload field
 */
export function checkLoomPayload(dispatch: LoomDispatch, payload: Record<string, unknown> | null): void {
  const config = payload ?? {};
  const oneOf = (key: string, allowed: string[]): void => {
    const value = config[key];
    if (value !== undefined && !(typeof value === "string" && allowed.includes(value)))
      throw invalid(
        "invalid_field",
        `payload.${key}`,
        `a Loom ${dispatch}'s ${key} is one of ${allowed.join(", ")}`,
      );
  };
  const object = (key: string): void => {
    const value = config[key];
    if (value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value)))
      throw invalid("invalid_field", `payload.${key}`, `a Loom ${dispatch}'s ${key} is an object`);
  };
  oneOf("priority", PRIORITIES);
  if (dispatch === "goal") {
    if (config.instruction !== undefined && typeof config.instruction !== "string")
      throw invalid(
        "invalid_field",
        "payload.instruction",
        "a Loom goal's instruction is text (the prompt when left out)",
      );
    object("context");
    return;
  }
  if (typeof config.worker_type !== "string" || config.worker_type === "")
    throw invalid(
      "invalid_field",
      "payload.worker_type",
      "a Loom task needs payload.worker_type (the worker that handles it), e.g. payload: { worker_type: summarizer, payload: {…} }",
    );
  oneOf("model_tier", MODEL_TIERS);
  object("payload");
}

/**
 * The Loom message of a fire: an OrchestratorGoal for `goal`, a TaskMessage for `task`, with the run id as
 * its `goal_id` / `task_id` (the same on every attempt of the slot), as Loom's own scheduler builds them.
 */
export function loomMessage(dispatch: LoomDispatch, fire: LoomFire): Record<string, unknown> {
  checkLoomPayload(dispatch, fire.payload);
  const config = fire.payload;
  if (dispatch === "goal") {
    return {
      goal_id: fire.run_id,
      instruction: (config.instruction as string | undefined) ?? fire.prompt,
      context: config.context ?? {},
      priority: config.priority ?? "normal",
      created_at: fire.fired_at,
    };
  }
  return {
    task_id: fire.run_id,
    parent_task_id: null,
    worker_type: config.worker_type,
    payload: config.payload ?? {},
    model_tier: config.model_tier ?? "local",
    priority: config.priority ?? "normal",
    max_retries: 2,
    retry_count: 0,
    created_at: fire.fired_at,
    metadata: { scheduled_by: fire.trigger.name, tickler: { run_id: fire.run_id, trigger: fire.trigger.id } },
  };
}
