import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Producer } from "../producer/producer.js";
import { VERSION } from "../version.js";
import { mcpTools } from "./definitions.js";
import { callTool } from "./index.js";

/**
 * An MCP server exposing the schedule tools for one user. It lists the same schemas as
 * `/v1/tools?format=mcp` and validates each call with tickler's own parser rather than the SDK's, so a bad
 * call is answered as over HTTP: a tool result with `isError: true` carrying the API's error shape (what
 * was given, what is expected, a working call), which a model can read and act on. Results come back both
 * as JSON text and as `structuredContent`.
 */
export function buildMcpServer(producer: Producer, userId: string): Server {
  const server = new Server({ name: "tickler", version: VERSION }, { capabilities: { tools: {} } });
  const tools = mcpTools().map((tool) => ({ ...tool, annotations: { openWorldHint: false } }));
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const reply = await callTool(producer, request.params.name, request.params.arguments ?? {}, userId);
    const content = "result" in reply ? reply.result : reply;
    return {
      content: [{ type: "text" as const, text: JSON.stringify(content) }],
      structuredContent: content,
      ...("error" in reply ? { isError: true } : {}),
    };
  });
  return server;
}
