import {
  checkName,
  kindOf,
  nextFires,
  parseSchedule,
  resolveSchedule,
  stateOf,
  triggerId,
  triggerNotFound,
  type Page,
  type ScheduleInput,
  type TriggerKind,
  type TriggerRecord,
  type TriggerRules,
} from "../triggers/index.js";
import type { TriggerStore } from "./trigger-store.js";
import { SYSTEM_CALLER, type Caller, type ListFilter } from "./write-types.js";

/** The producer's reads: one trigger, a user's list, all of them, and a schedule preview (stores nothing). */
export class TriggerQueries {
  constructor(
    private readonly deps: {
      store: TriggerStore;
      now: () => number;
      rules: (caller: Caller, nowMs: number) => TriggerRules;
    },
  ) {}

  /** The trigger, or `not_found`. */
  async get(userId: string, name: string): Promise<TriggerRecord> {
    const record = await this.deps.store.get(
      triggerId(checkName(userId, "user_id"), checkName(name, "name")),
    );
    if (!record) throw triggerNotFound(userId, name);
    return record;
  }

  /** A user's triggers in name order, filtered by kind and state. */
  async list(
    userId: string,
    filter: ListFilter,
    cursor: string | null,
    limit: number,
  ): Promise<Page<TriggerRecord>> {
    checkName(userId, "user_id");
    const { store } = this.deps;
    const items: TriggerRecord[] = [];
    let next = cursor;
    // Filters apply after reading, so a filtered page may need several index pages. One match past the
    // limit tells whether there is a next page.
    do {
      const names = await store.userNames(userId, next, limit);
      const records = await store.getMany(names.items.map((name) => triggerId(userId, name)));
      for (const record of records) {
        if (!record) continue;
        if (filter.kind && kindOf(record.spec) !== filter.kind) continue;
        if (filter.state && stateOf(record) !== filter.state) continue;
        if (items.length === limit) return { items, nextCursor: items[limit - 1]?.spec.name ?? null };
        items.push(record);
      }
      next = names.nextCursor;
    } while (next !== null);
    return { items, nextCursor: null };
  }

  /** All triggers in id order (admin). */
  async listAll(cursor: string | null, limit: number): Promise<Page<TriggerRecord>> {
    const { store } = this.deps;
    const ids = await store.allIds(cursor, limit);
    const records = await store.getMany(ids.items);
    return {
      items: records.filter((record): record is TriggerRecord => record !== null),
      nextCursor: ids.nextCursor,
    };
  }

  /** Validates schedule fields without storing anything and returns the next fire times. */
  preview(
    input: ScheduleInput,
    count = 5,
    caller: Caller = SYSTEM_CALLER,
  ): { kind: TriggerKind; nextMs: number[]; timezone: string } {
    const now = this.deps.now();
    const parsed = parseSchedule(input, this.deps.rules(caller, now));
    const schedule = resolveSchedule(parsed, now);
    const from = Math.min(now, schedule.kind === "once" ? schedule.atMs : now);
    return {
      kind: schedule.kind,
      timezone: parsed.timezone,
      nextMs: nextFires(schedule, from, count, parsed),
    };
  }
}
