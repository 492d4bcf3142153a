/**
 * A tiny agent endpoint that receives tickler fires and, on each fire, schedules its own follow-up through
 * the tools API: a self-rescheduling agent. Run it, point tickler's default agent at it, and give it a
 * first nudge with examples/scripted-model.ts:
 *
 *   npx tsx examples/self-rescheduling-agent.ts          # listens on 127.0.0.1:8000
 *   # tickler.yaml: agents: { default: { url: http://127.0.0.1:8000/turns } }
 *   npm start
 *   npx tsx examples/scripted-model.ts
 *
 * Environment: TICKLER_URL (default http://127.0.0.1:3000), TICKLER_TOKEN (a bearer token, if tokens are
 * configured), TICKLER_USER (default demo), PORT (default 8000), ROUNDS (default 3).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

export interface AgentOptions {
  port: number;
  ticklerUrl: string;
  token?: string | undefined;
  user: string;
  rounds: number;
  log?: (line: string) => void;
}

export interface Fire {
  run_id: string;
  prompt: string;
  payload: { round?: number };
  scheduled_at: string;
  fired_at: string;
}

/** Calls one tickler tool over HTTP and returns its result (or throws with the error a model would read). */
export async function callTool(
  opts: Pick<AgentOptions, "ticklerUrl" | "token" | "user">,
  name: string,
  args: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${opts.ticklerUrl}/v1/tools/${name}?user_id=${encodeURIComponent(opts.user)}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    },
    body: JSON.stringify(args),
  });
  const reply = (await res.json()) as {
    result?: Record<string, unknown>;
    error?: { code: string; message: string };
  };
  if (reply.error) throw new Error(`${reply.error.code}: ${reply.error.message}`);
  return reply.result ?? {};
}

/** Starts the agent; resolves with its URL, the fires it received, and close(). */
export async function startAgent(
  opts: AgentOptions,
): Promise<{ url: string; fires: Fire[]; close(): Promise<void> }> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const fires: Fire[] = [];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      // Answer at once (tickler retries anything but 2xx); think afterwards.
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      const fire = JSON.parse(raw) as Fire;
      fires.push(fire);
      const round = fire.payload.round ?? 1;
      const late = Date.parse(fire.fired_at) - Date.parse(fire.scheduled_at);
      log(`turn ${round}: "${fire.prompt}" (run ${fire.run_id}, ${late} ms after its time)`);
      if (round >= opts.rounds) {
        log("done: no more follow-ups");
        return;
      }
      callTool(opts, "schedule_once", {
        prompt: `Follow-up #${round + 1}: check whether the user answered`,
        when: "in 2s",
        name: "follow-up",
        payload: JSON.stringify({ round: round + 1 }),
      }).then(
        (result) => log(`  scheduled my next turn: ${String(result.summary)}`),
        (error: Error) => log(`  could not schedule: ${error.message}`),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/turns`,
    fires,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const agent = await startAgent({
    port: Number(process.env.PORT ?? 8000),
    ticklerUrl: process.env.TICKLER_URL ?? "http://127.0.0.1:3000",
    token: process.env.TICKLER_TOKEN,
    user: process.env.TICKLER_USER ?? "demo",
    rounds: Number(process.env.ROUNDS ?? 3),
  });
  console.log(`agent listening on ${agent.url}; point tickler's agents.default.url at it`);
}
