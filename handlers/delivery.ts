import { randomUUID } from "node:crypto";
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context, ScheduledEvent, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { createMetrics } from "#shared/adapters/observability.ts";
import type { Lane } from "#shared/domain/delivery/endpoint-health.ts";
import { type DeliveryJob, parseDeliveryJob } from "#shared/domain/delivery/job.ts";
import { KeptOnQueueSignal } from "#shared/domain/errors.ts";
import type { ErasureRequests, ErasureStore } from "#shared/domain/ports/erasure.ts";
import { loggedError } from "#shared/domain/ports/logger.ts";
import { type BackstopResult, reconcileBackstopArrivals } from "#shared/services/delivery/backstop.ts";
import {
  DeliveryBatch,
  type DeliveryDependencies,
  type DeliveryOutcome,
} from "#shared/services/delivery/deliver.ts";
import { erasePendingCustomers } from "#shared/services/erasure.ts";
import { deliveryOutcomeMetric, isMeteredOutcome, METRIC_NAMES } from "./metrics.ts";

type Metrics = ReturnType<typeof createMetrics>;

/**
 * SQS event source target. Every record is delivered concurrently. Only records that hit an error of
 * our own are reported as batch item failures (SQS brings them back after the queue's visibility
 * timeout, and its redrive backstop counts them). Every other record — delivered, dropped, moved to
 * the dead-letter queue by our code, or waiting (re-sent as a new, delayed message first: nothing
 * waits in flight; docs/delivery.md, "Waits out of flight") — is deleted by the mapping.
 */
export function createDeliveryHandler(baseDeps: DeliveryDependencies, metrics?: Metrics) {
  const deps: DeliveryDependencies = metrics
    ? {
        ...baseDeps,
        onAttempt: (sample) => {
          metrics.addMetric(METRIC_NAMES.delivery.latency, MetricUnit.Milliseconds, sample.latencyMs);
        },
      }
    : baseDeps;
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const jobs = new Map<string, DeliveryJob>();
    for (const record of event.Records) {
      try {
        jobs.set(record.messageId, parseDeliveryJob(record.body));
      } catch (error) {
        metrics?.addMetric(METRIC_NAMES.delivery.internalErrors, MetricUnit.Count, 1);
        deps.logger.error("invalid delivery job", {
          message_id: record.messageId,
          error: loggedError(error),
        });
      }
    }
    // One event source mapping per queue: a batch comes from one lane, and a slow-lane job waits
    // (retries, an open breaker, the cap) on the slow lane.
    const lane = laneOf(event.Records[0]?.eventSourceARN, deps);
    const laneDeps = lane === "slow" && deps.lanes ? { ...deps, queue: deps.lanes.deps.slowLane } : deps;
    let batch: DeliveryBatch;
    try {
      batch = await DeliveryBatch.load([...jobs.values()], laneDeps);
    } catch (error) {
      // Our own failure (DynamoDB): every record comes back after its visibility timeout.
      metrics?.addMetric(METRIC_NAMES.delivery.internalErrors, MetricUnit.Count, event.Records.length);
      deps.logger.error("could not load the batch's subscriptions and deliveries", {
        error: loggedError(error),
        records: event.Records.length,
      });
      return { batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) };
    }
    const recordHandler = async (record: SQSRecord): Promise<DeliveryOutcome> => {
      const job = jobs.get(record.messageId);
      if (job === undefined) throw new Error("invalid delivery job");
      // For logs only: attempts are counted on the delivery's record, never by SQS receives.
      const receiveCount = Number.parseInt(record.attributes.ApproximateReceiveCount, 10) || 1;
      let outcome: DeliveryOutcome;
      try {
        outcome = await batch.deliver({
          job,
          messageId: record.messageId,
          receiptHandle: record.receiptHandle,
          receiveCount,
          lane,
        });
      } catch (error) {
        // Not an error of ours: a copy kept on the queue until its delivery's hand-off has settled.
        if (error instanceof KeptOnQueueSignal) throw error;
        metrics?.addMetric(METRIC_NAMES.delivery.internalErrors, MetricUnit.Count, 1);
        deps.logger.error("delivery failed on our side; not counted against the endpoint", {
          delivery_id: job.delivery_id,
          receive_count: receiveCount,
          error: loggedError(error),
        });
        throw error;
      }
      if (isMeteredOutcome(outcome)) metrics?.addMetric(deliveryOutcomeMetric(outcome), MetricUnit.Count, 1);
      return outcome;
    };
    // One processor per invocation: it holds the batch's state, and a local event source may run
    // several invocations of this handler at once in one process (Lambda never does).
    return processPartialResponse(event, recordHandler, new BatchProcessor(EventType.SQS), {
      context,
      throwOnFullBatchFailure: false,
    });
  };
}

