import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, expect } from "vitest";
import { startSink, type Responder, type Sink } from "./sink.js";
import { REDIS_URL, removePrefix, startTestTickler, testPrefix, type TestTickler } from "./tickler.js";
import { waitFor } from "./wait.js";

const CLI = new URL("../../src/cli.ts", import.meta.url).pathname;
/** tsx's loader by absolute path, so children started from any directory (or namespace) find it. */
const TSX = new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url).href;

/** Writes a YAML config file for child processes and returns its path. */
export function writeConfig(file: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "tickler-test-"));
  const path = join(dir, "tickler.yaml");
  writeFileSync(path, stringify(file));
  return path;
}

/** A `tickler <role>` child process, as a user would run it. */
export interface Child {
  process: ChildProcess;
  output: () => string;
  /** The API's base URL, from its "API listening" log line (api and all roles). */
  url: () => string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Spawns `tickler <role>` from source and resolves once it says it started. */
export async function spawnTickler(
  role: "worker" | "api" | "all",
  env: Record<string, string>,
  wrap: string[] = [],
): Promise<Child> {
  const command = [...wrap, process.execPath, "--import", TSX, CLI, role];
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, REDIS_URL, LOG_LEVEL: "info", ...testPartitions(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))),
  );
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`tickler ${role} exited early: ${output}`);
      return /tickler (worker started|API listening)/.test(output);
    },
    `tickler ${role} to start`,
    20_000,
  );
  return {
    process: child,
    output: () => output,
    url: () => {
      const match = /"url":"(http:\/\/[^"]+)","role"/.exec(output);
      if (!match) throw new Error(`no API url in the output: ${output}`);
      return match[1]!;
    },
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs `tickler <args>` from source to its end (or kills it after `timeoutMs`): exit code and output. */
export async function runTickler(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ["--import", TSX, CLI, ...args], {
    env: { ...process.env, REDIS_URL, LOG_LEVEL: "info", ...testPartitions(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (exit) => resolve(exit)));
  clearTimeout(timer);
  return { code, output };
}

/**
 * SIGKILLs a random one of `workers` every `everyMs` and starts a replacement in the background (a start
 * takes ~1–2 s), until stop(), which waits for the replacements and says which process died when (and
 * hands back the dead ones, whose output stays readable).
 */
export function killEvery(
  workers: Child[],
  env: Record<string, string>,
  everyMs: number,
): { stop(): Promise<{ kills: number; killedAt: Map<number, number>; killed: Child[] }> } {
  const killedAt = new Map<number, number>();
  const killed: Child[] = [];
  const spawning: Promise<void>[] = [];
  let killing = true;
  const killer = (async () => {
    while (killing) {
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      if (!killing || workers.length === 0) continue;
      const victim = workers.splice(Math.floor(Math.random() * workers.length), 1)[0]!;
      killedAt.set(victim.process.pid!, Date.now());
      killed.push(victim);
      await victim.kill("SIGKILL");
      spawning.push(spawnTickler("worker", env).then((worker) => void workers.push(worker)));
    }
  })();
  return {
    async stop() {
      killing = false;
      await killer;
      await Promise.all(spawning);
      return { kills: killedAt.size, killedAt, killed };
    },
  };
}

/** A fleet for a crash suite: see {@link useFleet}. */
export interface Fleet {
  readonly prefix: string;
  /** The recording agent, holding each request up to `holdMs`. */
  readonly sink: Sink;
  /** The API, in this process. */
  readonly api: TestTickler;
  /** The environment each worker child runs with (for replacements). */
  readonly env: Record<string, string>;
  /** The worker children alive now (a killer takes from and adds to this list). */
  readonly workers: Child[];
}

/**
 * An API in this process and `workers` worker processes on one prefix, with fast takeover settings
 * (lock_duration 3 s, stall checks every 1 s), delivering to a sink that holds each request a random while
 * up to `holdMs`: started in beforeAll, every child SIGKILLed and everything closed in afterAll.
 */
export function useFleet(
  label: string,
  {
    workers: count,
    holdMs,
    responder,
    agents = {},
    file: extra = {},
  }: {
    workers: number;
    holdMs: number;
    /** How the sink answers (default: 200 after a random hold up to `holdMs`). */
    responder?: Responder;
    /** More agents, by name, each given the sink's URL plus `/<name>` and its own settings. */
    agents?: Record<string, Record<string, unknown>>;
    /** More config (merged over the fleet's). */
    file?: Record<string, unknown>;
  },
): Fleet {
  const prefix = testPrefix(label);
  const workers: Child[] = [];
  let sink: Sink | undefined;
  let api: TestTickler | undefined;
  let env: Record<string, string> = {};
  beforeAll(async () => {
    sink = await startSink(responder ?? (() => ({ holdMs: Math.floor(Math.random() * holdMs) })));
    const more = Object.fromEntries(
      Object.entries(agents).map(([name, agent]) => [name, { url: `${sink!.url}/${name}`, ...agent }]),
    );
    const file = {
      min_interval: "1s",
      agents: { default: { url: sink.url, timeout: "5s" }, ...more },
      worker: { lock_duration: "3s", stalled_interval: "1s", max_stalled_count: 5 },
      ...extra,
    };
    api = await startTestTickler(prefix, file, "api");
    env = { TICKLER_PREFIX: prefix, TICKLER_CONFIG: writeConfig(file), TICKLER_CONCURRENCY: "50" };
    workers.push(...(await Promise.all(Array.from({ length: count }, () => spawnTickler("worker", env)))));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.kill("SIGKILL")));
    await api?.close();
    await sink?.close();
    await removePrefix(prefix);
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("useFleet: not started yet (it starts in beforeAll)");
    return value;
  };
  return {
    prefix,
    workers,
    get sink() {
      return started(sink);
    },
    get api() {
      return started(api);
    },
    get env() {
      return env;
    },
  };
}

/** The partition count the suite runs with (the cluster suite sets one), for child processes. */
export function testPartitions(): Record<string, string> {
  const partitions = process.env.TICKLER_TEST_PARTITIONS;
  return partitions ? { TICKLER_PARTITIONS: partitions } : {};
}

/**
 * Waits for every one-shot of `userId` in `ids` to complete (after the takeovers a fault suite caused),
 * then checks that each slot left exactly one run record, succeeded.
 */
export async function expectOneSucceededRunEach(
  fleet: Fleet,
  userId: string,
  ids: ReadonlySet<string> | readonly string[],
): Promise<void> {
  const all = [...ids];
  const records = await waitFor(
    async () => {
      const page = await fleet.api.tickler.producer.list(userId, { state: "completed" }, null, all.length);
      return page.items.length === all.length ? page.items : null;
    },
    "every one-shot to complete after the takeovers",
    60_000,
    250,
  );
  expect(records.every((record) => record.lastStatus === "succeeded")).toBe(true);
  for (const id of all) {
    const runs = await fleet.api.tickler.runs.list(id, null, 10);
    expect(runs.items, id).toHaveLength(1);
    expect(runs.items[0]!.status).toBe("succeeded");
  }
}
