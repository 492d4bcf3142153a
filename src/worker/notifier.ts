import { randomUUID } from "node:crypto";
import { request, type Dispatcher } from "undici";
import type { Logger } from "pino";
import type { Config } from "../config/index.js";
import { iso, type Endpoint, type Target } from "../triggers/index.js";
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

/** Where one notification goes: an endpoint, with its signing secret when it has one. */
type Destination = Pick<Endpoint, "url" | "headers" | "signingSecret"> & { label: string };

/**
 * Failure notifications: a POST of `{type, id, at, …}` (signed, Standard Webhooks, when the destination
 * has a signing_secret) when a run fails for good, when the system pauses a trigger and when an agent's
 * circuit opens. They go to the trigger's own `notify` (an agent from config, or a URL), else to the
 * config's `notify.agent`; with neither, nowhere. Sent beside the work (never holding a fire up), with a few
 * retries; one that still fails is logged at warn.
 */
export function createNotifier(deps: {
  config: Config;
  dispatcher: Dispatcher;
  logger: Logger;
  now?: () => number;
}): (notice: Notice, to?: Target | null) => Promise<void> {
  const { config, dispatcher, logger } = deps;
  const now = deps.now ?? Date.now;
  const destinationOf = (to: Target | null | undefined): Destination | null => {
    if (!to && config.notify && "endpoint" in config.notify)
      return { ...config.notify.endpoint, label: config.notify.endpoint.url };
    const target = to ?? (config.notify && "agent" in config.notify ? { agent: config.notify.agent } : null);
    if (target === null || "nats" in target) return null;
    if ("url" in target)
      return { url: target.url, headers: target.headers, signingSecret: null, label: target.url };
    const agent = config.agents.get(target.agent);
    return agent ? { ...agent, label: agent.name } : null;
  };
  const send = async (notice: Notice, to: Destination): Promise<void> => {
    const id = `ntf_${randomUUID()}`;
    const body = JSON.stringify({ ...notice, id, at: iso(now()) });
    let error = "";
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const headers: Record<string, string> = { ...to.headers, "content-type": "application/json" };
      if (to.signingSecret !== null) {
        const timestamp = Math.floor(now() / 1000);
        headers["webhook-id"] = id;
        headers["webhook-timestamp"] = String(timestamp);
        headers["webhook-signature"] = signWebhook(to.signingSecret, id, timestamp, body);
      }
      try {
        const response = await request(to.url, {
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
    logger.warn({ notice: notice.type, to: to.label, error }, "could not send a failure notification");
  };
  return (notice, to) => {
    const destination = destinationOf(to);
    if (destination) void send(notice, destination);
    return Promise.resolve();
  };
}
