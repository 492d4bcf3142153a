import type { Runs } from "../runs/runs.js";
import {
  kindOf,
  stateOf,
  triggerId,
  type Page,
  type TriggerKind,
  type TriggerRecord,
  type TriggerState,
} from "../triggers/index.js";
import type { Producer } from "./producer.js";

/** Which triggers a bulk operation touches: every given field must match (none given: every trigger). */
export interface BulkFilter {
  userId?: string;
  /** The agent its fires go to (`default` for a trigger without a target; a trigger with its own URL has none). */
  agent?: string;
  kind?: TriggerKind;
  state?: TriggerState;
  /** Metadata entries it must carry, key = value. */
  metadata?: Record<string, string>;
}

/** What a bulk pause or resume found and did (a dry run changes nothing and says what it would). */
export interface BulkResult {
  matched: number;
  changed: number;
  dry_run: boolean;
}

/** What a re-drive found and did. */
export interface RedriveResult {
  triggers: number;
  runs: number;
  dry_run: boolean;
  /** The first re-driven runs' ids (at most 100), for the operator to follow. */
  run_ids: string[];
}

/** Triggers read per page while a bulk operation walks them. */
const PAGE = 500;
/** The most failed runs one re-drive looks at per trigger. */
const RUNS_PER_TRIGGER = 1000;

/** Whether `record` matches `filter`. */
export function matchesFilter(record: TriggerRecord, filter: BulkFilter): boolean {
  const { spec } = record;
  if (filter.userId !== undefined && spec.userId !== filter.userId) return false;
  if (filter.kind !== undefined && kindOf(spec) !== filter.kind) return false;
  if (filter.state !== undefined && stateOf(record) !== filter.state) return false;
  if (filter.agent !== undefined) {
    const agent = spec.target === null ? "default" : "agent" in spec.target ? spec.target.agent : null;
    if (agent !== filter.agent) return false;
  }
  for (const [key, value] of Object.entries(filter.metadata ?? {}))
    if (spec.metadata[key] !== value) return false;
  return true;
}

/** Every trigger matching `filter`, page by page (one user's index when the filter names a user). */
export async function* matching(producer: Producer, filter: BulkFilter): AsyncGenerator<TriggerRecord> {
  let cursor: string | null = null;
  do {
    const page: Page<TriggerRecord> =
      filter.userId === undefined
        ? await producer.listAll(cursor, PAGE)
        : await producer.list(filter.userId, {}, cursor, PAGE);
    for (const record of page.items) if (matchesFilter(record, filter)) yield record;
    cursor = page.nextCursor;
  } while (cursor !== null);
}

/**
 * Pauses (`enabled` false) or resumes every trigger matching `filter`. Pausing touches the active ones,
 * resuming the paused ones (a system pause too); completed triggers are left as they are.
 */
export async function setEnabledWhere(
  producer: Producer,
  filter: BulkFilter,
  enabled: boolean,
  dryRun: boolean,
): Promise<BulkResult> {
  let matched = 0;
  let changed = 0;
  for await (const record of matching(producer, filter)) {
    matched++;
    if (stateOf(record) !== (enabled ? "paused" : "active")) continue;
    changed++;
    if (dryRun) continue;
    const { userId, name } = record.spec;
    await (enabled ? producer.resume(userId, name) : producer.pause(userId, name));
  }
  return { matched, changed, dry_run: dryRun };
}

/**
 * Delivers again the failed runs, scheduled at or after `sinceMs`, of the triggers matching `filter`: one
 * more attempt each, as the same slot (same run id and Idempotency-Key). Manual runs are not re-driven.
 * Re-driving a failure twice adds its job once.
 */
export async function redriveWhere(
  producer: Producer,
  runs: Runs,
  filter: BulkFilter,
  sinceMs: number,
  dryRun: boolean,
): Promise<RedriveResult> {
  let triggers = 0;
  let count = 0;
  const runIds: string[] = [];
  for await (const record of matching(producer, filter)) {
    const tid = triggerId(record.spec.userId, record.spec.name);
    const failed = (await runs.list(tid, null, RUNS_PER_TRIGGER)).items.filter(
      (run) =>
        (run.status === "failed" || run.status === "partial") && !run.manual && run.scheduledAtMs >= sinceMs,
    );
    if (failed.length === 0) continue;
    triggers++;
    count += failed.length;
    for (const run of failed) {
      if (runIds.length < 100) runIds.push(run.runId);
      if (!dryRun) await producer.partitionOfTrigger(tid).fires.redrive(tid, record.scheduleVersion, run);
    }
  }
  return { triggers, runs: count, dry_run: dryRun, run_ids: runIds };
}
