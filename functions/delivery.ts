import { createDeliveryFunctionHandler, type DeliveryFunctionHandler } from "#handlers/delivery.ts";
import { createLogger, createMetrics, instrumented } from "#shared/adapters/observability.ts";
import { loadConfig } from "#shared/config.ts";
import { createDeliveryDependencies, createErasureRepository } from "#shared/dependencies.ts";

// Cold start: config validated once, clients and caches created once per execution environment.
const logger = createLogger("delivery");
const metrics = createMetrics("delivery");
const config = loadConfig();
const deps = createDeliveryDependencies(config, logger);

// SQS batches, and the backstop reconciliation's Scheduled Event (handlers/delivery.ts).
// Typed per event: an SQS batch answers its batch item failures, the schedule the pass's counts.
export const handler = instrumented(
  createDeliveryFunctionHandler(deps, metrics, createErasureRepository(config)),
  logger,
  metrics,
) as unknown as DeliveryFunctionHandler;
