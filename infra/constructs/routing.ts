import { Duration, type RemovalPolicy } from "aws-cdk-lib";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import {
  FUNCTION_MEMORY_MB,
  FUNCTION_TIMEOUT_SECONDS,
  ROUTER_BATCHING_WINDOW_SECONDS,
  ROUTER_QUEUE,
  SQS_MAX_MESSAGE_BYTES,
  TERMINAL_QUEUE_RETENTION_SECONDS,
} from "#shared/resources.ts";
import { terminalQueue } from "./queues.ts";
import { type FunctionDefaults, WebhookFunction } from "./webhook-function.ts";
import type { WebhookTable } from "./webhook-table.ts";

/** Lambda retries a failed asynchronous invocation this many times before the on-failure destination. */
export const ROUTER_ASYNC_RETRY_ATTEMPTS = 2;
/** How long Lambda keeps trying an event (throttles included) before the on-failure destination. */
export const ROUTER_MAX_EVENT_AGE = Duration.hours(6);

export interface RoutingProps {
  readonly table: WebhookTable;
  /** The delivery records' table: the router stores each event's body there. */
  readonly deliveriesTable: WebhookTable;
  readonly deliveryQueue: sqs.IQueue;
  readonly unroutableQueue: sqs.IQueue;
  /** Physical name of the router's fair queue (the bus rules' target). */
  readonly queueName: string;
  /** Physical name of the queue that receives events the router failed on. */
  readonly failedQueueName: string;
  /**
   * Removal policy of the router-failed queue (it holds events not yet delivered).
   * @default RemovalPolicy.DESTROY
   */
  readonly failedQueueRemovalPolicy?: RemovalPolicy;
  /** What every function of the deployment shares. */
  readonly functionDefaults: FunctionDefaults;
  /**
   * Reserved concurrency of the router.
   * @default - none
   */
  readonly reservedConcurrency?: number;
  /**
   * `MaximumBatchingWindowInSeconds` of the router queue's mapping (the `routerBatchingWindowSeconds`
   * setting): every event may wait this long before it is routed.
   * @default ROUTER_BATCHING_WINDOW_SECONDS (1)
   */
  readonly batchingWindowSeconds?: number;
}

/**
 * The router and its trigger, a fair queue (docs/delivery.md, "Fair routing"): the bus rules send
 * every event to the router queue with MessageGroupId = the customer id, and the router's event
 * source mapping reads it in batches. SQS's fair queues serve the other customers' events first
 * while one customer's burst is in flight (SQS Developer Guide, "Amazon SQS fair queues"), so a
 * burst does not queue another customer's event behind it, whatever the router's concurrency.
 *
 * The router validates an event, looks up the customer's subscriptions (Query on the table) and
 * enqueues one delivery job per match; an event it can never route is parked on the unroutable queue
 * with the reason. An event it failed on (DynamoDB or SQS unavailable) is reported as a batch item
 * failure and comes back after the queue's visibility timeout; after ROUTER_QUEUE.maxReceiveCount
 * receives SQS moves it to the router-failed queue, its dead-letter queue, with the event as the body.
 * A retried event may enqueue a job twice; the delivery function's effectively-once check makes that
 * harmless. A direct asynchronous invocation (an operator's) keeps Lambda's retries and the same
 * queue as its on-failure destination.
 */
export class Routing extends Construct {
  readonly router: WebhookFunction;
  readonly queue: sqs.Queue;
  readonly failedQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: RoutingProps) {
    super(scope, id);
    this.failedQueue = terminalQueue(this, "FailedQueue", {
      queueName: props.failedQueueName,
      ...(props.failedQueueRemovalPolicy ? { removalPolicy: props.failedQueueRemovalPolicy } : {}),
      noDlqReason:
        "The router-failed queue is itself a dead-letter store: the router queue's dead-letter queue (and the router's on-failure destination for direct asynchronous invocations), holding events the router failed on after its retries, for an operator to redrive with npm run ops (alarmed when not empty).",
    });
    this.queue = new sqs.Queue(this, "Queue", {
      queueName: props.queueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
      visibilityTimeout: Duration.seconds(ROUTER_QUEUE.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(TERMINAL_QUEUE_RETENTION_SECONDS),
      deadLetterQueue: { queue: this.failedQueue, maxReceiveCount: ROUTER_QUEUE.maxReceiveCount },
    });
    this.router = new WebhookFunction(this, "Router", {
      ...props.functionDefaults,
      name: "router",
      description: "voipbin-webhooks router: EventBridge event -> one delivery job per matching subscription",
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.router),
      memorySize: FUNCTION_MEMORY_MB.router,
      reservedConcurrentExecutions: props.reservedConcurrency,
    });
    const window = props.batchingWindowSeconds ?? ROUTER_BATCHING_WINDOW_SECONDS;
    this.router.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: ROUTER_QUEUE.batchSize,
        maxBatchingWindow: window > 0 ? Duration.seconds(window) : undefined,
        maxConcurrency: ROUTER_QUEUE.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    this.router.function.configureAsyncInvoke({
      retryAttempts: ROUTER_ASYNC_RETRY_ATTEMPTS,
      maxEventAge: ROUTER_MAX_EVENT_AGE,
      onFailure: new SqsDestination(this.failedQueue),
    });

    // On the main table, what the router's dependencies (shared/dependencies.ts) call, checked against
    // the calls the router makes on every path by test/integration/router-iam.test.ts:
    // - Query: the customer's subscriptions (SubscriptionRepository.listForRouting), the run-time event
    //   types (EventTypeRepository.list, for the catalogue).
    // - GetItem: the managed subscription's control item (customer_* events) and an activeflow's
    //   destination (ActiveflowDestinationRepository.lookup, for an event naming an activeflow).
    // - PutItem: activeflow destinations (activeflow_* events, an event's inline one), the managed
    //   subscription's control item, an erasure request (customer_deleted).
    // - UpdateItem: the managed subscription itself (customer_created / customer_updated).
    // - DeleteItem: the managed subscription (customer_deleted), a withdrawn erasure request (a later
    //   customer_created: ErasureRepository.cancel).
    props.table.grantTable(
      this.router.role,
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:Query",
    );
    // The event's body, stored once for its deliveries, is a delivery record: PutItem on the deliveries
    // table (DeliveryRepository's payload), nothing else there.
    props.deliveriesTable.grantTable(this.router.role, "dynamodb:PutItem");
    // SendMessageBatch is authorised by sqs:SendMessage.
    props.deliveryQueue.grant(this.router.role, "sqs:SendMessage");
    props.unroutableQueue.grant(this.router.role, "sqs:SendMessage");
  }
}
