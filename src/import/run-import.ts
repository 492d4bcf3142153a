import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadConfig, type Config } from "../config/index.js";
import { openStores } from "../producer/stores.js";
import type { Producer } from "../producer/producer.js";
import { SYSTEM_CALLER } from "../producer/write-types.js";
import { IF_EXISTS, TicklerError, coerceError, parseTrigger, type IfExists } from "../triggers/index.js";
import {
  readAgno,
  readLoom,
  readProtopen,
  sourceOf,
  type ImportItem,
  type ImportSource,
  type ImportOptions,
  type ImportPlan,
} from "./sources.js";

export const IMPORT_HELP = `tickler import <file> [options] — moves another scheduler's schedules into tickler.

Reads, by the file's extension (or --from):
  *.yaml, *.yml       Loom scheduler config: each schedules[] entry (cron or interval_seconds) publishes its
                      goal or task to Loom's NATS subjects (dispatch_type goal → loom.goals.incoming,
                      task → loom.tasks.incoming); --url is the NATS server (default nats://127.0.0.1:4222)
  *.json              Agno schedule rows (GET /schedules): each row runs its AgentOS endpoint with
                      format: agentos; --url is the AgentOS base URL (default http://127.0.0.1:7777)
  *.db, *.sqlite      protoPen's jobs.db: each job (cron or ISO) is an A2A SendMessage to the agent's
                      own /a2a; --url is the agent's base URL (required unless --agent)

Options:
  --from loom|agno|protopen   the source, when the extension does not tell
  --user <id>                 whose triggers they become (default: Loom's scheduler name, Agno's
                              payload.user_id or "agno", protoPen's agent_name)
  --agent <name>              deliver to this agent of tickler.yaml instead of the source's endpoint
  --url <url>                 the source's endpoint (see above); own URLs need allow_target_urls: true
  --header "Name: value"      a header the HTTP endpoint needs (repeatable), e.g. "Authorization: Bearer …"
  --expand-url <base>         Loom: where the lists an entry's expand_from names are served; the entry fans
                              out (expand: {url: <base>/<expand_from>}) to each context that URL answers
  --if-exists update|skip|raise  what to do with a trigger of the same user and name (default update)
  --dry-run                   check every entry and say what would happen; store nothing

Prints one line per entry (created, updated, unchanged, skipped, could not map, refused, with why) and a
summary. Exits 0 when every entry was imported, 1 when any could not be, 2 on bad arguments.
Uses the usual environment (REDIS_URL, TICKLER_PREFIX, TICKLER_CONFIG).`;

