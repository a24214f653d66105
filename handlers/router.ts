import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { createLogger, type createMetrics } from "#shared/adapters/observability.ts";
import { type RouteOutcome, type RouterDependencies, routeEvent } from "#shared/services/route-event.ts";
import { METRIC_NAMES } from "./metrics.ts";

/**
 * EventBridge rule target. Unroutable events are parked and the invocation succeeds (retrying cannot
 * help); any other error propagates so Lambda's async retries and the on-failure destination apply.
 */
export function createRouterHandler(
  deps: RouterDependencies,
  logger = createLogger("router"),
  metrics?: ReturnType<typeof createMetrics>,
) {
  return async (event: unknown): Promise<RouteOutcome> => {
    const outcome = await routeEvent(event, deps);
    if (outcome.kind === "routed") {
      logger.info("event routed", {
        event_id: outcome.eventId,
        event_type: outcome.type,
        customer_id: outcome.customerId,
        subscriptions: outcome.subscriptions,
        matched: outcome.matched,
        ...(outcome.shadow ? { shadowed: true } : {}),
      });
      metrics?.addMetric(METRIC_NAMES.router.routed, MetricUnit.Count, 1);
      metrics?.addMetric(METRIC_NAMES.router.fanOut, MetricUnit.Count, outcome.matched);
    } else if (outcome.kind === "control") {
      // Never the customer object: it carries the webhook secret.
      logger.info("control event applied", {
        event_id: outcome.eventId,
        event_type: outcome.type,
        customer_id: outcome.customerId,
        managed_subscription: outcome.change,
      });
    } else {
      metrics?.addMetric(METRIC_NAMES.router.unroutable, MetricUnit.Count, 1);
      logger.warn("event unroutable", {
        event_id: outcome.eventId,
        reason: outcome.reason,
        details: outcome.details,
      });
    }
    return outcome;
  };
}
