import { operation } from "../operation.js";

/** The OpenAPI document, served without a token. */
export const openApiOperation = operation({
  method: "get",
  path: "/openapi.json",
  summary: "This document (OpenAPI 3.1)",
  tag: "operations",
  auth: false,
  ok: { 200: null },
  produces: "application/json",
  errors: [],
  handler: (_call, { openapi }: { openapi: Record<string, unknown> }) => ({ body: openapi }),
});
