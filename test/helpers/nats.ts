import { randomBytes } from "node:crypto";
import { connect, type JetStreamManager, type MsgHdrs, type NatsConnection } from "nats";
import { afterAll, beforeAll } from "vitest";

/** The machine's NATS server with JetStream (tests make their own streams and delete them). */
export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

/** One message a stream holds. */
export interface StreamMessage {
  seq: number;
  subject: string;
  headers: MsgHdrs | undefined;
  body: Record<string, unknown>;
}

/** A JetStream stream of this test's own, on subjects `<subjects>.>`, deleted after the file. */
export interface TestStream {
  readonly name: string;
  /** The subject prefix the stream listens on: publish to `<subjects>.<anything>`. */
  readonly subjects: string;
  readonly nc: NatsConnection;
  /** Every message the stream holds, in order. */
  messages(): Promise<StreamMessage[]>;
}

/**
 * A stream of the test's own, on `<subjects>.>`, or on `exact` subjects (Loom's fixed ones) where given:
 * no other stream may listen on those then.
 */
export function useStream(label: string, exact?: string[]): TestStream {
  const id = randomBytes(4).toString("hex");
  const name = `TT_${label.toUpperCase()}_${id}`;
  const subjects = `tt.${label}.${id}`;
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager | undefined;
  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name, subjects: exact ?? [`${subjects}.>`] });
  });
  afterAll(async () => {
    await jsm?.streams.delete(name).catch(() => undefined);
    await nc?.drain();
  });
  return {
    name,
    subjects,
    get nc() {
      if (!nc) throw new Error("useStream: not started yet (it starts in beforeAll)");
      return nc;
    },
    async messages() {
      const info = await jsm!.streams.info(name);
      const out: StreamMessage[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const message = await jsm!.streams.getMessage(name, { seq });
        out.push({
          seq,
          subject: message.subject,
          headers: message.header,
          body: JSON.parse(new TextDecoder().decode(message.data)) as Record<string, unknown>,
        });
      }
      return out;
    },
  };
}
