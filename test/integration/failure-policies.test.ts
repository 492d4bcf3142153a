import { describe, expect, it } from "vitest";
import { signWebhook } from "../../src/worker/deliver.js";
import type { Received } from "../helpers/sink.js";
import { startTestTickler, useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

const SECRET = `whsec_${Buffer.from("notify-secret-for-tests").toString("base64")}`;

/** Giving up per trigger (issue #15): auto-pause after failed runs, retry.max_age, and notifications. */
describe("when a trigger's runs keep failing", () => {
  const fx = useTickler("fail", {
    sink: (request) => (request.path === "/turns/down" ? { status: 500 } : {}),
    file: () => ({
      agents: {
        default: { url: fx.sink.url },
        down: { url: `${fx.sink.url}/down` },
        ops: { url: `${fx.sink.url}/ops`, signing_secret: SECRET },
        oncall: { url: `${fx.sink.url}/oncall` },
      },
      notify: { agent: "ops" },
    }),
  });
  const notices = (type: string) =>
    fx.sink.received.filter((r) => r.path === "/turns/ops" && r.body.type === type);
  const signed = (r: Received) =>
    r.headers["webhook-signature"] ===
    signWebhook(SECRET, String(r.headers["webhook-id"]), Number(r.headers["webhook-timestamp"]), r.raw);
  const get = async (name: string) => (await fx.t.api("GET", `/v1/users/fp/triggers/${name}`)).body;

  it("is paused by the system after pause_after_failures failed runs in a row, with why, and a signed notice", async () => {
    await fx.t.api("PUT", "/v1/users/fp/triggers/flaky", {
      prompt: "check",
      every: "1s",
      target: { agent: "down" },
      retry: { attempts: 1 },
      pause_after_failures: 3,
    });
    await waitFor(async () => (await get("flaky")).state === "paused", "the system to pause it", 15_000);
    const paused = await get("flaky");
    expect(paused).toMatchObject({ paused_by: "system", failures_in_row: 3, pause_after_failures: 3 });
    expect(paused.paused_reason).toMatch(/3 runs failed in a row \(pause_after_failures 3\).*HTTP 500/);
    await waitFor(() => notices("tickler.trigger_paused").length > 0, "the paused notice", 10_000);
    const [notice] = notices("tickler.trigger_paused");
    expect(notice!.body).toMatchObject({ trigger: "fp/flaky", reason: paused.paused_reason });
    expect(signed(notice!)).toBe(true);
    await waitFor(() => notices("tickler.run_failed").length >= 3, "a notice per failed run", 10_000);
    expect(notices("tickler.run_failed").every(signed)).toBe(true);
    // No more fires while paused; resuming clears the system's pause.
    const sent = fx.sink.received.filter((r) => r.path === "/turns/down").length;
    expect(sent).toBeLessThanOrEqual(4);
    await fx.t.api("POST", "/v1/users/fp/triggers/flaky/resume");
    expect(await get("flaky")).toMatchObject({ state: "active", paused_by: null, paused_reason: null });
    await fx.t.api("DELETE", "/v1/users/fp/triggers/flaky");
  }, 30_000);

  it("never undoes a user's pause, and leaves one already paused as it is", async () => {
    await fx.t.api("PUT", "/v1/users/fp/triggers/held", { prompt: "p", every: "1h" });
    await fx.t.api("POST", "/v1/users/fp/triggers/held/pause");
    expect(await fx.t.tickler.producer.pauseBySystem("fp", "held", "failures")).toBe(false);
    expect(await get("held")).toMatchObject({ state: "paused", paused_by: "user", paused_reason: null });
    await fx.t.api("POST", "/v1/users/fp/triggers/held/resume");
    expect(await fx.t.tickler.producer.pauseBySystem("fp", "held", "failures")).toBe(true);
    expect(await get("held")).toMatchObject({ paused_by: "system", paused_reason: "failures" });
    // The agent's list_triggers says why, too.
    const listed = await fx.t.api("POST", "/v1/tools/list_triggers?user_id=fp", { state: "paused" });
    expect(listed.body.result.triggers.find((t: any) => t.name === "held")).toMatchObject({
      paused_by: "system",
      paused_reason: "failures",
    });
  });

  it("stops retrying a slot older than retry.max_age and records it failed as too old", async () => {
    await fx.t.api("PUT", "/v1/users/fp/triggers/aging", {
      prompt: "p",
      delay: "1s",
      target: { agent: "down" },
      retry: { attempts: 20, backoff: "fixed", delay: "300ms", max_age: "2s" },
    });
    let run: any;
    await waitFor(
      async () => {
        run = (await fx.t.api("GET", "/v1/users/fp/triggers/aging/runs")).body.items[0];
        return run?.status === "failed";
      },
      "the run to fail as too old",
      15_000,
    );
    expect(run.error).toMatch(/too old: .*retry\.max_age 2s/);
    expect(run.attempts).toBeLessThanOrEqual(8);
    expect((await get("aging")).retry).toMatchObject({ max_age: "2s" });
  }, 30_000);

  it("sends a trigger's notices to its own notify destination instead of the config's", async () => {
    await fx.t.api("PUT", "/v1/users/fp/triggers/own", {
      prompt: "p",
      delay: "1s",
      target: { agent: "down" },
      retry: { attempts: 1 },
      notify: { agent: "oncall" },
    });
    await fx.sink.waitForCount(1, 10_000, (r) => r.path === "/turns/oncall");
    const [notice] = fx.sink.received.filter((r) => r.path === "/turns/oncall");
    expect(notice!.body).toMatchObject({ type: "tickler.run_failed", trigger: "fp/own" });
    expect(notice!.headers["webhook-signature"]).toBeUndefined(); // oncall has no signing secret
    expect(notices("tickler.run_failed").some((r) => r.body.trigger === "fp/own")).toBe(false);
    expect((await get("own")).notify).toEqual({ agent: "oncall" });
  });

  it("refuses bad values for the new fields with the field named", async () => {
    const put = (body: Record<string, unknown>) =>
      fx.t.api("PUT", "/v1/users/fp/triggers/bad", { prompt: "p", every: "1h", ...body });
    expect((await put({ notify: { agent: "nope" } })).body.error.field).toBe("notify.agent");
    expect((await put({ notify: { url: "http://example.com/hook" } })).body.error.field).toBe("notify.url");
    expect((await put({ pause_after_failures: 0 })).body.error.field).toBe("pause_after_failures");
    expect((await put({ catchup_max: -1 })).body.error.field).toBe("catchup_max");
    expect((await put({ retry: { max_age: "soon" } })).body.error.field).toBe("retry.max_age");
    expect((await fx.t.api("GET", "/v1/users/fp/triggers/bad")).status).toBe(404);
  });
});

/** catchup_max: what one outage's catch-up may send (issue #15). */
describe("after an outage with catchup_max", () => {
  const fx = useTickler("cmax", {
    sink: true,
    role: "api",
    file: () => ({ agents: { default: { url: fx.sink.url } } }),
  });

  it("delivers only the newest catchup_max late slots and records the older ones missed, saying why", async () => {
    await fx.t.api("PUT", "/v1/users/cm/triggers/beat", {
      prompt: "beat",
      every: "1s",
      missed_policy: "run_all",
      misfire_grace: "1s",
      catchup_max: 2,
    });
    // No worker for 5 s: the slots pile up.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const worker = await startTestTickler(fx.prefix, { agents: { default: { url: fx.sink.url } } }, "worker");
    try {
      await fx.sink.waitForCount(2, 10_000, (r) => r.body.catchup === true);
      let runs: any[] = [];
      await waitFor(
        async () => {
          runs = (await fx.t.api("GET", "/v1/users/cm/triggers/beat/runs?limit=50")).body.items;
          return runs.filter((run) => run.status === "missed").length >= 2;
        },
        "the older late slots to be recorded missed",
        10_000,
      );
      const missed = runs.filter((run) => run.status === "missed");
      expect(missed.every((run) => /over catchup_max 2/.test(run.error))).toBe(true);
      const caughtUp = runs.filter((run) => run.catchup && run.status === "succeeded");
      expect(caughtUp).toHaveLength(2);
      // The two delivered are the newest of the late ones.
      expect(Math.min(...caughtUp.map((run) => Date.parse(run.scheduled_at)))).toBeGreaterThan(
        Math.max(...missed.map((run) => Date.parse(run.scheduled_at))),
      );
    } finally {
      await worker.close();
    }
  }, 40_000);
});
