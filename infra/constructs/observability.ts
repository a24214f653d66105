import { Duration, Validations } from "aws-cdk-lib";
import type * as apigw from "aws-cdk-lib/aws-apigatewayv2";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as events from "aws-cdk-lib/aws-events";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sns from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { deliveryOutcomeMetric, METRIC_NAMES } from "#handlers/metrics.ts";
import { METRICS_NAMESPACE } from "#shared/adapters/observability.ts";
import {
  BACKSTOP_RECONCILE_MINUTES,
  type FunctionName,
  ROUTER_QUEUE,
  type StageResourceNames,
  TABLE_KEYS,
} from "#shared/resources.ts";

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

/**
 * A parked message older than this is about to be lost: the queues keep messages 14 days, and on a
 * standard queue a dead letter's retention counts from its first enqueue on the delivery queue (SQS
 * Developer Guide, dead-letter queues), up to about 27 hours earlier. Half the retention leaves a
 * week to act.
 */
export const PARKED_MESSAGE_AGE_THRESHOLD_SECONDS = 7 * 24 * 3600;

/**
 * SQS's in-flight quota of a standard queue: messages received and neither deleted nor visible again
 * (SQS Developer Guide, "Amazon SQS queue quotas"; SQS API Reference, ChangeMessageVisibility). At the
 * quota long polls, which the event source mapping uses, come back empty: every customer's deliveries
 * stop, not only the ones filling it.
 */
export const SQS_IN_FLIGHT_QUOTA = 120_000;

/** In flight at this share of the quota alarms, leaving room to act before receives stop. */
export const IN_FLIGHT_ALARM_THRESHOLD = Math.round(0.8 * SQS_IN_FLIGHT_QUOTA);

/** The ops CLI command an alarm's runbook step names (scripts/ops.ts). */
export function opsCommand(stage: string, command: string): string {
  return `npm run ops -- ${command} --aws --stage ${stage}`;
}

export interface ObservedFunctions {
  readonly router: lambda.IFunction;
  readonly delivery: lambda.IFunction;
  readonly api: lambda.IFunction;
  readonly authorizer: lambda.IFunction;
}

/** Every queue of the stack: each gets an in-flight alarm (`<AlarmPrefix>InFlight`). */
export interface ObservedQueues {
  readonly delivery: sqs.IQueue;
  readonly slowDelivery: sqs.IQueue;
  readonly deliveryDlq: sqs.IQueue;
  /** The redrive target of both delivery lanes (SQS's maxReceiveCount backstop). */
  readonly deliveryBackstop: sqs.IQueue;
  readonly unroutable: sqs.IQueue;
  /** The router's fair queue (the bus rules' target). */
  readonly router: sqs.IQueue;
  readonly routerFailed: sqs.IQueue;
  readonly ingestDlq: sqs.IQueue;
}

export interface ObservabilityProps {
  readonly functions: ObservedFunctions;
  readonly queues: ObservedQueues;
  readonly apiStage: apigw.IHttpStage;
  /** The deployment stage: alarm names and the commands their descriptions give. */
  readonly stage: string;
  /** The stage's physical names (dashboard, topic, alarms). */
  readonly names: StageResourceNames;
  /**
   * The EventBridge rules that send events to the router queue (the first: events with a customer id;
   * the second: all others), and the name of their bus (for their metrics).
   */
  readonly rules: readonly [events.IRule, events.IRule];
  readonly eventBusName: string;
  /** The table, for its throttling metrics. */
  readonly table: dynamodb.ITable;
  /** The delivery records' table (no index), for its throttling metrics. */
  readonly deliveriesTable: dynamodb.ITable;
  /** The retry schedule and jitter, for the oldest-message threshold. */
  readonly retrySchedule: readonly number[];
  readonly retryJitter: number;
  /**
   * Subscribe this address to the alarm topic.
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * Notify this existing SNS topic instead of creating one.
   * @default - the stage's own topic
   */
  readonly alarmTopicArn?: string;
  /**
   * 5xx responses of the API within five minutes that raise the alarm.
   * @default 5
   */
  readonly api5xxThreshold?: number;
}

