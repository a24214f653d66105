import { Duration } from "aws-cdk-lib";
import type * as events from "aws-cdk-lib/aws-events";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { DELIVERY_BATCH, DELIVERY_LANE_CONCURRENCY, FUNCTION_TIMEOUT_SECONDS } from "#shared/resources.ts";
import { type FunctionDefaults, WebhookFunction } from "./webhook-function.ts";
import type { WebhookTable } from "./webhook-table.ts";

export interface DeliveryProps {
  readonly table: WebhookTable;
  /** The delivery queue (its redrive policy, built from the retry schedule, moves dead jobs on). */
  readonly deliveryQueue: sqs.IQueue;
  /** The slow lane (fair delivery): a second event source mapping of the same function. */
  readonly slowDeliveryQueue: sqs.IQueue;
  /** Where the function itself moves a job after its last attempt (PRODUCT §4). */
  readonly deliveryDlq: sqs.IQueue;
  /** Where the `webhook_subscription_disabled` operational event is put. */
  readonly bus: events.IEventBus;
  /** What every function of the deployment shares. */
  readonly functionDefaults: FunctionDefaults;
  /**
   * Maximum concurrent invocations the event source mapping may run (2..1000).
   * @default 20
   */
  readonly maxConcurrency?: number;
  /**
   * Maximum concurrent invocations of the slow lane's mapping (2..1000): what slow and black-holing
   * endpoints can occupy, whatever their volume, beside the main lane's own `maxConcurrency`.
   * @default 5
   */
  readonly slowLaneMaxConcurrency?: number;
}

/**
 * The delivery function and its SQS event source mapping.
 *
 * Batching (`DELIVERY_BATCH`, shared with the local poller): up to 10 jobs per invocation with no
 * batching window. Ten is the most SQS hands over without a window, and the handler sends them
 * concurrently with one BatchGetItem for the batch, so a batch costs about one request's latency; a
 * window would delay every first attempt for a saving that only matters at volumes where batches
 * fill up by themselves anyway. Failed records come back as batch item failures
 * (`reportBatchItemFailures`), each after the visibility timeout the function set for its backoff.
 */
export class Delivery extends Construct {
  readonly delivery: WebhookFunction;
  readonly eventSource: SqsEventSource;
  readonly slowLaneEventSource: SqsEventSource;

  constructor(scope: Construct, id: string, props: DeliveryProps) {
    super(scope, id);
    this.delivery = new WebhookFunction(this, "Delivery", {
      ...props.functionDefaults,
      name: "delivery",
      description: "voipbin-webhooks delivery: signed HTTP request per job, backoff by visibility timeout",
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.delivery),
      memorySize: 512,
    });

    this.eventSource = new SqsEventSource(props.deliveryQueue, {
      batchSize: DELIVERY_BATCH.batchSize,
      ...(DELIVERY_BATCH.maxBatchingWindowSeconds > 0
        ? { maxBatchingWindow: Duration.seconds(DELIVERY_BATCH.maxBatchingWindowSeconds) }
        : {}),
      reportBatchItemFailures: true,
      maxConcurrency: props.maxConcurrency ?? DELIVERY_LANE_CONCURRENCY.main,
    });
    this.delivery.function.addEventSource(this.eventSource);
    // Fair delivery (docs/delivery.md): the slow lane is served by the same function through its own
    // mapping, whose MaximumConcurrency caps what slow endpoints can take ("Configuring maximum
    // concurrency for Amazon SQS event sources", Lambda Developer Guide): the main lane's capacity is
    // never theirs.
    this.slowLaneEventSource = new SqsEventSource(props.slowDeliveryQueue, {
      batchSize: DELIVERY_BATCH.batchSize,
      reportBatchItemFailures: true,
      maxConcurrency: props.slowLaneMaxConcurrency ?? DELIVERY_LANE_CONCURRENCY.slow,
    });
    this.delivery.function.addEventSource(this.slowLaneEventSource);

    // The backoff: the function sets each failed job's visibility timeout to its retry delay. (The
    // event source mapping's own grant includes this action too; the function's own call is explicit.)
    props.deliveryQueue.grant(this.delivery.role, "sqs:ChangeMessageVisibility");
    // Handing a job to the slow lane is a SendMessage; slow-lane jobs sleep on their own messages.
    props.slowDeliveryQueue.grant(this.delivery.role, "sqs:ChangeMessageVisibility", "sqs:SendMessage");
    // Our code dead-letters a job after its last attempt (with the reason), then the mapping deletes it.
    props.deliveryDlq.grantSendMessages(this.delivery.role);
    // BatchGetItem: a batch's subscriptions and delivery records; PutItem: a delivery record with its
    // first attempt, attempt items; UpdateItem: later attempts, closing and dead-lettering deliveries,
    // failing/disabled subscriptions; GetItem: a record whose condition failed, where DynamoDB did
    // not return it.
    props.table.grantTable(
      this.delivery.role,
      "dynamodb:BatchGetItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    );
    props.bus.grantPutEventsTo(this.delivery.role);
  }
}
