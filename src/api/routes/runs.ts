import { runToWire, type RunRecord } from "../../runs/run-store.js";
import { TicklerError, checkName, triggerId } from "../../triggers/index.js";
import type { Principal } from "../../config/index.js";
import { assertMayActOn } from "../auth.js";
import type { ApiContext } from "../context.js";
import { decodeCursor, encodeCursor, triggerParams } from "../http-input.js";
import { operation, type AnyOperation } from "../operation.js";
import { pageOf, querySchemas, runWireSchema } from "../schemas.js";
import { ONE } from "./triggers.js";

/** Run history, one run, and the live stream of run events. */
export const runOperations: AnyOperation<ApiContext>[] = [
  operation({
    method: "get",
    path: `${ONE}/runs`,
    summary: "A trigger's run history, newest first",
    tag: "runs",
    query: querySchemas.runs,
    ok: { 200: pageOf(runWireSchema) },
    errors: [400, 403, 404],
    async handler(call, { producer, runs }: ApiContext) {
      const { userId, name } = triggerParams(call.params);
      assertMayActOn(call.principal, userId);
      await producer.get(userId, name);
      const page = await runs.list(
        triggerId(userId, name),
        decodeCursor(call.query.cursor),
        call.query.limit,
      );
      return { body: { items: page.items.map(runToWire), next_cursor: encodeCursor(page.nextCursor) } };
    },
  }),
  operation({
    method: "get",
    path: "/v1/runs/{run_id}",
    summary: "One run",
    tag: "runs",
    ok: { 200: runWireSchema },
    errors: [404],
    async handler(call, { runs }: ApiContext) {
      return { body: runToWire(await visibleRun(call, runs)) };
    },
  }),
  operation({
    method: "get",
    path: "/v1/runs/{run_id}/children",
    summary: "A fan-out run's children: one run per context, in the contexts' order",
    tag: "runs",
    query: querySchemas.runs,
    ok: { 200: pageOf(runWireSchema) },
    errors: [400, 404],
    async handler(call, { runs }: ApiContext) {
      const parent = await visibleRun(call, runs);
      const cursor = decodeCursor(call.query.cursor);
      if (cursor !== null && !/^\d{1,6}$/.test(cursor))
        throw new TicklerError("invalid_field", "query.cursor: not a cursor from a previous page", {
          field: "query.cursor",
        });
      const page = await runs.children(parent, cursor, call.query.limit);
      return { body: { items: page.items.map(runToWire), next_cursor: encodeCursor(page.nextCursor) } };
    },
  }),
  operation({
    method: "get",
    path: "/v1/events",
    summary: "Server-Sent Events: one `run` event per run state change",
    tag: "runs",
    query: querySchemas.events,
    ok: { 200: null },
    produces: "text/event-stream",
    errors: [400, 403],
    async handler({ req, res, query, principal }, { events, config }: ApiContext) {
      const { user_id: asked, last_event_id } = query;
      if (asked !== undefined) assertMayActOn(principal, checkName(asked, "user_id"));
      // Users see only their own runs; admins see everyone's, or one user's with ?user_id=.
      const only = principal?.role === "user" ? principal.userId : asked;
      const lastEventId = req.get("last-event-id") ?? last_event_id;
      if (lastEventId !== undefined && !events.isEventId(lastEventId)) {
        throw new TicklerError("invalid_field", "Last-Event-ID: not an event id from this stream", {
          field: "last_event_id",
        });
      }
      res.set({
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache, no-transform",
        Connection: "keep-alive",
        "X-Accel-Buffering": "no",
      });
      res.flushHeaders();
      res.write(`retry: 3000\n\n`);
      const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), config.events.keepAliveMs);
      const unsubscribe = await events.subscribe(
        (event) => only === undefined || event.userId === only,
        (event) => res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${event.data}\n\n`),
        () => res.end(),
        lastEventId,
      );
      req.on("close", () => {
        clearInterval(keepAlive);
        unsubscribe();
      });
    },
  }),
];

/**
 * The run a path's `run_id` names, if the caller may see it. A user asking for another user's run learns
 * nothing about its existence: 404, not 403.
 */
async function visibleRun(
  call: { params: Record<string, string | undefined>; principal?: Principal | null },
  runs: ApiContext["runs"],
): Promise<RunRecord> {
  const runId = call.params.run_id ?? "";
  const run = await runs.get(runId); // null for anything that is not one of our run ids
  if (!run || (call.principal?.role === "user" && call.principal.userId !== run.userId)) {
    throw new TicklerError("not_found", `no run ${JSON.stringify(runId.slice(0, 64))}`, {
      field: "run_id",
    });
  }
  return run;
}
