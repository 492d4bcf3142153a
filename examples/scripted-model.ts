/**
 * A scripted "model" that calls tickler's tools the way an LLM would (no API key needed): it reads the tool
 * definitions, schedules a reminder, recovers from an error using the hint, previews and lists.
 *
 *   npx tsx examples/scripted-model.ts
 *
 * Environment: TICKLER_URL (default http://127.0.0.1:3000), TICKLER_TOKEN, TICKLER_USER (default demo).
 */
import { fileURLToPath } from "node:url";
import { callTool } from "./self-rescheduling-agent.js";

type Step = { say: string; tool: string; args: Record<string, unknown> };

/** The conversation: what the "model" says and which tool it calls. */
export const SCRIPT: Step[] = [
  {
    say: "User: remind me in 3 seconds to stretch.",
    tool: "schedule_once",
    args: { prompt: "Remind the user to stretch", when: "in 3s", payload: '{"round": 1}' },
  },
  {
    say: "User: and every weekday at 9 New York time, prepare my standup notes.",
    tool: "schedule_cron",
    args: {
      prompt: "Prepare the standup notes",
      cron: "0 9 * *",
      timezone: "America/New_York",
      name: "standup",
    },
  },
  {
    say: "(the model reads the hint and fixes the cron)",
    tool: "schedule_cron",
    args: {
      prompt: "Prepare the standup notes",
      cron: "0 9 * * 1-5",
      timezone: "America/New_York",
      name: "standup",
    },
  },
  {
    say: "User: when would 'every 15 minutes' fire?",
    tool: "preview_schedule",
    args: { when: "every 15 minutes", count: 3 },
  },
  { say: "User: what have I got scheduled?", tool: "list_triggers", args: {} },
];

export async function runScriptedModel(opts: {
  ticklerUrl: string;
  token?: string | undefined;
  user: string;
  log?: (line: string) => void;
}): Promise<Record<string, unknown>[]> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const definitions = (await (
    await fetch(`${opts.ticklerUrl}/v1/tools?format=openai`, {
      headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
    })
  ).json()) as { tools: { function: { name: string } }[] };
  log(`tools offered to the model: ${definitions.tools.map((t) => t.function.name).join(", ")}`);
  const results: Record<string, unknown>[] = [];
  for (const step of SCRIPT) {
    log(`\n${step.say}\n  → ${step.tool}(${JSON.stringify(step.args)})`);
    try {
      const result = await callTool(opts, step.tool, step.args);
      results.push(result);
      log(`  ← ${JSON.stringify(result)}`);
    } catch (error) {
      results.push({ error: (error as Error).message });
      log(`  ← error: ${(error as Error).message}`);
    }
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runScriptedModel({
    ticklerUrl: process.env.TICKLER_URL ?? "http://127.0.0.1:3000",
    token: process.env.TICKLER_TOKEN,
    user: process.env.TICKLER_USER ?? "demo",
  });
}
