import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSink, type Received, type Sink } from "../helpers/sink.js";
import { inMs, useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

const OUTCOMES = new Set(["succeeded", "failed", "partial", "missed", "skipped_overlap"]);

describe("fan-out: one fire, one delivery per context", () => {
  let lister: Sink;
  /** Context c-37's feed is refused until it is back. */
  let feedBack = false;
  let narrow: Sink;
  let inFlight = 0;
  let mostInFlight = 0;
  /** What the contexts endpoint answers next. */
  let listAnswer: { status: number; body: string } = { status: 200, body: "[]" };
  /** Answers the contexts endpoint gives first, one each, before `listAnswer`. */
  const listQueue: { status: number; body: string }[] = [];
  beforeAll(async () => {
    lister = await startSink(() => listQueue.shift() ?? listAnswer);
    narrow = await startSink(() => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      setTimeout(() => inFlight--, 30);
      return { holdMs: 30 };
    });
  });
  afterAll(async () => {
    await Promise.all([lister?.close(), narrow?.close()]);
  });
  const fx = useTickler("fanout", {
    // Context "c-37" is refused for good; "flaky" fails its first attempt only.
    sink: (request) => {
      const key = (request.body as { context_key?: string }).context_key;
      if (key === "c-37" && !feedBack) return { status: 400, body: '{"error":"no such feed"}' };
      if (key === "flaky" && request.body.attempt === 1) return { status: 503 };
      return {};
    },
    file: () => ({
      agents: {
        default: { url: fx.sink.url },
        lister: { url: lister.url },
        narrow: { url: narrow.url, max_in_flight: 3 },
      },
    }),
  });

  const of = (name: string) => (r: Received) =>
    (r.body.trigger as { name?: string } | undefined)?.name === name;
  const finishedRun = (name: string) =>
    waitFor(async () => {
      const res = await fx.t.api("GET", `/v1/users/u1/triggers/${name}/runs`);
      const run = res.body.items?.[0];
      return run && OUTCOMES.has(run.status) ? run : null;
    }, `the run of ${name} to finish`);
  const childrenOf = async (runId: string, limit = 100) => {
    const items: Record<string, any>[] = [];
    let cursor: string | null = null;
    do {
      const page = await fx.t.api(
        "GET",
        `/v1/runs/${runId}/children?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(page.status).toBe(200);
      items.push(...page.body.items);
      cursor = page.body.next_cursor;
    } while (cursor !== null);
    return items;
  };

  it("delivers 100 contexts with distinct keys and 100 child runs; one failing child leaves the parent partial", async () => {
    const items = Array.from({ length: 100 }, (_, i) => ({
      key: `c-${i}`,
      feed: `https://feeds.example/${i}`,
    }));
    const at = inMs(400);
    const put = await fx.t.api("PUT", "/v1/users/u1/triggers/feeds", {
      prompt: "refresh the feed",
      at,
      payload: { source: "rss", feed: "overridden" },
      expand: { items },
      retry: { attempts: 2, delay: "100ms", backoff: "fixed" },
      metadata: { batch: "feeds" },
    });
    expect(put.status).toBe(201);
    expect(put.body.expand).toMatchObject({ max_expand: 1000 });
    expect(put.body.expand.items).toHaveLength(100);

    const got = await fx.sink.waitForCount(100, 15_000, of("feeds"));
    const run = await finishedRun("feeds");
    expect(run).toMatchObject({
      status: "partial",
      children: { total: 100, succeeded: 99, failed: 1, pending: 0 },
    });
    expect(run.error).toContain("1 of 100 contexts failed; the first, c-37: agent answered HTTP 400");
    // A permanent failure is not retried, and no child that succeeded is sent again.
    expect(fx.sink.received.filter(of("feeds"))).toHaveLength(100);
    const slot = Date.parse(at);
    const keys = new Set(got.map((r) => r.headers["idempotency-key"]));
    expect(keys.size).toBe(100);
    expect(keys.has(`u1/feeds@${slot}#c-0`)).toBe(true);
    const first = got.find((r) => r.body.context_key === "c-5")!;
    expect(first.body).toMatchObject({
      type: "tickler.fire",
      run_id: `${run.run_id}~c-5`,
      parent_run_id: run.run_id,
      payload: { source: "rss", key: "c-5", feed: "https://feeds.example/5" },
    });

    const children = await childrenOf(run.run_id, 30);
    expect(children).toHaveLength(100);
    expect(children.map((child) => child.context_key)).toEqual(items.map((item) => item.key));
    expect(children.filter((child) => child.status === "succeeded")).toHaveLength(99);
    expect(children.find((child) => child.context_key === "c-37")).toMatchObject({
      status: "failed",
      attempts: 1,
      http_status: 400,
      parent_run_id: run.run_id,
      context: items[37],
    });
    // A child is a run of its own: readable by id.
    const one = await fx.t.api("GET", `/v1/runs/${run.run_id}~c-99`);
    expect(one.body).toMatchObject({ status: "succeeded", context_key: "c-99" });
    // Only the parent is in the trigger's history, and the trigger's last status says partial.
    const history = await fx.t.api("GET", "/v1/users/u1/triggers/feeds/runs");
    expect(history.body.items).toHaveLength(1);
    const trigger = await fx.t.api("GET", "/v1/users/u1/triggers/feeds");
    expect(trigger.body).toMatchObject({ last_status: "partial", fire_count: 1 });

    // Re-driving the partial run sends only its failed child again, under the same key.
    feedBack = true;
    const since = new Date(Date.parse(at) - 1000).toISOString();
    const redrive = await fx.t.api("POST", "/v1/runs/redrive", { since, metadata: { batch: "feeds" } });
    expect(redrive.body).toMatchObject({ runs: 1 });
    const again = await waitFor(async () => {
      const res = await fx.t.api("GET", `/v1/runs/${run.run_id}`);
      return res.body.status === "succeeded" ? res.body : null;
    }, "the re-driven run to succeed");
    expect(again.children).toEqual({ total: 100, succeeded: 100, failed: 0, pending: 0 });
    const resent = fx.sink.received.filter(of("feeds")).slice(100);
    expect(resent.map((r) => [r.body.context_key, r.headers["idempotency-key"]])).toEqual([
      ["c-37", `u1/feeds@${slot}#c-37`],
    ]);
  });

  it("retries only the children that failed, each with its own attempts", async () => {
    await fx.t.api("PUT", "/v1/users/u1/triggers/retry-some", {
      prompt: "p",
      at: inMs(300),
      expand: { items: [{ key: "steady" }, { key: "flaky" }, { n: 3 }] },
      retry: { attempts: 3, delay: "100ms", backoff: "fixed" },
    });
    const run = await finishedRun("retry-some");
    expect(run).toMatchObject({ status: "succeeded", attempts: 2, error: null });
    const sent = fx.sink.received.filter(of("retry-some")).map((r) => r.body.context_key);
    expect(sent.sort()).toEqual(["2", "flaky", "flaky", "steady"]);
    const children = await childrenOf(run.run_id);
    expect(children.map((child) => [child.context_key, child.status, child.attempts])).toEqual([
      ["steady", "succeeded", 1],
      ["flaky", "succeeded", 2],
      ["2", "succeeded", 1],
    ]);
  });

  it("fetches the contexts from an agent at fire time, and fails the run when the list is over max_expand", async () => {
    listAnswer = { status: 200, body: JSON.stringify({ contexts: [{ key: "x" }, { key: "y" }] }) };
    await fx.t.api("PUT", "/v1/users/u1/triggers/listed", {
      prompt: "p",
      at: inMs(300),
      payload: { team: "a" },
      expand: { agent: "lister", max_expand: 2 },
    });
    const run = await finishedRun("listed");
    expect(run).toMatchObject({ status: "succeeded", children: { total: 2, succeeded: 2 } });
    const asked = lister.received.filter(of("listed"));
    expect(asked).toHaveLength(1);
    expect(asked[0]!.body).toMatchObject({
      type: "tickler.expand",
      run_id: run.run_id,
      payload: { team: "a" },
    });
    const sent = fx.sink.received.filter(of("listed"));
    expect(sent.map((r) => r.body.payload)).toEqual(
      expect.arrayContaining([
        { team: "a", key: "x" },
        { team: "a", key: "y" },
      ]),
    );

    listAnswer = { status: 200, body: JSON.stringify([{ key: "1" }, { key: "2" }, { key: "3" }]) };
    await fx.t.api("PUT", "/v1/users/u1/triggers/too-many", {
      prompt: "p",
      at: inMs(300),
      expand: { agent: "lister", max_expand: 2 },
    });
    const over = await finishedRun("too-many");
    expect(over.status).toBe("failed");
    expect(over.error).toContain("has 3 contexts, over max_expand 2");
    expect(over.attempts).toBe(1);
    expect(fx.sink.received.filter(of("too-many"))).toHaveLength(0);

    listAnswer = { status: 200, body: '{"feeds": []}' };
    await fx.t.api("PUT", "/v1/users/u1/triggers/not-a-list", {
      prompt: "p",
      at: inMs(300),
      expand: { agent: "lister" },
    });
    expect((await finishedRun("not-a-list")).error).toContain(
      "answered: its list: expected a list of contexts (JSON objects), got an object without contexts or items",
    );

    // An endpoint that fails retryably is asked again on the run's next attempt.
    listQueue.push({ status: 503, body: "{}" });
    listAnswer = { status: 200, body: JSON.stringify({ items: [{ key: "z" }] }) };
    await fx.t.api("PUT", "/v1/users/u1/triggers/list-later", {
      prompt: "p",
      at: inMs(300),
      expand: { agent: "lister" },
      retry: { attempts: 2, delay: "100ms", backoff: "fixed" },
    });
    const later = await finishedRun("list-later");
    expect(later).toMatchObject({ status: "succeeded", attempts: 2, children: { total: 1, succeeded: 1 } });
    expect(lister.received.filter(of("list-later"))).toHaveLength(2);
  });

  it("holds every child to its agent's max_in_flight", async () => {
    await fx.t.api("PUT", "/v1/users/u1/triggers/narrow", {
      prompt: "p",
      at: inMs(300),
      target: { agent: "narrow" },
      expand: { items: Array.from({ length: 24 }, (_, i) => ({ i })) },
    });
    const run = await finishedRun("narrow");
    expect(run).toMatchObject({ status: "succeeded", children: { total: 24, succeeded: 24 } });
    expect(narrow.received).toHaveLength(24);
    expect(mostInFlight).toBeGreaterThan(1);
    expect(mostInFlight).toBeLessThanOrEqual(3);
  });

  it("shows, changes and drops a fan-out like any field", async () => {
    const put = await fx.t.api("PUT", "/v1/users/u1/triggers/editable", {
      prompt: "p",
      every: "1h",
      expand: { items: [{ key: "a" }], max_expand: 5 },
    });
    expect(put.body.expand).toEqual({ items: [{ key: "a" }], max_expand: 5 });
    const same = await fx.t.api("PUT", "/v1/users/u1/triggers/editable", {
      prompt: "p",
      every: "1h",
      expand: { items: [{ key: "a" }], max_expand: 5 },
    });
    expect(same.body.result).toBe("unchanged");
    const patched = await fx.t.api("PATCH", "/v1/users/u1/triggers/editable", {
      expand: { agent: "lister" },
    });
    expect(patched.body.expand).toEqual({ agent: "lister", max_expand: 1000 });
    const dropped = await fx.t.api("PATCH", "/v1/users/u1/triggers/editable", { expand: null });
    expect(dropped.status).toBe(200);
    expect(dropped.body.expand).toBeNull();
  });

  it("refuses a bad expand with the field at fault, and stores nothing", async () => {
    const cases: [unknown, string, string][] = [
      [{}, "expand", "say where the contexts come from"],
      [{ items: [{}], agent: "lister" }, "expand", "not items and agent"],
      [{ items: [1] }, "expand.items[0]", ""],
      [{ items: [{ key: "a" }, { key: "a" }] }, "expand.items[1].key", 'key "a" is also expand.items[0]'],
      [{ items: [{ key: "has space" }] }, "expand.items[0].key", "a context's key is a name"],
      [{ items: [{}, {}, {}], max_expand: 2 }, "expand.items", "over max_expand 2"],
      [{ items: [], max_expand: 0 }, "expand.max_expand", ""],
      [{ agent: "nobody" }, "expand.agent", 'no agent "nobody"'],
      [{ url: "http://127.0.0.1:9/list" }, "expand.url", "explicit target URLs are off"],
      [{ agent: "lister", headers: { a: "b" } }, "expand.headers", "headers go with expand.url"],
    ];
    for (const [expand, field, message] of cases) {
      const res = await fx.t.api("PUT", "/v1/users/u1/triggers/bad-expand", {
        prompt: "p",
        delay: "1h",
        expand,
      });
      expect(res.status, JSON.stringify(expand)).toBe(400);
      expect(res.body.error.field, JSON.stringify(expand)).toBe(field);
      expect(res.body.error.message).toContain(message);
    }
    expect((await fx.t.api("GET", "/v1/users/u1/triggers/bad-expand")).status).toBe(404);
    const notChildren = await fx.t.api("GET", "/v1/runs/run_nope/children");
    expect(notChildren.status).toBe(404);
  });
});
