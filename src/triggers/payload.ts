import { invalid } from "./errors.js";

/**
 * Checks a payload (or a fan-out context) against the size and depth limits and returns a plain-JSON copy.
 *
 * @throws TicklerError `too_large` naming `field`
 */
export function checkPayload(
  payload: Record<string, unknown> | null,
  maxBytes: number,
  field = "payload",
): Record<string, unknown> | null {
  if (payload === null) return null;
  const bytes = Buffer.byteLength(JSON.stringify(payload), "utf8");
  if (bytes > maxBytes)
    throw invalid("too_large", field, `is ${bytes} bytes as JSON, over the limit of ${maxBytes}`);
  if (depthOf(payload) > MAX_PAYLOAD_DEPTH) {
    throw invalid("too_large", field, `nests deeper than ${MAX_PAYLOAD_DEPTH} levels; flatten it`);
  }
  // A JSON.parse round trip drops anything JSON cannot carry and makes `__proto__` an ordinary key.
  return JSON.parse(JSON.stringify(payload)) as Record<string, unknown>;
}

/** How deep a payload may nest: deeper is a parser attack more often than data an agent needs. */
const MAX_PAYLOAD_DEPTH = 32;

function depthOf(value: unknown, depth = 0): number {
  if (depth > MAX_PAYLOAD_DEPTH || value === null || typeof value !== "object") return depth;
  let deepest = depth + 1;
  for (const item of Object.values(value)) deepest = Math.max(deepest, depthOf(item, depth + 1));
  return deepest;
}
