import type { z } from "zod";
import { typeName } from "./duration.js";
import { invalid } from "./errors.js";
import { checkLoomPayload } from "./loom.js";
import { checkPayload } from "./payload.js";
import { checkTarget } from "./target.js";
import type { expandSchema } from "./trigger-input.js";
import {
  DEFAULT_MAX_EXPAND,
  MAX_EXPAND_LIMIT,
  type Expand,
  type LoomDispatch,
  type TriggerRules,
} from "./trigger-spec.js";

/** A context's own key: what its child's Idempotency-Key and run id end in (`…#<key>`). */
const CONTEXT_KEY = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** One context of a fan-out, checked: its key (its `key` field, or its index) and the context itself. */
export interface Context {
  key: string;
  context: Record<string, unknown>;
}

/** How big a trigger's `expand.items` may be as JSON, for a payload limit: a definition is read every fire. */
const itemsLimitBytes = (maxPayloadBytes: number): number => 16 * maxPayloadBytes;

/**
 * Checks a trigger's `expand` against the rules: static contexts are checked now (count, keys, sizes,
 * merged with the payload as its target reads them); an endpoint is a URL (admins, where allowed) or an
 * HTTP agent from config.
 *
 * @throws TicklerError naming the `expand` field at fault
 */
export function checkExpand(
  input: z.infer<typeof expandSchema> | null,
  rules: TriggerRules,
  payload: Record<string, unknown> | null,
  dispatch: LoomDispatch | null,
): Expand | null {
  if (input === null) return null;
  const maxExpand = input.max_expand ?? DEFAULT_MAX_EXPAND;
  const sources = (["items", "url", "agent"] as const).filter((key) => input[key] != null);
  if (sources.length !== 1)
    throw invalid(
      "invalid_field",
      "expand",
      sources.length === 0
        ? "say where the contexts come from: expand: {items: [...]}, {url}, or {agent}"
        : `give one of items, url and agent, not ${sources.join(" and ")}`,
    );
  if (input.headers != null && input.url == null)
    throw invalid("invalid_field", "expand.headers", "headers go with expand.url (an agent has its own)");
  if (input.items != null) {
    const bytes = Buffer.byteLength(JSON.stringify(input.items), "utf8");
    const limit = itemsLimitBytes(rules.maxPayloadBytes);
    if (bytes > limit)
      throw invalid(
        "too_large",
        "expand.items",
        `is ${bytes} bytes as JSON, over the limit of ${limit}; serve the list from an endpoint with expand: {url}`,
      );
    const contexts = checkContexts(input.items, maxExpand, rules.maxPayloadBytes, "expand.items");
    // Each child's payload is checked as its target will read it (a Loom goal or task), now, not at fire time.
    if (dispatch !== null)
      for (const { context } of contexts)
        checkLoomPayload(dispatch, mergeContext(payload, context, dispatch));
    return { maxExpand, items: contexts.map((item) => item.context) };
  }
  if (input.agent != null) {
    if (!rules.agents.has(input.agent))
      throw invalid("target_not_allowed", "expand.agent", `no agent "${input.agent}" in config`);
    if (rules.dispatchOf?.(input.agent) != null)
      throw invalid(
        "invalid_field",
        "expand.agent",
        `agent "${input.agent}" publishes to NATS; the contexts come from an HTTP endpoint that answers a JSON list`,
      );
    return { maxExpand, agent: input.agent };
  }
  const target = checkTarget({ url: input.url ?? "", headers: input.headers ?? null }, rules, "expand");
  if (target === null || !("url" in target)) throw new Error("unreachable: a URL target");
  return { maxExpand, url: target.url, headers: target.headers };
}

/**
 * Checks a list of contexts: each a JSON object within the payload limits, at most `maxExpand` of them,
 * with distinct keys (a context's `key` field, a name or a non-negative integer, or else its index).
 *
 * @throws TicklerError naming the context at fault (`<field>[i]`)
 */
export function checkContexts(
  items: unknown,
  maxExpand: number,
  maxPayloadBytes: number,
  field: string,
): Context[] {
  if (!Array.isArray(items)) {
    const got = typeof items === "string" ? items : typeName(items);
    throw invalid("invalid_field", field, `expected a list of contexts (JSON objects), got ${got}`);
  }
  if (items.length > maxExpand)
    throw invalid(
      "too_large",
      field,
      `has ${items.length} contexts, over max_expand ${maxExpand}; raise expand.max_expand (up to ${MAX_EXPAND_LIMIT}) or split the trigger`,
    );
  const seen = new Map<string, number>();
  return items.map((item: unknown, i) => {
    const at = `${field}[${i}]`;
    if (item === null || typeof item !== "object" || Array.isArray(item))
      throw invalid("invalid_field", at, `a context is a JSON object, got ${typeName(item)}`);
    const context = checkPayload(item as Record<string, unknown>, maxPayloadBytes, at) ?? {};
    const key = keyOf(context.key, i, at);
    const before = seen.get(key);
    if (before !== undefined)
      throw invalid(
        "invalid_field",
        `${at}.key`,
        `key "${key}" is also ${field}[${before}]'s; every context needs its own key (or none: its index)`,
      );
    seen.set(key, i);
    return { key, context };
  });
}

function keyOf(key: unknown, index: number, at: string): string {
  if (key === undefined) return String(index);
  if (typeof key === "number" && Number.isSafeInteger(key) && key >= 0) return String(key);
  if (typeof key === "string" && CONTEXT_KEY.test(key)) return key;
  throw invalid(
    "invalid_field",
    `${at}.key`,
    "a context's key is a name (letters, digits, _ . : @ -, up to 128) or a non-negative integer",
  );
}

/**
 * A child's payload: the context merged into the trigger's payload; for a Loom task into its task's
 * `payload`, for a Loom goal into its `context` (where Loom's own fan-out puts each item).
 */
export function mergeContext(
  payload: Record<string, unknown> | null,
  context: Record<string, unknown>,
  dispatch: LoomDispatch | null,
): Record<string, unknown> {
  const base = payload ?? {};
  if (dispatch === null) return { ...base, ...context };
  const inner = dispatch === "task" ? "payload" : "context";
  const within = base[inner];
  const nested = within !== null && typeof within === "object" && !Array.isArray(within) ? within : {};
  return { ...base, [inner]: { ...nested, ...context } };
}
