import { describe, expect, it } from "vitest";
import { useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

const ADMIN = "admin-token-board-0123456789";
const ALICE = "alice-token-board-0123456789";

describe("Bull Board at /admin/queues", () => {
  let answer = 400;
  const fx = useTickler("board", {
    sink: () => ({ status: answer }),
    file: () => ({
      tokens: [
        { token: ADMIN, role: "admin" },
        { token: ALICE, user_id: "alice" },
      ],
      agents: { default: { url: fx.sink.url } },
    }),
  });
  const admin = { authorization: `Bearer ${ADMIN}` };
  const basic = (password: string) => ({
    authorization: `Basic ${Buffer.from(`ops:${password}`).toString("base64")}`,
  });

  it("asks a browser to log in (401 with Basic), refuses user tokens (403), and serves admins", async () => {
    const anonymous = await fetch(`${fx.t.base}/admin/queues`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    expect(
      (await fetch(`${fx.t.base}/admin/queues`, { headers: basic("wrong-password-123456") })).status,
    ).toBe(401);
    expect(
      (await fetch(`${fx.t.base}/admin/queues`, { headers: { authorization: `Bearer ${ALICE}` } })).status,
    ).toBe(403);
    expect((await fetch(`${fx.t.base}/admin/queues`, { headers: basic(ALICE) })).status).toBe(403);

    const page = await fetch(`${fx.t.base}/admin/queues`, { headers: basic(ADMIN) });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain("tickler");
  });

  it("lists the fire queue and tickler's job schedulers", async () => {
    await fx.t.api("PUT", "/v1/users/alice/triggers/pulse", { prompt: "x", every: "1h" }, admin);
    const queues = (await (
      await fetch(`${fx.t.base}/admin/queues/api/queues`, { headers: admin })
    ).json()) as {
      queues: { name: string }[];
    };
    expect(queues.queues.map((queue) => queue.name)).toContain("fires");
    const schedulers = await (
      await fetch(`${fx.t.base}/admin/queues/api/job-schedulers`, { headers: admin })
    ).text();
    expect(schedulers).toContain("alice/pulse");
  });

  it("retries a failed fire from the board: delivered again under the same run, not counted twice", async () => {
    answer = 400;
    await fx.t.api("PUT", "/v1/users/alice/triggers/retry-me", { prompt: "x", delay: 0.1 }, admin);
    const failed = await waitFor(async () => {
      const res = await fx.t.api("GET", "/v1/users/alice/triggers/retry-me", undefined, admin);
      return res.body.last_status === "failed" ? res.body : null;
    }, "the fire to fail");
    expect(failed).toMatchObject({ state: "completed", fire_count: 1 });
    const [job] = (await fx.t.tickler.producer.fires.queue.getFailed()).filter(
      (j) => j.data.tid === "alice/retry-me",
    );

    answer = 200;
    const retry = await fetch(
      `${fx.t.base}/admin/queues/api/queues/fires/${encodeURIComponent(job!.id!)}/retry`,
      { method: "PUT", headers: admin },
    );
    expect(retry.status).toBe(204);
    const [first, second] = await fx.sink.waitForCount(
      2,
      10_000,
      (r) => (r.body.trigger as { name: string }).name === "retry-me",
    );
    expect(second!.headers["idempotency-key"]).toBe(first!.headers["idempotency-key"]);
    expect(second!.body.run_id).toBe(first!.body.run_id);

    const runs = await waitFor(async () => {
      const res = await fx.t.api("GET", "/v1/users/alice/triggers/retry-me/runs", undefined, admin);
      return res.body.items?.[0]?.status === "succeeded" ? res.body.items : null;
    }, "the run to be rewritten as succeeded");
    expect(runs).toHaveLength(1);
    expect(runs[0].attempts).toBe(2);
    const after = (await fx.t.api("GET", "/v1/users/alice/triggers/retry-me", undefined, admin)).body;
    expect(after).toMatchObject({ fire_count: 1, last_status: "succeeded" });
  });

  it("removes a failed fire from the board; its run stays in the runs API", async () => {
    answer = 400;
    await fx.t.api("PUT", "/v1/users/alice/triggers/remove-me", { prompt: "x", delay: 0.1 }, admin);
    const job = await waitFor(
      async () =>
        (await fx.t.tickler.producer.fires.queue.getFailed()).find((j) => j.data.tid === "alice/remove-me"),
      "the fire to fail",
    );
    const clean = await fetch(
      `${fx.t.base}/admin/queues/api/queues/fires/${encodeURIComponent(job.id!)}/clean`,
      { method: "PUT", headers: admin },
    );
    expect(clean.status).toBe(204);
    expect(await fx.t.tickler.producer.fires.queue.getJob(job.id!)).toBeUndefined();
    const runs = await fx.t.api("GET", "/v1/users/alice/triggers/remove-me/runs", undefined, admin);
    expect(runs.body.items[0]).toMatchObject({ status: "failed", http_status: 400 });
  });
});
