import { describe, expect, it } from "vitest";
import { scheduleFor, type Scheduled } from "../../src/library/schedule.js";
import { callTool } from "../../src/tools/index.js";
import { TicklerError, kindOf, stateOf, upcomingFires } from "../../src/triggers/index.js";
import { useTickler } from "../helpers/tickler.js";

/** What both adapters answer, normalised: a write's status and trigger, or an error's code and field. */
type Answer =
  | { status: string; kind: string; state: string; next_fire_at: string | null; note?: string }
  | { error: { code: string; field?: string } };

/** The operations the contract covers, as each adapter performs them for one user. */
interface Adapter {
  once(name: string, prompt: string, delay: string | number): Promise<Answer>;
  heartbeat(name: string, every: string): Promise<Answer>;
  cron(name: string, cron: string, timezone: string): Promise<Answer>;
  get(name: string): Promise<Answer>;
  pause(name: string): Promise<Answer>;
  resume(name: string): Promise<Answer>;
  cancel(name: string): Promise<{ canceled: true } | { error: { code: string; field?: string } }>;
}

const pick = (body: Record<string, any>): Answer =>
  body.error
    ? { error: { code: body.error.code, ...(body.error.field ? { field: body.error.field } : {}) } }
    : {
        status: body.result ?? body.status ?? "read",
        kind: body.kind,
        state: body.state,
        next_fire_at: body.next_fire_at,
        ...(body.note ? { note: body.note } : {}),
      };

/**
 * The HTTP routes and the agent tools are two thin adapters over one producer: the same cases, run over
 * both, must come out the same.
 */
