import type { RedisClient } from "../redis/connection.js";
import type { Logger } from "pino";
import { coerceError } from "../triggers/index.js";
import { runToWire, type RunRecord } from "./run-store.js";

/** One run state change (or an agent's circuit changing, for admins) as the event streams carry it. */
export interface RunEvent {
  /** The SSE event id a client resumes from: the stream id, or with several streams a position in each. */
  id: string;
  /** `run`, or `agent`: an agent's circuit opened or closed (no user: admins only). */
  type: "run" | "agent";
  userId: string;
  /** The run (or the agent's change) in wire form (JSON text). */
  data: string;
}

/** An entry as read from one partition's stream. */
interface StreamEntry {
  /** Which stream (partition) it is from. */
  stream: number;
  /** Its Redis stream id. */
  streamId: string;
  type: RunEvent["type"];
  userId: string;
  data: string;
}

/** Compares two Redis stream ids (`<ms>-<seq>`). */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split("-").map(Number);
  const [bMs = 0, bSeq = 0] = b.split("-").map(Number);
  return aMs === bMs ? aSeq - bSeq : aMs - bMs;
}

/** Whether a string is a Redis stream id. */
export function isStreamId(value: string): boolean {
  return /^\d{1,16}-\d{1,16}$/.test(value);
}

/** How an event id joins the positions in several streams. */
const POSITION_SEPARATOR = "_";

/**
 * Reads a Last-Event-ID into a position in each of `streams` streams: one stream id per stream (what this
 * hub sends as event ids), or a single stream id, taken as the same position in every stream (an id from
 * a deployment with one partition, or a time to resume from). Null when it is neither.
 */
export function parseEventId(value: string, streams: number): string[] | null {
  const parts = value.split(POSITION_SEPARATOR);
  if (!parts.every(isStreamId)) return null;
  if (parts.length === 1) return Array.from({ length: streams }, () => parts[0]!);
  return parts.length === streams ? parts : null;
}

interface Subscriber {
  accepts(event: RunEvent): boolean;
  send(event: RunEvent): void;
  /** Called when the hub closes (process shutdown). */
  end(): void;
  /** Live entries that arrived while the replay was still being read. */
  buffer: StreamEntry[] | null;
  /** The last entry sent (or passed over) of each stream; null where none yet. */
  positions: (string | null)[];
}

/**
 * Fans the run event streams (capped Redis streams, one per partition, written by the workers in the same
 * script as the run record) out to the SSE clients of this API process: one blocking reader per stream per
 * process, however many clients, and no work at all for the workers beyond the XADD. A client that
 * reconnects with Last-Event-ID gets what it missed replayed from each stream, as far back as it reaches.
 * With several streams an event's id carries the client's position in every one of them.
 */
export class RunEventHub {
  private readonly subscribers = new Set<Subscriber>();
  private readonly streamKeys: readonly string[];
  private readers: RedisClient[] = [];
  private loops: Promise<void>[] | null = null;
  private closed = false;

  constructor(
    private readonly commands: RedisClient,
    private readonly openReader: () => RedisClient,
    streamKeys: string | readonly string[],
    private readonly logger: Logger,
  ) {
    this.streamKeys = typeof streamKeys === "string" ? [streamKeys] : streamKeys;
  }

  /** Whether `value` is an event id this hub can resume from (see {@link parseEventId}). */
  isEventId(value: string): boolean {
    return parseEventId(value, this.streamKeys.length) !== null;
  }

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
    const from = lastEventId === undefined ? null : parseEventId(lastEventId, this.streamKeys.length);
    const subscriber: Subscriber = {
      accepts,
      send,
      end,
      buffer: from || this.streamKeys.length > 1 ? [] : null,
      positions: from ?? this.streamKeys.map(() => null),
    };
    this.subscribers.add(subscriber);
    this.ensureReading();
    try {
      if (from) await this.replay(subscriber, from);
      else if (this.streamKeys.length > 1) await this.startPositions(subscriber);
    } finally {
      const buffered = subscriber.buffer ?? [];
      subscriber.buffer = null;
      for (const entry of buffered) this.deliver(subscriber, entry, true);
    }
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  /** Sends what each stream holds after `from`, oldest first across the streams. */
  private async replay(subscriber: Subscriber, from: readonly string[]): Promise<void> {
    const replies = await Promise.all(
      this.streamKeys.map((key, stream) =>
        this.commands
          .xrange(key, `(${from[stream]}`, "+", "COUNT", 10_000)
          .then((entries) => entries.map(([id, fields]) => toEntry(stream, id, fields))),
      ),
    );
    const entries = replies.flat().sort((a, b) => compareStreamIds(a.streamId, b.streamId));
    for (const entry of entries) this.deliver(subscriber, entry, true);
  }

  /**
   * With several streams, an event id names a position in each: a new client starts from each stream's
   * last entry, so that the first id it is sent resumes every stream from where it connected.
   */
  private async startPositions(subscriber: Subscriber): Promise<void> {
    const lasts = await Promise.all(
      this.streamKeys.map((key) => this.commands.xrevrange(key, "+", "-", "COUNT", 1)),
    );
    lasts.forEach((last, stream) => {
      subscriber.positions[stream] ??= last[0]?.[0] ?? "0-0";
    });
  }

  private deliver(subscriber: Subscriber, entry: StreamEntry, replaying = false): void {
    if (subscriber.buffer && !replaying) {
      subscriber.buffer.push(entry);
      return;
    }
    const position = subscriber.positions[entry.stream];
    if (position && compareStreamIds(entry.streamId, position) <= 0) return;
    subscriber.positions[entry.stream] = entry.streamId;
    const event: RunEvent = {
      id:
        this.streamKeys.length === 1
          ? entry.streamId
          : subscriber.positions.map((at) => at ?? "0-0").join(POSITION_SEPARATOR),
      type: entry.type,
      userId: entry.userId,
      data: entry.data,
    };
    if (subscriber.accepts(event)) subscriber.send(event);
  }

  private ensureReading(): void {
    if (this.loops || this.closed) return;
    this.readers = this.streamKeys.map(() => this.openReader());
    this.loops = this.readers.map((reader, stream) => this.read(reader, stream));
  }

  private async read(reader: RedisClient, stream: number): Promise<void> {
    const key = this.streamKeys[stream]!;
    let lastId = "$";
    while (!this.closed) {
      try {
        const reply = await reader.xread("COUNT", 1000, "BLOCK", 5000, "STREAMS", key, lastId);
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            lastId = id;
            const entry = toEntry(stream, id, fields);
            for (const subscriber of this.subscribers) this.deliver(subscriber, entry);
          }
        }
      } catch (thrown) {
        if (this.closed) return;
        this.logger.warn({ err: coerceError(thrown).message }, "run event reader failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  /** Stops the readers and ends every subscriber. */
  async close(): Promise<void> {
    this.closed = true;
    for (const subscriber of this.subscribers) subscriber.end();
    this.subscribers.clear();
    for (const reader of this.readers) reader.disconnect();
    await Promise.all((this.loops ?? []).map((loop) => loop.catch(() => undefined)));
  }
}

function toEntry(stream: number, streamId: string, fields: string[]): StreamEntry {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string);
  if (map.get("t") === "agent")
    return { stream, streamId, type: "agent", userId: "", data: map.get("d") ?? "{}" };
  // The stream holds the stored run (workers write it once); clients get the wire form.
  return {
    stream,
    streamId,
    type: "run",
    userId: map.get("u") ?? "",
    data: JSON.stringify(runToWire(JSON.parse(map.get("d") ?? "{}") as RunRecord)),
  };
}
