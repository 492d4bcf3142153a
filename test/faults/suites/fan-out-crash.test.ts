import { describe, expect, it } from "vitest";
import { spawnTickler, useFleet, type Child } from "../../helpers/processes.js";
import { waitFor } from "../../helpers/wait.js";

const CONTEXTS = 300;
/** After how many of the fan-out's deliveries every worker is SIGKILLed (and replaced). */
const KILL_AT = [60, 180];
/** The most children one worker has in flight (fan-out.ts's PARALLEL_CHILDREN). */
const PARALLEL_CHILDREN = 16;

describe("when every worker is SIGKILLed in the middle of a fan-out", () => {
  const fleet = useFleet("fanoutcrash", { workers: 2, holdMs: 40 });

  it("delivers every context, re-sends only the children in flight (same key), and ends with one child run each", async () => {
    const producer = fleet.api.tickler.producer;
    const items = Array.from({ length: CONTEXTS }, (_, i) => ({ key: `k${i}` }));
    await producer.upsert("f", "wide", {
      prompt: "one turn per context",
      at: new Date(Date.now() + 1000).toISOString(),
      expand: { items },
      retry: { attempts: 3, delay: "200ms", backoff: "fixed" },
    });
    const ours = () => fleet.sink.received.filter((r) => r.body.parent_run_id !== undefined);
    const killed: Child[] = [];
    for (const count of KILL_AT) {
      await waitFor(() => ours().length >= count, `${count} deliveries of the fan-out`, 30_000, 2);
      const victims = fleet.workers.splice(0);
      await Promise.all(victims.map((victim) => victim.kill("SIGKILL")));
      killed.push(...victims);
      fleet.workers.push(...(await Promise.all(victims.map(() => spawnTickler("worker", fleet.env)))));
    }

    const [run] = await waitFor(
      async () => {
        const page = await fleet.api.tickler.runs.list("f/wide", null, 10);
        return page.items[0]?.status === "succeeded" ? page.items : null;
      },
      "the fan-out to succeed after the takeovers",
      60_000,
      250,
    );
    expect(run!.fanOut).toMatchObject({ succeeded: CONTEXTS, failed: 0 });
    const children = await fleet.api.tickler.runs.children(run!, null, 1000);
    expect(children.items).toHaveLength(CONTEXTS);
    expect(children.items.every((child) => child.status === "succeeded")).toBe(true);

    // Every context was delivered, each delivery of it with the same key; only children in flight at a
    // kill (sent, not yet recorded) were sent twice.
    const keysOf = new Map<string, Set<string>>();
    for (const request of ours()) {
      const key = String(request.body.context_key);
      keysOf.set(key, (keysOf.get(key) ?? new Set()).add(String(request.headers["idempotency-key"])));
    }
    expect(keysOf.size).toBe(CONTEXTS);
    expect([...keysOf.values()].every((keys) => keys.size === 1)).toBe(true);
    const resent = ours().length - CONTEXTS;
    console.log(
      `fan-out crash suite: ${CONTEXTS} contexts, ${killed.length} SIGKILLs, ${resent} children sent again after a takeover`,
    );
    expect(resent).toBeLessThanOrEqual(KILL_AT.length * PARALLEL_CHILDREN);
  }, 120_000);
});
