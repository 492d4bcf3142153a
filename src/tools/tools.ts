import { z } from "zod";
import {
  DURATION_EXPECTED,
  TRIGGER_KINDS,
  TRIGGER_STATES,
  TicklerError,
  describeSchedule,
  invalid,
  iso,
  localTime,
  parseSchedule,
  triggerId,
} from "../triggers/index.js";
import { tool, type Tool } from "./tool.js";
import { caller, pick, summarize, upsert, writeResult } from "./tool-writes.js";

export type { Tool, ToolContext } from "./tool.js";
export { derivedName, summarize } from "./tool-writes.js";
export { parseArgs } from "./tool.js";

const WHEN_FORMS =
  'a delay ("30m", "in 2 hours", "1h30m", "PT45M", or a number of seconds such as 90) or a time ("2026-12-01T09:00:00Z", or "2026-12-01 09:00" read in timezone)';
/** A duration argument: the spellings models write, or a JSON number of seconds (as the REST API takes). */
const durationArg = z.union([z.string(), z.number()], { error: DURATION_EXPECTED });
const COMMON = {
  name: z
    .string()
    .nullish()
    .describe(
      "Optional name for the trigger (letters, digits, _ . : @ -). Reuse a name to update that trigger. Without one, a stable name is derived from the prompt and schedule, so repeating the same call updates instead of duplicating.",
    ),
  thread_key: z.string().nullish().describe("Optional conversation/thread id to resume when it fires"),
  channel: z.string().nullish().describe("Optional channel the turn belongs to (e.g. slack, email)"),
  payload: z
    .union([z.string(), z.record(z.string(), z.unknown())], {
      error: 'expected a JSON object, or one written as a string, e.g. {"ticket": 42}',
    })
    .nullish()
    .describe(
      'Optional JSON object delivered with the fire (also accepted as a JSON string), e.g. {"ticket": 42}',
    ),
};
const nameArg = z.string().describe("The trigger's name, as list_triggers shows it");