describe("one contract, over the REST API and over the agent tools", () => {
  const fx = useTickler("contract", { role: "api", file: { min_interval: "10s", max_triggers_per_user: 5 } });

  const rest = (user: string): Adapter => {
    const one = (name: string) => `/v1/users/${user}/triggers/${name}`;
    const put = async (name: string, body: Record<string, unknown>) =>
      pick((await fx.t.api("PUT", one(name), body)).body);
    return {
      once: (name, prompt, delay) => put(name, { prompt, delay }),
      heartbeat: (name, every) => put(name, { prompt: name, every }),
      cron: (name, cron, timezone) => put(name, { prompt: name, cron, timezone }),
      get: async (name) => pick({ ...(await fx.t.api("GET", one(name))).body, result: "read" }),
      pause: async (name) => pick((await fx.t.api("POST", `${one(name)}/pause`)).body),
      resume: async (name) => pick((await fx.t.api("POST", `${one(name)}/resume`)).body),
      cancel: async (name) => {
        const { body } = await fx.t.api("DELETE", one(name));
        return body.error ? pick(body) : { canceled: true };
      },
    } as Adapter;
  };
  const tools = (user: string): Adapter => {
    const call = async (tool: string, args: Record<string, unknown>) => {
      const reply = await callTool(fx.t.tickler.producer, tool, args, user);
      return "error" in reply ? reply : { result: reply.result };
    };
    const write = async (tool: string, args: Record<string, unknown>) => {
      const reply = await call(tool, args);
      return pick("error" in reply ? reply : reply.result);
    };
    return {
      once: (name, prompt, delay) => write("schedule_once", { name, prompt, delay }),
      heartbeat: (name, every) => write("schedule_heartbeat", { name, prompt: name, every }),
      cron: (name, cron, timezone) => write("schedule_cron", { name, prompt: name, cron, timezone }),
      get: async (name) => {
        const reply = await call("get_trigger", { name });
        return pick("error" in reply ? reply : { ...reply.result, status: "read" });
      },
      pause: (name) => write("pause_trigger", { name }),
      resume: (name) => write("resume_trigger", { name }),
      cancel: async (name) => {
        const reply = await call("cancel_trigger_by_name", { name });
        return "error" in reply ? pick(reply) : { canceled: true };
      },
    } as Adapter;
  };

  const library = (userId: string): Adapter => {
    const schedule = () => scheduleFor(fx.t.tickler.producer);
    const failed = (thrown: unknown): Answer => {
      if (!(thrown instanceof TicklerError)) throw thrown;
      return { error: { code: thrown.code, ...(thrown.field ? { field: thrown.field } : {}) } };
    };
    const answer = (call: () => Promise<Scheduled>): Promise<Answer> =>
      call().then(
        (done) => ({
          status: done.status,
          kind: done.kind,
          state: done.state,
          next_fire_at: done.nextFireAt?.toISOString() ?? null,
          ...(done.note ? { note: done.note } : {}),
        }),
        failed,
      );
    return {
      once: (name, prompt, delay) => answer(() => schedule().once({ userId, name, prompt, delay })),
      heartbeat: (name, every) => answer(() => schedule().heartbeat({ userId, name, prompt: name, every })),
      cron: (name, cron, timezone) =>
        answer(() => schedule().cron({ userId, name, prompt: name, cron, timezone })),
      get: (name) =>
        fx.t.tickler.producer.get(userId, name).then((record) => {
          const [next] = upcomingFires(record, Date.now(), 1);
          const next_fire_at = next === undefined ? null : new Date(next).toISOString();
          return { status: "read", kind: kindOf(record.spec), state: stateOf(record), next_fire_at };
        }, failed),
      pause: (name) => answer(() => schedule().pause({ userId, name })),
      resume: (name) => answer(() => schedule().resume({ userId, name })),
      cancel: (name) =>
        schedule()
          .cancel({ userId, name })
          .then(() => ({ canceled: true as const }), failed),
    } as Adapter;
  };

  describe.each([
    ["the REST API", rest],
    ["the agent tools", tools],
    ["the library's schedule calls", library],
  ] as const)("over %s", (label, adapterFor) => {
    const user =
      { "the REST API": "via-rest", "the agent tools": "via-tools" }[label as string] ?? "via-library";
    const adapter = () => adapterFor(user);

    it("creates, leaves an identical write unchanged, and updates a changed one", async () => {
      expect(await adapter().once("remind", "stretch", "1h")).toMatchObject({
        status: "created",
        kind: "once",
        state: "active",
      });
      expect(await adapter().once("remind", "stretch", "1h")).toMatchObject({ status: "unchanged" });
      expect(await adapter().once("remind", "stretch now", "1h")).toMatchObject({ status: "updated" });
      expect(await adapter().heartbeat("pulse", "15m")).toMatchObject({
        status: "created",
        kind: "heartbeat",
      });
      expect(await adapter().cron("standup", "0 9 * * 1-5", "America/New_York")).toMatchObject({
        status: "created",
        kind: "cron",
        next_fire_at: expect.any(String),
      });
    });

    it("answers bad input with the same error code and field", async () => {
      expect(await adapter().cron("bad", "0 9 * *", "UTC")).toEqual({
        error: { code: "invalid_cron", field: "cron" },
      });
      expect(await adapter().once("vague", "x", "soon")).toEqual({
        error: { code: "invalid_duration", field: "delay" },
      });
      expect(await adapter().heartbeat("fast", "1s")).toEqual({
        error: { code: "interval_too_short", field: "every" },
      });
      expect(await adapter().cron("tz", "0 9 * * *", "Mars/Phobos")).toMatchObject({
        error: { code: "invalid_timezone" },
      });
      expect(await adapter().get("nope")).toEqual({ error: { code: "not_found", field: "name" } });
    });

    it("pauses, resumes and cancels, after which the trigger is gone", async () => {
      expect(await adapter().pause("pulse")).toMatchObject({ state: "paused", next_fire_at: null });
      expect(await adapter().resume("pulse")).toMatchObject({
        state: "active",
        next_fire_at: expect.any(String),
      });
      expect(await adapter().cancel("pulse")).toEqual({ canceled: true });
      expect(await adapter().get("pulse")).toEqual({ error: { code: "not_found", field: "name" } });
      expect(await adapter().cancel("pulse")).toEqual({ error: { code: "not_found", field: "name" } });
    });

    it("refuses a trigger over the user's quota with quota_exceeded", async () => {
      for (const name of ["q1", "q2", "q3"]) await adapter().once(name, name, "1h");
      expect(await adapter().once("q4", "q4", "1h")).toMatchObject({ error: { code: "quota_exceeded" } });
    });
  });

  it("gives every adapter the same triggers for the same calls", async () => {
    const [viaRest, viaTools, viaLibrary] = await Promise.all([
      fx.t.tickler.producer.list("via-rest"),
      fx.t.tickler.producer.list("via-tools"),
      fx.t.tickler.producer.list("via-library"),
    ]);
    const shape = (items: typeof viaRest.items) =>
      items.map((record) => ({
        name: record.spec.name,
        prompt: record.spec.prompt,
        schedule: record.spec.schedule.written,
      }));
    expect(shape(viaTools.items)).toEqual(shape(viaRest.items));
    expect(shape(viaLibrary.items)).toEqual(shape(viaRest.items));
  });
});
