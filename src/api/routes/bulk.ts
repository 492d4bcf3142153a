import type { z } from "zod";
import { redriveWhere, setEnabledWhere, type BulkFilter } from "../../producer/bulk.js";
import { TicklerError } from "../../triggers/index.js";
import { assertAdmin } from "../auth.js";
import type { ApiContext } from "../context.js";
import { operation, parseJsonObject, type AnyOperation, type Call } from "../operation.js";
import { bulkFilterSchema, bulkResultSchema, redriveInputSchema, redriveResultSchema } from "../schemas.js";

/** A bulk body, validated (none at all: every trigger). */
function bodyOf<T extends z.ZodType>(call: Call<unknown>, schema: T): z.infer<T> {
  return parseJsonObject(call.req, schema, 'a JSON object, e.g. {"agent": "default", "dry_run": true}');
}

function filterOf(body: {
  user_id?: string | undefined;
  agent?: string | undefined;
  kind?: BulkFilter["kind"] | undefined;
  state?: BulkFilter["state"] | undefined;
  metadata?: Record<string, string> | undefined;
}): BulkFilter {
  return {
    ...(body.user_id === undefined ? {} : { userId: body.user_id }),
    ...(body.agent === undefined ? {} : { agent: body.agent }),
    ...(body.kind === undefined ? {} : { kind: body.kind }),
    ...(body.state === undefined ? {} : { state: body.state }),
    ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
  };
}

/** Bulk operations for operators (admin): pause, resume and re-drive by user, agent, kind, state, metadata. */
export const bulkOperations: AnyOperation<ApiContext>[] = [
  ...([true, false] as const).map((enabled) =>
    operation({
      method: "post",
      path: enabled ? "/v1/triggers/resume" : "/v1/triggers/pause",
      summary: `${enabled ? "Resume" : "Pause"} every trigger matching a filter (admin; dry_run counts first)`,
      tag: "operations",
      body: bulkFilterSchema,
      ok: { 200: bulkResultSchema },
      errors: [400, 403, 415],
      async handler(call, { producer }: ApiContext) {
        assertAdmin(call.principal);
        const body = bodyOf(call, bulkFilterSchema);
        return { body: await setEnabledWhere(producer, filterOf(body), enabled, body.dry_run ?? false) };
      },
    }),
  ),
  operation({
    method: "post",
    path: "/v1/runs/redrive",
    summary:
      "Deliver again the failed runs since a time of the triggers matching a filter (admin; dry_run counts first)",
    tag: "operations",
    body: redriveInputSchema,
    ok: { 200: redriveResultSchema },
    errors: [400, 403, 415],
    async handler(call, { producer, runs }: ApiContext) {
      assertAdmin(call.principal);
      const body = bodyOf(call, redriveInputSchema);
      const since = Date.parse(body.since);
      if (Number.isNaN(since))
        throw new TicklerError(
          "invalid_field",
          `since: expected an ISO time such as "2026-06-15T14:00:00Z", got "${body.since}"`,
          {
            field: "since",
          },
        );
      return { body: await redriveWhere(producer, runs, filterOf(body), since, body.dry_run ?? false) };
    },
  }),
];
