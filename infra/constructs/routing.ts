import { Duration, type RemovalPolicy } from "aws-cdk-lib";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { FUNCTION_TIMEOUT_SECONDS } from "#shared/resources.ts";
import { terminalQueue } from "./queues.ts";
import { type FunctionDefaults, WebhookFunction } from "./webhook-function.ts";
import type { WebhookTable } from "./webhook-table.ts";

/** Lambda retries a failed asynchronous invocation this many times before the on-failure destination. */
export const ROUTER_ASYNC_RETRY_ATTEMPTS = 2;
/** How long Lambda keeps trying an event (throttles included) before the on-failure destination. */
export const ROUTER_MAX_EVENT_AGE = Duration.hours(6);

export interface RoutingProps {
  readonly table: WebhookTable;
  readonly deliveryQueue: sqs.IQueue;
  readonly unroutableQueue: sqs.IQueue;
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
}

/**
 * The router: the EventBridge rule's target. It validates an event, looks up the customer's
 * subscriptions (Query on the table) and enqueues one delivery job per match; an event it can never
 * route is parked on the unroutable queue with the reason, and the invocation succeeds.
 *
 * Any other error (DynamoDB or SQS unavailable) fails the invocation: Lambda retries it twice, then
 * sends the invocation record (with the event) to the router-failed queue, the on-failure destination.
 * A retried invocation may enqueue a job twice; the delivery function's effectively-once check makes
 * that harmless.
 */
export class Routing extends Construct {
  readonly router: WebhookFunction;
  readonly failedQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: RoutingProps) {
    super(scope, id);
    this.failedQueue = terminalQueue(this, "FailedQueue", {
      queueName: props.failedQueueName,
      ...(props.failedQueueRemovalPolicy ? { removalPolicy: props.failedQueueRemovalPolicy } : {}),
      noDlqReason:
        "The router-failed queue is itself a dead-letter store: the router's on-failure destination, holding invocation records (with the original event) that failed after Lambda's retries, for an operator to redrive with npm run ops (alarmed when not empty).",
    });
    this.router = new WebhookFunction(this, "Router", {
      ...props.functionDefaults,
      name: "router",
      description: "voipbin-webhooks router: EventBridge event -> one delivery job per matching subscription",
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.router),
      memorySize: 512,
      reservedConcurrentExecutions: props.reservedConcurrency,
    });
    this.router.function.configureAsyncInvoke({
      retryAttempts: ROUTER_ASYNC_RETRY_ATTEMPTS,
      maxEventAge: ROUTER_MAX_EVENT_AGE,
      onFailure: new SqsDestination(this.failedQueue),
    });

    // Query: the customer's subscriptions; PutItem: the event's body, stored once for its deliveries.
    props.table.grantTable(this.router.role, "dynamodb:PutItem", "dynamodb:Query");
    // SendMessageBatch is authorised by sqs:SendMessage.
    props.deliveryQueue.grant(this.router.role, "sqs:SendMessage");
    props.unroutableQueue.grant(this.router.role, "sqs:SendMessage");
  }
}
