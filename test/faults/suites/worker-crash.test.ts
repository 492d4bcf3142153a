import { describe, expect, it } from "vitest";
import { expectOneSucceededRunEach, killEvery, useFleet } from "../../helpers/processes.js";
import { waitFor } from "../../helpers/wait.js";

const TRIGGERS = 500;
const SPREAD_MS = 20_000;
const KILL_EVERY_MS = 2_000;

describe("when workers are SIGKILLed every 2 s while 500 fires come due over 20 s", () => {
  const fleet = useFleet("crash", { workers: 4, holdMs: 500 });
  const { workers } = fleet;

  it("leaves exactly one run record per slot, delivers every slot, and duplicates only carry the original's key", async () => {
    const producer = fleet.api.tickler.producer;
    const start = Date.now() + 2000;
    const due = new Map<string, number>();
    for (let i = 0; i < TRIGGERS; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const name = `t${i + j}`;
          const at = start + Math.floor(Math.random() * SPREAD_MS);
          due.set(`crash/${name}`, at);
          await producer.upsert("crash", name, { prompt: name, at: new Date(at).toISOString() });
        }),
      );
    }

    // Every 2 s a random worker dies and a replacement starts.
    const killer = killEvery(workers, fleet.env, KILL_EVERY_MS);
    const lastDue = Math.max(...due.values());
    await waitFor(() => Date.now() > lastDue, "every slot to come due", SPREAD_MS + 10_000, 200);
    const { kills } = await killer.stop();

    // Every trigger completes: its one slot reached an outcome.
    await expectOneSucceededRunEach(fleet, "crash", [...due.keys()]);

    // At least one delivery per slot; a repeated delivery (a killed worker's in-flight request, taken over)
    // carries the same Idempotency-Key, and keys never cross slots.
    const byKey = new Map<string, number>();
    for (const request of fleet.sink.received) {
      const key = String(request.headers["idempotency-key"]);
      byKey.set(key, (byKey.get(key) ?? 0) + 1);
    }
    for (const [id, at] of due) expect(byKey.get(`${id}@${at}`), id).toBeGreaterThanOrEqual(1);
    expect(byKey.size).toBe(TRIGGERS);
    const duplicates = fleet.sink.received.length - TRIGGERS;
    const firstArrival = new Map<string, number>();
    for (const request of fleet.sink.received) {
      const key = String(request.headers["idempotency-key"]);
      if (!firstArrival.has(key)) firstArrival.set(key, request.at);
    }
    const lateness = [...due]
      .map(([id, at]) => (firstArrival.get(`${id}@${at}`) ?? Infinity) - at)
      .sort((a, b) => a - b);
    const worst = lateness.at(-1)!;
    const p50 = lateness[Math.floor(lateness.length / 2)]!;
    console.log(
      `worker crash suite: ${TRIGGERS} fires, ${kills} SIGKILLs, ${duplicates} duplicate deliveries (same Idempotency-Key), lateness p50 ${p50} ms, worst ${worst} ms`,
    );
    expect(kills).toBeGreaterThanOrEqual(8);
    // A slot caught by a kill waits for its lock to expire (3 s) and a stall check (1 s) before takeover.
    expect(worst).toBeLessThan(15_000);
  }, 150_000);
});
