import { LogFormatter, Logger, LogItem } from "@aws-lambda-powertools/logger";
import type { LogAttributes, UnformattedAttributes } from "@aws-lambda-powertools/logger/types";
import { Metrics } from "@aws-lambda-powertools/metrics";

export const METRICS_NAMESPACE = "VoipbinWebhooks";

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

/**
 * Powertools' standard log structure, with errors (passed as the extra argument, or as any attribute
 * value) written by `loggedError` instead of Powertools' default, which copies every own property.
 */
export class SecretSafeLogFormatter extends LogFormatter {
  override formatAttributes(
    attributes: UnformattedAttributes,
    additionalLogAttributes: LogAttributes,
  ): LogItem {
    return new LogItem({
      attributes: {
        level: attributes.logLevel,
        message: attributes.message,
        timestamp: this.formatTimestamp(attributes.timestamp),
        service: attributes.serviceName,
        cold_start: attributes.lambdaContext?.coldStart,
        function_arn: attributes.lambdaContext?.invokedFunctionArn,
        function_memory_size: attributes.lambdaContext?.memoryLimitInMB,
        function_name: attributes.lambdaContext?.functionName,
        function_request_id: attributes.lambdaContext?.awsRequestId,
        sampling_rate: attributes.sampleRateValue,
        xray_trace_id: attributes.xRayTraceId,
      },
    }).addAttributes(additionalLogAttributes);
  }

  override formatError(error: Error): LogAttributes {
    return { ...loggedError(error) };
  }
}

/**
 * Structured JSON logs (Powertools). The service name and level come from POWERTOOLS_SERVICE_NAME and
 * POWERTOOLS_LOG_LEVEL, set per function by the stack. Log an error as `{ error }` (or as the extra
 * argument): the formatter writes it in the one secret-safe shape.
 */
export function createLogger(
  serviceName: string,
  options: { readonly logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR" } = {},
): Logger {
  return new Logger({
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? serviceName,
    logFormatter: new SecretSafeLogFormatter(),
    ...options,
  });
}

export function createMetrics(serviceName: string): Metrics {
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? serviceName,
  });
}
