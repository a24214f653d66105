import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { createDeliveryFunctionHandler, type DeliveryFunctionHandler } from "#handlers/delivery.ts";
import { createLogger, createMetrics } from "#shared/adapters/observability.ts";
import { loadConfig } from "#shared/config.ts";
import { createDeliveryDependencies } from "#shared/dependencies.ts";

// Cold start: config validated once, clients and caches created once per execution environment.
const logger = createLogger("delivery");
const metrics = createMetrics("delivery");
const deps = createDeliveryDependencies(loadConfig(), logger);

// SQS batches, and the backstop reconciliation's Scheduled Event (handlers/delivery.ts).
const entry = middy(createDeliveryFunctionHandler(deps, metrics))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));

/** Typed per event: an SQS batch answers its batch item failures, the schedule the pass's counts. */
export const handler = entry as DeliveryFunctionHandler & typeof entry;
