import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { spawnTickler, writeConfig } from "../../helpers/processes.js";
import { REDIS_URL, removePrefix, testPrefix } from "../../helpers/tickler.js";
import { waitFor } from "../../helpers/wait.js";

const ROOT = new URL("../../../", import.meta.url).pathname;

/** Whether any process of the group led by `pgid` is still alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts `command` in a process group of its own (as a runner or a terminal does), collecting its output. */
function start(command: string, args: string[], env: Record<string, string>) {
  const child: ChildProcess = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, REDIS_URL, LOG_LEVEL: "info", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/**
 * SIGTERM must reach tickler itself whatever starts it: npm, a Procfile runner's shell, a wrapper that
 * forwards the signal it got as well as the terminal's. Otherwise node is left running as an orphan, or
 * cut off before its deliveries finish.
 */
describe("when tickler is started through npm or a Procfile runner and gets SIGTERM", () => {
  const prefix = testPrefix("signals");
  const groups: number[] = [];
  const env = () => ({ TICKLER_PREFIX: prefix, TICKLER_CONFIG: writeConfig({ min_interval: "1s" }) });
  afterAll(async () => {
    for (const pgid of groups) if (groupAlive(pgid)) process.kill(-pgid, "SIGKILL");
    await removePrefix(prefix);
  });

  const drains = async (run: ReturnType<typeof start>, ready: RegExp) => {
    groups.push(run.child.pid!);
    await waitFor(() => ready.test(run.output()) || run.child.exitCode !== null, "it to start", 120_000, 100);
    expect(run.output()).toMatch(ready);
    run.child.kill("SIGTERM"); // to npm, or to the runner's shell: not to the whole group
    await run.exited;
    // Nothing of it may be left behind, and tickler itself drained and said so.
    await waitFor(() => !groupAlive(run.child.pid!), "every process of it to exit", 15_000, 100);
    expect(run.output()).toMatch(/"msg":"draining/);
    expect(run.output()).toMatch(/"msg":"stopped"/);
  };

  it("npm start: node drains and exits, no orphan", async () => {
    await drains(start("npm", ["start"], env()), /tickler API listening/);
  }, 180_000);

  it.each(
    readFileSync(new URL("Procfile", `file://${ROOT}`), "utf8")
      .split("\n")
      .filter((line) => /^\w+:/.test(line))
      .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()]),
  )(
    "Procfile %s, run by a shell as honcho and foreman do: drains and exits, no orphan",
    async (_name, command) => {
      // dist/ was built by npm start above.
      await drains(start("sh", ["-c", command!], env()), /tickler (API listening|worker started)/);
    },
    60_000,
  );

  it("dist/ runs on its own, reading nothing from src/ (the build copies the Lua scripts and the console)", async () => {
    // dist/ was built by npm start above; a copy of it with nothing of src/ beside it.
    const dir = mkdtempSync(join(tmpdir(), "tickler-dist-"));
    cpSync(join(ROOT, "dist"), join(dir, "dist"), { recursive: true });
    cpSync(join(ROOT, "package.json"), join(dir, "package.json"));
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    const child = spawn(process.execPath, ["dist/cli.js", "all"], {
      cwd: dir,
      detached: true,
      env: { ...process.env, REDIS_URL, LOG_LEVEL: "info", PORT: "0", ...env() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    groups.push(child.pid!);
    let output = "";
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const url = await waitFor(() => /"url":"(http:[^"]+)"/.exec(output)?.[1], "the API to listen", 20_000);
    const put = await fetch(`${url}/v1/users/d/triggers/t`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "x", delay: "1h" }),
    });
    expect(put.status, output).toBe(201); // the write ran write-trigger.lua
    expect((await fetch(`${url}/console`)).status).toBe(200);
    expect((await fetch(`${url}/console/assets/console.js`)).status).toBe(200);
    child.kill("SIGTERM");
    await waitFor(() => !groupAlive(child.pid!), "it to stop", 15_000, 100);
  });

  it("a second SIGTERM right after the first (a wrapper forwarding it too) does not cut the drain short", async () => {
    const child = await spawnTickler("all", { ...env(), PORT: "0" });
    child.process.kill("SIGTERM");
    child.process.kill("SIGTERM");
    expect(await child.kill("SIGTERM")).toBe(0);
    expect(child.output()).not.toMatch(/second signal/);
    expect(child.output()).toMatch(/"msg":"stopped"/);
  });
});
