import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { type createMetrics, loggedError } from "#shared/adapters/observability.ts";
import type { Lane } from "#shared/domain/delivery/endpoint-health.ts";
import { type DeliveryJob, parseDeliveryJob } from "#shared/domain/delivery/job.ts";
import { RetryScheduledError } from "#shared/domain/errors.ts";
import { DELIVERY_QUEUE_VISIBILITY_TIMEOUT_SECONDS } from "#shared/resources.ts";
import {
  DeliveryBatch,
  type DeliveryDependencies,
  type DeliveryOutcome,
  OUTCOMES_KEPT_ON_QUEUE,
} from "#shared/services/delivery/deliver.ts";
import { deliveryOutcomeMetric, METRIC_NAMES } from "./metrics.ts";

type Metrics = ReturnType<typeof createMetrics>;

/**
 * SQS event source target. Every record is delivered concurrently; records left asleep on the queue
 * (a retry scheduled, or a job woken before its time) and records that hit an error of our own are
 * reported as batch item failures, so SQS brings them back when they are due. Every other record —
 * delivered, dropped, or moved to the dead-letter queue by our code — is deleted by the mapping.
 */
export function createDeliveryHandler(baseDeps: DeliveryDependencies, metrics?: Metrics) {
  const deps: DeliveryDependencies = metrics
    ? {
        ...baseDeps,
        onAttempt: (sample) => {
          metrics.addMetric(METRIC_NAMES.delivery.latency, MetricUnit.Milliseconds, sample.latencyMs);
          metrics.addMetric(METRIC_NAMES.delivery.attempts, MetricUnit.Count, 1);
        },
      }
    : baseDeps;
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    // The event source mapping invokes only while the batch is still invisible, so the receive was at
    // most one queue visibility timeout ago: SQS's 12-hour ceiling is counted from no earlier than that.
    const invokedAt = (deps.now?.() ?? new Date()).getTime();
    const receivedNotBefore = new Date(invokedAt - DELIVERY_QUEUE_VISIBILITY_TIMEOUT_SECONDS * 1000);
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
    // One event source mapping per queue: a batch comes from one lane, and a slow-lane job sleeps
    // (retries, an open breaker) on the slow lane's own message.
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
          receivedNotBefore,
          lane,
        });
      } catch (error) {
        metrics?.addMetric(METRIC_NAMES.delivery.internalErrors, MetricUnit.Count, 1);
        deps.logger.error("delivery failed on our side; not counted against the endpoint", {
          delivery_id: job.delivery_id,
          receive_count: receiveCount,
          error: loggedError(error),
        });
        throw error;
      }
      metrics?.addMetric(deliveryOutcomeMetric(outcome), MetricUnit.Count, 1);
      if (OUTCOMES_KEPT_ON_QUEUE.has(outcome)) throw new RetryScheduledError(job.delivery_id, outcome);
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

/** The slow lane's records carry its queue's ARN, whose last part is the queue's name (its URL's last segment). */
function laneOf(eventSourceArn: string | undefined, deps: DeliveryDependencies): Lane {
  const slowQueueName = deps.lanes?.slowQueueName;
  if (slowQueueName === undefined || eventSourceArn === undefined) return "main";
  return eventSourceArn.split(":").at(-1) === slowQueueName ? "slow" : "main";
}
