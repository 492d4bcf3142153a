import type { Logger } from "pino";
import { redisErrorHint } from "../redis/redis-errors.js";

/** Options of {@link ErrorBackoff}; the defaults suit a worker process. */
export interface ErrorBackoffOptions {
  logger: Logger;
  /** Stops taking jobs (in-flight ones go on). */
  pause(): Promise<void>;
  /** Takes jobs again. */
  resume(): Promise<void>;
  /** One line per kind of error per interval. @defaultValue 10 s */
  intervalMs?: number;
  /** This many errors within a second pause job intake. @defaultValue 5 */
  burst?: number;
  /** The first pause; each pause without a quiet interval between doubles it. @defaultValue 1 s */
  firstPauseMs?: number;
  /** @defaultValue 30 s */
  maxPauseMs?: number;
}

/**
 * How a worker meets Redis errors that repeat. BullMQ's fetch loop retries a command that Redis answered
 * with an error at once (it waits only on connection errors), so a node that refuses every command
 * (CROSSSLOT, READONLY, NOAUTH) makes it spin: tens of thousands of errors a second. Here the first error
 * of each kind is logged at once with a hint, the rest are counted and logged once per interval, and a
 * burst pauses job intake for a while that doubles (up to a cap) until the errors stop.
 */
export class ErrorBackoff {
  private readonly logger: Logger;
  private readonly opts: Required<Omit<ErrorBackoffOptions, "logger" | "pause" | "resume">>;
  /** Errors of each kind seen in the current interval beyond the first. */
  private readonly repeats = new Map<string, number>();
  private recent: number[] = [];
  private pauseMs: number;
  private paused = false;
  private lastErrorAt = 0;
  private stopped = false;
  private readonly flusher: NodeJS.Timeout;
  private resumer: NodeJS.Timeout | undefined;

  constructor(private readonly control: ErrorBackoffOptions) {
    this.logger = control.logger;
    this.opts = {
      intervalMs: control.intervalMs ?? 10_000,
      burst: control.burst ?? 5,
      firstPauseMs: control.firstPauseMs ?? 1000,
      maxPauseMs: control.maxPauseMs ?? 30_000,
    };
    this.pauseMs = this.opts.firstPauseMs;
    this.flusher = setInterval(() => this.flush(), this.opts.intervalMs).unref();
  }

  /** Counts one error, logging and pausing as above. */
  record(error: Error): void {
    if (this.stopped) return;
    const now = Date.now();
    if (now - this.lastErrorAt > this.opts.maxPauseMs) this.pauseMs = this.opts.firstPauseMs; // it had calmed down
    this.lastErrorAt = now;
    const kind = kindOf(error.message);
    const seen = this.repeats.get(kind);
    if (seen === undefined) {
      this.repeats.set(kind, 0);
      const hint = redisErrorHint(error.message);
      this.logger.warn({ err: error.message, ...(hint ? { hint } : {}) }, "worker error");
    } else this.repeats.set(kind, seen + 1);

    this.recent = this.recent.filter((at) => now - at < 1000);
    this.recent.push(now);
    if (this.recent.length >= this.opts.burst && !this.paused) this.pauseIntake(kind);
  }

  private pauseIntake(kind: string): void {
    this.paused = true;
    this.recent = [];
    const forMs = this.pauseMs;
    this.pauseMs = Math.min(this.pauseMs * 2, this.opts.maxPauseMs);
    this.logger.warn(
      { kind, pauseMs: forMs },
      "Redis keeps answering with errors: taking no jobs for a while",
    );
    void this.control.pause().catch(() => undefined);
    this.resumer = setTimeout(() => {
      this.paused = false;
      if (!this.stopped) void this.control.resume().catch(() => undefined);
    }, forMs).unref();
  }

  /** Logs the counts of the interval that ended; a kind that did not recur is logged at once next time. */
  private flush(): void {
    for (const [kind, count] of this.repeats) {
      if (count === 0) this.repeats.delete(kind);
      else {
        this.logger.warn(
          { kind, count, intervalMs: this.opts.intervalMs },
          `worker error repeated ${count} times in the last ${this.opts.intervalMs / 1000} s`,
        );
        this.repeats.set(kind, 0);
      }
    }
  }

  /** Stops the timers (at shutdown); a pause in progress is not undone. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.flusher);
    clearTimeout(this.resumer);
  }
}

/** Errors of one kind: Redis's error code (its first word, in capitals), else the message. */
function kindOf(message: string): string {
  const code = /^[A-Z][A-Z_]+\b/.exec(message)?.[0];
  return code && code !== "ERR" ? code : message.slice(0, 120);
}
