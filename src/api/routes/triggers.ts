import type { WriteOutcome } from "../../producer/producer.js";
import { checkName, iso, recordToWire, triggerId } from "../../triggers/index.js";
import { assertAdmin, assertMayActOn } from "../auth.js";
import type { ApiContext } from "../context.js";
import { decodeCursor, encodeCursor, triggerParams } from "../http-input.js";
import { operation, parseJsonObject, requireJson, type AnyOperation, type Call } from "../operation.js";
import {
  canceledSchema,
  pageOf,
  previewInputSchema,
  previewSchema,
  querySchemas,
  runNowSchema,
  triggerBodySchema,
  triggerPatchSchema,
  triggerWireSchema,
  writeResultSchema,
} from "../schemas.js";

/** The path of one trigger. */
export const ONE = "/v1/users/{user_id}/triggers/{name}";

/** A write's answer: the trigger as it now stands, what the write did, and a note where it matters. */
function reply(outcome: WriteOutcome, now: number) {
  return {
    ...recordToWire(outcome.record, now),
    result: outcome.status,
    ...(outcome.note === undefined ? {} : { note: outcome.note }),
  };
}

/** The trigger a call addresses, once the caller may act on its user. */
function addressed(call: Call<unknown>): { userId: string; name: string } {
  const target = triggerParams(call.params);
  assertMayActOn(call.principal, target.userId);
  return target;
}

/** The trigger routes of §3: each is thin (check the caller, parse, call the producer, shape the reply). */
export const triggerOperations: AnyOperation<ApiContext>[] = [
  operation({
    method: "put",
    path: ONE,
    summary: "Create or replace a trigger",
    tag: "triggers",
    query: querySchemas.upsert,
    body: triggerBodySchema,
    ok: { 200: writeResultSchema, 201: writeResultSchema },
    errors: [400, 403, 409, 413, 415],
    async handler(call, { producer, now }: ApiContext) {
      const { userId, name } = addressed(call);
      const outcome = await producer.upsert(userId, name, requireJson(call.req), {
        ifExists: call.query.if_exists,
        caller: call.principal,
      });
      return { status: outcome.status === "created" ? 201 : 200, body: reply(outcome, now()) };
    },
  }),
  operation({
    method: "get",
    path: ONE,
    summary: "A trigger, with its next 5 fires",
    tag: "triggers",
    ok: { 200: triggerWireSchema },
    errors: [400, 403, 404],
    async handler(call, { producer, now }: ApiContext) {
      const { userId, name } = addressed(call);
      return { body: recordToWire(await producer.get(userId, name), now(), 5) };
    },
  }),
  operation({
    method: "patch",
    path: ONE,
    summary: "Change some fields of a trigger",
    tag: "triggers",
    body: triggerPatchSchema,
    ok: { 200: writeResultSchema },
    errors: [400, 403, 404, 409, 415],
    async handler(call, { producer, now }: ApiContext) {
      const { userId, name } = addressed(call);
      return {
        body: reply(await producer.patch(userId, name, requireJson(call.req), call.principal), now()),
      };
    },
  }),
  operation({
    method: "delete",
    path: ONE,
    summary: "Cancel a trigger",
    tag: "triggers",
    ok: { 200: canceledSchema },
    errors: [400, 403, 404],
    async handler(call, { producer }: ApiContext) {
      const { userId, name } = addressed(call);
      await producer.cancel(userId, name);
      return { body: { canceled: true, id: triggerId(userId, name) } };
    },
  }),
  operation({
    method: "post",
    path: `${ONE}/pause`,
    summary: "Pause: keep the definition, fire nothing",
    tag: "triggers",
    ok: { 200: writeResultSchema },
    errors: [400, 403, 404],
    async handler(call, { producer, now }: ApiContext) {
      const { userId, name } = addressed(call);
      return { body: reply(await producer.pause(userId, name), now()) };
    },
  }),
  operation({
    method: "post",
    path: `${ONE}/resume`,
    summary: "Resume a paused trigger",
    tag: "triggers",
    ok: { 200: writeResultSchema },
    errors: [400, 403, 404],
    async handler(call, { producer, now }: ApiContext) {
      const { userId, name } = addressed(call);
      return { body: reply(await producer.resume(userId, name), now()) };
    },
  }),
  operation({
    method: "post",
    path: `${ONE}/run`,
    summary: "Fire now (a manual run)",
    tag: "triggers",
    ok: { 202: runNowSchema },
    errors: [400, 403, 404],
    async handler(call, { producer }: ApiContext) {
      const { userId, name } = addressed(call);
      const run = await producer.runNow(userId, name);
      return {
        status: 202,
        body: {
          run_id: run.runId,
          idempotency_key: run.idempotencyKey,
          scheduled_at: iso(run.scheduledAtMs),
          manual: true,
        },
      };
    },
  }),
  operation({
    method: "get",
    path: "/v1/users/{user_id}/triggers",
    summary: "A user's triggers, in name order",
    tag: "triggers",
    query: querySchemas.list,
    ok: { 200: pageOf(triggerWireSchema) },
    errors: [400, 403],
    async handler(call, { producer, now }: ApiContext) {
      const { userId } = addressed(call);
      const q = call.query;
      const filter = { ...(q.kind ? { kind: q.kind } : {}), ...(q.state ? { state: q.state } : {}) };
      const page = await producer.list(userId, filter, decodeCursor(q.cursor), q.limit);
      return {
        body: {
          items: page.items.map((record) => recordToWire(record, now())),
          next_cursor: encodeCursor(page.nextCursor),
        },
      };
    },
  }),
  operation({
    method: "get",
    path: "/v1/triggers",
    summary: "All triggers (admin)",
    tag: "triggers",
    query: querySchemas.listAll,
    ok: { 200: pageOf(triggerWireSchema) },
    errors: [400, 403],
    async handler(call, { producer, now }: ApiContext) {
      assertAdmin(call.principal);
      const q = call.query;
      const page =
        q.user_id === undefined
          ? await producer.listAll(decodeCursor(q.cursor), q.limit)
          : await producer.list(checkName(q.user_id, "user_id"), {}, decodeCursor(q.cursor), q.limit);
      return {
        body: {
          items: page.items.map((record) => recordToWire(record, now())),
          next_cursor: encodeCursor(page.nextCursor),
        },
      };
    },
  }),
  operation({
    method: "post",
    path: "/v1/preview",
    summary: "Validate a schedule and list its next fires, storing nothing",
    tag: "schedules",
    body: previewInputSchema,
    ok: { 200: previewSchema },
    errors: [400, 415],
    handler(call, { producer }: ApiContext) {
      const { count, ...schedule } = parseJsonObject(
        call.req,
        previewInputSchema,
        "a JSON object with one of when, at, delay, every, cron",
      );
      const preview = producer.preview(schedule, count, call.principal);
      return { body: { kind: preview.kind, timezone: preview.timezone, next: preview.nextMs.map(iso) } };
    },
  }),
];
