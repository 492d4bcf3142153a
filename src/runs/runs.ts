import type { Layout } from "../redis/keys.js";
import type { Page } from "../triggers/index.js";
import { childRunId, partitionOfRun, type RunRecord, type RunStore } from "./run-store.js";

/**
 * The run history of every partition: a run id names its partition, a trigger id's user decides its
 * partition, so each read asks one partition.
 */
export class Runs {
  constructor(
    private readonly layout: Layout,
    private readonly stores: readonly RunStore[],
  ) {}

  /** The run store of the partition holding a trigger's runs. */
  ofTrigger(triggerId: string): RunStore {
    return this.stores[this.layout.partitionOfTrigger(triggerId)]!;
  }

  /** One run, or null (also for an id that is not a run id of this deployment's layout). */
  async get(runId: string): Promise<RunRecord | null> {
    const partition = partitionOfRun(runId);
    if (partition === undefined) return null;
    const keys = this.layout.keys[partition ?? 0];
    if (!keys || keys.partition !== partition) return null;
    return this.stores[partition ?? 0]!.get(runId);
  }

  /** A trigger's runs, newest first (see `RunStore.list`). */
  list(triggerId: string, cursor: string | null, limit: number): Promise<Page<RunRecord>> {
    return this.ofTrigger(triggerId).list(triggerId, cursor, limit);
  }

  /**
   * A page of a fan-out run's children, in its contexts' order; the cursor is the position after the
   * previous page's last. A child not yet written (its fire is still expanding) is left out.
   */
  async children(parent: RunRecord, cursor: string | null, limit: number): Promise<Page<RunRecord>> {
    const keys = parent.fanOut?.keys ?? [];
    const from = cursor === null ? 0 : Number(cursor);
    const page = keys.slice(from, from + limit);
    const runs = await this.ofTrigger(parent.triggerId).getMany(
      page.map((key) => childRunId(parent.runId, key)),
    );
    const next = from + page.length;
    return {
      items: runs.filter((run): run is RunRecord => run !== null),
      nextCursor: next < keys.length ? String(next) : null,
    };
  }

  /** Writes runs, each in its trigger's partition (see `RunStore.save`). */
  async save(runs: readonly RunRecord[], indexed = true): Promise<void> {
    await Promise.all(runs.map((run) => this.ofTrigger(run.triggerId).save([run], indexed)));
  }
}
