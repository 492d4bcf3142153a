import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { Router, type Request, type Response } from "express";
import type { Producer } from "../producer/producer.js";
import { anthropicTools, callTool, mcpTools, openAiTools } from "../tools/index.js";
import { buildMcpServer } from "../tools/mcp.js";
import { query } from "./routes.js";
import { querySchemas } from "./schemas.js";
import { ERROR_CODES, TicklerError, checkName } from "../triggers/index.js";

const formats = { openai: openAiTools, anthropic: anthropicTools, mcp: mcpTools } as const;

/**
 * The user a tool call acts for: a user token's own user, always; an admin token must name one with
 * `?user_id=` (an agent never chooses another user).
 */
function toolUser(req: Request): string {
  const { user_id: asked } = query(querySchemas.toolCall, req);
  const principal = req.principal;
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

/** The agent tools over HTTP (`/v1/tools`) and over MCP Streamable HTTP (`/mcp`). */
export function toolRoutes(producer: Producer): Router {
  const router = Router();

  router.get("/v1/tools", (req, res) => {
    const { format } = query(querySchemas.toolDefinitions, req);
    res.json({ format, tools: formats[format]() });
  });

  router.post("/v1/tools/:tool", async (req, res) => {
    const userId = toolUser(req);
    if (req.body !== undefined && !req.is("application/json")) {
      throw new TicklerError("unsupported_media_type", "send the tool arguments as application/json");
    }
    const reply = await callTool(producer, String(req.params.tool), req.body ?? {}, userId);
    if ("error" in reply)
      res.status(ERROR_CODES[reply.error.code as keyof typeof ERROR_CODES]?.status ?? 400).json(reply);
    else res.json(reply);
  });

  // Stateless Streamable HTTP: a fresh server and transport per request, so any API process can answer.
  router.post("/mcp", async (req, res) => {
    const server = buildMcpServer(producer, toolUser(req));
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
  });
  const noSessions = (_req: Request, res: Response): void => {
    res
      .status(405)
      .set("Allow", "POST")
      .json({
        jsonrpc: "2.0",
        error: {
          code: -32000,
          message: "Method not allowed: this MCP endpoint is stateless; POST JSON-RPC requests",
        },
        id: null,
      });
  };
  router.get("/mcp", noSessions);
  router.delete("/mcp", noSessions);

  return router;
}
