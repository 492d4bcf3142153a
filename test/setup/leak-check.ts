import { afterAll, beforeAll } from "vitest";

/**
 * After each test file: no server left listening, no connection (Redis, BullMQ, HTTP) left open and no child
 * process left running that the file started. Node lists what keeps it alive; the file's own afterAll hooks
 * have run by now (setup hooks run last), and sockets get a moment to finish closing.
 */
const WATCHED = ["TCPServerWrap", "TCPSocketWrap", "ProcessWrap", "PipeServerWrap"] as const;

function counts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo())
    if ((WATCHED as readonly string[]).includes(kind)) out[kind] = (out[kind] ?? 0) + 1;
  return out;
}

let before: Record<string, number> = {};
beforeAll(() => {
  before = counts();
});
afterAll(async () => {
  const deadline = Date.now() + 5000;
  let left: string[] = [];
  for (;;) {
    const now = counts();
    left = WATCHED.filter((kind) => (now[kind] ?? 0) > (before[kind] ?? 0)).map(
      (kind) => `${(now[kind] ?? 0) - (before[kind] ?? 0)} × ${kind}`,
    );
    if (left.length === 0 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (left.length > 0) {
    const sockets = (process as unknown as { _getActiveHandles(): unknown[] })
      ._getActiveHandles()
      .filter(
        (handle): handle is { remoteAddress?: string; remotePort?: number; localPort?: number } =>
          typeof handle === "object" && handle !== null && "remotePort" in handle,
      )
      .map((s) => `${s.localPort} -> ${s.remoteAddress}:${s.remotePort}`);
    console.error("open sockets:", sockets);
    throw new Error(
      `this file left open: ${left.join(", ")} (close servers, Redis connections, workers and children in afterAll)`,
    );
  }
});
