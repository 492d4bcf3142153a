/**
 * tickler as a library, a deliberate list: the agent tools (`createTools`), in-process fires for app code
 * (`createWorker`, `schedule.once/heartbeat/cron`, `PermanentError`), the producer for app code that seeds
 * triggers (`openStores`), the runtime and the HTTP app a process is made of, and from the domain
 * what a caller needs to read schedules and errors. `tickler all|api|worker` (src/cli.ts) is built from
 * the same parts. Anything not listed here is internal and may change.
 */
export {
  TicklerError,
  ERROR_CODES,
  type ErrorCode,
  parseDuration,
  formatDuration,
  parseSchedule,
  resolveSchedule,
  nextFires,
  describeSchedule,
  parseTrigger,
  triggerId,
  IF_EXISTS,
  MISSED_POLICIES,
  OVERLAP_POLICIES,
  TRIGGER_KINDS,
  TRIGGER_STATES,
  type IfExists,
  type MissedPolicy,
  type OverlapPolicy,
  type Page,
  type Schedule,
  type ScheduleInput,
  type TriggerInput,
  type TriggerKind,
  type TriggerRecord,
  type TriggerSpec,
  type TriggerState,
} from "./triggers/index.js";
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
export { openStores, type Stores, type StoresOptions } from "./producer/stores.js";
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
export { createWorker, type CreateWorkerOptions, type InProcessWorker } from "./library/worker.js";
export {
  scheduleFor,
  openSchedule,
  type Scheduler,
  type Scheduled,
  type ScheduleCommon,
  type OnceCall,
  type HeartbeatCall,
  type CronCall,
  type DurationLike,
} from "./library/schedule.js";
export { PermanentError, type Fire, type FireHandler } from "./worker/fire-handler.js";
