import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { loadConfig } from "#shared/config.ts";
import { createRouterDependencies } from "#shared/dependencies.ts";
import { createLogger } from "#shared/observability.ts";
import { type RouteOutcome, type RouterDependencies, routeEvent } from "#shared/routing/route-event.ts";

/**
 * EventBridge rule target. Unroutable events are parked and the invocation succeeds (retrying cannot
 * help); any other error propagates so Lambda's async retries and the on-failure destination apply.
 */
export function createRouterHandler(deps: RouterDependencies, logger = createLogger("router")) {
  return async (event: unknown): Promise<RouteOutcome> => {
    const outcome = await routeEvent(event, deps);
    if (outcome.kind === "routed") {
      logger.info("event routed", {
        event_id: outcome.eventId,
        event_type: outcome.type,
        customer_id: outcome.customerId,
        subscriptions: outcome.subscriptions,
        matched: outcome.matched,
      });
    } else {
      logger.warn("event unroutable", {
        event_id: outcome.eventId,
        reason: outcome.reason,
        details: outcome.details,
      });
    }
    return outcome;
  };
}

const logger = createLogger("router");
const deps = createRouterDependencies(loadConfig());

export const handler = middy(createRouterHandler(deps, logger)).use(injectLambdaContext(logger));
