import type { Principal } from "../config/index.js";
import type { IfExists, TriggerKind, TriggerRecord, TriggerState } from "../triggers/index.js";

/** What an upsert did. */
export type UpsertStatus = "created" | "updated" | "unchanged" | "skipped";

/** The outcome of a write: what happened and the trigger as it now stands. */
export interface WriteOutcome {
  status: UpsertStatus;
  record: TriggerRecord;
  /**
   * What a caller (an agent, above all) may not guess from the status: that a one-shot which had fired
   * was re-armed by this write, or that it stays completed and nothing will fire.
   */
  note?: string;
}

/** One trigger of `Producer.upsertMany`: the same arguments as an upsert. */
export interface BatchItem {
  userId: string;
  name: string;
  body: unknown;
  ifExists?: IfExists;
}

/** What became of one batch item: its status, or the error that refused it (nothing stored for it). */
export type BatchResult =
  | { id: string; status: UpsertStatus }
  | { id: string; error: { code: string; message: string; field: string | undefined } };

/** Who is calling: an admin, or one user (who may only touch its own triggers). */
export type Caller = Principal;

/** The caller used by start-up seeding and by the library when no principal applies. */
export const SYSTEM_CALLER: Caller = { role: "admin" };

/** Filters of a user's trigger list. */
export interface ListFilter {
  kind?: TriggerKind;
  state?: TriggerState;
}

/** The longest list page. */
export const MAX_PAGE = 500;
