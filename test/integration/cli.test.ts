import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runTickler } from "../helpers/processes.js";

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

describe("the tickler command", () => {
  it("says its version, read from package.json", async () => {
    const { code, output } = await runTickler(["--version"], {});
    expect(code).toBe(0);
    expect(output.trim()).toBe(`tickler ${version}`);
  });

  it.each(
    [["--help"], ["all", "--help"], ["api", "--help"], ["worker", "--help"], ["mcp", "--help"]].map(
      (args) => [args.join(" "), args] as const,
    ),
  )("answers `tickler %s` with usage and exits 0", async (_label, args) => {
    const { code, output } = await runTickler(args, {});
    expect(code).toBe(0);
    expect(output).toMatch(/tickler/);
    expect(output.length).toBeGreaterThan(40);
  });

  it("refuses an unknown role with a line that says what to do", async () => {
    const { code, output } = await runTickler(["wroker"], {});
    expect(code).toBe(2);
    expect(output).toContain('unknown role "wroker"; use one of all, api, worker (tickler --help)');
  });
});
