import { spawn } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testPartitions, writeConfig } from "../helpers/processes.js";
import {
  REDIS_URL,
  removePrefix,
  startTestTickler,
  testPrefix,
  type TestTickler,
} from "../helpers/tickler.js";

const CLI = new URL("../../src/cli.ts", import.meta.url).pathname;
const TSX = new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url).href;

describe("tickler mcp --user <id>: the tools over MCP on stdio", () => {
  const prefix = testPrefix("stdio");
  let api: TestTickler;
  let client: Client;

  beforeAll(async () => {
    const file = { min_interval: "10s", agents: { default: { url: "http://127.0.0.1:9/" } } };
    api = await startTestTickler(prefix, file, "api");
    client = new Client({ name: "local-agent", version: "1.0.0" });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: ["--import", TSX, CLI, "mcp", "--user", "desk"],
        env: {
          ...(process.env as Record<string, string>),
          REDIS_URL,
          ...testPartitions(),
          TICKLER_PREFIX: prefix,
          TICKLER_CONFIG: writeConfig(file),
          LOG_LEVEL: "silent",
        },
        stderr: "pipe",
      }),
    );
  }, 30_000);
  afterAll(async () => {
    await client?.close();
    await api?.close();
    await removePrefix(prefix);
  });

  it("lists the tools and schedules for its user, with structured output", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain("schedule_cron");
    const result = await client.callTool({
      name: "schedule_cron",
      arguments: { prompt: "weekly review", cron: "0 16 * * FRI", timezone: "Europe/Berlin", name: "review" },
    });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      status: "created",
      id: "desk/review",
      summary: expect.stringContaining("every Friday at 16:00 Europe/Berlin"),
    });
    expect(JSON.parse((result.content as { text: string }[])[0]!.text)).toMatchObject({ id: "desk/review" });
    expect((await api.tickler.producer.get("desk", "review")).spec.prompt).toBe("weekly review");
  });

  it("returns a bad call as a tool error the model can read", async () => {
    const result = await client.callTool({
      name: "schedule_heartbeat",
      arguments: { prompt: "x", every: "1s" },
    });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ error: { code: "interval_too_short", field: "every" } });
  });

  it("exits 0 when its stdin closes (the agent went away)", async () => {
    const child = spawn(process.execPath, ["--import", TSX, CLI, "mcp", "--user", "desk"], {
      env: { ...process.env, REDIS_URL, ...testPartitions(), TICKLER_PREFIX: prefix, LOG_LEVEL: "info" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`it did not start: ${stderr}`)), 20_000);
      child.stderr.on("data", () => {
        if (/MCP server on stdio/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.stdin.end();
    const code = await new Promise<number | null>((resolve) => child.once("exit", (exit) => resolve(exit)));
    expect(stderr).not.toMatch(/RangeError|Maximum call stack/);
    expect(code, stderr).toBe(0);
  });
});
