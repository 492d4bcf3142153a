import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { coerceError } from "../triggers/index.js";
import { runToWire, type RunRecord } from "./run-store.js";

/** One run state change as the event stream carries it. */
export interface RunEvent {
  /** The Redis stream id: also the SSE event id a client resumes from. */
  id: string;
  userId: string;
  /** The run in wire form (JSON text). */
  data: string;
}

/** Compares two Redis stream ids (`<ms>-<seq>`). */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split("-").map(Number);
  const [bMs = 0, bSeq = 0] = b.split("-").map(Number);
  return aMs === bMs ? aSeq - bSeq : aMs - bMs;
}

/** Whether a string is a Redis stream id (what a client may send back as Last-Event-ID). */
export function isStreamId(value: string): boolean {
  return /^\d{1,16}-\d{1,16}$/.test(value);
}

interface Subscriber {
  accepts(event: RunEvent): boolean;
  send(event: RunEvent): void;
  /** Called when the hub closes (process shutdown). */
  end(): void;
  /** Live events that arrived while the replay was still being read. */
  buffer: RunEvent[] | null;
  lastSentId: string | null;
}

/**
 * Fans the run event stream (a capped Redis stream written by the workers in the same transaction as
 * the run record) out to the SSE clients of this API process: one blocking reader per process, however
 * many clients, and no work at all for the workers beyond the XADD. A client that reconnects with
 * Last-Event-ID gets what it missed replayed from the stream, as far back as the stream reaches.
 */
export class RunEventHub {
  private readonly subscribers = new Set<Subscriber>();
  private reader: Redis | null = null;
  private loop: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly commands: Redis,
    private readonly openReader: () => Redis,
    private readonly streamKey: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts sending events that pass `accepts` to `send`, first replaying those after `lastEventId`.
   * Returns the function that stops it.
   */
  async subscribe(
    accepts: (event: RunEvent) => boolean,
    send: (event: RunEvent) => void,
    end: () => void,
    lastEventId?: string,
  ): Promise<() => void> {
    const subscriber: Subscriber = { accepts, send, end, buffer: lastEventId ? [] : null, lastSentId: null };
    this.subscribers.add(subscriber);
    this.ensureReading();
    if (lastEventId) {
      try {
        const replay = await this.commands.xrange(this.streamKey, `(${lastEventId}`, "+", "COUNT", 10_000);
        for (const [id, fields] of replay) this.deliver(subscriber, toEvent(id, fields), true);
      } finally {
        const buffered = subscriber.buffer ?? [];
        subscriber.buffer = null;
        for (const event of buffered) this.deliver(subscriber, event, true);
      }
    }
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  private deliver(subscriber: Subscriber, event: RunEvent, replaying = false): void {
    if (subscriber.buffer && !replaying) {
      subscriber.buffer.push(event);
      return;
    }
    if (subscriber.lastSentId && compareStreamIds(event.id, subscriber.lastSentId) <= 0) return;
    if (!subscriber.accepts(event)) return;
    subscriber.lastSentId = event.id;
    subscriber.send(event);
  }

  private ensureReading(): void {
    if (this.loop || this.closed) return;
    this.reader = this.openReader();
    this.loop = this.read(this.reader).finally(() => {
      this.loop = null;
    });
  }

  private async read(reader: Redis): Promise<void> {
    let lastId = "$";
    while (!this.closed) {
      try {
        const reply = await reader.xread("COUNT", 1000, "BLOCK", 5000, "STREAMS", this.streamKey, lastId);
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            lastId = id;
            const event = toEvent(id, fields);
            for (const subscriber of this.subscribers) this.deliver(subscriber, event);
          }
        }
      } catch (thrown) {
        if (this.closed) return;
        this.logger.warn({ err: coerceError(thrown).message }, "run event reader failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  /** Stops the reader and ends every subscriber. */
  async close(): Promise<void> {
    this.closed = true;
    for (const subscriber of this.subscribers) subscriber.end();
    this.subscribers.clear();
    this.reader?.disconnect();
    await this.loop?.catch(() => undefined);
  }
}

function toEvent(id: string, fields: string[]): RunEvent {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string);
  // The stream holds the stored run (workers write it once); clients get the wire form.
  return {
    id,
    userId: map.get("u") ?? "",
    data: JSON.stringify(runToWire(JSON.parse(map.get("d") ?? "{}") as RunRecord)),
  };
}
