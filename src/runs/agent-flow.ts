import type { AgentConfig, AgentFlow } from "../config/index.js";
import type { RedisClient } from "../redis/connection.js";
import type { AgentKeys } from "../redis/keys.js";
import { runScript } from "../redis/scripts.js";
import { iso } from "../triggers/index.js";

/** Something with flow limits: an agent, or a user under `limits.per_user` (named for its keys). */
export interface Limited {
  name: string;
  flow: AgentFlow;
}

/** Why a fire waits for its agent. */
export type AgentWait = "paused" | "open" | "in_flight" | "rate";

/** Whether a request may go to the agent now, or how long it waits first. */
export type Admission =
  { admitted: true; probe: boolean } | { admitted: false; waitMs: number; reason: AgentWait };

/** How an attempt counts in the agent's circuit: its fault (`fail`), a success, or neither. */
export type AttemptVerdict = "ok" | "fail" | "neutral";

/** What ending a request changed: the circuit's transition, if any, and the waiting fires to wake. */
export interface Done {
  transition: "open" | "closed" | null;
  wake: { partition: number; jobId: string }[];
}

/** An agent's circuit as `GET /v1/agents` shows it. */
export interface AgentState {
  name: string;
  /** Its limits (null: none set, fires go straight out). */
  max_in_flight: number | null;
  rate: { requests: number; per_ms: number } | null;
  circuit: {
    state: "closed" | "open" | "half_open";
    failures: number;
    threshold: number;
    since: string | null;
    reason: string | null;
    next_probe_at: string | null;
  } | null;
  in_flight: number;
  waiting: number;
  /** Until when a 429's Retry-After paused it, while it does. */
  paused_until: string | null;
  paused_reason: string | null;
}

/** A request's lease outlives its timeout by this much: past it, a SIGKILLed worker's lease frees itself. */
const LEASE_MARGIN_MS = 5_000;
/** A fire waiting for in-flight room looks again after at most this long, in case its wake-up was lost. */
const IN_FLIGHT_RECHECK_MS = 2_000;

/**
 * Agents' flow control, held in Redis for the whole fleet (agent-admit.lua, agent-done.lua): requests in
 * flight, the rate window, the circuit and a 429's pause, per agent. One round trip to admit a request and
 * one to end it, only for agents that set a limit.
 */
export class AgentFlowStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keysOf: (agent: string) => AgentKeys,
  ) {}

  /** Asks to send one request to `agent` (for the job `lease` of `partition`). */
  async admit(
    agent: Limited,
    lease: string,
    partition: number,
    timeoutMs: number,
    nowMs: number,
  ): Promise<Admission> {
    const { flow } = agent;
    const [admitted, value, reason] = await runScript<[number, number, AgentWait?]>(
      this.redis,
      "agentAdmit",
      this.keyList(agent.name),
      [
        nowMs,
        lease,
        timeoutMs + LEASE_MARGIN_MS,
        flow.maxInFlight ?? 0,
        flow.rate?.requests ?? 0,
        flow.rate?.perMs ?? 0,
        flow.circuit?.probeEveryMs ?? 0,
        `${partition}|${lease}`,
        IN_FLIGHT_RECHECK_MS,
      ],
    );
    return admitted === 1
      ? { admitted: true, probe: value === 1 }
      : { admitted: false, waitMs: value, reason: reason ?? "in_flight" };
  }

  /**
   * Ends an admitted request: frees its lease, counts `verdict` in the circuit, and pauses the agent until
   * `pauseUntilMs` (a 429's Retry-After) when given.
   */
  async done(
    agent: Limited,
    lease: string,
    verdict: AttemptVerdict,
    failure: string,
    pauseUntilMs: number | null,
    nowMs: number,
  ): Promise<Done> {
    const { flow } = agent;
    const [transition, ...wake] = await runScript<string[]>(
      this.redis,
      "agentDone",
      this.keyList(agent.name),
      [
        nowMs,
        lease,
        verdict,
        flow.circuit?.failures ?? 0,
        flow.circuit?.probeEveryMs ?? 0,
        failure.slice(0, 500),
        pauseUntilMs ?? 0,
        flow.maxInFlight === null ? 0 : 1,
      ],
    );
    return {
      transition: transition === "open" || transition === "closed" ? transition : null,
      wake: wake.map((waiter) => {
        const at = waiter.indexOf("|");
        return { partition: Number(waiter.slice(0, at)), jobId: waiter.slice(at + 1) };
      }),
    };
  }

  /**
   * Puts an agent's circuit change on a run event stream (`t: agent`, no user: only admins' SSE streams
   * carry it), trimmed as the runs' events are.
   */
  async announce(
    events: { key: string; maxLen: number },
    change: { agent: string; circuit: "open" | "closed"; reason: string | null; atMs: number },
  ): Promise<void> {
    const data = JSON.stringify({
      agent: change.agent,
      circuit: change.circuit,
      reason: change.reason,
      at: iso(change.atMs),
    });
    await this.redis.xadd(events.key, "MAXLEN", "~", events.maxLen, "*", "t", "agent", "u", "", "d", data);
  }

  /** The state of every configured agent (limits, circuit, in flight, waiting, pause), at `nowMs`. */
  async states(agents: Iterable<AgentConfig>, nowMs: number): Promise<AgentState[]> {
    return Promise.all([...agents].map((agent) => this.state(agent, nowMs)));
  }

  private async state(agent: AgentConfig, nowMs: number): Promise<AgentState> {
    const { flow } = agent;
    const base = {
      name: agent.name,
      max_in_flight: flow?.maxInFlight ?? null,
      rate: flow?.rate ? { requests: flow.rate.requests, per_ms: flow.rate.perMs } : null,
    };
    if (flow === null)
      return { ...base, circuit: null, in_flight: 0, waiting: 0, paused_until: null, paused_reason: null };
    const keys = this.keysOf(agent.name);
    const [circuit, inFlight, waiting] = await Promise.all([
      this.redis.hgetall(keys.circuit),
      this.redis.zcount(keys.inFlight, `(${nowMs}`, "+inf"),
      this.redis.zcard(keys.waiters),
    ]);
    const time = (value: string | undefined): string | null =>
      value === undefined || value === "" ? null : iso(Number(value));
    const pausedUntil = Number(circuit.paused_until ?? 0);
    const state = (circuit.state ?? "closed") as "closed" | "open" | "half_open";
    return {
      ...base,
      circuit:
        flow.circuit === null
          ? null
          : {
              state,
              failures: Number(circuit.failures ?? 0),
              threshold: flow.circuit.failures,
              since: time(circuit.since),
              reason: state === "closed" ? null : circuit.reason || null,
              next_probe_at: state === "closed" ? null : time(circuit.probe_at),
            },
      in_flight: inFlight,
      waiting,
      paused_until: pausedUntil > nowMs ? iso(pausedUntil) : null,
      paused_reason: pausedUntil > nowMs ? circuit.pause_reason || null : null,
    };
  }

  private keyList(agent: string): string[] {
    const keys = this.keysOf(agent);
    return [keys.inFlight, keys.rate, keys.circuit, keys.waiters];
  }
}