/**
 * One alarm as data: what it watches, when it fires, and its description, which is its runbook step.
 * Rendered by `renderAlarms`, the one place alarms are made: name, threshold rule (at least
 * `threshold` in `evaluationPeriods` consecutive periods) and notifications are the same for all.
 */
interface AlarmSpec {
  readonly id: string;
  readonly metric: cloudwatch.IMetric;
  /** @default 1 */
  readonly threshold?: number;
  /** @default 1 */
  readonly evaluationPeriods?: number;
  /**
   * What a period without data means: `keep` the state (queue depths: SQS stops publishing the
   * metrics of a queue nobody touches, and a parked message must keep its alarm on) or `ok` (errors
   * and throttles: no invocation, no error).
   */
  readonly missingData: "keep" | "ok";
  readonly description: string;
  /**
   * Also notify when the alarm returns to OK.
   * @default true
   */
  readonly notifyOk?: boolean;
}

/**
 * Alarms and the dashboard. Every path that can lose or stall a delivery has an alarm, every alarm
 * notifies one SNS topic (ALARM and, except for the new-dead-letter alarm, OK), and every alarm's
 * description is its runbook step: what broke and the exact command to look at or replay what it
 * parked (docs/deploy.md, "Alarms and runbook").
 *
 * Queue-depth alarms ignore missing data (they keep their state): SQS stops publishing metrics of a
 * queue nobody touches, and a dead letter nobody has looked at must keep the alarm on. Error and
 * throttle alarms treat missing data as fine: no invocation, no error.
 */