/**
 * Whether an invocation is the backstop reconciliation's schedule rather than an SQS batch: the
 * EventBridge rule (infra/constructs/delivery.ts) and the local stack's timer send a Scheduled Event
 * ("Amazon EventBridge events": source `aws.events`, detail-type `Scheduled Event`;
 * https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-events.html).
 */
export function isScheduledEvent(event: unknown): event is ScheduledEvent {
  if (typeof event !== "object" || event === null) return false;
  const fields = event as Record<string, unknown>;
  return fields.source === "aws.events" && fields["detail-type"] === "Scheduled Event";
}

/** A Scheduled Event as EventBridge sends it on a schedule, for the local stack's timer and the tests. */
export function scheduledEvent(now: Date, region: string): ScheduledEvent {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: "000000000000",
    time: `${now.toISOString().slice(0, 19)}Z`,
    region,
    resources: [],
    detail: {},
  };
}

/**
 * The delivery function's entry: SQS batches go to the delivery handler; the schedule's Scheduled
 * Event runs one pass of the backstop reconciliation (PRODUCT §4: a job SQS's `maxReceiveCount` moved
 * to the backstop queue is closed as `dead`, reason `internal`, and put on the dead-letter queue), counted by
 * `DeliveryBackstopReconciled` (alarmed). A pass that fails throws: the function's Errors alarm.
 */
/** Time a pass keeps for its last batch after its last receive (the function's timeout is 60 s). */
const BACKSTOP_PASS_MARGIN_MS = 10_000;

export interface DeliveryFunctionHandler {
  (event: SQSEvent, context: Context): Promise<SQSBatchResponse>;
  (event: ScheduledEvent, context: Context): Promise<BackstopResult>;
}

export function createDeliveryFunctionHandler(
  deps: DeliveryDependencies,
  metrics?: Metrics,
  /** Deleted customers' data, erased in the same scheduled pass once their grace period is over. */
  erasure?: ErasureStore & ErasureRequests,
) {
  const deliver = createDeliveryHandler(deps, metrics);
  return async (
    event: SQSEvent | ScheduledEvent,
    context: Context,
  ): Promise<SQSBatchResponse | BackstopResult> => {
    if (!isScheduledEvent(event)) return deliver(event, context);
    const result = await reconcileBackstopArrivals(
      {
        backstop: deps.backstop,
        deadLetters: deps.deadLetters,
        deliveries: deps.deliveries,
        retentionDays: deps.settings.retentionDays,
        logger: deps.logger,
        ...(deps.now ? { now: deps.now } : {}),
      },
      // Long polls until the queue answers empty, stopping early enough to finish the last batch
      // (ten arrivals: a close, a send and a delete each) within the function's timeout.
      { deadlineMs: Date.now() + context.getRemainingTimeInMillis() - BACKSTOP_PASS_MARGIN_MS },
    );
    metrics?.addMetric(METRIC_NAMES.delivery.backstopReconciled, MetricUnit.Count, result.reconciled);
    deps.logger.info("backstop reconciliation pass", { ...result });
    if (erasure !== undefined) {
      const erased = await erasePendingCustomers({
        store: erasure,
        requests: erasure,
        now: deps.now?.() ?? new Date(),
        deadlineMs: Date.now() + context.getRemainingTimeInMillis() - BACKSTOP_PASS_MARGIN_MS,
      });
      if (erased.erased.length > 0 || erased.resumable.length > 0) {
        deps.logger.info("customer erasure pass", {
          erased: erased.erased.length,
          resumable: erased.resumable.length,
          items_deleted: erased.itemsDeleted,
        });
      }
    }
    return result;
  };
}

/** The slow lane's records carry its queue's ARN, whose last part is the queue's name (its URL's last segment). */
function laneOf(eventSourceArn: string | undefined, deps: DeliveryDependencies): Lane {
  const slowQueueName = deps.lanes?.slowQueueName;
  if (slowQueueName === undefined || eventSourceArn === undefined) return "main";
  return eventSourceArn.split(":").at(-1) === slowQueueName ? "slow" : "main";
}
