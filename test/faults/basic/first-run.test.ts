import { afterAll, describe, expect, it } from "vitest";
import { spawnTickler, writeConfig, type Child } from "../../helpers/processes.js";
import { apiClient, removePrefix, testPrefix } from "../../helpers/tickler.js";
import { waitFor } from "../../helpers/wait.js";

/**
 * A new user's first run: `npm start` before writing tickler.yaml. The process must say at start that fires
 * have nowhere to go, and say why the first fire failed, in its own log (not only in /runs).
 */
describe("when tickler starts with no agent configured", () => {
  const prefix = testPrefix("first");
  let child: Child | undefined;
  afterAll(async () => {
    await child?.kill("SIGKILL");
    await removePrefix(prefix);
  });

  it("warns at start-up, and logs the failed fire at warn with the reason and the fix", async () => {
    child = await spawnTickler("all", {
      TICKLER_PREFIX: prefix,
      TICKLER_CONFIG: writeConfig({ min_interval: "1s" }),
      PORT: "0",
    });
    const lines = () => child!.output().split("\n").filter(Boolean);
    const startup = lines().find((line) => /no default agent/.test(line));
    expect(startup, child.output()).toBeDefined();
    expect(JSON.parse(startup!)).toMatchObject({ level: 40 });
    expect(startup).toContain("agents:");

    const api = apiClient(() => child!.url());
    expect(
      (await api("PUT", "/v1/users/alice/triggers/stretch", { prompt: "stretch", delay: 0.2 })).status,
    ).toBe(201);
    const failed = await waitFor(
      () => lines().find((line) => /delivery failed/.test(line) && /alice\/stretch/.test(line)),
      "the failed delivery in the log",
      10_000,
    );
    expect(JSON.parse(failed)).toMatchObject({
      level: 40,
      error: expect.stringContaining('no agent "default" in config: add agents.default'),
    });
  });
});
