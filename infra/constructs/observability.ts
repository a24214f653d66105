import { Duration, Validations } from "aws-cdk-lib";
import type * as apigw from "aws-cdk-lib/aws-apigatewayv2";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sns from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { deliveryOutcomeMetric, METRIC_NAMES } from "#handlers/metrics.ts";
import { METRICS_NAMESPACE } from "#shared/adapters/observability.ts";
import type { FunctionName } from "#shared/resources.ts";

/**
 * Threshold of the alarm on the age of the delivery queue's oldest message. SQS leaves a message
 * received three times or more out of that metric, so it measures jobs on their first three attempts:
 * in normal operation at most the first two retry delays, each stretched by the jitter and by a
 * honoured `Retry-After` (up to twice the delay). Older means deliveries are not keeping up.
 */
export function oldestMessageAgeThresholdSeconds(retrySchedule: readonly number[], jitter: number): number {
  const firstTwoDelays = (retrySchedule[0] ?? 0) + (retrySchedule[1] ?? 0);
  const slack = 10 * 60;
  return Math.max(15 * 60, Math.ceil(2 * (1 + jitter) * firstTwoDelays) + slack);
}

export interface ObservedFunctions {
  readonly router: lambda.IFunction;
  readonly delivery: lambda.IFunction;
  readonly api: lambda.IFunction;
  readonly authorizer: lambda.IFunction;
}

export interface ObservedQueues {
  readonly delivery: sqs.IQueue;
  readonly deliveryDlq: sqs.IQueue;
  readonly unroutable: sqs.IQueue;
  readonly routerFailed: sqs.IQueue;
  readonly ingestDlq: sqs.IQueue;
}

export interface ObservabilityProps {
  readonly functions: ObservedFunctions;
  readonly queues: ObservedQueues;
  readonly apiStage: apigw.IHttpStage;
  /** Name of the dashboard. */
  readonly dashboardName: string;
  /** The retry schedule and jitter, for the oldest-message threshold. */
  readonly retrySchedule: readonly number[];
  readonly retryJitter: number;
  /**
   * Create an SNS topic for alarm actions with this address subscribed.
   * @default - no topic created
   */
  readonly alarmEmail?: string;
  /**
   * Existing SNS topic for alarm actions.
   * @default - no topic
   */
  readonly alarmTopicArn?: string;
  /**
   * 5xx responses of the API within five minutes that raise the alarm.
   * @default 5
   */
  readonly api5xxThreshold?: number;
}

/**
 * Alarms and the dashboard. Every alarm notifies the optional SNS topic (ALARM and OK).
 *
 * Queue-depth alarms ignore missing data (they keep their state): SQS stops publishing metrics of a
 * queue nobody touches, and a dead letter nobody has looked at must keep the alarm on. Error and
 * throttle alarms treat missing data as fine: no invocation, no error.
 */
