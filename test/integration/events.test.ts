import { afterAll, describe, expect, it } from "vitest";
import { openSse, type SseClient } from "../helpers/sse.js";
import { waitFor } from "../helpers/wait.js";
import { useTickler } from "../helpers/tickler.js";

const ADMIN = "admin-token-events-0123456789";
const ALICE = "alice-token-events-0123456789";

describe("GET /v1/events: live run events over SSE", () => {
  const fx = useTickler("events", {
    sink: (r) => ((r.body.prompt as string) === "flaky" && r.body.attempt === 1 ? { status: 503 } : {}),
    file: () => ({
      tokens: [
        { token: ADMIN, role: "admin" },
        { token: ALICE, user_id: "alice" },
      ],
      agents: { default: { url: fx.sink.url } },
      events: { keepalive: "200ms" },
    }),
  });
  const clients: SseClient[] = [];
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const open = async (path: string, headers: Record<string, string>) => {
    const client = await openSse(`${fx.t.base}${path}`, headers);
    clients.push(client);
    return client;
  };
  const runsOf = (client: SseClient) =>
    client.events.map((e) => JSON.parse(e.data) as { trigger_id: string; status: string; user_id: string });

  afterAll(() => {
    for (const client of clients) client.close();
  });

  it("sends one run event per state change, only the caller's own runs to a user", async () => {
    const alice = await open("/v1/events", as(ALICE));
    const admin = await open("/v1/events", as(ADMIN));
    expect(alice.status).toBe(200);
    await waitFor(() => alice.comments.includes("keep-alive"), "a keep-alive comment");

    await fx.t.api(
      "PUT",
      "/v1/users/alice/triggers/flaky",
      { prompt: "flaky", delay: 0.1, retry: { delay: 0.05 } },
      as(ADMIN),
    );
    await fx.t.api("PUT", "/v1/users/bob/triggers/other", { prompt: "other", delay: 0.1 }, as(ADMIN));

    await waitFor(() => runsOf(alice).some((r) => r.status === "succeeded"), "alice's run to succeed");
    const statuses = runsOf(alice)
      .filter((r) => r.trigger_id === "alice/flaky")
      .map((r) => r.status);
    expect(statuses).toEqual(["running", "retrying", "running", "succeeded"]);
    expect(alice.events.every((e) => e.event === "run" && /^\d+-\d+(_\d+-\d+)*$/.test(e.id ?? ""))).toBe(
      true,
    );

    await waitFor(
      () => runsOf(admin).some((r) => r.trigger_id === "bob/other" && r.status === "succeeded"),
      "the admin to see bob's run",
    );
    expect(runsOf(alice).some((r) => r.user_id !== "alice")).toBe(false);
  });

  it("refuses another user's stream (403) and anonymous callers (401)", async () => {
    expect((await open("/v1/events?user_id=bob", as(ALICE))).status).toBe(403);
    expect((await open("/v1/events", {})).status).toBe(401);
    expect((await open("/v1/events", { ...as(ALICE), "last-event-id": "not-an-id" })).status).toBe(400);
  });

  it("replays what a client missed when it reconnects with Last-Event-ID", async () => {
    const first = await open("/v1/events?user_id=carol", as(ADMIN));
    await fx.t.api("PUT", "/v1/users/carol/triggers/a", { prompt: "a", delay: 0.05 }, as(ADMIN));
    await waitFor(() => runsOf(first).some((r) => r.status === "succeeded"), "carol's first run");
    const lastId = first.events.at(-1)!.id!;
    first.close();

    await fx.t.api("PUT", "/v1/users/carol/triggers/b", { prompt: "b", delay: 0.05 }, as(ADMIN));
    await waitFor(
      async () =>
        (await fx.t.api("GET", "/v1/users/carol/triggers/b", undefined, as(ADMIN))).body.last_status ===
        "succeeded",
      "carol's second run",
    );

    const again = await open("/v1/events?user_id=carol", { ...as(ADMIN), "last-event-id": lastId });
    await waitFor(
      () => runsOf(again).some((r) => r.trigger_id === "carol/b" && r.status === "succeeded"),
      "the replay of the missed run",
    );
    expect(runsOf(again).map((r) => `${r.trigger_id}:${r.status}`)).toEqual([
      "carol/b:running",
      "carol/b:succeeded",
    ]);
  });
});