/** The import's options from its flags, or what is wrong with them. */
function optionsFrom(values: {
  user?: string | undefined;
  agent?: string | undefined;
  url?: string | undefined;
  header?: string[] | undefined;
  "expand-url"?: string | undefined;
}): ImportOptions | { usage: string } {
  if (values.agent && values.url) return { usage: "give --agent or --url, not both" };
  const headers: Record<string, string> = {};
  for (const header of values.header ?? []) {
    const colon = header.indexOf(":");
    if (colon < 1) return { usage: `--header ${JSON.stringify(header)}: write it as "Name: value"` };
    headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  return {
    ...(values.user ? { user: values.user } : {}),
    ...(values.agent ? { agent: values.agent } : {}),
    ...(values.url ? { url: values.url } : {}),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    ...(values["expand-url"] ? { expandUrl: values["expand-url"] } : {}),
  };
}

/** What became of one entry. */
type Line = { entry: string; id?: string; outcome: string; detail?: string };

/** `tickler import <file>`: reads the file, upserts (or on --dry-run checks) its entries, reports each. */
export async function runImport(
  args: string[],
  print: (line: string) => void,
  fail: (line: string) => void,
  configOf: () => Config = loadConfig,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        from: { type: "string" },
        user: { type: "string" },
        agent: { type: "string" },
        url: { type: "string" },
        header: { type: "string", multiple: true },
        "expand-url": { type: "string" },
        "if-exists": { type: "string" },
        "dry-run": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (thrown) {
    fail(`tickler import: ${coerceError(thrown).message} (tickler import --help)`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    print(IMPORT_HELP);
    return 0;
  }
  const usage = (why: string) => {
    fail(`tickler import: ${why} (tickler import --help)`);
    return 2;
  };
  if (positionals.length !== 1) return usage("give exactly one file to import");
  const ifExists = values["if-exists"] ?? "update";
  if (!(IF_EXISTS as readonly string[]).includes(ifExists))
    return usage(`--if-exists ${ifExists}: use one of ${IF_EXISTS.join(", ")}`);
  const path = positionals[0]!;
  const source = sourceOf(path, values.from);
  if (typeof source !== "string") return usage(source.error);
  const options = optionsFrom(values);
  if ("usage" in options) return usage(options.usage);
  const read = readSource(source, path, options);
  if ("error" in read) {
    fail(`tickler import: ${path}: ${read.error}`);
    return 1;
  }

  let stores;
  try {
    stores = await openStores(configOf(), { role: "api", name: "tickler-import", timeoutMs: 5000 });
  } catch (thrown) {
    fail(`tickler import: ${coerceError(thrown).message}`);
    return 1;
  }
  try {
    const dryRun = values["dry-run"] === true;
    const lines: Line[] = read.unmapped.map(({ entry, why }) => ({
      entry,
      outcome: "could not map",
      detail: why,
    }));
    for (const item of read.items)
      lines.push(await (dryRun ? check : write)(stores.producer, item, ifExists as IfExists));
    for (const line of lines)
      print(
        `${line.outcome.padEnd(14)} ${line.id ?? "-"}  (${line.entry})${line.detail ? `: ${line.detail}` : ""}`,
      );
    print(summary(source, path, lines, dryRun));
    return lines.some((line) => line.outcome === "could not map" || line.outcome === "refused") ? 1 : 0;
  } finally {
    await stores.close();
  }
}

function readSource(
  source: ImportSource,
  path: string,
  options: ImportOptions,
): ImportPlan | { error: string } {
  if (source === "protopen") return readProtopen(path, options);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (thrown) {
    return { error: `cannot read it: ${coerceError(thrown).message}` };
  }
  return source === "loom" ? readLoom(text, options) : readAgno(text, options);
}

async function write(producer: Producer, item: ImportItem, ifExists: IfExists): Promise<Line> {
  const id = `${item.userId}/${item.name}`;
  try {
    const { status, note } = await producer.upsert(item.userId, item.name, item.body, { ifExists });
    const detail = [...item.notes, ...(note ? [note] : [])].join("; ");
    return { entry: item.entry, id, outcome: status, ...(detail ? { detail } : {}) };
  } catch (thrown) {
    return { entry: item.entry, id, outcome: "refused", detail: refusal(thrown) };
  }
}

/** A dry run's line: the entry validated as a write would, and whether a trigger of its name exists. */
async function check(producer: Producer, item: ImportItem, ifExists: IfExists): Promise<Line> {
  const id = `${item.userId}/${item.name}`;
  try {
    parseTrigger(item.body, item, producer.rules(SYSTEM_CALLER));
    const exists = await producer.get(item.userId, item.name).then(
      () => true,
      (thrown: unknown) =>
        thrown instanceof TicklerError && thrown.code === "not_found" ? false : Promise.reject(thrown),
    );
    const outcome = !exists
      ? "would create"
      : ifExists === "update"
        ? "would update"
        : ifExists === "skip"
          ? "would skip"
          : "refused";
    const notes = [
      ...item.notes,
      ...(exists && ifExists === "raise" ? ["it exists (--if-exists raise)"] : []),
    ];
    return { entry: item.entry, id, outcome, ...(notes.length > 0 ? { detail: notes.join("; ") } : {}) };
  } catch (thrown) {
    return { entry: item.entry, id, outcome: "refused", detail: refusal(thrown) };
  }
}

function refusal(thrown: unknown): string {
  if (!(thrown instanceof TicklerError)) throw thrown;
  return `${thrown.message} [${thrown.code}${thrown.field ? ` at ${thrown.field}` : ""}]`;
}

function summary(source: string, path: string, lines: Line[], dryRun: boolean): string {
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(line.outcome, (counts.get(line.outcome) ?? 0) + 1);
  const parts = [...counts].map(([outcome, count]) => `${count} ${outcome}`);
  return `${dryRun ? "dry run, nothing stored: " : ""}${source} ${path}: ${lines.length} entr${lines.length === 1 ? "y" : "ies"}${parts.length > 0 ? `, ${parts.join(", ")}` : ""}`;
}
