import { coerceError } from "../triggers/index.js";
import type { DeliveryRequest } from "./deliver.js";
import type { AttemptOutcome } from "./outcome.js";

/** One fire as an in-process handler gets it (the §5 body, in the library's camelCase). */
export interface Fire {
  runId: string;
  triggerId: string;
  userId: string;
  name: string;
  kind: "once" | "heartbeat" | "cron";
  prompt: string;
  threadKey: string | null;
  channel: string | null;
  payload: Record<string, unknown>;
  scheduledAt: Date;
  firedAt: Date;
  /** 1 on the first attempt of the slot, 2 on its first retry, … */
  attempt: number;
  manual: boolean;
  catchup: boolean;
  /** The same on every attempt of the slot: de-duplicate side effects with it. */
  idempotencyKey: string;
  /** A fan-out child's: the run it belongs to, and its context's key (the context is merged into payload). */
  parentRunId?: string;
  contextKey?: string;
  /** Aborted when the attempt's timeout passes or the worker shuts down. */
  signal: AbortSignal;
}

/** App code that handles fires in the worker's own process. A throw is a failed attempt (retried). */
export type FireHandler = (fire: Fire) => unknown;

/** Thrown by a fire handler for a failure that retrying will not mend: the run fails now, with no retry. */
export class PermanentError extends Error {
  override readonly name = "PermanentError";
}

/**
 * Calls an in-process handler for one attempt: it resolving is success, `PermanentError` a permanent
 * failure, any other throw (or not finishing within the timeout) a retryable one.
 */
export async function callHandler(
  handler: FireHandler,
  req: DeliveryRequest,
  signal: AbortSignal | undefined,
): Promise<AttemptOutcome> {
  const abort = new AbortController();
  const onAbort = (): void => abort.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      abort.abort(new Error("timeout"));
      resolve("timeout");
    }, req.timeoutMs);
  });
  const { fire } = req;
  try {
    const done = await Promise.race([
      Promise.resolve().then(() =>
        handler({
          runId: fire.run_id,
          triggerId: fire.trigger.id,
          userId: fire.trigger.user_id,
          name: fire.trigger.name,
          kind: fire.trigger.kind as Fire["kind"],
          prompt: fire.prompt,
          threadKey: fire.thread_key,
          channel: fire.channel,
          payload: fire.payload,
          scheduledAt: new Date(fire.scheduled_at),
          firedAt: new Date(fire.fired_at),
          attempt: fire.attempt,
          manual: fire.manual,
          catchup: fire.catchup,
          idempotencyKey: req.idempotencyKey,
          ...(fire.parent_run_id === undefined
            ? {}
            : { parentRunId: fire.parent_run_id, contextKey: fire.context_key ?? "" }),
          signal: abort.signal,
        }),
      ),
      timedOut,
    ]);
    if (done === "timeout")
      return {
        kind: "retryable",
        httpStatus: null,
        error: `the fire handler did not finish within ${req.timeoutMs} ms`,
      };
    return { kind: "succeeded", httpStatus: null };
  } catch (thrown) {
    const error = coerceError(thrown);
    const kind = error instanceof PermanentError ? "permanent" : "retryable";
    return { kind, httpStatus: null, error: `the fire handler threw: ${error.message}` };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
