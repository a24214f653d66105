import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import {
  deliveryQueueSettings,
  SQS_MAX_MESSAGE_BYTES,
  TERMINAL_QUEUE_RETENTION_SECONDS,
} from "#shared/resources.ts";

/** A store of failed work keeps it as long as SQS allows (`TERMINAL_QUEUE_RETENTION_SECONDS`). */
export const TERMINAL_QUEUE_RETENTION = Duration.seconds(TERMINAL_QUEUE_RETENTION_SECONDS);

export interface TerminalQueueProps {
  /** Physical queue name. */
  readonly queueName: string;
  /**
   * Why this queue has no dead-letter queue of its own (cdk-nag AwsSolutions-SQS3). Omit for a queue
   * that is another queue's dead-letter queue: cdk-nag recognises those.
   * @default - the queue is another queue's dead-letter queue
   */
  readonly noDlqReason?: string;
  /**
   * How long a message is kept.
   * @default TERMINAL_QUEUE_RETENTION (14 days, the SQS maximum)
   */
  readonly retention?: Duration;
  /**
   * What happens to the queue, with the messages waiting in it, when it leaves the stack.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A queue where failed or unroutable work ends up and waits for an operator: encrypted (SSE-SQS),
 * TLS-only, kept 14 days, alarmed by the observability construct.
 */
export function terminalQueue(scope: Construct, id: string, props: TerminalQueueProps): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    queueName: props.queueName,
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
    retentionPeriod: props.retention ?? TERMINAL_QUEUE_RETENTION,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
  });
  if (props.noDlqReason !== undefined) {
    Validations.of(queue).acknowledge({ id: "AwsSolutions-SQS3", reason: props.noDlqReason });
  }
  return queue;
}

export interface WebhookQueuesProps {
  /** Delays before attempts 2..n: they set the redrive count and the retention. */
  readonly retrySchedule: readonly number[];
  /** Physical names. */
  readonly deliveryQueueName: string;
  readonly deliveryDlqName: string;
  /** The redrive target of both delivery lanes (docs/delivery.md, "The backstop"). */
  readonly deliveryBackstopName: string;
  /** The slow lane of fair delivery (docs/delivery.md, "Fair delivery"). */
  readonly slowDeliveryQueueName: string;
  readonly unroutableQueueName: string;
  /**
   * Removal policy of the queues that hold parked work (dead letters, unroutable events).
   * @default RemovalPolicy.DESTROY
   */
  readonly parkedWorkRemovalPolicy?: RemovalPolicy;
}

/**
 * The queues every function knows by URL (`DELIVERY_QUEUE_URL`, `UNROUTABLE_QUEUE_URL`):
 * - the delivery queue: one job per (event, subscription); a job that waits is re-sent as a delayed
 *   message (never held in flight), attempts are counted on the delivery record, the redrive count
 *   is only a backstop of receives that went wrong and the retention outlives the retry window
 *   (`deliveryQueueSettings`, shared with the local stack);
 * - its dead-letter queue: deliveries that exhausted the schedule (`dead`);
 * - the backstop queue: the redrive target of both lanes, where SQS itself moves a message after
 *   `maxReceiveCount` receives; the backstop reconciliation empties it into the dead-letter queue;
 * - the unroutable queue: events the router parked with the reason (PRODUCT §2).
 */
export class WebhookQueues extends Construct {
  readonly deliveryQueue: sqs.Queue;
  readonly deliveryDlq: sqs.Queue;
  readonly deliveryBackstop: sqs.Queue;
  readonly slowDeliveryQueue: sqs.Queue;
  readonly unroutableQueue: sqs.Queue;
  readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: WebhookQueuesProps) {
    super(scope, id);
    const settings = deliveryQueueSettings(props.retrySchedule);
    this.maxReceiveCount = settings.maxReceiveCount;

    this.deliveryDlq = terminalQueue(this, "DeliveryDlq", {
      queueName: props.deliveryDlqName,
      retention: Duration.seconds(settings.dlqRetentionSeconds),
      noDlqReason:
        "The delivery dead-letter queue is itself the store of dead deliveries: the delivery function and the backstop reconciliation put jobs there with the reason, for an operator to inspect and redrive (alarmed when not empty). SQS's own redrive of the delivery lanes targets the backstop queue instead.",
      ...(props.parkedWorkRemovalPolicy ? { removalPolicy: props.parkedWorkRemovalPolicy } : {}),
    });
    // SQS's redrive policy moves a message to its target after maxReceiveCount receives, keeping its
    // message id ("Using dead-letter queues in Amazon SQS",
    // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
    // Its own queue, not the dead-letter queue: the reconciliation long-polls only backstop arrivals
    // instead of sampling them from behind every dead letter (docs/delivery.md, "The backstop").
    this.deliveryBackstop = terminalQueue(this, "DeliveryBackstop", {
      queueName: props.deliveryBackstopName,
      ...(props.parkedWorkRemovalPolicy ? { removalPolicy: props.parkedWorkRemovalPolicy } : {}),
    });
    this.deliveryQueue = new sqs.Queue(this, "DeliveryQueue", {
      queueName: props.deliveryQueueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
      visibilityTimeout: Duration.seconds(settings.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(settings.retentionSeconds),
      deadLetterQueue: { queue: this.deliveryBackstop, maxReceiveCount: settings.maxReceiveCount },
    });
    // The slow lane: jobs of endpoints that do not answer within the main lane's budget, and those
    // waiting out an open breaker. Same settings and backstop queue as the delivery queue.
    this.slowDeliveryQueue = new sqs.Queue(this, "SlowDeliveryQueue", {
      queueName: props.slowDeliveryQueueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
      visibilityTimeout: Duration.seconds(settings.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(settings.retentionSeconds),
      deadLetterQueue: { queue: this.deliveryBackstop, maxReceiveCount: settings.maxReceiveCount },
    });
    this.unroutableQueue = terminalQueue(this, "UnroutableQueue", {
      queueName: props.unroutableQueueName,
      ...(props.parkedWorkRemovalPolicy ? { removalPolicy: props.parkedWorkRemovalPolicy } : {}),
      noDlqReason:
        "The unroutable queue is itself a dead-letter store: the router parks events here that can never be routed, with the reason, for an operator to inspect (alarmed when not empty).",
    });
  }
}
