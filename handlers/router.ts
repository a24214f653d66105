import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { createLogger, type createMetrics } from "#shared/adapters/observability.ts";
import { loggedError } from "#shared/domain/ports/logger.ts";
import type { RoutingSubscription } from "#shared/domain/ports/subscriptions.ts";
import { type RouteOutcome, type RouterDependencies, routeEvent } from "#shared/services/route-event.ts";
import { sharedEnqueue } from "#shared/services/shared-enqueue.ts";
import { METRIC_NAMES } from "./metrics.ts";

/** An SQS event source mapping's batch (an EventBridge event never has `Records`). */
function isSqsBatch(event: unknown): event is SQSEvent {
  const records = (event as { Records?: unknown } | null)?.Records;
  return (
    Array.isArray(records) &&
    records.every((record: unknown) => (record as Partial<SQSRecord> | null)?.eventSource === "aws:sqs")
  );
}

/** A record's body is the event as the bus rule sent it; one that is not JSON is parked as it is. */
function recordEvent(record: SQSRecord): unknown {
  try {
    return JSON.parse(record.body);
  } catch {
    return record.body;
  }
}

/**
 * The dependencies for one batch: each customer's subscriptions are read once for the whole batch
 * (one Query, shared by that customer's records), not once per record. A bursting customer's batch
 * (ten of its events, which is what the fair queue hands out once it has served everyone else) then
 * costs one read instead of ten, so a burst's routing takes a tenth of the reads on DynamoDB and of
 * the work on the router's instances that another customer's event competes with (docs/delivery.md,
 * "Fair routing"). The records of a batch are routed concurrently, in no order, so reading once per
 * batch sees nothing older than reading per record could. A failed read fails that customer's
 * records of the batch (each comes back, as before); it is not kept beyond the batch.
 */
function perBatch(deps: RouterDependencies): RouterDependencies {
  const lists = new Map<string, Promise<RoutingSubscription[]>>();
  return {
    ...deps,
    subscriptions: {
      listForRouting: (customerId) => {
        let list = lists.get(customerId);
        if (list === undefined) {
          list = deps.subscriptions.listForRouting(customerId);
          lists.set(customerId, list);
        }
        return list;
      },
    },
  };
}

/**
 * The router, invoked two ways:
 * - by its event source mapping with a batch of the fair router queue (the bus rules' target,
 *   docs/delivery.md "Fair routing"): each record is routed on its own; a record that failed
 *   (DynamoDB or SQS trouble) is reported in `batchItemFailures` and comes back after the queue's
 *   visibility timeout, up to its maxReceiveCount, then goes to the router-failed queue;
 * - directly with one EventBridge event (an operator's id-preserving redrive): any error propagates.
 * Unroutable events are parked and count as routed (retrying cannot help).
 */
export function createRouterHandler(
  deps: RouterDependencies,
  logger = createLogger("router"),
  metrics?: ReturnType<typeof createMetrics>,
) {
  const routeOne = async (event: unknown, routing: RouterDependencies = deps): Promise<RouteOutcome> => {
    const outcome = await routeEvent(event, routing);
    if (outcome.kind === "routed") {
      // DEBUG: one INFO line per event was the largest item of the log bill; the delivery records
      // and the FanOut metric say what was routed (docs/decisions.md, "Lean defaults").
      logger.debug("event routed", {
        event_id: outcome.eventId,
        event_type: outcome.type,
        customer_id: outcome.customerId,
        subscriptions: outcome.subscriptions,
        matched: outcome.matched,
        ...(outcome.shadow ? { shadowed: true } : {}),
      });
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
      // No metric of its own: the unroutable queue's NumberOfMessagesSent counts these.
      logger.warn("event unroutable", {
        event_id: outcome.eventId,
        reason: outcome.reason,
        details: outcome.details,
      });
    }
    return outcome;
  };
  return async (event: unknown): Promise<RouteOutcome | SQSBatchResponse> => {
    if (!isSqsBatch(event)) return routeOne(event);
    const batch = perBatch(deps);
    // The records of a batch at once: one customer's slow Query does not hold the others' events
    // (their jobs wait for it at most SHARED_ENQUEUE_MAX_WAIT_MS). Their jobs share SendMessageBatch
    // requests (shared/services/shared-enqueue.ts).
    const shared = sharedEnqueue(deps.deliveryQueue, event.Records.length);
    const failed = await Promise.all(
      event.Records.map(async (record) => {
        const deliveryQueue = shared.member();
        try {
          await routeOne(recordEvent(record), { ...batch, deliveryQueue });
          return undefined;
        } catch (error) {
          logger.error("routing failed; the event stays queued and is retried", {
            message_id: record.messageId,
            receive_count: Number(record.attributes.ApproximateReceiveCount),
            error: loggedError(error),
          });
          return { itemIdentifier: record.messageId };
        } finally {
          deliveryQueue.leave();
        }
      }),
    );
    return { batchItemFailures: failed.filter((failure) => failure !== undefined) };
  };
}