export class Observability extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarmTopic: sns.ITopic | undefined;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { functions, queues } = props;

    if (props.alarmEmail !== undefined && props.alarmTopicArn !== undefined) {
      throw new Error("Invalid Observability props:\n  - set alarmEmail or alarmTopicArn, not both");
    }
    this.alarmTopic = this.createTopic(props);

    const depth = (queue: sqs.IQueue) =>
      queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: "Maximum" });
    const notEmpty = (id: string, queue: sqs.IQueue, what: string) =>
      this.alarm(id, {
        metric: depth(queue),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.IGNORE,
        alarmDescription: what,
      });

    notEmpty(
      "DeliveryDlqNotEmpty",
      queues.deliveryDlq,
      "Deliveries exhausted their retry schedule (dead). Inspect, fix the endpoint, then redrive or POST /v1/deliveries/{id}/retry.",
    );
    notEmpty(
      "UnroutableNotEmpty",
      queues.unroutable,
      "Events could not be routed (unknown type, bad customer_id or detail); each message says why. Fix the publishing service.",
    );
    notEmpty(
      "RouterFailedNotEmpty",
      queues.routerFailed,
      "The router failed on events after Lambda's retries (DynamoDB or SQS trouble). Re-put the requestPayload of each message on the bus.",
    );
    notEmpty(
      "IngestDlqNotEmpty",
      queues.ingestDlq,
      "EventBridge could not invoke the router. Check the router's permissions and throttles, then re-put the events.",
    );

    const ageThreshold = oldestMessageAgeThresholdSeconds(props.retrySchedule, props.retryJitter);
    this.alarm("DeliveryQueueOldestMessage", {
      metric: queues.delivery.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      threshold: ageThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `A delivery job on its first attempts has waited over ${ageThreshold} s: deliveries are not keeping up (concurrency, throttling, errors).`,
    });

    const sum5m = { period: Duration.minutes(5), statistic: "Sum" } as const;
    for (const [name, fn] of [
      ["Router", functions.router],
      ["Delivery", functions.delivery],
    ] as const) {
      this.alarm(`${name}Errors`, {
        metric: fn.metricErrors(sum5m),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `The ${name.toLowerCase()} function failed invocations (crash, timeout, or an AWS dependency failing).`,
      });
      this.alarm(`${name}Throttles`, {
        metric: fn.metricThrottles(sum5m),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `The ${name.toLowerCase()} function was throttled (account or reserved concurrency).`,
      });
    }

    const api5xxThreshold = props.api5xxThreshold ?? 5;
    this.alarm("Api5xx", {
      metric: props.apiStage.metricServerError(sum5m),
      threshold: api5xxThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `The subscriptions API answered ${api5xxThreshold} or more 5xx in five minutes (API function or authorizer failing).`,
    });

    this.dashboard = this.createDashboard(props);
  }

  private alarm(id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, props);
    if (this.alarmTopic !== undefined) {
      const action = new SnsAction(this.alarmTopic);
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    this.alarms.push(alarm);
    return alarm;
  }

  private createTopic(props: ObservabilityProps): sns.ITopic | undefined {
    if (props.alarmTopicArn !== undefined) {
      return sns.Topic.fromTopicArn(this, "AlarmTopic", props.alarmTopicArn);
    }
    if (props.alarmEmail === undefined) return undefined;
    const topic = new sns.Topic(this, "AlarmTopic", {
      displayName: "voipbin-webhooks alarms",
      enforceSSL: true,
    });
    topic.addSubscription(new EmailSubscription(props.alarmEmail));
    Validations.of(topic).acknowledge({
      id: "AwsSolutions-SNS2",
      reason:
        "Alarm notifications carry no customer data, and CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key; a customer-managed key would cost more than the topic. Operators who need one pass alarmTopicArn.",
    });
    return topic;
  }

  private createDashboard(props: ObservabilityProps): cloudwatch.Dashboard {
    const { functions, queues } = props;
    const handlerMetric = (service: FunctionName, metricName: string, statistic = "Sum", label?: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service },
        statistic,
        period: Duration.minutes(5),
        ...(label === undefined ? {} : { label }),
      });
    const d = METRIC_NAMES.delivery;
    const r = METRIC_NAMES.router;
    const queueDepth = (queue: sqs.IQueue, label: string) =>
      queue.metricApproximateNumberOfMessagesVisible({ statistic: "Maximum", label });

    const dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(24),
    });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Deliveries (attempts by outcome)",
        width: 12,
        left: [
          handlerMetric("delivery", deliveryOutcomeMetric("succeeded"), "Sum", "succeeded"),
          handlerMetric(
            "delivery",
            deliveryOutcomeMetric("retry_scheduled"),
            "Sum",
            "failed, retry scheduled",
          ),
          handlerMetric("delivery", deliveryOutcomeMetric("dead"), "Sum", "dead"),
          handlerMetric("delivery", deliveryOutcomeMetric("endpoint_gone"), "Sum", "endpoint gone (410)"),
          handlerMetric("delivery", deliveryOutcomeMetric("auto_disabled"), "Sum", "auto-disabled"),
          handlerMetric("delivery", d.internalErrors, "Sum", "internal errors"),
        ],
        right: [handlerMetric("delivery", d.attempts, "Sum", "HTTP attempts")],
      }),
      new cloudwatch.GraphWidget({
        title: "Delivery latency (ms per attempt)",
        width: 12,
        left: [
          handlerMetric("delivery", d.latency, "p50", "p50"),
          handlerMetric("delivery", d.latency, "p90", "p90"),
          handlerMetric("delivery", d.latency, "p99", "p99"),
        ],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Events in",
        width: 8,
        left: [
          handlerMetric("router", r.routed, "Sum", "routed"),
          handlerMetric("router", r.unroutable, "Sum", "unroutable"),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "Fan-out (delivery jobs per event)",
        width: 8,
        left: [
          handlerMetric("router", r.fanOut, "Average", "average"),
          handlerMetric("router", r.fanOut, "p99", "p99"),
          handlerMetric("router", r.fanOut, "Maximum", "max"),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "Queue depth",
        width: 8,
        left: [
          queueDepth(queues.delivery, "delivery (visible)"),
          queues.delivery.metricApproximateNumberOfMessagesNotVisible({
            statistic: "Maximum",
            label: "delivery (in flight or backing off)",
          }),
        ],
        right: [
          queueDepth(queues.deliveryDlq, "dead letters"),
          queueDepth(queues.unroutable, "unroutable"),
          queueDepth(queues.routerFailed, "router failed"),
          queueDepth(queues.ingestDlq, "ingest DLQ"),
        ],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Age of oldest delivery job (s)",
        width: 8,
        left: [queues.delivery.metricApproximateAgeOfOldestMessage({ statistic: "Maximum" })],
      }),
      new cloudwatch.GraphWidget({
        title: "Function errors and throttles",
        width: 8,
        left: Object.entries(functions).flatMap(([name, fn]) => [
          fn.metricErrors({ statistic: "Sum", label: `${name} errors` }),
          fn.metricThrottles({ statistic: "Sum", label: `${name} throttles` }),
        ]),
      }),
      new cloudwatch.GraphWidget({
        title: "Function duration p99 (ms)",
        width: 8,
        left: Object.entries(functions).map(([name, fn]) =>
          fn.metricDuration({ statistic: "p99", label: name }),
        ),
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "API requests",
        width: 12,
        left: [
          props.apiStage.metricCount({ statistic: "Sum", label: "requests" }),
          props.apiStage.metricClientError({ statistic: "Sum", label: "4xx" }),
          props.apiStage.metricServerError({ statistic: "Sum", label: "5xx" }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "API latency p99 (ms)",
        width: 6,
        left: [
          props.apiStage.metricLatency({ statistic: "p99", label: "total" }),
          props.apiStage.metricIntegrationLatency({ statistic: "p99", label: "integration" }),
        ],
      }),
      new cloudwatch.AlarmStatusWidget({ title: "Alarms", width: 6, alarms: this.alarms }),
    );
    const a = METRIC_NAMES.api;
    const k = METRIC_NAMES.authorizer;
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "API function (answers by class)",
        width: 12,
        left: [
          handlerMetric("api", a.requests, "Sum", "requests"),
          handlerMetric("api", a.clientErrors, "Sum", "4xx"),
          handlerMetric("api", a.serverErrors, "Sum", "5xx"),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "Access keys (authorizer)",
        width: 12,
        left: [
          handlerMetric("authorizer", k.requests, "Sum", "requests"),
          handlerMetric("authorizer", k.authenticationFailures, "Sum", "keys refused"),
          handlerMetric("authorizer", k.errors, "Sum", "lookup failed"),
        ],
      }),
    );
    return dashboard;
  }
}
