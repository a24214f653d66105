import { LogFormatter, Logger, LogItem } from "@aws-lambda-powertools/logger";
import type { LogAttributes, UnformattedAttributes } from "@aws-lambda-powertools/logger/types";
import { Metrics } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { cutBelowDepth, depthBoundedReplacer } from "../domain/json.ts";
import { loggedError } from "../domain/ports/logger.ts";

export const METRICS_NAMESPACE = "VoipbinWebhooks";

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
  return new DepthBoundedLogger({
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? serviceName,
    logFormatter: new SecretSafeLogFormatter(),
    ...options,
  });
}

type LogItemMessage = Parameters<Logger["info"]>[0];
type LogItemExtraInput = Parameters<Logger["info"]> extends [unknown, ...infer Rest] ? Rest : never;

/** Errors pass as they are (Powertools formats them); plain data is cut below the log depth. */
function bounded<T>(value: T): T {
  if (typeof value !== "object" || value === null || value instanceof Error) return value;
  return cutBelowDepth(value, LOG_MAX_DEPTH) as T;
}

function boundedExtra(extra: LogItemExtraInput): LogItemExtraInput {
  return extra.map((item) => bounded(item)) as LogItemExtraInput;
}

/** Deepest nesting a log entry keeps; below it, values are written as a marker. */
export const LOG_MAX_DEPTH = 32;

/**
 * A Powertools Logger whose serialisation cannot overflow the stack: JSON.stringify recurses once
 * per level, and a log entry may carry foreign data (an event, a record), so every container below
 * LOG_MAX_DEPTH levels is written as a marker. Powertools' own replacer (errors, BigInt, cycles)
 * still runs after the bound.
 */
export class DepthBoundedLogger extends Logger {
  // Powertools merges extra input recursively before it serialises it: cut it first.
  override critical(input: LogItemMessage, ...extra: LogItemExtraInput): void {
    super.critical(bounded(input), ...boundedExtra(extra));
  }
  override error(input: LogItemMessage, ...extra: LogItemExtraInput): void {
    super.error(bounded(input), ...boundedExtra(extra));
  }
  override warn(input: LogItemMessage, ...extra: LogItemExtraInput): void {
    super.warn(bounded(input), ...boundedExtra(extra));
  }
  override info(input: LogItemMessage, ...extra: LogItemExtraInput): void {
    super.info(bounded(input), ...boundedExtra(extra));
  }
  override debug(input: LogItemMessage, ...extra: LogItemExtraInput): void {
    super.debug(bounded(input), ...boundedExtra(extra));
  }
  override trace(input: LogItemMessage, ...extra: LogItemExtraInput): void {
    super.trace(bounded(input), ...boundedExtra(extra));
  }

  override getJsonReplacer(): (key: string, value: unknown) => unknown {
    const powertools = super.getJsonReplacer();
    const bound = depthBoundedReplacer(LOG_MAX_DEPTH);
    return function (this: unknown, key: string, value: unknown): unknown {
      return powertools.call(this, key, bound.call(this, key, value));
    };
  }
}

export function createMetrics(serviceName: string): Metrics {
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? serviceName,
  });
}

/**
 * Wraps a function's handler the way the Powertools middy middlewares (`injectLambdaContext`,
 * `logMetrics`) did, through Powertools' own documented manual calls and without middy (~4 KB less in
 * every bundle, docs/decisions.md): before each invocation the sampling rate is re-drawn, the Lambda
 * context (request id, cold start, function name) is added to every log line and the event is logged
 * when POWERTOOLS_LOGGER_LOG_EVENT asks for it; after it, succeeded or thrown, the stored metrics (if
 * any) are published as EMF and, with `resetKeys`, the keys the invocation appended are dropped.
 */
export function instrumented<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
  logger: Logger,
  metrics: Metrics,
  options: { readonly resetKeys?: boolean } = {},
): (event: E, context: Context) => Promise<R> {
  return async (event, context) => {
    logger.refreshSampleRateCalculation();
    logger.addContext(context);
    logger.logEventIfEnabled(event);
    try {
      return await handler(event, context);
    } finally {
      // Powertools warns "No application metrics to publish" on every publish without metrics: one
      // line per invocation that counted nothing (a piped local stack's log was full of them).
      // Nothing to publish, so only the invocation's dimensions and metadata are dropped.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      else {
        metrics.clearDimensions();
        metrics.clearMetadata();
      }
      if (options.resetKeys) logger.resetKeys();
    }
  };
}
