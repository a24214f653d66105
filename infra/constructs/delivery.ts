import { Duration } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import {
  BACKSTOP_RECONCILE_MINUTES,
  DELIVERY_BATCH,
  DELIVERY_BATCHING_WINDOW_SECONDS,
  DELIVERY_LANE_CONCURRENCY,
  FUNCTION_MEMORY_MB,
  FUNCTION_TIMEOUT_SECONDS,
} from "#shared/resources.ts";
import { type FunctionDefaults, WebhookFunction, type WebhookFunctionProps } from "./webhook-function.ts";
import type { WebhookTable } from "./webhook-table.ts";

export interface DeliveryProps {
  readonly table: WebhookTable;
  /** The delivery records' table (docs/data-model.md, "Splitting the delivery records out"). */
  readonly deliveriesTable: WebhookTable;
  /** The delivery queue (its redrive policy, built from the retry schedule, moves dead jobs on). */
  readonly deliveryQueue: sqs.IQueue;
  /** The slow lane (fair delivery): a second event source mapping of the same function. */
  readonly slowDeliveryQueue: sqs.IQueue;
  /** Where the function itself moves a job after its last attempt (PRODUCT §4). */
  readonly deliveryDlq: sqs.IQueue;
  /** The redrive target of both lanes, emptied by the backstop reconciliation into `deliveryDlq`. */
  readonly deliveryBackstop: sqs.IQueue;
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
  /**
   * Reserved concurrency of the function: at least the mappings' `maxConcurrency` together plus one
   * for the backstop pass (infra/settings.ts `deliveryReservedConcurrencyFloor`).
   */
  readonly reservedConcurrency: number;
  /** Fixed egress: the function runs in these private subnets behind NAT gateways with Elastic IPs. */
  readonly network?: NonNullable<WebhookFunctionProps["network"]>;
  /**
   * `MaximumBatchingWindowInSeconds` of both lanes' mappings (0 = none).
   * @default DELIVERY_BATCHING_WINDOW_SECONDS
   */
  readonly batchingWindowSeconds?: number;
}

/**
 * The delivery function and its SQS event source mapping.
 *
 * Batching: up to 10 jobs per invocation (`DELIVERY_BATCH.batchSize`, shared with the local poller),
 * gathered for at most `batchingWindowSeconds`. The handler sends a batch's jobs concurrently with one
 * BatchGetItem for the batch, and an invocation is billed for as long as its slowest endpoint takes,
 * so fuller batches cost less per delivery in Lambda duration, invocations and SQS requests; the
 * window is what every first attempt may wait for them (docs/decisions.md, "A batching window for
 * the delivery mapping", has the measured trade-off). Failed records come back as batch item
 * failures (`reportBatchItemFailures`), each after the visibility timeout the function set for its
 * backoff.
 */
export class Delivery extends Construct {
  readonly delivery: WebhookFunction;
  readonly eventSource: SqsEventSource;
  readonly slowLaneEventSource: SqsEventSource;
  /** Invokes the function with a Scheduled Event: one pass of the backstop reconciliation. */
  readonly backstopSchedule: events.Rule;

  constructor(scope: Construct, id: string, props: DeliveryProps) {
    super(scope, id);
    this.delivery = new WebhookFunction(this, "Delivery", {
      ...props.functionDefaults,
      name: "delivery",
      description: "voipbin-webhooks delivery: signed HTTP request per job, waits as delayed re-sends",
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.delivery),
      memorySize: FUNCTION_MEMORY_MB.delivery,
      // The mappings' batches must never be throttled: each throttled batch is one more receive of
      // its messages (Lambda Developer Guide, "Configuring scaling behavior for SQS event source
      // mappings"), and a reservation also keeps other functions of the account from taking ours.
      reservedConcurrentExecutions: props.reservedConcurrency,
      ...(props.network ? { network: props.network } : {}),
    });

    const window = props.batchingWindowSeconds ?? DELIVERY_BATCHING_WINDOW_SECONDS;
    const batching = {
      batchSize: DELIVERY_BATCH.batchSize,
      ...(window > 0 ? { maxBatchingWindow: Duration.seconds(window) } : {}),
    };
    this.eventSource = new SqsEventSource(props.deliveryQueue, {
      ...batching,
      reportBatchItemFailures: true,
      maxConcurrency: props.maxConcurrency ?? DELIVERY_LANE_CONCURRENCY.main,
    });
    this.delivery.function.addEventSource(this.eventSource);
    // Fair delivery (docs/delivery.md): the slow lane is served by the same function through its own
    // mapping, whose MaximumConcurrency caps what slow endpoints can take ("Configuring maximum
    // concurrency for Amazon SQS event sources", Lambda Developer Guide): the main lane's capacity is
    // never theirs.
    this.slowLaneEventSource = new SqsEventSource(props.slowDeliveryQueue, {
      ...batching,
      reportBatchItemFailures: true,
      maxConcurrency: props.slowLaneMaxConcurrency ?? DELIVERY_LANE_CONCURRENCY.slow,
    });
    this.delivery.function.addEventSource(this.slowLaneEventSource);

