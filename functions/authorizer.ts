import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { createAuthorizerHandler } from "#handlers/authorizer.ts";
import { createLogger, createMetrics } from "#shared/adapters/observability.ts";
import { loadAuthorizerConfig } from "#shared/config.ts";
import { createAuthorizerDependencies } from "#shared/dependencies.ts";

// Cold start: the authorizer needs only the table, so it validates a smaller config.
const logger = createLogger("authorizer");
const metrics = createMetrics("authorizer");
const deps = createAuthorizerDependencies(loadAuthorizerConfig());

export const handler = middy(createAuthorizerHandler(deps, logger, metrics))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
