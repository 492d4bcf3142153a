/**
 * tickler as a library: the domain (schedule parsing, next fires), the producer and worker, and the runtime
 * that wires them. `tickler all|api|worker` (src/cli.ts) is built from the same parts.
 */
export * from "./triggers/index.js";
export {
  loadConfig,
  ConfigError,
  DEFAULTS,
  type Config,
  type Principal,
  type AgentConfig,
} from "./config/index.js";
export {
  Producer,
  type WriteOutcome,
  type UpsertStatus,
  type BatchItem,
  type BatchResult,
} from "./producer/producer.js";
export { FireQueue, type FireJobData } from "./producer/fire-queue.js";
export { connectRedis } from "./redis/connection.js";
export { RunStore, runToWire, type RunRecord, type RunStatus } from "./runs/run-store.js";
export { buildApp } from "./api/app.js";
export { startTickler, type Tickler, type Role } from "./runtime.js";
export { createLogger } from "./logger.js";
export {
  createTools,
  callTool,
  openAiTools,
  anthropicTools,
  mcpTools,
  TOOLS,
  type Tools,
  type ToolReply,
} from "./tools/index.js";
export { buildMcpServer } from "./tools/mcp.js";
