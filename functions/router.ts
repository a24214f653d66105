import { createRouterHandler } from "#handlers/router.ts";
import { createLogger, createMetrics, instrumented } from "#shared/adapters/observability.ts";
import { loadConfig } from "#shared/config.ts";
import { createRouterDependencies } from "#shared/dependencies.ts";

// Cold start: config validated once, clients created once per execution environment.
const logger = createLogger("router");
const metrics = createMetrics("router");
const deps = createRouterDependencies(loadConfig());

export const handler = instrumented(createRouterHandler(deps, logger, metrics), logger, metrics);
