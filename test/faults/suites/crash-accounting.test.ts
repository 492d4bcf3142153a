import { describe, expect, it } from "vitest";
import { catchupJobId, onceJobId } from "../../../src/producer/fire-queue.js";
import { runIdFor, type RunRecord } from "../../../src/runs/run-store.js";
import { killEvery, useFleet, type Fleet } from "../../helpers/processes.js";
import { waitFor } from "../../helpers/wait.js";

const WORKERS = 3;
const KILL_EVERY_MS = 3_000;
const DURATION_MS = 60_000;
const HEARTBEATS = 200;
const HEARTBEAT_EVERY_MS = 2_000;
const CRONS = 50;
const CRON_EVERY_MS = 3_000; // "*/3 * * * * *"
const ONE_SHOTS = 200;
/** A kill this recent may not be visible yet to a worker checking the overlap marker's holder. */
const DEATH_VISIBLE_MS = 250;

/**
 * The outside fault harness of issue #12, as a suite: a fleet of three workers, one SIGKILLed every 3 s
 * and replaced, while 200 heartbeats (every 2 s), 50 six-field crons (every 3 s) and 200 one-shots come
 * due for a minute. Every slot is accounted for afterwards from the run records and the agent's log.
 */
describe("when a worker of three is SIGKILLed every 3 s for a minute of heartbeats, crons and one-shots", () => {
  const fleet = useFleet("acct", { workers: WORKERS, holdMs: 150 });
  const { workers } = fleet;

  it("leaves a run record for every slot, skips none for a dead run, and counts re-deliveries after a 200", async () => {
    const producer = fleet.api.tickler.producer;
    // Off the second (500 ms), so no heartbeat slot, cron slot or end falls on a boundary of another.
    const start = Math.ceil((Date.now() + 6_000) / 1000) * 1000 + 500;
    const end = start + DURATION_MS - 1;
    const window = { start_at: new Date(start).toISOString(), end_at: new Date(end).toISOString() };
    /** Every slot that comes due, by trigger id. */
    const slots = new Map<string, number[]>();
    const upsertAll = async (count: number, make: (i: number) => [string, object, number[]]) => {
      for (let i = 0; i < count; i += 50) {
        await Promise.all(
          Array.from({ length: Math.min(50, count - i) }, async (_, j) => {
            const [name, body, due] = make(i + j);
            slots.set(`acct/${name}`, due);
            await producer.upsert("acct", name, body);
          }),
        );
      }
    };
    const grid = (first: number, every: number): number[] => {
      const out: number[] = [];
      for (let at = first; at <= end; at += every) out.push(at);
      return out;
    };
    await upsertAll(HEARTBEATS, (i) => [
      `hb${i}`,
      { prompt: `hb${i}`, every: "2s", ...window },
      grid(start, HEARTBEAT_EVERY_MS),
    ]);
    await upsertAll(CRONS, (i) => [
      `cron${i}`,
      { prompt: `cron${i}`, cron: "*/3 * * * * *", ...window },
      grid(Math.ceil(start / CRON_EVERY_MS) * CRON_EVERY_MS, CRON_EVERY_MS),
    ]);
    await upsertAll(ONE_SHOTS, (i) => {
      const at = start + Math.floor(Math.random() * DURATION_MS);
      return [`once${i}`, { prompt: `once${i}`, at: new Date(at).toISOString() }, [at]];
    });
    const due = [...slots.values()].reduce((sum, list) => sum + list.length, 0);

    // Every 3 s a random worker dies and a replacement starts.
    const killer = killEvery(workers, fleet.env, KILL_EVERY_MS);
    await waitFor(() => Date.now() > end, "the last slot to come due", DURATION_MS + 20_000, 250);
    const { killedAt, killed } = await killer.stop();

    // Settle: every slot reaches an outcome (the last takeovers need a lock expiry and a stall check).
    const runOf = async (id: string, slot: number): Promise<RunRecord | null> =>
      fleet.api.tickler.runs.get(runIdFor(id, slot));
    const finalRuns = async (): Promise<Map<string, RunRecord | null>> => {
      const out = new Map<string, RunRecord | null>();
      for (const [id, list] of slots)
        for (const [slot, run] of (await Promise.all(list.map((slot) => runOf(id, slot)))).entries())
          out.set(`${id}@${list[slot]}`, run);
      return out;
    };
    let runs = new Map<string, RunRecord | null>();
    await waitFor(
      async () => {
        runs = await finalRuns();
        return [...runs.values()].every(
          (run) => run && run.status !== "running" && run.status !== "retrying",
        );
      },
      "every slot to reach an outcome",
      60_000,
      1000,
    ).catch(() => undefined); // the figures below say what is missing

    const withoutRecord = [...runs].filter(([, run]) => run === null).map(([key]) => key);
    const unfinished = [...runs].filter(
      ([, run]) => run && (run.status === "running" || run.status === "retrying"),
    );
    // A slot may be skipped only while the run holding the marker is really alive: the skip names the
    // worker holding it, and that worker must not have been killed (a moment before, at most) by then.
    const skipped = [...runs].filter(([, run]) => run?.status === "skipped_overlap");
    // A skip names what held the marker: a run on a worker (alive unless the test had killed that worker by
    // then), or a catch-up chain's next step still queued (alive if that step's run indeed started later).
    const skippedForDeadRun = skipped.filter(([key, run]) => {
      const at = run!.startedAtMs ?? run!.finishedAtMs ?? 0;
      const queued = /next step, job catchup\|[^|]+\|\d+\|(\d+), is queued/.exec(run!.error ?? "")?.[1];
      if (queued !== undefined) {
        const step = runs.get(`${key.slice(0, key.lastIndexOf("@"))}@${queued}`);
        return !step || (step.startedAtMs ?? 0) + DEATH_VISIBLE_MS < at;
      }
      const pid = Number(/on worker [^\s:]+:(\d+):/.exec(run!.error ?? "")?.[1]);
      const killed = killedAt.get(pid);
      return !Number.isFinite(pid) || pid === 0 || (killed !== undefined && killed + DEATH_VISIBLE_MS < at);
    });
    const skipReasons = new Map<string, number>();
    for (const [, run] of skipped) {
      const reason = /catch-up/.test(run!.error ?? "")
        ? "a catch-up going on"
        : /retry/.test(run!.error ?? "")
          ? "a retry pending"
          : "a run in progress";
      skipReasons.set(reason, (skipReasons.get(reason) ?? 0) + 1);
    }
    const otherOutcomes = [...runs].filter(
      ([, run]) => run && !["succeeded", "skipped_overlap", "running", "retrying"].includes(run.status),
    );

    // The agent's view: each delivered slot arrived; a request for a slot the agent had already answered
    // 200 is a re-delivery (a worker killed after the answer, before recording it): allowed, counted.
    const answered = new Map<string, number>();
    let redelivered = 0;
    for (const request of [...fleet.sink.received].sort((a, b) => a.at - b.at)) {
      const key = String(request.headers["idempotency-key"]);
      const first200 = answered.get(key);
      if (first200 !== undefined && first200 <= request.at) redelivered++;
      if (request.status === 200 && request.answeredAt !== undefined && first200 === undefined)
        answered.set(key, request.answeredAt);
    }
    const succeededNotDelivered = [...runs].filter(
      ([key, run]) => run?.status === "succeeded" && !answered.has(key),
    );
    const lost = withoutRecord.length + skippedForDeadRun.length + succeededNotDelivered.length;

    console.log(
      `crash accounting suite: ${killedAt.size} SIGKILLs (every ${KILL_EVERY_MS / 1000} s, ${WORKERS} workers), ` +
        `${due} slots due (${HEARTBEATS} heartbeats every 2 s, ${CRONS} crons every 3 s, ${ONE_SHOTS} one-shots), ` +
        `${lost} lost, ${withoutRecord.length} without a run record, ` +
        `${skippedForDeadRun.length} skipped for a dead run (${skipped.length} skipped in all, for a live ` +
        `holder: ${[...skipReasons].map(([reason, count]) => `${count} ${reason}`).join(", ") || "none"}), ` +
        `${redelivered} re-delivered after a 200, ${unfinished.length} unfinished, ${otherOutcomes.length} other outcomes`,
    );
    if (withoutRecord.length > 0) {
      console.log("without a run record:", withoutRecord.slice(0, 10));
      console.log("their jobs:", JSON.stringify(await jobsOf(fleet, withoutRecord.slice(0, 5)), null, 1));
      const tid = withoutRecord[0]!.slice(0, withoutRecord[0]!.lastIndexOf("@"));
      const lines = [...killed, ...workers]
        .flatMap((child) =>
          child
            .output()
            .split("\n")
            .map((line) => `${child.process.pid} ${line}`),
        )
        .filter((line) => line.includes(tid) || line.includes(encodeURIComponent(tid)));
      console.log(`the workers' log lines of ${tid}:`, lines.slice(-30));
    }
    if (skipped.length > 0)
      console.log(
        "skipped, for example:",
        skipped.slice(0, 3).map(([key, run]) => [key, run?.startedAtMs, run?.error]),
      );
    if (skippedForDeadRun.length > 0)
      console.log(
        "skipped for a dead run:",
        skippedForDeadRun.slice(0, 5).map(([key, run]) => [key, run?.error]),
      );
    if (otherOutcomes.length > 0)
      console.log(
        "other outcomes:",
        otherOutcomes.slice(0, 5).map(([key, run]) => [key, run?.status, run?.error]),
      );

    expect(killedAt.size).toBeGreaterThanOrEqual(Math.floor(DURATION_MS / KILL_EVERY_MS) - 2);
    expect(withoutRecord).toEqual([]);
    expect(skippedForDeadRun.map(([key]) => key)).toEqual([]);
    expect(unfinished.map(([key]) => key)).toEqual([]);
    expect(otherOutcomes.map(([key, run]) => `${key}: ${run?.status} ${run?.error}`)).toEqual([]);
    expect(succeededNotDelivered.map(([key]) => key)).toEqual([]);
  }, 240_000);
});

/**
 * For a failing run: every BullMQ job that could have delivered each `<trigger id>@<slot>` (its scheduler
 * iteration, its one-shot job, its catch-up step), with its state and what BullMQ wrote about it.
 */
async function jobsOf(fleet: Fleet, keys: string[]): Promise<Record<string, unknown>> {
  const { producer } = fleet.api.tickler;
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const at = key.lastIndexOf("@");
    const [tid, slot] = [key.slice(0, at), Number(key.slice(at + 1))];
    const sv = (await producer.store.get(tid))?.scheduleVersion ?? 0;
    const jobs: Record<string, unknown> = {};
    for (const id of [`repeat:${tid}:${slot}`, onceJobId(tid, sv), catchupJobId(tid, sv, slot)]) {
      const job = await producer.fires.queue.getJob(id);
      if (!job) continue;
      const { processedBy, attemptsMade, stalledCounter, failedReason, timestamp, processedOn, finishedOn } =
        job;
      jobs[id] = {
        state: await job.getState(),
        data: job.data,
        processedBy,
        attemptsMade,
        stalledCounter,
        failedReason,
        timestamp,
        processedOn,
        finishedOn,
        returnvalue: job.returnvalue,
      };
    }
    out[key] = jobs;
  }
  return out;
}
