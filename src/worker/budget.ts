/**
 * A process's budget of deliveries in flight, shared by its partitions' workers: each BullMQ Worker may
 * take up to the whole budget of jobs (a hot partition is not held to a share), and a job runs once the
 * budget has room. A job waiting here is active in BullMQ (its lock is renewed), and its lateness counts
 * from its slot as always, so a saturated process shows as late fires, not as silently queued ones.
 */
export class Budget {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`budget size must be ≥ 1, got ${size}`);
  }

  /** Runs `work` once the budget has room, and frees its place when it settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.inFlight++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.inFlight--;
    }
  }

  /** Whether a job would run now without waiting. */
  get hasRoom(): boolean {
    return this.inFlight < this.size;
  }
}
