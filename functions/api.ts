import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createApiHandler } from "#handlers/api.ts";
import { createLogger, createMetrics, instrumented } from "#shared/adapters/observability.ts";
import { loadConfig } from "#shared/config.ts";
import { createApiDependencies } from "#shared/dependencies.ts";

// Cold start: config validated once, clients created once per execution environment.
const logger = createLogger("api");
// No application metric of its own (API Gateway's 4xx/5xx count the answers); `instrumented` drops
// the invocation's dimensions and metadata.
const metrics = createMetrics("api");
// The CDK app copies the portal's built files into `portal/` beside this bundle (docs/portal.md),
// and the OpenAPI document it generated into `openapi.json` (run from the sources, there is none:
// the committed docs/openapi.json is served).
const openApiDocumentFile = fileURLToPath(new URL("./openapi.json", import.meta.url));
const deps = createApiDependencies(loadConfig(), {
  portalAssetsDir: fileURLToPath(new URL("./portal/", import.meta.url)),
  ...(existsSync(openApiDocumentFile) ? { openApiDocumentFile } : {}),
});

export const handler = instrumented(createApiHandler(deps, logger), logger, metrics, {
  resetKeys: true,
});
