import { randomUUID } from "node:crypto";
import { request, type Dispatcher } from "undici";
import type { Logger } from "pino";
import type { Config } from "../config/index.js";
import { iso } from "../triggers/index.js";
import { signWebhook } from "./deliver.js";

/** A failure notification's event. */
export type Notice =
  | { type: "tickler.run_failed"; trigger: string; run_id: string; error: string }
  | { type: "tickler.trigger_paused"; trigger: string; reason: string }
  | { type: "tickler.circuit_open"; agent: string; reason: string };

/** Attempts per notification, and the wait before the second (doubling). */
const ATTEMPTS = 3;
const FIRST_RETRY_MS = 1_000;
const TIMEOUT_MS = 10_000;

/**
 * Failure notifications to the agent `notify.agent` names: a signed POST (Standard Webhooks, with that
 * agent's signing_secret and headers) of `{type, at, …}` when a run fails for good, when the system pauses
 * a trigger and when an agent's circuit opens. Sent beside the work (never holding a fire up), with a few
 * retries; one that still fails is logged at warn. Undefined when no `notify` is configured.
 */
export function createNotifier(deps: {
  config: Config;
  dispatcher: Dispatcher;
  logger: Logger;
  now?: () => number;
}): ((notice: Notice) => Promise<void>) | undefined {
  const { config, dispatcher, logger } = deps;
  const agent = config.notify === null ? undefined : config.agents.get(config.notify.agent);
  if (!agent) return undefined;
  const now = deps.now ?? Date.now;
  const send = async (notice: Notice): Promise<void> => {
    const id = `ntf_${randomUUID()}`;
    const body = JSON.stringify({ ...notice, id, at: iso(now()) });
    let error = "";
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const headers: Record<string, string> = { ...agent.headers, "content-type": "application/json" };
      if (agent.signingSecret !== null) {
        const timestamp = Math.floor(now() / 1000);
        headers["webhook-id"] = id;
        headers["webhook-timestamp"] = String(timestamp);
        headers["webhook-signature"] = signWebhook(agent.signingSecret, id, timestamp, body);
      }
      try {
        const response = await request(agent.url, {
          method: "POST",
          headers,
          body,
          dispatcher,
          headersTimeout: TIMEOUT_MS,
          bodyTimeout: TIMEOUT_MS,
        });
        await response.body.dump().catch(() => undefined);
        if (response.statusCode >= 200 && response.statusCode < 300) return;
        error = `HTTP ${response.statusCode}`;
      } catch (thrown) {
        error = (thrown as Error).message;
      }
      if (attempt < ATTEMPTS)
        await new Promise((resolve) => setTimeout(resolve, FIRST_RETRY_MS * 2 ** (attempt - 1)));
    }
    logger.warn({ notice: notice.type, agent: agent.name, error }, "could not send a failure notification");
  };
  return (notice) => {
    void send(notice);
    return Promise.resolve();
  };
}
