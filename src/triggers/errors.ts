/**
 * The error catalogue. Every error tickler reports to a caller has a stable `code`, the HTTP status it
 * maps to, whether retrying the same request can succeed, and (for input errors) the `field` it is about.
 * The README lists every code; a unit test keeps the two in step.
 */
export const ERROR_CODES = {
  invalid_request: { status: 400, retryable: false, title: "The request body or query is malformed" },
  invalid_field: { status: 400, retryable: false, title: "A field has a wrong type or value" },
  invalid_name: { status: 400, retryable: false, title: "A user_id or trigger name has a bad form" },
  invalid_schedule: { status: 400, retryable: false, title: "No, or more than one, schedule form" },
  invalid_duration: { status: 400, retryable: false, title: "A duration could not be read" },
  invalid_time: { status: 400, retryable: false, title: "A time could not be read or is in the past" },
  invalid_cron: { status: 400, retryable: false, title: "A cron expression could not be read" },
  invalid_timezone: { status: 400, retryable: false, title: "Not an IANA time zone" },
  interval_too_short: { status: 400, retryable: false, title: "A period is shorter than min_interval" },
  too_large: { status: 400, retryable: false, title: "A prompt, payload or field is over its size limit" },
  target_not_allowed: { status: 400, retryable: false, title: "The target is not an agent from config" },
  unauthorized: { status: 401, retryable: false, title: "No bearer token, or an unknown one" },
  forbidden: { status: 403, retryable: false, title: "The token may not act on this user" },
  not_found: { status: 404, retryable: false, title: "No such trigger, run or route" },
  already_exists: { status: 409, retryable: false, title: "The trigger exists and if_exists=raise" },
  conflict: { status: 409, retryable: true, title: "Another write to the same trigger is in progress" },
  quota_exceeded: {
    status: 409,
    retryable: false,
    title: "The user already has max_triggers_per_user triggers",
  },
  body_too_large: { status: 413, retryable: false, title: "The request body is over the size limit" },
  unsupported_media_type: { status: 415, retryable: false, title: "The body is not application/json" },
  rate_limited: { status: 429, retryable: true, title: "Too many requests" },
  redis_unavailable: { status: 503, retryable: true, title: "Redis does not answer" },
  internal: { status: 500, retryable: true, title: "An unexpected error; the log has the details" },
} as const satisfies Record<string, { status: number; retryable: boolean; title: string }>;

/** A code from {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** An error tickler reports to its caller: a code from the catalogue, a message that says how to fix it, the field. */
export class TicklerError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  override readonly name = "TicklerError";

  constructor(code: ErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
  }

  /** The HTTP status of this error's code. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  /** Whether the same request may succeed later. */
  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }

  /** The wire shape `{code, message, field?}`. */
  toJSON(): { code: ErrorCode; message: string; field?: string } {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

/** Shorthand for an input error about one field. */
export function invalid(code: ErrorCode, field: string, message: string, cause?: unknown): TicklerError {
  return new TicklerError(code, `${field}: ${message}`, { field, cause });
}

/** A trigger that is not there: `not_found` on its name. */
export function triggerNotFound(userId: string, name: string): TicklerError {
  return new TicklerError("not_found", `no trigger named "${name}" for user "${userId}"`, { field: "name" });
}

/** Normalises anything thrown into an `Error` (a thrown string or object keeps its text). */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === "string") return new Error(thrown);
  try {
    return new Error(JSON.stringify(thrown));
  } catch {
    return new Error(String(thrown));
  }
}
