import type { RedisClient } from "../redis/connection.js";
import type { Logger } from "pino";
import type { Config } from "../config/index.js";
import type { Metrics } from "../metrics.js";
import type { Producer } from "../producer/producer.js";
import type { RunEventHub } from "../runs/run-events.js";
import type { Runs } from "../runs/runs.js";

/** What the HTTP app needs; it opens nothing itself. */
export interface AppDeps {
  config: Config;
  producer: Producer;
  runs: Runs;
  events: RunEventHub;
  metrics: Metrics;
  redis: RedisClient;
  logger: Logger;
  /** Which roles this process runs, for /v1/status. */
  roles?: readonly string[];
  now?: () => number;
}

/** What the operations' handlers are given: the app's dependencies, the clock resolved. */
export interface ApiContext extends AppDeps {
  now: () => number;
}