export class Observability extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarmTopic: sns.ITopic;
  private readonly names: StageResourceNames;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.names = props.names;
    const { functions, queues, stage } = props;
    const ops = (command: string) => opsCommand(stage, command);

    if (props.alarmEmail !== undefined && props.alarmTopicArn !== undefined) {
      throw new Error("Invalid Observability props:\n  - set alarmEmail or alarmTopicArn, not both");
    }
    this.alarmTopic = this.createTopic(props);

    const specs: AlarmSpec[] = [];
    const sum5m = { period: Duration.minutes(5), statistic: "Sum" } as const;
    const depth = (queue: sqs.IQueue) =>
      queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: "Maximum" });
    const notEmpty = (id: string, queue: sqs.IQueue, what: string) =>
      specs.push({
        id,
        metric: depth(queue),
        missingData: "keep",
        description: what,
      });
    const oldest = (id: string, queue: sqs.IQueue, what: string, command: string) =>
      specs.push({
        id,
        metric: queue.metricApproximateAgeOfOldestMessage({
          period: Duration.minutes(5),
          statistic: "Maximum",
        }),
        threshold: PARKED_MESSAGE_AGE_THRESHOLD_SECONDS,
        missingData: "keep",
        description: `The oldest ${what} has waited ${PARKED_MESSAGE_AGE_THRESHOLD_SECONDS / 86_400} days; SQS deletes it after 14 days counted from its first enqueue. Act now: ${command}`,
      });

    // --- Parked work: dead letters, unroutable events, events the router or EventBridge failed on ---
    notEmpty(
      "DeliveryDlqNotEmpty",
      queues.deliveryDlq,
      `Deliveries exhausted their retry schedule (dead). See them: ${ops("dead-letters list")}; fix the endpoint (or re-enable the subscription), then: ${ops("dead-letters redrive")}.`,
    );
    // A level alarm stays in ALARM while dead letters wait and never notifies again. This one fires
    // whenever the count grows (the delivery function's own send or the backstop reconciliation's) and
    // returns to OK the next minute, so each new dead letter notifies.
    specs.push({
      id: "DeliveryDlqNewMessages",
      metric: new cloudwatch.MathExpression({
        expression: "DIFF(visible)",
        usingMetrics: { visible: depth(queues.deliveryDlq) },
        period: Duration.minutes(1),
        label: "dead letters added",
      }),
      missingData: "ok",
      description: `New dead deliveries arrived in the last minute. See them: ${ops("dead-letters list")}; after the fix: ${ops("dead-letters redrive")}.`,
      notifyOk: false,
    });
    oldest("DeliveryDlqOldestMessage", queues.deliveryDlq, "dead letter", ops("dead-letters redrive"));
    notEmpty(
      "UnroutableNotEmpty",
      queues.unroutable,
      `Events could not be routed (unknown type, bad customer_id or detail); each message says why. Fix the publishing service (or the catalogue), then: ${ops("unroutable list")} and ${ops("unroutable redrive")}.`,
    );
    oldest("UnroutableOldestMessage", queues.unroutable, "unroutable event", ops("unroutable redrive"));
    notEmpty(
      "RouterFailedNotEmpty",
      queues.routerFailed,
      `The router failed on events after Lambda's retries (DynamoDB or SQS trouble). Once that is fixed, replay them with their original ids (webhook-ids unchanged, delivered jobs not resent): ${ops("router-failed redrive")}.`,
    );
    oldest(
      "RouterFailedOldestMessage",
      queues.routerFailed,
      "router-failed event",
      ops("router-failed redrive"),
    );
    notEmpty(
      "IngestDlqNotEmpty",
      queues.ingestDlq,
      `EventBridge could not invoke the router (permissions, throttling beyond its 24 h of retries). Fix that, then replay the events with their original ids: ${ops("ingest-dlq redrive")}.`,
    );
    oldest(
      "IngestDlqOldestMessage",
      queues.ingestDlq,
      "event EventBridge could not deliver",
      ops("ingest-dlq redrive"),
    );

    // --- Losses no queue holds ---
    // No alarm on the router's asynchronous invocations (AsyncEventsDropped, DestinationDeliveryFailures,
    // AsyncEventAge): events reach it through its queue, and `ops router-failed redrive` invokes it
    // synchronously (RequestResponse), so nothing of the product invokes it asynchronously; one
    // invoked so by hand that fails still lands on the router-failed queue (its on-failure
    // destination), which is alarmed (docs/decisions.md, "CloudWatch's fixed costs").
    // Rules on a custom bus publish with both dimensions; on the default bus with RuleName only
    // (EventBridge User Guide, "Monitoring Amazon EventBridge"). One pair of alarms per rule.
    props.rules.forEach((rule, i) => {
      const ruleDimensions: Record<string, string> =
        props.eventBusName === "default"
          ? { RuleName: rule.ruleName }
          : { EventBusName: props.eventBusName, RuleName: rule.ruleName };
      const ruleMetric = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: "AWS/Events",
          metricName,
          dimensionsMap: ruleDimensions,
          ...sum5m,
        });
      const which = i === 0 ? "" : "Ungrouped";
      specs.push({
        id: `Ingest${which}FailedInvocations`,
        metric: ruleMetric("FailedInvocations"),
        missingData: "ok",
        description: `EventBridge gave up sending events to the router queue (after its retries). They are in the ingest dead-letter queue unless Ingest${which}DlqSendFailures fires too: ${ops("ingest-dlq list")}.`,
      });
      specs.push({
        id: `Ingest${which}DlqSendFailures`,
        metric: ruleMetric("InvocationsFailedToBeSentToDlq"),
        missingData: "ok",
        description:
          "EventBridge could neither send events to the router queue nor put them on the ingest dead-letter queue: those events are lost. Check the queues' policies (events.amazonaws.com may send) and ask the publishing services to re-emit.",
      });
    });
    // The router not keeping up (throttled, failing, its mapping's concurrency too low): events wait.
    specs.push({
      id: "RouterQueueOldestMessage",
      metric: queues.router.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      threshold: ROUTER_QUEUE.visibilityTimeoutSeconds * 2,
      missingData: "ok",
      description: `An event has waited over ${ROUTER_QUEUE.visibilityTimeoutSeconds * 2} s on the router queue: routing is not keeping up or keeps failing (router errors and throttles, its mapping's maximum concurrency). Events the router fails on ${ROUTER_QUEUE.maxReceiveCount} times go to the router-failed queue: ${ops("router-failed list")}.`,
    });

    // --- Stalls ---
    // In flight near SQS's quota, on every queue an event source mapping reads: at the quota its
    // consumers receive nothing. The parked queues (dead letters, unroutable, router-failed, ingest
    // DLQ) are received only by an operator's `ops` command, which sees SQS's refusal itself, and the
    // backstop queue only by the reconciliation, whose stalls DeliveryBackstopNotDrained reports: an
    // alarm there ($0.10 a month each) could not tell anyone anything new.
    const inFlightAlarmPrefix = {
      delivery: "DeliveryQueue",
      slowDelivery: "SlowDeliveryQueue",
      router: "RouterQueue",
    } as const satisfies Partial<Record<keyof ObservedQueues, string>>;
    for (const [key, prefix] of Object.entries(inFlightAlarmPrefix) as [keyof ObservedQueues, string][]) {
      specs.push({
        id: `${prefix}InFlight`,
        metric: queues[key].metricApproximateNumberOfMessagesNotVisible({
          period: Duration.minutes(5),
          statistic: "Maximum",
        }),
        threshold: IN_FLIGHT_ALARM_THRESHOLD,
        missingData: "ok",
        description: `${IN_FLIGHT_ALARM_THRESHOLD} or more messages of this queue are in flight (received, not deleted, not visible); at SQS's quota of ${SQS_IN_FLIGHT_QUOTA} its long polls come back empty and every customer's jobs on it stop. Working messages are at most the mapping's maxConcurrency x 10; the rest are held in flight: jobs waiting out a delay on their visibility timeout, or receives nobody deletes. Find the endpoints that fail or hang (dashboard: attempts by outcome, delivery latency) and disable their subscriptions; check DeliveryErrors and DeliveryInternalErrors. docs/deploy.md, "Sizing".`,
      });
    }
    const ageThreshold = oldestMessageAgeThresholdSeconds(props.retrySchedule, props.retryJitter);
    specs.push({
      id: "DeliveryQueueOldestMessage",
      metric: queues.delivery.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      threshold: ageThreshold,
      missingData: "ok",
      description: `A delivery job on its first attempts has waited over ${ageThreshold} s: deliveries are not keeping up (concurrency, throttling, errors). Check the delivery function's errors and throttles and DeliveryInternalErrors.`,
    });
    specs.push({
      id: "DeliveryInternalErrors",
      metric: this.handlerMetric("delivery", METRIC_NAMES.delivery.internalErrors, "Sum"),
      missingData: "ok",
      description:
        "Delivery jobs failed on our side (DynamoDB, SQS, an unreadable job): nothing was sent and they come back after their visibility timeout, but a persistent cause stalls deliveries. The handler reports these as batch item failures, so the function's Errors metric stays at zero; read the delivery function's error logs.",
    });
    const throttleMetrics: Record<string, cloudwatch.IMetric> = {
      tableReads: props.table.metric("ReadThrottleEvents", sum5m),
      tableWrites: props.table.metric("WriteThrottleEvents", sum5m),
      // One alarm for both tables (an alarm is billed by the month): either one throttled stalls deliveries.
      deliveriesReads: props.deliveriesTable.metric("ReadThrottleEvents", sum5m),
      deliveriesWrites: props.deliveriesTable.metric("WriteThrottleEvents", sum5m),
      gsiReads: props.table.metric("ReadThrottleEvents", {
        ...sum5m,
        dimensionsMap: {
          TableName: props.table.tableName,
          GlobalSecondaryIndexName: TABLE_KEYS.gsi1.indexName,
        },
      }),
      gsiWrites: props.table.metric("WriteThrottleEvents", {
        ...sum5m,
        dimensionsMap: {
          TableName: props.table.tableName,
          GlobalSecondaryIndexName: TABLE_KEYS.gsi1.indexName,
        },
      }),
    };
    specs.push({
      id: "TableThrottled",
      metric: new cloudwatch.MathExpression({
        expression:
          "FILL(tableReads, 0) + FILL(tableWrites, 0) + FILL(gsiReads, 0) + FILL(gsiWrites, 0) + FILL(deliveriesReads, 0) + FILL(deliveriesWrites, 0)",
        usingMetrics: throttleMetrics,
        period: Duration.minutes(5),
        label: "throttled requests (both tables and GSI1)",
      }),
      missingData: "ok",
      description:
        "DynamoDB throttled requests on the main table, its GSI1 or the deliveries table (a hot partition, GSI back-pressure, which throttles the table's writes too, or provisioned capacity short of a burst). The functions retry, and a throttled delivery job never counts as an attempt, but persistent throttling delays deliveries and fails API calls: look at the hot keys (CloudWatch Contributor Insights), the delivery concurrency and, with provisioned capacity, the deliveries table's auto scaling.",
    });

    for (const [name, fn] of [
      ["Router", functions.router],
      ["Delivery", functions.delivery],
    ] as const) {
      specs.push({
        id: `${name}Errors`,
        metric: fn.metricErrors(sum5m),
        missingData: "ok",
        description:
          name === "Router"
            ? `The router function failed invocations (crash, timeout, DynamoDB or SQS failing). Lambda retries them twice, then parks them: ${ops("router-failed list")}.`
            : "The delivery function failed invocations (crash or timeout): the whole batch comes back after its visibility timeout. Read its logs.",
      });
      specs.push({
        id: `${name}Throttles`,
        metric: fn.metricThrottles(sum5m),
        missingData: "ok",
        description: `The ${name.toLowerCase()} function was throttled (account or reserved concurrency). Raise the limit or lower deliveryMaxConcurrency.`,
      });
    }

    // Jobs SQS moved to the backstop queue by itself (maxReceiveCount) that the scheduled
    // reconciliation closed: the same causes, found after the fact.
    specs.push({
      id: "DeliveryBackstopReconciled",
      metric: this.handlerMetric("delivery", METRIC_NAMES.delivery.backstopReconciled, "Sum"),
      missingData: "ok",
      description: `SQS moved delivery jobs to the backstop queue by its receive backstop; the scheduled reconciliation closed them (dead, reason internal) and moved them to the dead-letter queue. Look for delivery throttles or internal errors, then ${ops("dead-letters redrive")}. Run a pass now: ${ops("dead-letters reconcile")}.`,
    });

    // The backstop queue is emptied every BACKSTOP_RECONCILE_MINUTES: arrivals still there after two
    // periods mean the reconciliation is failing (its errors: DeliveryErrors) or left an arrival that
    // is not a delivery job.
    specs.push({
      id: "DeliveryBackstopNotDrained",
      metric: queues.deliveryBackstop.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: "Minimum",
      }),
      evaluationPeriods: 2 * BACKSTOP_RECONCILE_MINUTES,
      missingData: "keep",
      description: `Delivery jobs have waited on the backstop queue for ${2 * BACKSTOP_RECONCILE_MINUTES} minutes: the scheduled reconciliation is not emptying it (see DeliveryErrors and the delivery function's log for "backstop"). Run a pass now: ${ops("dead-letters reconcile")}.`,
    });

    const api5xxThreshold = props.api5xxThreshold ?? 5;
    specs.push({
      id: "Api5xx",
      metric: props.apiStage.metricServerError(sum5m),
      threshold: api5xxThreshold,
      missingData: "ok",
      description: `The subscriptions API answered ${api5xxThreshold} or more 5xx in five minutes (API function or authorizer failing). Read the API function's error logs and the access log.`,
    });

    this.renderAlarms(specs);
    this.dashboard = this.createDashboard(props);
  }

  /** A Powertools metric of one function (namespace VoipbinWebhooks, dimension service). */
  private handlerMetric(service: FunctionName, metricName: string, statistic = "Sum", label?: string) {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service },
      statistic,
      period: Duration.minutes(5),
      ...(label === undefined ? {} : { label }),
    });
  }

  /**
   * The way back's alarms (infra/constructs/way-back.ts): EventBridge gave up sending operational
   * events to VoIPBIN (FailedInvocations), or events wait on the way back's dead-letter queue.
   */
  alarmWayBack(
    metrics: { failedInvocations: cloudwatch.IMetric; deadLetters: cloudwatch.IMetric },
    dlqName: string,
  ): void {
    this.renderAlarms([
      {
        id: "WayBackFailedInvocations",
        metric: metrics.failedInvocations,
        missingData: "ok",
        description: `EventBridge could not send operational events (webhook_*) to VoIPBIN. After 24 h of retries they are parked on ${dlqName}; check VoIPBIN's endpoint or queue policy, then: aws sqs receive-message --queue-url <WayBackDlqUrl output>.`,
      },
      {
        id: "WayBackDeadLetters",
        metric: metrics.deadLetters,
        missingData: "ok",
        description: `Operational events for VoIPBIN wait on ${dlqName} (EventBridge gave up, or VoIPBIN did not consume them): read them with aws sqs receive-message --queue-url <WayBackDlqUrl output> and hand them on.`,
      },
    ]);
  }

  /** The one loop that turns alarm specs into alarms, each notifying the topic. */
  private renderAlarms(specs: readonly AlarmSpec[]): void {
    const action = new SnsAction(this.alarmTopic);
    for (const spec of specs) {
      const alarm = new cloudwatch.Alarm(this, spec.id, {
        alarmName: this.names.alarm(spec.id),
        metric: spec.metric,
        threshold: spec.threshold ?? 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: spec.evaluationPeriods ?? 1,
        treatMissingData:
          spec.missingData === "keep"
            ? cloudwatch.TreatMissingData.IGNORE
            : cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: spec.description,
      });
      alarm.addAlarmAction(action);
      if (spec.notifyOk !== false) alarm.addOkAction(action);
      this.alarms.push(alarm);
    }
  }

  private createTopic(props: ObservabilityProps): sns.ITopic {
    if (props.alarmTopicArn !== undefined) {
      return sns.Topic.fromTopicArn(this, "AlarmTopic", props.alarmTopicArn);
    }
    const topic = new sns.Topic(this, "AlarmTopic", {
      topicName: props.names.alarmTopic,
      displayName: `voipbin-webhooks alarms (${props.stage})`,
      enforceSSL: true,
    });
    if (props.alarmEmail !== undefined) topic.addSubscription(new EmailSubscription(props.alarmEmail));
    Validations.of(topic).acknowledge({
      id: "AwsSolutions-SNS2",
      reason:
        "Alarm notifications carry no customer data, and CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key; a customer-managed key would cost more than the topic. Operators who need one pass alarmTopicArn.",
    });
    return topic;
  }

  private createDashboard(props: ObservabilityProps): cloudwatch.Dashboard {
    const { functions, queues } = props;
    const handlerMetric = this.handlerMetric.bind(this);
    const d = METRIC_NAMES.delivery;
    const r = METRIC_NAMES.router;
    const queueDepth = (queue: sqs.IQueue, label: string) =>
      queue.metricApproximateNumberOfMessagesVisible({ statistic: "Maximum", label });

    const dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: props.names.dashboard,
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
          handlerMetric("delivery", d.backstopReconciled, "Sum", "moved by SQS's backstop, reconciled"),
        ],
        right: [handlerMetric("delivery", d.latency, "SampleCount", "HTTP attempts")],
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
          handlerMetric("router", r.fanOut, "SampleCount", "routed"),
          // Each unroutable event is one message sent to the unroutable queue (a free SQS metric).
          queues.unroutable.metricNumberOfMessagesSent({ statistic: "Sum", label: "unroutable" }),
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
          queueDepth(queues.deliveryBackstop, "backstop arrivals"),
          queueDepth(queues.unroutable, "unroutable"),
          queueDepth(queues.router, "waiting to be routed"),
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
        title: `In flight per queue (SQS quota ${SQS_IN_FLIGHT_QUOTA})`,
        width: 24,
        left: Object.entries(queues).map(([name, queue]) =>
          queue.metricApproximateNumberOfMessagesNotVisible({ statistic: "Maximum", label: name }),
        ),
        leftAnnotations: [
          { value: IN_FLIGHT_ALARM_THRESHOLD, label: "alarm" },
          { value: SQS_IN_FLIGHT_QUOTA, label: "quota: receives stop" },
        ],
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
    const k = METRIC_NAMES.authorizer;
    dashboard.addWidgets(
      // The API's answers by class are API Gateway's own 4xx/5xx (the "API requests" widget).
      new cloudwatch.GraphWidget({
        title: "API function",
        width: 12,
        left: [
          functions.api.metricInvocations({ statistic: "Sum", label: "requests" }),
          functions.api.metricErrors({ statistic: "Sum", label: "errors" }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "Access keys (authorizer)",
        width: 12,
        left: [
          functions.authorizer.metricInvocations({ statistic: "Sum", label: "requests" }),
          handlerMetric("authorizer", k.authenticationFailures, "Sum", "keys refused"),
          handlerMetric("authorizer", k.errors, "Sum", "lookup failed"),
        ],
      }),
    );
    return dashboard;
  }
}
