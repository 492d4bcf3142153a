import { describe, expect, it } from "vitest";
import { useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

/** Bulk operations for operators (issue #15): pause, resume and re-drive by filter, each with a dry run. */
describe("bulk pause, resume and re-drive", () => {
  let otherDown = true;
  const fx = useTickler("bulk", {
    sink: (request) => (request.path === "/turns/other" && otherDown ? { status: 500 } : {}),
    file: () => ({
      agents: { default: { url: fx.sink.url }, other: { url: `${fx.sink.url}/other` } },
      defaults: { retry: { attempts: 1 } },
    }),
  });
  const put = (user: string, name: string, body: Record<string, unknown>) =>
    fx.t.api("PUT", `/v1/users/${user}/triggers/${name}`, { prompt: name, every: "1h", ...body });
  const state = async (user: string, name: string) =>
    (await fx.t.api("GET", `/v1/users/${user}/triggers/${name}`)).body.state;

  it("pauses and resumes by agent, metadata and user, counting first on a dry run", async () => {
    await put("ba", "one", { metadata: { team: "x" } });
    await put("ba", "two", { target: { agent: "other" } });
    await put("bb", "three", { metadata: { team: "x" }, target: { agent: "other" } });
    const dry = await fx.t.api("POST", "/v1/triggers/pause", { agent: "other", dry_run: true });
    expect(dry).toMatchObject({ status: 200, body: { matched: 2, changed: 2, dry_run: true } });
    expect([await state("ba", "two"), await state("bb", "three")]).toEqual(["active", "active"]);
    const paused = await fx.t.api("POST", "/v1/triggers/pause", { metadata: { team: "x" } });
    expect(paused.body).toEqual({ matched: 2, changed: 2, dry_run: false });
    expect([await state("ba", "one"), await state("ba", "two"), await state("bb", "three")]).toEqual([
      "paused",
      "active",
      "paused",
    ]);
    // Pausing again changes nothing; resuming one user's leaves the other's paused.
    expect((await fx.t.api("POST", "/v1/triggers/pause", { metadata: { team: "x" } })).body.changed).toBe(0);
    const resumed = await fx.t.api("POST", "/v1/triggers/resume", { user_id: "ba" });
    expect(resumed.body).toEqual({ matched: 2, changed: 1, dry_run: false });
    expect([await state("ba", "one"), await state("bb", "three")]).toEqual(["active", "paused"]);
  });

  it("re-drives the failed runs since a time as the same slots, once", async () => {
    await put("br", "job", { every: null, delay: "1s", target: { agent: "other" } });
    let failed: any;
    await waitFor(
      async () => {
        failed = (await fx.t.api("GET", "/v1/users/br/triggers/job/runs")).body.items[0];
        return failed?.status === "failed";
      },
      "the run to fail",
      10_000,
    );
    otherDown = false;
    const since = new Date(Date.now() - 60_000).toISOString();
    const dry = await fx.t.api("POST", "/v1/runs/redrive", { since, user_id: "br", dry_run: true });
    expect(dry.body).toEqual({ triggers: 1, runs: 1, dry_run: true, run_ids: [failed.run_id] });
    expect((await fx.t.api("POST", "/v1/runs/redrive", { since, user_id: "br" })).body.runs).toBe(1);
    await waitFor(
      async () => (await fx.t.api("GET", `/v1/runs/${failed.run_id}`)).body.status === "succeeded",
      "the re-driven run to succeed",
      10_000,
    );
    const sent = fx.sink.received.filter((r) => (r.body.trigger as { id: string }).id === "br/job");
    expect(sent).toHaveLength(2);
    expect(new Set(sent.map((r) => r.headers["idempotency-key"])).size).toBe(1);
    // Nothing failed is left to re-drive; the trigger's fire count did not count the slot twice.
    expect((await fx.t.api("POST", "/v1/runs/redrive", { since, user_id: "br" })).body.runs).toBe(0);
    expect((await fx.t.api("GET", "/v1/users/br/triggers/job")).body.fire_count).toBe(1);
  }, 30_000);

  it("refuses a bad filter or a missing since with the field named, and changes nothing", async () => {
    const bad = await fx.t.api("POST", "/v1/triggers/pause", { kind: "sometimes" });
    expect(bad).toMatchObject({ status: 400, body: { error: { field: "kind" } } });
    expect((await fx.t.api("POST", "/v1/triggers/pause", { agnet: "other" })).status).toBe(400);
    const noSince = await fx.t.api("POST", "/v1/runs/redrive", { user_id: "br" });
    expect(noSince).toMatchObject({ status: 400, body: { error: { field: "since" } } });
    const badSince = await fx.t.api("POST", "/v1/runs/redrive", { since: "yesterday" });
    expect(badSince).toMatchObject({ status: 400, body: { error: { field: "since" } } });
    expect(await state("ba", "two")).toBe("active");
  });
});
