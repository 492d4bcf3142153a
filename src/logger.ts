import { pino, type DestinationStream, type Logger } from "pino";

/**
 * The process logger: JSON lines on stderr (stdout stays free for `tickler mcp`'s protocol). Secrets are
 * redacted by path wherever they could appear in a logged object.
 */
export function createLogger(
  level: string,
  base: Record<string, unknown> = {},
  destination: DestinationStream = pino.destination(2),
): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid, ...base },
      redact: {
        paths: [
          "token",
          "*.token",
          "headers.authorization",
          "*.headers.authorization",
          "signingSecret",
          "*.signingSecret",
          "req.headers.authorization",
        ],
        censor: "***",
      },
    },
    destination,
  );
}
