import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcilePass } from "../../../src/producer/reconciler.js";
import { triggerId } from "../../../src/triggers/index.js";
import type { Child } from "../../helpers/processes.js";
import { spawnTickler, writeConfig } from "../../helpers/processes.js";
import { removePrefix, startTestTickler, testPrefix, type TestTickler } from "../../helpers/tickler.js";

const BURST = 400;
const IN_FLIGHT = 16;

describe("when the API process is SIGKILLed in the middle of a burst of upserts", () => {
  const prefix = testPrefix("apicrash");
  let inspector: TestTickler;
  let apiProcess: Child;

  beforeAll(async () => {
    const file = {
      min_interval: "1s",
      agents: { default: { url: "http://127.0.0.1:9/" } },
      max_triggers_per_user: 10_000,
    };
    // An in-process view of the same Redis (no worker: fires stay pending, so the state can be inspected).
    inspector = await startTestTickler(prefix, file, "api");
    apiProcess = await spawnTickler("api", {
      TICKLER_PREFIX: prefix,
      TICKLER_CONFIG: writeConfig(file),
      PORT: "0",
    });
  }, 60_000);
  afterAll(async () => {
    await apiProcess?.kill("SIGKILL");
    await inspector?.close();
    await removePrefix(prefix);
  });

  it("keeps every upsert that got a 2xx, half-stores none, and the repair pass proves it", async () => {
    const base = apiProcess.url();
    const producer = inspector.tickler.producer;
    // Some triggers exist already, so the burst also replaces schedules (the write path with most steps).
    for (let i = 0; i < 60; i++) await producer.upsert("burst", `t${i}`, { prompt: "old", every: "1h" });

    const acknowledged = new Map<string, number>();
    let sent = 0;
    let killed = false;
    const body = (i: number) =>
      i % 3 === 0
        ? { prompt: `p${i}`, delay: `${1 + (i % 50)}h` }
        : i % 3 === 1
          ? { prompt: `p${i}`, every: `${1 + (i % 9)}h` }
          : { prompt: `p${i}`, cron: `${i % 60} 9 * * 1-5` };
    const worker = async (): Promise<void> => {
      while (sent < BURST) {
        const i = sent++;
        try {
          const res = await fetch(`${base}/v1/users/burst/triggers/t${i}`, {
            method: "PUT",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body(i)),
          });
          if (res.ok) acknowledged.set(`t${i}`, ((await res.json()) as { version: number }).version);
        } catch {
          /* the process died under this request: no answer, no promise */
        }
        if (!killed && acknowledged.size >= 120) {
          killed = true;
          await apiProcess.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    expect(killed).toBe(true);
    expect(acknowledged.size).toBeGreaterThanOrEqual(120);
    expect(acknowledged.size).toBeLessThan(BURST);

    // Every acknowledged write is stored, at least at the version acknowledged.
    for (const [name, version] of acknowledged) {
      const record = await producer.get("burst", name);
      expect(record.version, name).toBeGreaterThanOrEqual(version);
    }

    // The repair pass (what every worker runs at start) finds no definition without its pending fire,
    // and removes whatever pending job has no current definition.
    // A write the kill interrupted may still hold its trigger's lock (it expires after 10 s); the pass
    // skips such a trigger as busy and gets it on a later pass, as the fleet's reconciler does every minute.
    const passes = [await reconcilePass(producer)];
    while (passes.at(-1)!.busy > 0) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      passes.push(await reconcilePass(producer));
    }
    const report = passes.reduce((sum, pass) => ({
      checked: pass.checked,
      replanned: sum.replanned + pass.replanned,
      removed: sum.removed + pass.removed,
      busy: sum.busy + pass.busy,
      sweptAll: pass.sweptAll,
    }));
    const again = await reconcilePass(producer);
    expect(again).toMatchObject({ replanned: 0, removed: 0, busy: 0 });

    const page = await producer.list("burst", {}, null, 1000);
    for (const record of page.items) {
      expect(await producer.fires.hasPendingFire(record, Date.now()), record.spec.name).toBe(true);
    }
    const stored = new Map(page.items.map((record) => [triggerId("burst", record.spec.name), record]));
    for (const job of await producer.fires.queue.getJobs(["delayed", "waiting"])) {
      const record = stored.get(job.data.tid);
      expect(record, `job ${job.id} has a definition`).toBeDefined();
      expect(job.data.sv, `job ${job.id} is of the current schedule`).toBe(record!.scheduleVersion);
    }
    const schedulers = await producer.fires.queue.getJobSchedulers(0, -1);
    for (const scheduler of schedulers)
      expect(stored.has(scheduler.key), `scheduler ${scheduler.key} has a definition`).toBe(true);
    console.log(
      `API crash suite: ${acknowledged.size} of ${sent} upserts acknowledged before the SIGKILL; repair pass: ${JSON.stringify(report)}`,
    );
  }, 120_000);
});
