import { deliver, type DeliveryRequest } from "./deliver.js";
import { callHandler } from "./fire-handler.js";
import type { AttemptOutcome } from "./outcome.js";
import type { WorkerContext } from "./worker-context.js";

/** Sends one attempt the way its request says: to the in-process handler, to NATS, or over HTTP. */
export function sendAttempt(
  ctx: WorkerContext,
  req: DeliveryRequest,
  signal: AbortSignal | undefined,
): Promise<AttemptOutcome> {
  if (ctx.onFire) return callHandler(ctx.onFire, req, signal);
  if (req.nats) return ctx.nats.publish(req);
  return deliver(ctx.dispatcher, req, signal);
}
