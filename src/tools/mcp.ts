import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Producer } from "../producer/producer.js";
import { VERSION } from "../version.js";
import { callTool } from "./index.js";
import { TOOLS } from "./tools.js";

/**
 * An MCP server exposing the schedule tools for one user. Results come back both as JSON text and as
 * `structuredContent`; a bad call is a tool result with `isError: true` carrying the API's error shape,
 * so the model can read the hint and try again.
 */
export function buildMcpServer(producer: Producer, userId: string): McpServer {
  const server = new McpServer({ name: "tickler", version: VERSION });
  for (const tool of TOOLS) {
    server.registerTool(
      tool.name,
      { description: tool.description, inputSchema: tool.input.shape, annotations: { openWorldHint: false } },
      async (args: Record<string, unknown>) => {
        const reply = await callTool(producer, tool.name, args, userId);
        const content = "result" in reply ? reply.result : reply;
        return {
          content: [{ type: "text" as const, text: JSON.stringify(content) }],
          structuredContent: content,
          ...("error" in reply ? { isError: true } : {}),
        };
      },
    );
  }
  return server;
}
