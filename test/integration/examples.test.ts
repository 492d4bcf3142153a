import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScriptedModel } from "../../examples/scripted-model.js";
import { startAgent } from "../../examples/self-rescheduling-agent.js";
import { useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

describe("the examples: a scripted model and a self-rescheduling agent", () => {
  let agent: Awaited<ReturnType<typeof startAgent>>;
  const options = { ticklerUrl: "", user: "demo", rounds: 3, port: 0, log: (_line: string) => undefined };

  beforeAll(async () => {
    agent = await startAgent(options);
  });
  afterAll(async () => {
    await agent?.close();
  });
  const fx = useTickler("examples", { file: () => ({ agents: { default: { url: agent.url } } }) });
  beforeAll(() => {
    options.ticklerUrl = fx.t.base;
  });

  it("plays the whole loop: the model schedules, the agent is woken and schedules its own follow-up", async () => {
    const results = await runScriptedModel(options);
    expect(results[0]).toMatchObject({ status: "created", kind: "once" });
    expect(String(results[1]?.error)).toContain('did you mean "0 9 * * *"');
    expect(results[2]).toMatchObject({
      kind: "cron",
      summary: expect.stringContaining("every weekday at 09:00 America/New_York"),
    });
    expect(results[3]).toMatchObject({ kind: "heartbeat" });
    expect((results[4] as { count: number }).count).toBe(2);

    // Every round: the reminder, then each follow-up the agent schedules under the same name (the second
    // re-arms the first, which had fired: same delay, new prompt and payload).
    await waitFor(() => agent.fires.length >= 3, "the reminder and the agent's own follow-ups", 20_000);
    expect(agent.fires.map((fire) => fire.prompt)).toEqual([
      "Remind the user to stretch",
      "Follow-up #2: check whether the user answered",
      "Follow-up #3: check whether the user answered",
    ]);
  });
});
