import { fileURLToPath } from "node:url";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { createApiHandler } from "#handlers/api.ts";
import { createLogger, createMetrics } from "#shared/adapters/observability.ts";
import { loadConfig } from "#shared/config.ts";
import { createApiDependencies } from "#shared/dependencies.ts";

// Cold start: config validated once, clients created once per execution environment.
const logger = createLogger("api");
const metrics = createMetrics("api");
// The CDK app copies the portal's built files into `portal/` beside this bundle (docs/portal.md).
const deps = createApiDependencies(loadConfig(), {
  portalAssetsDir: fileURLToPath(new URL("./portal/", import.meta.url)),
});

export const handler = middy(createApiHandler(deps, logger, metrics))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