    // Every wait (a retry's backoff, a hop, a deferral) re-sends the job to its own lane's queue as a
    // delayed message (docs/delivery.md, "Waits out of flight"); handing a job to the slow lane is a
    // SendMessage too. Nothing changes a message's visibility any more (the event source mapping's
    // own grant covers what it does).
    props.deliveryQueue.grantSendMessages(this.delivery.role);
    props.slowDeliveryQueue.grantSendMessages(this.delivery.role);
    // Our code dead-letters a job after its last attempt (with the reason), then the mapping deletes it.
    // The backstop reconciliation receives and deletes backstop arrivals and sends them to the DLQ.
    props.deliveryDlq.grantSendMessages(this.delivery.role);
    props.deliveryBackstop.grantConsumeMessages(this.delivery.role);

    // The backstop reconciliation (PRODUCT §4, docs/delivery.md "The backstop"): a job SQS moved to
    // the backstop queue by maxReceiveCount is closed as dead (internal) within one period. An
    // EventBridge schedule rule invokes the function asynchronously with a Scheduled Event ("Creating
    // a rule that runs on a schedule in Amazon EventBridge",
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-rule-schedule.html). Two
    // retry layers apply to it: the rule target's retry policy governs EventBridge's calls to Lambda
    // (0 here), and Lambda itself retries an asynchronous invocation whose *function* failed twice
    // more, 1 and 2 minutes later, unless the function's EventInvokeConfig says otherwise (Lambda
    // Developer Guide, "Error handling and automatic retries in asynchronous invocation"). A missed or
    // failed pass is done by the next one, 5 minutes later, and a retry of a failed pass would mostly
    // overlap it and double the load on whatever was failing: both layers are set to no retries and
    // an event age of one period, so no target DLQ or destination is needed. The schedule is the
    // function's only asynchronous caller (its SQS mappings invoke synchronously). A failing pass is
    // the function's Errors alarm.
    this.backstopSchedule = new events.Rule(this, "BackstopReconcile", {
      description:
        "voipbin-webhooks: reconcile delivery jobs the queue's receive backstop moved to the dead-letter queue",
      schedule: events.Schedule.rate(Duration.minutes(BACKSTOP_RECONCILE_MINUTES)),
      targets: [
        new targets.LambdaFunction(this.delivery.function, {
          retryAttempts: 0,
          maxEventAge: Duration.minutes(BACKSTOP_RECONCILE_MINUTES),
        }),
      ],
    });
    this.delivery.function.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.minutes(BACKSTOP_RECONCILE_MINUTES),
    });
    // BatchGetItem: a batch's subscriptions and delivery records; PutItem: a delivery record with its
    // first attempt, attempt items; UpdateItem: later attempts, closing and dead-lettering deliveries,
    // failing/disabled subscriptions; GetItem: a record whose condition failed, where DynamoDB did
    // not return it. Fair delivery's endpoint health store reads endpoints' states with BatchGetItem
    // and writes them with UpdateItem (checked by test/integration/delivery-fair-lanes-iam.test.ts:
    // its writes only log their failure). The scheduled pass also erases deleted customers' data once their grace period
    // is over (docs/security.md): Query of the pending erasures and of a delivery's attempts, Scan of
    // the table for the customer's items, BatchWriteItem and DeleteItem to remove them.
    props.table.grantTable(
      this.delivery.role,
      "dynamodb:BatchGetItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "dynamodb:BatchWriteItem",
      "dynamodb:DeleteItem",
    );
    // The same on the deliveries table, where heads, attempts and bodies of layout 3 live (the main
    // table keeps the records of layouts 1 and 2 and those of before the split until they expire);
    // DescribeTable: its creation time is the split's (shared/adapters/dynamodb/delivery-tables.ts).
    props.deliveriesTable.grantTable(
      this.delivery.role,
      "dynamodb:BatchGetItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "dynamodb:BatchWriteItem",
      "dynamodb:DescribeTable",
    );
    props.bus.grantPutEventsTo(this.delivery.role);
  }
}
