import { Duration, type RemovalPolicy, SecretValue, Validations } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { OPERATIONAL_EVENT_SOURCE } from "#shared/adapters/operational-events.ts";
import { SQS_MAX_MESSAGE_BYTES } from "#shared/resources.ts";

export type WayBackTarget = "sqs" | "https";

export interface WayBackProps {
  readonly bus: events.IEventBus;
  /** The bus's name: a rule on `default` publishes its metrics without the EventBusName dimension. */
  readonly eventBusName: string;
  readonly target: WayBackTarget;
  /** `https`: VoIPBIN's endpoint that receives each operational event as a POST. */
  readonly endpoint?: string;
  /** `https`: the Secrets Manager secret whose value is sent as `x-api-key` (a Connection's API key auth). */
  readonly apiKeySecretArn?: string;
  /** `sqs`: the IAM principal (VoIPBIN's role ARN) allowed to poll and delete. */
  readonly consumerArn?: string;
  readonly queueName: string;
  readonly dlqName: string;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The way back (PRODUCT §11): a rule on our bus that sends the system's own operational events
 * (`webhook_*` from `voipbin.webhooks`, e.g. `webhook_subscription_disabled`) to VoIPBIN, either to
 * an SQS queue VoIPBIN polls or to VoIPBIN's HTTPS endpoint through an EventBridge API destination.
 * The target retries for 24 h (EventBridge's retry policy) and then parks the event on a DLQ; the
 * rule's FailedInvocations and the DLQ's depth are alarmed by Observability (`alarms`).
 */
export class WayBack extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;
  /** `sqs`: the queue VoIPBIN polls. */
  readonly queue?: sqs.Queue;
  /** `https`: the API destination. */
  readonly apiDestination?: events.ApiDestination;

  private readonly eventBusName: string;

  constructor(scope: Construct, id: string, props: WayBackProps) {
    super(scope, id);
    this.eventBusName = props.eventBusName;
    this.deadLetterQueue = new sqs.Queue(this, "DeadLetters", {
      queueName: props.dlqName,
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: "AwsSolutions-SQS3",
      reason:
        "The way back's terminal queue: the EventBridge target's dead-letter queue (and, with wayBack=sqs, the polled queue's); what lands here is alarmed (WayBackDeadLetters) and read by an operator.",
    });
    this.rule = new events.Rule(this, "Rule", {
      eventBus: props.bus,
      description: "voipbin-webhooks: the system's operational events (webhook_*) back to VoIPBIN",
      eventPattern: { source: [OPERATIONAL_EVENT_SOURCE], detailType: events.Match.prefix("webhook_") },
    });
    const targetOptions = {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 185,
      maxEventAge: Duration.hours(24),
    };
    if (props.target === "sqs") {
      const queue = new sqs.Queue(this, "Queue", {
        queueName: props.queueName,
        retentionPeriod: Duration.days(14),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
        removalPolicy: props.removalPolicy,
        deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 10 },
      });
      if (props.consumerArn !== undefined) {
        queue.grantConsumeMessages(new iam.ArnPrincipal(props.consumerArn));
      }
      this.rule.addTarget(new targets.SqsQueue(queue, targetOptions));
      this.queue = queue;
    } else {
      const connection = new events.Connection(this, "Connection", {
        description: "voipbin-webhooks way back: VoIPBIN's API key",
        authorization: events.Authorization.apiKey(
          "x-api-key",
          SecretValue.secretsManager(props.apiKeySecretArn as string),
        ),
      });
      this.apiDestination = new events.ApiDestination(this, "Destination", {
        connection,
        endpoint: props.endpoint as string,
        httpMethod: events.HttpMethod.POST,
        description: "voipbin-webhooks way back: VoIPBIN's endpoint for operational events",
        // EventBridge's default is 300; operational events are rare, and a cap protects VoIPBIN.
        rateLimitPerSecond: 10,
      });
      this.rule.addTarget(new targets.ApiDestination(this.apiDestination, targetOptions));
    }
  }

  /** What Observability alarms on: the rule's failed invocations and events parked on the DLQ. */
  failureMetrics(): { failedInvocations: cloudwatch.Metric; deadLetters: cloudwatch.Metric } {
    return {
      failedInvocations: new cloudwatch.Metric({
        namespace: "AWS/Events",
        metricName: "FailedInvocations",
        // Rules on a custom bus publish with both dimensions, on the default bus with RuleName only
        // (EventBridge User Guide, "Monitoring Amazon EventBridge").
        dimensionsMap:
          this.eventBusName === "default"
            ? { RuleName: this.rule.ruleName }
            : { EventBusName: this.eventBusName, RuleName: this.rule.ruleName },
        statistic: "Sum",
        period: Duration.minutes(5),
      }),
      deadLetters: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: "Maximum",
        period: Duration.minutes(5),
      }),
    };
  }
}
