import { createAuthorizerHandler } from "#handlers/authorizer.ts";
import { createLogger, createMetrics, instrumented } from "#shared/adapters/observability.ts";
import { loadAuthorizerConfig } from "#shared/config.ts";
import { createAuthorizerDependencies } from "#shared/dependencies.ts";

// Cold start: the authorizer needs only the table, so it validates a smaller config.
const logger = createLogger("authorizer");
const metrics = createMetrics("authorizer");
const deps = createAuthorizerDependencies(loadAuthorizerConfig());

export const handler = instrumented(createAuthorizerHandler(deps, logger, metrics), logger, metrics, {
  resetKeys: true,
});
