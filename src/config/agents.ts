import { checkNats, parseDuration, type Endpoint, type NatsTarget } from "../triggers/index.js";
import { ConfigError, wrap } from "./config-error.js";
import { DEFAULTS } from "./defaults.js";
import type { ConfigFile } from "./file-schema.js";

/** An agent endpoint from config. */
export interface AgentConfig extends Endpoint {
  name: string;
  /** Its flow control, held in Redis for the whole fleet; null when none is set (fires go straight out). */
  flow: AgentFlow | null;
}

/**
 * How much an agent is sent, fleet-wide. A fire over a limit waits (its job is delayed, no attempt is
 * spent); with any of these set, a 429 with `Retry-After` pauses the whole agent for that long.
 */
export interface AgentFlow {
  /** The most requests in flight to the agent at once, or null for no limit. */
  maxInFlight: number | null;
  /** `requests` per `perMs`, paced (one each perMs / requests, so never more in any window), or null. */
  rate: { requests: number; perMs: number } | null;
  /** After `failures` failed attempts in a row the circuit opens: one probe per `probeEveryMs` goes through. */
  circuit: { failures: number; probeEveryMs: number } | null;
}

/** Where failure notifications go by default: an agent from config, or an endpoint of their own. */
export type NotifyConfig = { agent: string } | { endpoint: Endpoint };

export function readAgents(
  agents: NonNullable<ConfigFile["agents"]>,
  where: string,
  keyOf = (name: string): string => `agents.${name}`,
): Map<string, AgentConfig> {
  const out = new Map<string, AgentConfig>();
  for (const [name, agent] of Object.entries(agents)) {
    const nats = readNatsAgent(agent, keyOf(name), where);
    let url: URL;
    try {
      url = new URL(nats?.servers.split(",")[0] ?? agent.url ?? "");
    } catch {
      throw new ConfigError(`${where}: ${keyOf(name)}.url "${agent.url}" is not an absolute http(s) URL`);
    }
    if (nats === null && url.protocol !== "http:" && url.protocol !== "https:") {
      throw new ConfigError(`${where}: ${keyOf(name)}.url must be http or https, got ${url.protocol}`);
    }
    const secret =
      agent.signing_secret === undefined || agent.signing_secret === "" ? null : agent.signing_secret;
    if (secret !== null && !/^(whsec_)?[A-Za-z0-9+/]+={0,2}$/.test(secret)) {
      throw new ConfigError(
        `${where}: ${keyOf(name)}.signing_secret must be base64, optionally prefixed whsec_ (Standard Webhooks)`,
      );
    }
    out.set(name, {
      name,
      url: nats?.servers ?? url.toString(),
      method: agent.method ?? "POST",
      format: agent.format ?? "json",
      a2aVersion: agent.a2a_version ?? "1.0",
      headers: agent.headers ?? {},
      signingSecret: secret,
      timeoutMs:
        agent.timeout === undefined
          ? DEFAULTS.agentTimeoutMs
          : wrap(where, () => parseDuration(agent.timeout, `${keyOf(name)}.timeout`)),
      flow: readFlow(agent, keyOf(name), where),
      ...(nats ? { nats } : {}),
    });
  }
  return out;
}

/** An agent's `nats:` section, checked (and refused beside the HTTP-only keys), or null without one. */
function readNatsAgent(
  agent: NonNullable<ConfigFile["agents"]>[string],
  key: string,
  where: string,
): NatsTarget | null {
  if (agent.nats === undefined) {
    if (agent.url === undefined)
      throw new ConfigError(
        `${where}: ${key} needs a url (http or https) or a nats: { url, subject } to deliver to`,
      );
    return null;
  }
  const httpOnly = (["url", "method", "format", "a2a_version", "signing_secret"] as const).filter(
    (field) => agent[field] !== undefined,
  );
  if (httpOnly.length > 0)
    throw new ConfigError(
      `${where}: ${key} publishes to NATS, so ${httpOnly.join(", ")} (HTTP settings) cannot be set beside nats`,
    );
  return wrap(where, () => checkNats(agent.nats!, `${key}.nats`));
}

export function readNotify(file: ConfigFile, where: string): NotifyConfig | null {
  if (file.notify === undefined) return null;
  const { agent, url, signing_secret: secret, headers } = file.notify;
  if ((agent === undefined) === (url === undefined))
    throw new ConfigError(
      `${where}: notify needs an agent or a url to send to (one of them), e.g. notify: { agent: ops } or notify: { url: https://ops.example/hooks }`,
    );
  if (url !== undefined) {
    // Checked as an agent's url and secret are: the same rules, the same messages.
    const [endpoint] = readAgents(
      { notify: { url, signing_secret: secret, headers } },
      where,
      () => "notify",
    ).values();
    return { endpoint: endpoint! };
  }
  if (!(file.agents ?? {})[agent!])
    throw new ConfigError(
      `${where}: notify.agent "${agent}" is not in agents: add agents.${agent} (url, signing_secret) to the file`,
    );
  if (file.agents![agent!]!.nats !== undefined)
    throw new ConfigError(
      `${where}: notify.agent "${agent}" publishes to NATS, and notifications are HTTP POSTs: name an HTTP agent or give notify: { url }`,
    );
  return { agent: agent! };
}

export function readFlow(
  limits: Pick<NonNullable<ConfigFile["agents"]>[string], "max_in_flight" | "rate" | "circuit">,
  key: string,
  where: string,
): AgentFlow | null {
  const { max_in_flight: maxInFlight, rate, circuit } = limits;
  if (maxInFlight === undefined && rate === undefined && circuit === undefined) return null;
  const positive = (value: string | number, field: string): number =>
    wrap(where, () => parseDuration(value, `${key}.${field}`));
  return {
    maxInFlight: maxInFlight ?? null,
    rate: rate === undefined ? null : { requests: rate.requests, perMs: positive(rate.per, "rate.per") },
    circuit:
      circuit === undefined
        ? null
        : {
            failures: circuit.failures ?? DEFAULTS.circuitFailures,
            probeEveryMs:
              circuit.probe_every === undefined
                ? DEFAULTS.circuitProbeEveryMs
                : positive(circuit.probe_every, "circuit.probe_every"),
          },
  };
}
