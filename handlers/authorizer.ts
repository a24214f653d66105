import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { APIGatewayRequestAuthorizerEventV2 } from "aws-lambda";
import { createLogger, type createMetrics } from "#shared/adapters/observability.ts";
import {
  type AuthorizerFailure,
  type AuthorizerResponse,
  authorizerContextFor,
} from "#shared/api/auth-context.ts";
import { isThrottlingError } from "#shared/api/errors.ts";
import { extractCredentials } from "#shared/domain/access-keys/credentials.ts";
import { loggedError } from "#shared/domain/ports/logger.ts";
import {
  type AccessKeyDependencies,
  type AuthenticationResult,
  authenticate,
} from "#shared/services/access-keys.ts";
import { METRIC_NAMES } from "./metrics.ts";

type Logger = ReturnType<typeof createLogger>;
type Metrics = ReturnType<typeof createMetrics>;

/**
 * API Gateway HTTP API REQUEST authorizer (payload 2.0, simple responses, no identity sources, no
 * caching). It allows every request and puts the verdict in the context: `{customer_id, key_id}` or
 * `{auth_error}`; the API function answers 401 with the §5 body (docs/api.md, "Authentication"), or
 * 429/500 when the key could not be looked up (throttled/failed): a key that may be valid is never a 401.
 * The key is hashed at once and never logged; only its id, once known, is.
 */
export function createAuthorizerHandler(
  deps: AccessKeyDependencies,
  logger: Logger = createLogger("authorizer"),
  metrics?: Metrics,
) {
  return async (event: APIGatewayRequestAuthorizerEventV2): Promise<AuthorizerResponse> => {
    logger.setCorrelationId(event.requestContext?.requestId);
    const credentials = extractCredentials(event.headers ?? {}, event.queryStringParameters ?? {});
    let result: AuthenticationResult | AuthorizerFailure;
    try {
      result = await authenticate(credentials, deps);
    } catch (error) {
      const throttled = isThrottlingError(error);
      logger.error(`could not authenticate: key lookup ${throttled ? "throttled" : "failed"}`, {
        error: loggedError(error),
      });
      metrics?.addMetric(METRIC_NAMES.authorizer.errors, MetricUnit.Count, 1);
      result = { kind: "failed", throttled };
    }
    if (result.kind === "authenticated") {
      logger.info("authenticated", {
        customer_id: result.customerId,
        key_id: result.keyId,
        source: credentials.kind === "presented" ? credentials.source : null,
      });
    } else if (result.kind === "refused") {
      logger.info("not authenticated", {
        reason: result.reason,
        source: credentials.kind === "presented" ? credentials.source : null,
      });
      if (result.reason !== "missing")
        metrics?.addMetric(METRIC_NAMES.authorizer.authenticationFailures, MetricUnit.Count, 1);
    }
    return { isAuthorized: true, context: authorizerContextFor(result) };
  };
}
