import { describe, expect, it } from "vitest";
import { NATS_URL, useStream } from "../../helpers/nats.js";
import { expectOneSucceededRunEach, spawnTickler, useFleet, type Child } from "../../helpers/processes.js";
import { waitFor } from "../../helpers/wait.js";

const WAVES = 5;
const PER_WAVE = 120;
const DUPLICATE_LOG = /JetStream already held this slot's message/g;

describe("when every worker publishing to JetStream is SIGKILLed in the middle of a burst of fires", () => {
  const stream = useStream("crash");
  const fleet = useFleet("natscrash", {
    workers: 3,
    holdMs: 0,
    file: {
      agents: { default: { nats: { url: NATS_URL, subject: `${stream.subjects}.turns`, jetstream: true } } },
    },
  });

  it("leaves exactly one message per slot in the stream (JetStream drops the re-publishes) and one run each", async () => {
    const producer = fleet.api.tickler.producer;
    const due = new Map<string, number>();
    const killed: Child[] = [];
    // The subject's messages as they are published (a plain subscriber sees them beside the stream).
    const seen: string[] = [];
    const sub = stream.nc.subscribe(`${stream.subjects}.turns`, {
      callback: (_err, message) => seen.push(message.headers?.get("Tickler-Trigger")?.split("/")[1] ?? ""),
    });
    for (let wave = 0; wave < WAVES; wave++) {
      // A burst: PER_WAVE one-shots due within 50 ms, so each worker has many publishes in flight at once.
      const at = Date.now() + 1500;
      await Promise.all(
        Array.from({ length: PER_WAVE }, async (_, i) => {
          const name = `w${wave}-${i}`;
          const slot = at + (i % 50);
          due.set(`n/${name}`, slot);
          await producer.upsert("n", name, { prompt: name, at: new Date(slot).toISOString() });
        }),
      );
      // The moment the burst's first message reaches the subject, every worker dies: publishes acked by the
      // stream whose runs were not recorded yet are taken over and published again by the replacements.
      await waitFor(
        () => seen.some((name) => name.startsWith(`w${wave}-`)),
        "the burst's first message",
        10_000,
        1,
      );
      const victims = fleet.workers.splice(0);
      await Promise.all(victims.map((victim) => victim.kill("SIGKILL")));
      killed.push(...victims);
      fleet.workers.push(...(await Promise.all(victims.map(() => spawnTickler("worker", fleet.env)))));
    }
    sub.unsubscribe();

    await expectOneSucceededRunEach(fleet, "n", [...due.keys()]);

    // The stream holds one message per slot, keyed by the slot's Idempotency-Key, and no other.
    const messages = await stream.messages();
    const perKey = new Map<string, number>();
    for (const message of messages) {
      const key = message.headers?.get("Nats-Msg-Id") ?? "";
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
    }
    expect([...perKey.values()].every((count) => count === 1)).toBe(true);
    expect(new Set(perKey.keys())).toEqual(new Set([...due].map(([id, slot]) => `${id}@${slot}`)));
    expect(messages).toHaveLength(due.size);

    const republished = [...fleet.workers, ...killed]
      .map((child) => child.output().match(DUPLICATE_LOG)?.length ?? 0)
      .reduce((a, b) => a + b, 0);
    console.log(
      `NATS crash suite: ${due.size} fires in ${WAVES} bursts, ${killed.length} SIGKILLs, ${republished} re-publishes dropped by JetStream's duplicate window, ${messages.length} messages in the stream`,
    );
    expect(killed).toHaveLength(WAVES * 3);
    expect(republished).toBeGreaterThan(0);
  }, 150_000);
});
