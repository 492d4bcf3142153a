import { readFileSync } from "node:fs";
import type { RedisClient } from "./connection.js";

/**
 * Tickler's own Lua scripts, one `.lua` file each beside this module (headers there say KEYS/ARGV/returns).
 * `uses` lists the `lib/` functions a script calls; they are prepended, so one write path (say, saving a
 * run) is written once and shared by the scripts that combine it with others into a single round trip.
 */
const SCRIPTS = {
  writeTrigger: { file: "write-trigger.lua", keys: 7, uses: [] },
  deleteTrigger: { file: "delete-trigger.lua", keys: 7, uses: [] },
  recordFire: { file: "record-fire.lua", keys: 2, uses: ["record-fire"] },
  releaseLock: { file: "release-lock.lua", keys: 1, uses: ["release-lock"] },
  saveRun: { file: "save-run.lua", keys: 3, uses: ["save-run"] },
  startRun: { file: "start-run.lua", keys: 4, uses: ["take-marker", "save-run"] },
  beginFire: { file: "begin-fire.lua", keys: 6, uses: ["take-marker", "save-run"] },
  finishRun: { file: "finish-run.lua", keys: 6, uses: ["save-run", "release-lock", "record-fire"] },
  agentAdmit: { file: "agent-admit.lua", keys: 4, uses: [] },
  agentDone: { file: "agent-done.lua", keys: 4, uses: [] },
} as const;

type ScriptName = keyof typeof SCRIPTS;
type Arg = string | number;

// Beside this module: src/redis/scripts/ from source (tests, tsx), dist/redis/scripts/ once built (the
// build copies them there), so dist/ reads nothing from src/.
const read = (file: string): string => readFileSync(new URL(`./scripts/${file}`, import.meta.url), "utf8");

const sources = new Map<ScriptName, string>();
function source(name: ScriptName): string {
  let lua = sources.get(name);
  if (lua === undefined) {
    const { file, uses } = SCRIPTS[name];
    lua = [...uses.map((lib) => read(`lib/${lib}.lua`)), read(file)].join("\n");
    sources.set(name, lua);
  }
  return lua;
}

const DEFINED = Symbol("tickler.scripts");

/**
 * Runs one of tickler's scripts on `redis` (EVALSHA, loading it on first use). Keys first, then arguments,
 * as the script's header lists them.
 */
export async function runScript<T = unknown>(
  redis: RedisClient,
  name: ScriptName,
  keys: readonly string[],
  args: readonly Arg[],
): Promise<T> {
  const tagged = redis as RedisClient & { [DEFINED]?: boolean };
  if (!tagged[DEFINED]) {
    for (const [scriptName, script] of Object.entries(SCRIPTS) as [
      ScriptName,
      (typeof SCRIPTS)[ScriptName],
    ][]) {
      redis.defineCommand(`tickler_${scriptName}`, { numberOfKeys: script.keys, lua: source(scriptName) });
    }
    tagged[DEFINED] = true;
  }
  if (keys.length !== SCRIPTS[name].keys)
    throw new Error(`script ${name} takes ${SCRIPTS[name].keys} keys, got ${keys.length}`);
  const command = (redis as unknown as Record<string, (...a: Arg[]) => Promise<T>>)[`tickler_${name}`];
  if (!command) throw new Error(`script ${name} is not defined`);
  return command.call(redis, ...keys, ...args);
}
