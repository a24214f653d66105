/**
 * Logging as the use cases see it (the port): four levels, a message and structured attributes, and
 * the one shape an error has in a log line. Powertools' logger (shared/adapters/observability.ts)
 * implements it and writes errors through `loggedError`.
 */

/** What a use case may log with; attributes are objects, never strings to interpolate. */
export interface DomainLogger {
  debug(message: string, ...attributes: Record<string, unknown>[]): void;
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  error(message: string, ...attributes: Record<string, unknown>[]): void;
}

/** The one shape an error has in a log line, wherever it is logged (functions, the local stack). */
export interface LoggedError {
  readonly name: string;
  /** The error's stable code (CodedError) or errno-style code (Node, e.g. ECONNRESET), when it has one. */
  readonly code?: string;
  readonly message: string;
  readonly stack?: string;
  readonly cause?: LoggedError | string;
}

/** Causes followed at most this deep: a cycle of causes must not hang a log write. */
const MAX_CAUSE_DEPTH = 3;

/**
 * What a log may hold of an error: its name, code, message, stack and cause, nothing else. Never its
 * other own properties, which for AWS SDK errors can carry the item a condition failed on (a
 * subscription, with its secret) or the request's headers. Non-errors are logged by type only: a
 * thrown object may be anything, including a secret.
 */
export function loggedError(error: unknown, depth = 0): LoggedError {
  if (!(error instanceof Error)) return { name: typeof error, message: `non-error thrown (${typeof error})` };
  const code = (error as { code?: unknown }).code;
  const cause = error.cause;
  return {
    name: error.name,
    ...(typeof code === "string" ? { code } : {}),
    message: error.message,
    ...(error.stack !== undefined ? { stack: error.stack } : {}),
    ...(cause === undefined
      ? {}
      : {
          cause:
            depth + 1 >= MAX_CAUSE_DEPTH
              ? "(further causes left out)"
              : cause instanceof Error
                ? loggedError(cause, depth + 1)
                : `non-error cause (${typeof cause})`,
        }),
  };
}
