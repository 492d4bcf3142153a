import Database from "better-sqlite3";
import { parse as parseYaml } from "yaml";
import { NAME_PATTERN, coerceError } from "../triggers/index.js";

/** The schedulers `tickler import` reads. */
export const IMPORT_SOURCES = ["loom", "agno", "protopen"] as const;
export type ImportSource = (typeof IMPORT_SOURCES)[number];

/** Where the imported triggers deliver, and whose they are. */
export interface ImportOptions {
  /** The user the triggers belong to (each source has its own default). */
  user?: string;
  /** A configured agent every trigger targets (instead of the source's own endpoint). */
  agent?: string;
  /** The source's endpoint: Loom's NATS URL, AgentOS's base URL, the protoPen agent's base URL. */
  url?: string;
  /** Headers an HTTP endpoint of the source needs (AgentOS's or protoPen's `Authorization`). */
  headers?: Record<string, string>;
  /** Loom: the base URL serving the lists `expand_from` names (`<base>/<expand_from>` answers a list). */
  expandUrl?: string;
}

/** One entry of the source, as a trigger to upsert. */
export interface ImportItem {
  /** Where in the source it came from (`schedules[0] hourly_summarize`). */
  entry: string;
  userId: string;
  name: string;
  body: Record<string, unknown>;
  /** What the mapping changed that a reader would not guess (a renamed entry). */
  notes: string[];
}

/** What a source held: the entries that map to triggers, and those that do not (with why). */
export interface ImportPlan {
  items: ImportItem[];
  unmapped: { entry: string; why: string }[];
}

/** The source a file is, by its extension, unless `--from` says. */
export function sourceOf(path: string, from?: string): ImportSource | { error: string } {
  if (from !== undefined)
    return (IMPORT_SOURCES as readonly string[]).includes(from)
      ? (from as ImportSource)
      : { error: `--from ${from}: use one of ${IMPORT_SOURCES.join(", ")}` };
  if (/\.ya?ml$/i.test(path)) return "loom";
  if (/\.json$/i.test(path)) return "agno";
  if (/\.(db|sqlite3?)$/i.test(path)) return "protopen";
  return { error: `cannot tell what ${path} is from its name: add --from ${IMPORT_SOURCES.join("|")}` };
}

