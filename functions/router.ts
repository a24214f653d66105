import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { createRouterHandler } from "#handlers/router.ts";
import { createLogger, createMetrics } from "#shared/adapters/observability.ts";
import { loadConfig } from "#shared/config.ts";
import { createRouterDependencies } from "#shared/dependencies.ts";

// Cold start: config validated once, clients created once per execution environment.
const logger = createLogger("router");
const metrics = createMetrics("router");
const deps = createRouterDependencies(loadConfig());

export const handler = middy(createRouterHandler(deps, logger, metrics))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
