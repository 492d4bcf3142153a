import type { AnyOperation } from "./operation.js";
import { openApiOperation } from "./routes/docs.js";
import { healthOperations } from "./routes/health.js";
import { runOperations } from "./routes/runs.js";
import { bulkOperations } from "./routes/bulk.js";
import { metricsOperation, statusOperations } from "./routes/status.js";
import { toolOperations } from "./routes/tools.js";
import { triggerOperations } from "./routes/triggers.js";

/** Served without the API's authentication: health, the document, and /metrics (which checks its own token). */
export const PUBLIC_OPERATIONS: readonly AnyOperation[] = [
  ...healthOperations,
  openApiOperation,
  metricsOperation,
];

/** Served behind authentication (a token, when tokens are configured) and the write rate limit. */
export const AUTHENTICATED_OPERATIONS: readonly AnyOperation[] = [
  ...statusOperations,
  ...bulkOperations,
  ...runOperations,
  ...toolOperations,
  ...triggerOperations,
];

/** Every operation of the API, once: the routes and /openapi.json are both made from this list. */
export const API_OPERATIONS: readonly AnyOperation[] = [...PUBLIC_OPERATIONS, ...AUTHENTICATED_OPERATIONS];
