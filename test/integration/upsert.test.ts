import { describe, expect, it } from "vitest";
import { inMs, useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

describe("upserting triggers keyed by (user_id, name)", () => {
  const fx = useTickler("upsert", {
    sink: true,
    file: () => ({ agents: { default: { url: fx.sink.url } } }),
  });
  const forTrigger = (name: string) => (r: { body: Record<string, unknown> }) =>
    (r.body.trigger as { name?: string } | undefined)?.name === name;
  /** The fire jobs BullMQ holds for a trigger, pending (delayed or waiting). */
  const pendingFor = async (tid: string) => {
    const jobs = await fx.t.tickler.producer.fires.queue.getJobs(["delayed", "waiting", "prioritized"]);
    return jobs.filter((job) => job?.data.tid === tid);
  };

  it("creates (201), then updates (200), skips or raises (409) on the same key", async () => {
    const body = { prompt: "water the plants", delay: "1h" };
    const created = await fx.t.api("PUT", "/v1/users/u1/triggers/plants", body);
    expect(created.status).toBe(201);
    expect(created.body.result).toBe("created");

    const updated = await fx.t.api("PUT", "/v1/users/u1/triggers/plants", {
      ...body,
      prompt: "water the plants now",
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ result: "updated", prompt: "water the plants now" });
    expect(updated.body.version).toBeGreaterThan(created.body.version);

    const skipped = await fx.t.api("PUT", "/v1/users/u1/triggers/plants?if_exists=skip", {
      ...body,
      prompt: "other",
    });
    expect(skipped.status).toBe(200);
    expect(skipped.body).toMatchObject({ result: "skipped", prompt: "water the plants now" });

    const raised = await fx.t.api("PUT", "/v1/users/u1/triggers/plants?if_exists=raise", body);
    expect(raised.status).toBe(409);
    expect(raised.body.error.code).toBe("already_exists");
    expect((await fx.t.api("GET", "/v1/users/u1/triggers/plants")).body.prompt).toBe("water the plants now");
  });

  it("stores unset fields as absent and reads them back as null, keeping nulls inside the payload", async () => {
    const plain = await fx.t.api("PUT", "/v1/users/u1/triggers/plain", { prompt: "hi", every: "1h" });
    expect(plain.status).toBe(201);
    const stored = JSON.parse(
      (await fx.t.tickler.producer.redis.get(fx.t.tickler.producer.keys.definition("u1/plain")))!,
    );
    for (const field of ["payload", "threadKey", "channel", "target", "maxFires", "metadata"])
      expect(stored.spec).not.toHaveProperty(field);
    expect(stored.spec.schedule).not.toHaveProperty("startAtMs");
    expect(stored.spec.schedule).not.toHaveProperty("endAtMs");
    expect(stored.spec.retry).toBeDefined(); // defaults are written out: a changed default changes no trigger
    expect((await fx.t.api("GET", "/v1/users/u1/triggers/plain")).body).toMatchObject({
      payload: null,
      thread_key: null,
      channel: null,
      target: null,
      max_fires: null,
      metadata: {},
      start_at: null,
      end_at: null,
    });
    // Re-sent as it was, it is unchanged; the record read back equals the one written.
    expect(
      (await fx.t.api("PUT", "/v1/users/u1/triggers/plain", { prompt: "hi", every: "1h" })).body.result,
    ).toBe("unchanged");

    const full = {
      prompt: "hi",
      every: "1h",
      payload: { keep: null },
      metadata: { team: "a" },
      max_fires: 3,
    };
    expect((await fx.t.api("PUT", "/v1/users/u1/triggers/full", full)).status).toBe(201);
    expect((await fx.t.api("GET", "/v1/users/u1/triggers/full")).body).toMatchObject({
      payload: { keep: null },
      metadata: { team: "a" },
      max_fires: 3,
    });
    expect((await fx.t.api("PUT", "/v1/users/u1/triggers/full", full)).body.result).toBe("unchanged");
  });

  it("treats an identical write as a no-op: same version, same phase, same pending job", async () => {
    const body = { prompt: "check in", every: "1h", metadata: { source: "seed" } };
    const first = await fx.t.api("PUT", "/v1/users/u1/triggers/checkin", body);
    const [jobBefore] = await pendingFor("u1/checkin");
    const again = await fx.t.api("PUT", "/v1/users/u1/triggers/checkin", {
      ...body,
      timezone: "UTC",
      missed_policy: "run_once",
    });
    expect(again.status).toBe(200);
    expect(again.body.result).toBe("unchanged");
    expect(again.body.version).toBe(first.body.version);
    expect(again.body.next_fire_at).toBe(first.body.next_fire_at);
    const after = await pendingFor("u1/checkin");
    expect(after.map((job) => job.id)).toEqual([jobBefore!.id]);
  });

  it("makes a one-shot due at its time exactly, however long the write took", async () => {
    const at = new Date(Date.now() + 3600_000).toISOString();
    await fx.t.api("PUT", "/v1/users/u1/triggers/exact", { prompt: "on the dot", at });
    const fires = fx.t.tickler.producer.fires;
    const record = (await fx.t.tickler.producer.store.get("u1/exact"))!;
    // Planned by a write that started 2 s ago (a slow lock, a busy Redis): still due at `at`, not 2 s later.
    await fires.unplan(record);
    await fires.plan(record, Date.now() - 2000);
    const [job] = await pendingFor("u1/exact");
    expect(job!.timestamp + (job!.opts.delay ?? 0)).toBe(Date.parse(at));
    const score = Number(await fx.t.tickler.producer.redis.zscore(fires.queue.toKey("delayed"), job!.id!));
    expect(Math.floor(score / 0x1000)).toBe(Date.parse(at));
  });

  it("answers a read that fails under the write lock with the error, and frees the lock at once", async () => {
    const producer = fx.t.tickler.producer;
    await producer.redis.set(producer.keys.trigger("u1/broken"), "not a hash");
    await expect(producer.upsert("u1", "broken", { prompt: "x", delay: "1h" })).rejects.toThrow(/WRONGTYPE/);
    expect(await producer.redis.exists(producer.keys.writeLock("u1/broken"))).toBe(0);
    await producer.redis.del(producer.keys.trigger("u1/broken"));
    expect((await producer.upsert("u1", "broken", { prompt: "x", delay: "1h" })).status).toBe("created");
  });

  it("spreads jittered heartbeats created at once over the jitter, each keeping its phase on re-seed", async () => {
    const body = { prompt: "beat", every: "10m", jitter: "10m" };
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, n) => fx.t.api("PUT", `/v1/users/jit/triggers/h${n}`, body)),
    );
    expect(created.every((r) => r.status === 201 && r.body.jitter === "10m")).toBe(true);
    const next = created.map((r) => Date.parse(r.body.next_fire_at as string));
    // Created within a second of each other, yet the first fires spread over the 10 minutes.
    expect(Math.max(...next) - Math.min(...next)).toBeGreaterThan(60_000);
    const [job] = await pendingFor("jit/h3");
    expect(job?.id).toBe(`repeat:jit/h3:${next[3]}`);
    const again = await fx.t.api("PUT", "/v1/users/jit/triggers/h3", body);
    expect(again.body).toMatchObject({ result: "unchanged", next_fire_at: created[3]!.body.next_fire_at });

    const refused = await fx.t.api("PUT", "/v1/users/jit/triggers/h3", { ...body, jitter: "11m" });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: "invalid_field", field: "jitter" });
    expect((await fx.t.api("GET", "/v1/users/jit/triggers/h3")).body.version).toBe(created[3]!.body.version);
  });

  it("keeps the phase when only the prompt changes, and replaces the pending fire when the schedule changes", async () => {
    const first = await fx.t.api("PUT", "/v1/users/u1/triggers/phase", { prompt: "a", every: "1h" });
    const reprompt = await fx.t.api("PUT", "/v1/users/u1/triggers/phase", { prompt: "b", every: "1h" });
    expect(reprompt.body.result).toBe("updated");
    expect(reprompt.body.next_fire_at).toBe(first.body.next_fire_at);

    const rescheduled = await fx.t.api("PUT", "/v1/users/u1/triggers/phase", { prompt: "b", every: "2h" });
    expect(rescheduled.body.next_fire_at).not.toBe(first.body.next_fire_at);
    const pending = await pendingFor("u1/phase");
    expect(pending).toHaveLength(1);
    expect((pending[0]!.opts as { repeat?: { every?: number } }).repeat?.every).toBe(2 * 3600 * 1000);
  });

  it("fires only the new time when a one-shot is rescheduled; the old fire never happens", async () => {
    const oldAt = inMs(1000);
    const newAt = inMs(2000);
    expect((await fx.t.api("PUT", "/v1/users/u1/triggers/moved", { prompt: "old", at: oldAt })).status).toBe(
      201,
    );
    expect((await fx.t.api("PUT", "/v1/users/u1/triggers/moved", { prompt: "new", at: newAt })).status).toBe(
      200,
    );
    const [got] = await fx.sink.waitForCount(1, 5000, forTrigger("moved"));
    expect(got!.body).toMatchObject({ prompt: "new", scheduled_at: newAt });
    await waitFor(
      async () => (await fx.t.api("GET", "/v1/users/u1/triggers/moved")).body.state === "completed",
      "completion",
    );
    expect(fx.sink.received.filter(forTrigger("moved"))).toHaveLength(1);
  });

  describe("when a one-shot that already fired is written again", () => {
    const fire = async (name: string, body: Record<string, unknown>) => {
      expect((await fx.t.api("PUT", `/v1/users/u1/triggers/${name}`, body)).status).toBe(201);
      await fx.sink.waitForCount(1, 10_000, forTrigger(name));
      return waitFor(async () => {
        const got = await fx.t.api("GET", `/v1/users/u1/triggers/${name}`);
        return got.body.state === "completed" ? got.body : null;
      }, `${name} to complete`);
    };

    it("re-arms it when the definition changed: a relative delay counts from the write, and it fires", async () => {
      await fire("rearm", { prompt: "round 1", delay: "in 300ms" });
      const before = Date.now();
      const again = await fx.t.api("PUT", "/v1/users/u1/triggers/rearm", {
        prompt: "round 2",
        delay: "in 300ms",
      });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ result: "updated", state: "active", prompt: "round 2" });
      expect(again.body.note).toMatch(/had fired .*re-armed/);
      expect(Date.parse(again.body.next_fire_at)).toBeGreaterThanOrEqual(before + 300);
      const [second] = await fx.sink.waitForCount(1, 10_000, (r) => r.body.prompt === "round 2");
      expect(second!.body.trigger).toMatchObject({ name: "rearm" });
    });

    it("leaves it completed on an identical re-seed, and says that nothing will fire", async () => {
      const body = { prompt: "only once", delay: "in 300ms" };
      const fired = await fire("once-only", body);
      const again = await fx.t.api("PUT", "/v1/users/u1/triggers/once-only", body);
      expect(again.body).toMatchObject({ result: "unchanged", state: "completed", next_fire_at: null });
      expect(again.body.version).toBe(fired.version);
      expect(again.body.note).toMatch(/already fired.*nothing will fire/);
    });

    it("needs allow_past to re-arm at a time that has passed", async () => {
      const at = inMs(300);
      await fire("at-past", { prompt: "at 1", at });
      const refused = await fx.t.api("PUT", "/v1/users/u1/triggers/at-past", { prompt: "at 2", at });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ code: "invalid_time", field: "at" });
      expect((await fx.t.api("GET", "/v1/users/u1/triggers/at-past")).body).toMatchObject({
        prompt: "at 1",
        state: "completed",
      });
      const now = await fx.t.api("PUT", "/v1/users/u1/triggers/at-past", {
        prompt: "at 2",
        at,
        allow_past: true,
      });
      expect(now.body).toMatchObject({ result: "updated", state: "active" });
      await fx.sink.waitForCount(1, 10_000, (r) => r.body.prompt === "at 2");
    });

    it("is not re-armed by a pause or a resume", async () => {
      await fire("stays-done", { prompt: "done", delay: "in 300ms" });
      expect((await fx.t.api("POST", "/v1/users/u1/triggers/stays-done/pause")).body.state).toBe("completed");
      const resumed = await fx.t.api("POST", "/v1/users/u1/triggers/stays-done/resume");
      expect(resumed.body).toMatchObject({ state: "completed", next_fire_at: null });
    });
  });

  describe("when 50 producers upsert one key at once", () => {
    it("leaves one trigger and one pending fire, and exactly one delivery happens", async () => {
      const delays = Array.from({ length: 50 }, (_, i) => 1 + i * 0.01);
      const results = await Promise.all(
        delays.map((delay) =>
          fx.t.api("PUT", "/v1/users/u2/triggers/race", { prompt: `delay ${delay}`, delay }),
        ),
      );
      expect(results.every((r) => r.status === 200 || r.status === 201)).toBe(true);
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      const list = await fx.t.api("GET", "/v1/users/u2/triggers");
      expect(list.body.items.map((item: { name: string }) => item.name)).toEqual(["race"]);
      expect(await pendingFor("u2/race")).toHaveLength(1);

      const stored = (await fx.t.api("GET", "/v1/users/u2/triggers/race")).body;
      const [got] = await fx.sink.waitForCount(1, 5000, forTrigger("race"));
      expect(got!.body.prompt).toBe(stored.prompt);
      expect(got!.body.scheduled_at).toBe(stored.next_fire_at);
      // Every planned time has passed: had any stale job survived, it would have fired by now.
      await waitFor(
        () => Date.now() > Date.parse(stored.created_at) + 1600,
        "the latest possible delay to pass",
        5000,
      );
      await waitFor(
        async () => (await fx.t.tickler.producer.fires.queue.getActiveCount()) === 0,
        "no active fires",
      );
      expect(fx.sink.received.filter(forTrigger("race"))).toHaveLength(1);
    });
  });

  it("cancels: the trigger, its pending job and its scheduler are gone and nothing fires", async () => {
    expect(
      (
        await fx.t.api("PUT", "/v1/users/u1/triggers/gone", {
          prompt: "x",
          every: "1s",
          start_at: inMs(1000),
        })
      ).status,
    ).toBe(201);
    expect((await fx.t.api("PUT", "/v1/users/u1/triggers/gone-once", { prompt: "x", delay: 1 })).status).toBe(
      201,
    );
    const canceled = await fx.t.api("DELETE", "/v1/users/u1/triggers/gone");
    expect(canceled).toMatchObject({ status: 200, body: { canceled: true } });
    expect((await fx.t.api("DELETE", "/v1/users/u1/triggers/gone-once")).status).toBe(200);
    expect((await fx.t.api("DELETE", "/v1/users/u1/triggers/gone")).status).toBe(404);
    expect((await fx.t.api("GET", "/v1/users/u1/triggers/gone")).status).toBe(404);
    expect(await fx.t.tickler.producer.fires.queue.getJobScheduler("u1/gone")).toBeUndefined();
    expect(await pendingFor("u1/gone")).toHaveLength(0);
    expect(await pendingFor("u1/gone-once")).toHaveLength(0);
    const pastBoth = Date.now() + 1800;
    await waitFor(() => Date.now() > pastBoth, "past both planned times", 5000);
    expect(
      fx.sink.received.filter((r) => String((r.body.trigger as { name?: string })?.name).startsWith("gone")),
    ).toHaveLength(0);
  });

  it("pauses (nothing fires) and resumes (fires again)", async () => {
    await fx.t.api("PUT", "/v1/users/u1/triggers/nap", { prompt: "nap", every: "1s", start_at: inMs(500) });
    const paused = await fx.t.api("POST", "/v1/users/u1/triggers/nap/pause");
    expect(paused.body).toMatchObject({ state: "paused", next_fire_at: null });
    expect(await pendingFor("u1/nap")).toHaveLength(0);
    expect(await fx.t.tickler.producer.fires.queue.getJobScheduler("u1/nap")).toBeUndefined();
    expect((await fx.t.api("POST", "/v1/users/u1/triggers/nap/pause")).body.result).toBe("unchanged");

    const resumed = await fx.t.api("POST", "/v1/users/u1/triggers/nap/resume");
    expect(resumed.body.state).toBe("active");
    const since = Date.now();
    const [got] = await fx.sink.waitForCount(1, 5000, (r) => forTrigger("nap")(r) && r.at >= since);
    expect(got!.body.prompt).toBe("nap");
    expect(fx.sink.received.filter((r) => forTrigger("nap")(r) && r.at < since)).toHaveLength(0);
    await fx.t.api("DELETE", "/v1/users/u1/triggers/nap");
  });

  it("runs a trigger now, marked manual, without touching its schedule", async () => {
    const put = await fx.t.api("PUT", "/v1/users/u1/triggers/later", { prompt: "later", delay: "1d" });
    const run = await fx.t.api("POST", "/v1/users/u1/triggers/later/run");
    expect(run.status).toBe(202);
    const [got] = await fx.sink.waitForCount(1, 5000, forTrigger("later"));
    expect(got!.body).toMatchObject({ manual: true, run_id: run.body.run_id });
    expect(got!.headers["idempotency-key"]).toBe(run.body.idempotency_key);
    const after = await waitFor(async () => {
      const res = await fx.t.api("GET", "/v1/users/u1/triggers/later");
      return res.body.last_status === "succeeded" ? res.body : null;
    }, "the manual run to be recorded");
    expect(after).toMatchObject({ state: "active", next_fire_at: put.body.next_fire_at, fire_count: 0 });
  });

  it("completes a heartbeat after max_fires", async () => {
    await fx.t.api("PUT", "/v1/users/u1/triggers/thrice", {
      prompt: "x",
      every: "1s",
      start_at: inMs(300),
      max_fires: 2,
    });
    await fx.sink.waitForCount(2, 6000, forTrigger("thrice"));
    const done = await waitFor(async () => {
      const res = await fx.t.api("GET", "/v1/users/u1/triggers/thrice");
      return res.body.state === "completed" ? res.body : null;
    }, "completion after max_fires");
    expect(done.fire_count).toBe(2);
    expect(await fx.t.tickler.producer.fires.queue.getJobScheduler("u1/thrice")).toBeUndefined();
  });

  it("completes a heartbeat at end_at", async () => {
    const start = Date.now() + 300;
    await fx.t.api("PUT", "/v1/users/u1/triggers/window", {
      prompt: "x",
      every: "1s",
      start_at: new Date(start).toISOString(),
      end_at: new Date(start + 1500).toISOString(),
    });
    const done = await waitFor(
      async () => {
        const res = await fx.t.api("GET", "/v1/users/u1/triggers/window");
        return res.body.state === "completed" ? res.body : null;
      },
      "completion at end_at",
      6000,
    );
    expect(done.fire_count).toBe(2);
    expect(fx.sink.received.filter(forTrigger("window"))).toHaveLength(2);
  });

  it("patches some fields, keeping the rest", async () => {
    await fx.t.api("PUT", "/v1/users/u1/triggers/patchme", {
      prompt: "a",
      cron: "0 9 * * 1-5",
      timezone: "America/New_York",
      thread_key: "t",
    });
    const patched = await fx.t.api("PATCH", "/v1/users/u1/triggers/patchme", { prompt: "b" });
    expect(patched.body).toMatchObject({
      prompt: "b",
      cron: "0 9 * * 1-5",
      timezone: "America/New_York",
      thread_key: "t",
      result: "updated",
    });
    const reform = await fx.t.api("PATCH", "/v1/users/u1/triggers/patchme", { every: "1h" });
    expect(reform.body).toMatchObject({ kind: "heartbeat", every: "1h", prompt: "b" });
    expect(reform.body.cron).toBeUndefined();
    expect((await fx.t.api("PATCH", "/v1/users/u1/triggers/nope", { prompt: "x" })).status).toBe(404);
  });

  it("lists a user's triggers in name order with a cursor and filters", async () => {
    for (const name of ["l-a", "l-b", "l-c"])
      await fx.t.api("PUT", `/v1/users/u3/triggers/${name}`, { prompt: "x", every: "1h" });
    await fx.t.api("PUT", "/v1/users/u3/triggers/l-d", { prompt: "x", delay: "1h" });
    const first = await fx.t.api("GET", "/v1/users/u3/triggers?limit=2");
    expect(first.body.items.map((i: { name: string }) => i.name)).toEqual(["l-a", "l-b"]);
    const second = await fx.t.api("GET", `/v1/users/u3/triggers?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.items.map((i: { name: string }) => i.name)).toEqual(["l-c", "l-d"]);
    expect(second.body.next_cursor).toBeNull();
    const once = await fx.t.api("GET", "/v1/users/u3/triggers?kind=once");
    expect(once.body.items.map((i: { name: string }) => i.name)).toEqual(["l-d"]);
    const all = await fx.t.api("GET", "/v1/triggers?user_id=u3");
    expect(all.body.items).toHaveLength(4);
  });

  it("previews a schedule without storing anything", async () => {
    const res = await fx.t.api("POST", "/v1/preview", {
      cron: "0 9 * * MON-FRI",
      timezone: "America/New_York",
      count: 3,
    });
    expect(res.status).toBe(200);
    expect(res.body.kind).toBe("cron");
    expect(res.body.next).toHaveLength(3);
    for (const time of res.body.next) expect(new Date(time).getUTCHours() % 24).toBeOneOf([13, 14]);
    const bad = await fx.t.api("POST", "/v1/preview", { cron: "0 9 * *" });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "invalid_cron", field: "cron" });
  });

  it("upserts a batch: each item on its own, a bad one refused in its place, the rest written", async () => {
    const producer = fx.t.tickler.producer;
    const items = Array.from({ length: 300 }, (_, n) => ({
      userId: `b${n % 3}`,
      name: `beat-${n}`,
      body: { prompt: `beat ${n}`, every: "1h" },
    }));
    items[7] = { userId: "b1", name: "bad", body: { prompt: "x", every: "1 fortnight" } };
    const results = await producer.upsertMany(items, { concurrency: 32 });
    expect(results).toHaveLength(300);
    expect(results[7]).toMatchObject({ id: "b1/bad", error: { code: "invalid_duration", field: "every" } });
    expect(results.filter((r) => "status" in r && r.status === "created")).toHaveLength(299);
    expect(await producer.store.get("b1/bad")).toBeNull();
    expect(await producer.fires.queue.getJobScheduler("b0/beat-0")).toMatchObject({ every: 3600_000 });
    // Re-running the same seed changes nothing.
    const again = await producer.upsertMany(items.slice(0, 20));
    expect(again.filter((r) => "status" in r).map((r) => ("status" in r ? r.status : ""))).toEqual(
      Array(19).fill("unchanged"),
    );
  });
});
