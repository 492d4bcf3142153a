import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { waitFor } from "./wait.js";

/** One request the sink received. */
export interface Received {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
  /** The address the request came from (tells worker hosts apart in the network-namespace suite). */
  from: string;
  /** When the sink answered, and with which status (unset while held, or when the socket was destroyed). */
  answeredAt?: number;
  status?: number;
}

/** Decides the answer to a request: status, headers, body, and an optional hold before answering. */
export type Responder = (
  request: Received,
  index: number,
) => { status?: number; headers?: Record<string, string>; body?: string; holdMs?: number; destroy?: boolean };

/** A real HTTP agent endpoint on 127.0.0.1 that records every request. */
export interface Sink {
  url: string;
  received: Received[];
  respond(responder: Responder): void;
  /** Waits until `count` requests arrived (matching `filter`, when given). */
  waitForCount(count: number, timeoutMs?: number, filter?: (r: Received) => boolean): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startSink(responder: Responder = () => ({}), host = "127.0.0.1"): Promise<Sink> {
  let respond = responder;
  const received: Received[] = [];
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (raw += chunk));
    req.on("end", () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        /* recorded raw */
      }
      const entry: Received = {
        at: Date.now(),
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        raw,
        body,
        from: req.socket.remoteAddress ?? "",
      };
      const index = received.push(entry) - 1;
      const answer = respond(entry, index);
      if (answer.destroy) {
        req.socket.destroy();
        return;
      }
      open.add(res);
      const send = (): void => {
        open.delete(res);
        if (res.destroyed) return;
        res.writeHead(answer.status ?? 200, { "content-type": "application/json", ...answer.headers });
        res.end(answer.body ?? '{"ok":true}');
        entry.answeredAt = Date.now();
        entry.status = answer.status ?? 200;
      };
      if (answer.holdMs) setTimeout(send, answer.holdMs).unref();
      else send();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}/turns`,
    received,
    respond(next) {
      respond = next;
    },
    async waitForCount(count, timeoutMs = 10_000, filter = () => true) {
      return waitFor(
        () => {
          const matching = received.filter(filter);
          return matching.length >= count ? matching : null;
        },
        `${count} deliveries at the sink (have ${received.filter(filter).length})`,
        timeoutMs,
      );
    },
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The most requests the sink held at once, from when each arrived and was answered. */
export function maxConcurrent(requests: Received[]): number {
  const edges = requests.flatMap((r) => [
    { at: r.at, step: 1 },
    { at: r.answeredAt ?? Number.POSITIVE_INFINITY, step: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let most = 0;
  for (const edge of edges) most = Math.max(most, (now += edge.step));
  return most;
}