/** The tools, in the order they are listed to models. */
export const TOOLS = [
  tool({
    name: "schedule_once",
    example: { prompt: "Check whether the deploy finished", when: "in 30m" },
    description: `Schedule ONE future turn for yourself: at that time you receive the prompt as a new message. Use it for reminders and follow-ups ("remind me in 30 minutes", "check back tomorrow at 9"). Give exactly one of when, at or delay. when accepts ${WHEN_FORMS}. Vague times ("soon", "tomorrow morning") are refused: ask the user for a time. Returns the trigger id, its next fire in UTC and in its time zone, and whether it was created, updated or unchanged.`,
    input: z
      .object({
        prompt: z.string().describe("What you should do when it fires, written to your future self"),
        when: z
          .union([z.string(), z.number()], { error: `expected ${WHEN_FORMS}` })
          .nullish()
          .describe(`When to fire: ${WHEN_FORMS}`),
        at: z
          .string()
          .nullish()
          .describe('An ISO-8601 time, e.g. "2026-12-01T09:00:00Z"; without offset read in timezone'),
        delay: durationArg
          .nullish()
          .describe('A delay from now, e.g. "30m", "2 hours", "PT45M", or a number of seconds such as 90'),
        timezone: z
          .string()
          .nullish()
          .describe('IANA time zone for times without an offset, e.g. "America/New_York"'),
        ...COMMON,
      })
      .strict(),
    async handler(args, ctx) {
      const schedule = pick(args, ["when", "at", "delay"]);
      const form = parseSchedule({ ...schedule, timezone: args.timezone }, ctx.producer.rules(caller(ctx)))
        .written.form;
      if (form !== "at" && form !== "delay") {
        throw invalid(
          "invalid_schedule",
          "when",
          `"${String(schedule.when)}" repeats; use schedule_${form === "every" ? "heartbeat" : "cron"} for a recurring turn`,
        );
      }
      return writeResult(await upsert(ctx, "once", args, { ...schedule, timezone: args.timezone }));
    },
  }),
  tool({
    name: "schedule_heartbeat",
    example: { prompt: "Anything new in the inbox?", every: "15m" },
    description:
      'Schedule a recurring turn every fixed period ("every 15 minutes", "every 2h"), e.g. to poll an inbox or check on a long task. every accepts "15m", "2h", "1h30m", "every 15 minutes" (minimum interval applies). Optional start_at is the first fire (ISO-8601); otherwise the first fire is one period from now. Returns the trigger id and next fire.',
    input: z
      .object({
        prompt: z.string().describe("What you should do at each fire"),
        every: durationArg.describe(
          'The period, e.g. "15m", "2h", "every 30 minutes", or a number of seconds such as 900',
        ),
        start_at: z.string().nullish().describe("Optional ISO-8601 time of the first fire"),
        ...COMMON,
      })
      .strict(),
    async handler(args, ctx) {
      return writeResult(
        await upsert(ctx, "heartbeat", args, { every: args.every, start_at: args.start_at }),
      );
    },
  }),
  tool({
    name: "schedule_cron",
    example: { prompt: "Prepare the standup notes", cron: "0 9 * * 1-5", timezone: "America/New_York" },
    description:
      'Schedule a recurring turn on a calendar pattern, with a 5-field cron expression "minute hour day-of-month month day-of-week" in a time zone: "0 9 * * 1-5" is 09:00 on weekdays, "0 9 * * MON-FRI" too, "30 17 * * FRI" is Fridays 17:30, "0 8 1 * *" the 1st of each month; macros "@daily", "@hourly", "@weekly" work. Returns the trigger id, the schedule in words and the next fire in UTC and local time.',
    input: z
      .object({
        prompt: z.string().describe("What you should do at each fire"),
        cron: z.string().describe('A cron expression, e.g. "0 9 * * 1-5"'),
        timezone: z
          .string()
          .nullish()
          .describe('IANA time zone the pattern is read in, e.g. "Europe/Berlin" (default UTC)'),
        ...COMMON,
      })
      .strict(),
    async handler(args, ctx) {
      return writeResult(await upsert(ctx, "cron", args, { cron: args.cron, timezone: args.timezone }));
    },
  }),
  tool({
    name: "list_triggers",
    example: { state: "active" },
    description:
      "List your scheduled triggers (name, kind, schedule in words, next fire, state). Filter by kind (once, heartbeat, cron) or state (active, paused, completed).",
    input: z
      .object({ kind: z.enum(TRIGGER_KINDS).nullish(), state: z.enum(TRIGGER_STATES).nullish() })
      .strict(),
    async handler(args, ctx) {
      const filter = {
        ...(args.kind ? { kind: args.kind } : {}),
        ...(args.state ? { state: args.state } : {}),
      };
      const page = await ctx.producer.list(ctx.userId, filter, null, 100);
      return {
        count: page.items.length,
        more: page.nextCursor !== null,
        triggers: page.items.map((record) => summarize(record)),
      };
    },
  }),
  tool({
    name: "get_trigger",
    example: { name: "standup" },
    description:
      "Show one of your triggers by name: its prompt, schedule, next fires, state, last status and fire count.",
    input: z.object({ name: nameArg }).strict(),
    async handler(args, ctx) {
      const record = await ctx.producer.get(ctx.userId, args.name);
      return {
        ...summarize(record, 3),
        prompt: record.spec.prompt,
        last_status: record.lastStatus,
        fire_count: record.fireCount,
      };
    },
  }),
  tool({
    name: "cancel_trigger",
    example: { id: "alice/standup" },
    description:
      'Cancel one of your triggers by its id ("user/name", as the schedule tools return it). Nothing fires afterwards.',
    input: z.object({ id: z.string().describe('The trigger id, "user/name"') }).strict(),
    async handler(args, ctx) {
      const slash = args.id.indexOf("/");
      const [userId, name] =
        slash < 0 ? [ctx.userId, args.id] : [args.id.slice(0, slash), args.id.slice(slash + 1)];
      // Another user's id gets the same answer as a missing one: a tool never reveals other users' triggers.
      if (userId !== ctx.userId)
        throw new TicklerError("not_found", `no trigger "${args.id}" of yours; list_triggers shows them`, {
          field: "id",
        });
      await ctx.producer.cancel(userId, name);
      return { canceled: true, id: triggerId(userId, name) };
    },
  }),
  tool({
    name: "cancel_trigger_by_name",
    example: { name: "standup" },
    description: "Cancel one of your triggers by name. Nothing fires afterwards.",
    input: z.object({ name: nameArg }).strict(),
    async handler(args, ctx) {
      await ctx.producer.cancel(ctx.userId, args.name);
      return { canceled: true, id: triggerId(ctx.userId, args.name) };
    },
  }),
  tool({
    name: "pause_trigger",
    example: { name: "standup" },
    description:
      "Pause one of your triggers: it keeps its definition and fires nothing until resume_trigger.",
    input: z.object({ name: nameArg }).strict(),
    async handler(args, ctx) {
      return writeResult(await ctx.producer.pause(ctx.userId, args.name));
    },
  }),
  tool({
    name: "resume_trigger",
    example: { name: "standup" },
    description:
      "Resume one of your paused triggers (see list_triggers with state paused). Returns its next fire.",
    input: z.object({ name: nameArg }).strict(),
    async handler(args, ctx) {
      return writeResult(await ctx.producer.resume(ctx.userId, args.name));
    },
  }),
  tool({
    name: "preview_schedule",
    example: { when: "0 9 * * 1-5", timezone: "Europe/Berlin" },
    description: `Check a schedule without creating anything: returns its kind, the schedule in words and the next fire times (UTC and local). Give one of when (${WHEN_FORMS}, "every 15m", or a cron expression), cron or every. Use it to confirm with the user before scheduling.`,
    input: z
      .object({
        when: z
          .union([z.string(), z.number()], {
            error: `expected ${WHEN_FORMS}, "every 15m" or a cron expression`,
          })
          .nullish()
          .describe('e.g. "in 30m", "every 15m", "0 9 * * 1-5", "2026-12-01 09:00", or a number of seconds'),
        cron: z.string().nullish(),
        every: durationArg.nullish(),
        timezone: z.string().nullish().describe("IANA time zone"),
        count: z.number().int().min(1).max(20).nullish().describe("How many fire times (default 5)"),
      })
      .strict(),
    async handler(args, ctx) {
      const preview = ctx.producer.preview(
        { ...pick(args, ["when", "cron", "every"]), timezone: args.timezone },
        args.count ?? 5,
        caller(ctx),
      );
      const schedule =
        preview.kind === "cron"
          ? describeSchedule({
              kind: "cron",
              cron: String(args.cron ?? args.when).trim(),
              timezone: preview.timezone,
            })
          : undefined;
      return {
        kind: preview.kind,
        timezone: preview.timezone,
        ...(schedule ? { summary: schedule } : {}),
        next: preview.nextMs.map((ms) => ({ utc: iso(ms), local: localTime(ms, preview.timezone) })),
      };
    },
  }),
] as const satisfies readonly Tool[];

/** The name of a tool. */
export type ToolName = (typeof TOOLS)[number]["name"];
