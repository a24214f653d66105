import type { Context } from "aws-lambda";
import { createLogger } from "#shared/adapters/observability.ts";
import { handleApiRequest } from "#shared/api/app.ts";
import type { ApiEvent, ApiResult } from "#shared/api/http.ts";
import { isPortalRequest, portalResponse } from "#shared/api/portal.ts";
import type { ApiDependencies } from "#shared/dependencies.ts";
import { loggedError } from "#shared/domain/ports/logger.ts";

type Logger = ReturnType<typeof createLogger>;

/**
 * API Gateway HTTP API (payload 2.0) target for every route of PRODUCT §5. The caller's customer id
 * comes only from the authorizer's context (shared/api/auth-context.ts). One structured log line per
 * request; never the query string (it may hold an access key), headers or bodies.
 */
export function createApiHandler(deps: ApiDependencies, logger: Logger = createLogger("api")) {
  return async (event: ApiEvent, context?: Context): Promise<ApiResult> => {
    const started = Date.now();
    logger.setCorrelationId(event.requestContext?.requestId);
    if (isPortalRequest(event)) {
      // The portal's static files: no customer data, no credentials looked at.
      const result = portalResponse(event, deps.portalAssets());
      logger.info("portal file", { path: event.rawPath, status: result.statusCode });
      return result;
    }
    const outcome = await handleApiRequest(event, deps.services, deps.settings, {
      openApiDocument: deps.openApiDocument,
      ...(context ? { remainingTimeMs: () => context.getRemainingTimeInMillis() } : {}),
    });
    const status = outcome.result.statusCode;
    const line = {
      method: event.requestContext?.http?.method,
      route: outcome.route,
      status,
      customer_id: outcome.customerId,
      key_id: outcome.keyId,
      error_code: outcome.errorCode,
      duration_ms: Date.now() - started,
    };
    if (status >= 500) logger.error("request failed", { ...line, error: loggedError(outcome.error) });
    else logger.info("request", line);
    return outcome.result;
  };
}
