import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { anthropicTools, callTool, mcpTools, openAiTools } from "../../tools/index.js";
import { buildMcpServer } from "../../tools/mcp.js";
import type { Principal } from "../../config/index.js";
import { ERROR_CODES, TicklerError, checkName } from "../../triggers/index.js";
import type { ApiContext } from "../context.js";
import { operation, type AnyOperation, type Call, type Reply } from "../operation.js";
import {
  mcpErrorSchema,
  querySchemas,
  toolArgsSchema,
  toolDefinitionsSchema,
  toolResultSchema,
} from "../schemas.js";

const formats = { openai: openAiTools, anthropic: anthropicTools, mcp: mcpTools } as const;

/**
 * The user a tool call acts for: a user token's own user, always; an admin token must name one with
 * `?user_id=` (an agent never chooses another user).
 */
function toolUser(principal: Principal | undefined, asked: string | undefined): string {
  if (principal?.role === "user") {
    if (asked !== undefined && asked !== principal.userId) {
      throw new TicklerError("forbidden", `this token belongs to user "${principal.userId}"`, {
        field: "user_id",
      });
    }
    return principal.userId;
  }
  if (asked === undefined) {
    throw new TicklerError(
      "invalid_field",
      "query.user_id: an admin token must say which user the tools act for (?user_id=)",
      { field: "query.user_id" },
    );
  }
  return checkName(asked, "user_id");
}

/** MCP over HTTP is stateless here: GET (a notification stream) and DELETE (end a session) have no use. */
function noSessions({ res }: Call<unknown>): Reply {
  res.set("Allow", "POST");
  return {
    status: 405,
    body: {
      jsonrpc: "2.0",
      error: {
        code: -32000,
        message: "Method not allowed: this MCP endpoint is stateless; POST JSON-RPC requests",
      },
      id: null,
    },
  };
}

/** The agent tools over HTTP (`/v1/tools`) and over MCP Streamable HTTP (`/mcp`). */
export const toolOperations: AnyOperation<ApiContext>[] = [
  operation({
    method: "get",
    path: "/v1/tools",
    summary: "Agent tool definitions for OpenAI (strict), Anthropic or MCP",
    tag: "tools",
    query: querySchemas.toolDefinitions,
    ok: { 200: toolDefinitionsSchema },
    errors: [400],
    handler: ({ query }) => ({ body: { format: query.format, tools: formats[query.format]() } }),
  }),
  operation({
    method: "post",
    path: "/v1/tools/{tool}",
    summary: "Call an agent tool for the caller's user",
    tag: "tools",
    query: querySchemas.toolCall,
    body: toolArgsSchema,
    ok: { 200: toolResultSchema },
    errors: [400, 403, 404, 409, 415],
    async handler({ req, params, query, principal }, { producer }: ApiContext) {
      const userId = toolUser(principal, query.user_id);
      if (req.body !== undefined && !req.is("application/json")) {
        throw new TicklerError("unsupported_media_type", "send the tool arguments as application/json");
      }
      const reply = await callTool(producer, params.tool ?? "", req.body ?? {}, userId);
      if ("error" in reply)
        return {
          status: ERROR_CODES[reply.error.code as keyof typeof ERROR_CODES]?.status ?? 400,
          body: reply,
        };
      return { body: reply };
    },
  }),
  operation({
    method: "post",
    path: "/mcp",
    summary: "The agent tools over MCP (Streamable HTTP, stateless, JSON-RPC 2.0)",
    tag: "tools",
    query: querySchemas.toolCall,
    ok: { 200: null },
    produces: "application/json",
    errors: [400, 403],
    async handler({ req, res, query, principal }, { producer }: ApiContext) {
      // A fresh server and transport per request, so any API process can answer.
      const server = buildMcpServer(producer, toolUser(principal, query.user_id));
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      res.on("close", () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    },
  }),
  ...(["get", "delete"] as const).map((method) =>
    operation({
      method,
      path: "/mcp",
      summary: "Not used: this MCP endpoint is stateless (405)",
      tag: "tools",
      ok: { 405: mcpErrorSchema },
      errors: [],
      handler: noSessions,
    }),
  ),
];