/** A trigger name from a source's name: characters tickler does not allow become "-". */
function nameFrom(raw: unknown, notes: string[]): string | null {
  if (typeof raw !== "string" || raw.trim() === "") return null;
  const name = raw
    .trim()
    .replace(/[^A-Za-z0-9_.:@-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 128);
  if (!NAME_PATTERN.test(name)) return null;
  if (name !== raw) notes.push(`named ${name} (from ${JSON.stringify(raw)})`);
  return name;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/** Builds a plan entry by entry: a mapper returns the item or says why the entry does not map. */
function plan<T>(
  entries: readonly T[],
  label: (entry: T, index: number) => string,
  map: (entry: T, notes: string[]) => Omit<ImportItem, "entry" | "notes"> | string,
): ImportPlan {
  const out: ImportPlan = { items: [], unmapped: [] };
  entries.forEach((entry, index) => {
    const notes: string[] = [];
    const where = label(entry, index);
    const mapped = map(entry, notes);
    if (typeof mapped === "string") out.unmapped.push({ entry: where, why: mapped });
    else out.items.push({ entry: where, notes, ...mapped });
  });
  return out;
}

const LOOM_FIELDS = new Set([
  "name",
  "cron",
  "interval_seconds",
  "dispatch_type",
  "goal",
  "task",
  "description",
  "expand_from",
]);

/**
 * A Loom entry's `expand_from` (the list of contexts its dispatch fans out to) as tickler's fan-out: the
 * list fetched at fire time from `<--expand-url>/<expand_from>`. Without --expand-url it cannot map.
 */
function loomExpand(from: unknown, options: ImportOptions): { expand?: Record<string, unknown> } | string {
  if (from === undefined) return {};
  if (typeof from !== "string" || from === "") return "expand_from must name a list";
  if (!options.expandUrl)
    return `expand_from ${JSON.stringify(from)} fans out to a list Loom reads at dispatch time: serve that list (a JSON array of contexts) and pass --expand-url <base>, so each fire fetches <base>/${from}`;
  const base = options.expandUrl.replace(/\/+$/, "");
  return {
    expand: {
      url: `${base}/${encodeURIComponent(from)}`,
      ...(options.headers ? { headers: options.headers } : {}),
    },
  };
}

/**
 * Loom's scheduler YAML (`name`, `schedules: [{name, cron | interval_seconds, dispatch_type, goal | task}]`):
 * each entry publishes its goal or task to Loom's NATS subjects, as Loom's SchedulerActor does; an entry
 * with `expand_from` fans out to the list served at `--expand-url`.
 */
export function readLoom(text: string, options: ImportOptions): ImportPlan | { error: string } {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (thrown) {
    return { error: `not valid YAML: ${coerceError(thrown).message.split("\n")[0]}` };
  }
  if (!isObject(doc) || !Array.isArray(doc.schedules))
    return { error: "not a Loom scheduler config: expected a `schedules:` list (and a `name:`)" };
  const userId = options.user ?? (typeof doc.name === "string" ? doc.name : "loom");
  const entries = doc.schedules as unknown[];
  return plan(
    entries,
    (entry, i) =>
      `schedules[${i}]${isObject(entry) && typeof entry.name === "string" ? ` ${entry.name}` : ""}`,
    (entry, notes) => {
      if (!isObject(entry)) return "not a mapping";
      const expand = loomExpand(entry.expand_from, options);
      if (typeof expand === "string") return expand;
      const unknown = Object.keys(entry).filter((key) => !LOOM_FIELDS.has(key));
      if (unknown.length > 0) return `unknown field(s) ${unknown.join(", ")}`;
      const name = nameFrom(entry.name, notes);
      if (name === null) return "needs a name";
      const dispatch = entry.dispatch_type;
      if (dispatch !== "goal" && dispatch !== "task") return 'dispatch_type must be "goal" or "task"';
      const config = entry[dispatch];
      if (!isObject(config)) return `dispatch_type ${dispatch} needs a ${dispatch}: mapping`;
      const schedule =
        typeof entry.cron === "string"
          ? { cron: entry.cron, timezone: "UTC" }
          : typeof entry.interval_seconds === "number"
            ? { every: entry.interval_seconds }
            : null;
      if (schedule === null) return "needs cron or interval_seconds";
      const prompt =
        dispatch === "goal" && typeof config.instruction === "string"
          ? config.instruction
          : `${dispatch} ${typeof config.worker_type === "string" ? config.worker_type : name}`;
      const target = options.agent
        ? { agent: options.agent }
        : { nats: { url: options.url ?? "nats://127.0.0.1:4222", dispatch } };
      return { userId, name, body: { prompt, ...schedule, payload: config, target, ...expand } };
    },
  );
}

const AGNO_FIELDS = new Set([
  "id",
  "name",
  "description",
  "cron_expr",
  "endpoint",
  "method",
  "payload",
  "timezone",
  "max_retries",
  "retry_delay_seconds",
  "timeout_seconds",
  "enabled",
  "next_run_at",
  "created_at",
  "updated_at",
  "locked_by",
  "locked_at",
]);

/**
 * Agno's schedule rows as JSON (what `GET /schedules` answers: a list, `{data: [...]}`, or one row): each
 * row's `endpoint` (an AgentOS `/agents/<id>/runs` or `/workflows/<id>/runs`) becomes a `format: agentos`
 * target, `payload.message` the prompt, `payload.session_id` the thread key.
 */
export function readAgno(text: string, options: ImportOptions): ImportPlan | { error: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (thrown) {
    return { error: `not valid JSON: ${coerceError(thrown).message}` };
  }
  const rows = Array.isArray(doc) ? doc : isObject(doc) && Array.isArray(doc.data) ? doc.data : [doc];
  const base = (options.url ?? "http://127.0.0.1:7777").replace(/\/+$/, "");
  return plan(
    rows as unknown[],
    (row, i) => `[${i}]${isObject(row) && typeof row.name === "string" ? ` ${row.name}` : ""}`,
    (row, notes) => {
      if (!isObject(row) || typeof row.cron_expr !== "string")
        return "not an Agno schedule row (no cron_expr)";
      const unknown = Object.keys(row).filter((key) => !AGNO_FIELDS.has(key));
      if (unknown.length > 0) return `unknown field(s) ${unknown.join(", ")}`;
      const name = nameFrom(row.name ?? row.id, notes);
      if (name === null) return "needs a name";
      const {
        message,
        session_id: session,
        user_id: user,
        ...rest
      } = isObject(row.payload) ? row.payload : {};
      if (typeof message !== "string") return "payload has no message: an AgentOS run needs one";
      if (typeof row.endpoint !== "string" || !row.endpoint.startsWith("/"))
        return "endpoint must be an AgentOS path such as /agents/<id>/runs";
      const method = typeof row.method === "string" ? row.method.toUpperCase() : "POST";
      const attempts = typeof row.max_retries === "number" ? row.max_retries + 1 : null;
      const body: Record<string, unknown> = {
        prompt: message,
        cron: row.cron_expr,
        timezone: typeof row.timezone === "string" ? row.timezone : "UTC",
        thread_key: typeof session === "string" ? session : null,
        payload: Object.keys(rest).length > 0 ? rest : null,
        target: options.agent
          ? { agent: options.agent }
          : { url: `${base}${row.endpoint}`, method, format: "agentos", headers: options.headers ?? null },
        enabled: row.enabled !== false,
      };
      if (attempts !== null || typeof row.retry_delay_seconds === "number")
        body.retry = {
          ...(attempts !== null ? { attempts } : {}),
          ...(typeof row.retry_delay_seconds === "number"
            ? { delay: row.retry_delay_seconds, backoff: "fixed" }
            : {}),
        };
      if (typeof row.timeout_seconds === "number") body.timeout = row.timeout_seconds;
      const userId = typeof user === "string" ? user : (options.user ?? "agno");
      return { userId, name, body };
    },
  );
}

/** How far back protoPen still fires a missed one-shot (older ones it skips). */
const PROTOPEN_MISSED_WINDOW_MS = 24 * 3600_000;

/**
 * protoPen's sqlite `jobs` table (`id, prompt, schedule, agent_name, next_fire, last_fire, enabled`): a cron
 * or ISO `schedule`, fired as an A2A `SendMessage` to the agent's own `/a2a`. A missed fire less than 24 h
 * old fires once, as protoPen does; an older missed one-shot is not imported.
 */
export function readProtopen(
  path: string,
  options: ImportOptions,
  nowMs = Date.now(),
): ImportPlan | { error: string } {
  let rows: Record<string, unknown>[];
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      rows = db.prepare("SELECT * FROM jobs ORDER BY created_at, id").all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  } catch (thrown) {
    return { error: `not a protoPen jobs.db: ${coerceError(thrown).message}` };
  }
  if (!options.agent && !options.url)
    return {
      error:
        "protoPen fires at its agent's own /a2a: give --url http://<agent host:port> (or --agent <name> from tickler.yaml)",
    };
  const base = (options.url ?? "").replace(/\/+$/, "");
  return plan(
    rows,
    (row) => `jobs ${String(row.id)}`,
    (row, notes) => {
      const name = nameFrom(row.id, notes);
      if (name === null) return "needs an id";
      if (typeof row.prompt !== "string" || typeof row.schedule !== "string")
        return "needs a prompt and a schedule";
      const schedule = row.schedule.trim();
      const isCron = schedule.split(/\s+/).length === 5 && !/^\d{4}-/.test(schedule);
      let when: Record<string, unknown>;
      if (isCron)
        when = { cron: schedule, timezone: "UTC", missed_policy: "run_once", catchup_window: "24h" };
      else {
        const atMs = Date.parse(schedule);
        if (Number.isNaN(atMs)) return `schedule ${JSON.stringify(schedule)} is neither cron nor an ISO time`;
        if (atMs < nowMs - PROTOPEN_MISSED_WINDOW_MS)
          return `a one-shot due ${schedule}, more than 24 h ago: protoPen would not fire it either`;
        when = { at: new Date(atMs).toISOString(), allow_past: true, missed_policy: "run_once" };
        if (atMs < nowMs)
          notes.push("its time passed: it fires once now, as protoPen's missed-fire recovery would");
      }
      const agent = typeof row.agent_name === "string" ? row.agent_name : "protopen";
      return {
        userId: options.user ?? agent,
        name,
        body: {
          prompt: row.prompt,
          ...when,
          enabled: row.enabled !== 0,
          target: options.agent
            ? { agent: options.agent }
            : { url: `${base}/a2a`, format: "a2a", headers: options.headers ?? null },
        },
      };
    },
  );
}
