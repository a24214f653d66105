import { CfnOutput, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import type * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { resourceNamesFor, type StageResourceNames } from "#shared/resources.ts";
import { Delivery } from "./constructs/delivery.ts";
import { EventIngest } from "./constructs/event-ingest.ts";
import { FixedEgress } from "./constructs/fixed-egress.ts";
import { Observability } from "./constructs/observability.ts";
import { WebhookQueues } from "./constructs/queues.ts";
import { Routing } from "./constructs/routing.ts";
import { SubscriptionsApi } from "./constructs/subscriptions-api.ts";
import { WayBack } from "./constructs/way-back.ts";
import type { FunctionDefaults } from "./constructs/webhook-function.ts";
import { WebhookTable } from "./constructs/webhook-table.ts";
import {
  functionSettingsEnvironment,
  PROVISIONED_DEFAULTS,
  type ResolvedSettings,
  resolveSettings,
  type WebhooksSettings,
} from "./settings.ts";

export interface WebhooksStackProps extends StackProps, WebhooksSettings {}

/** The stack's name for a stage. */
export function stackNameFor(stage: string): string {
  return `VoipbinWebhooks-${stage}`;
}

/**
 * The whole system of PRODUCT §1 in one stack:
 * event ingest (bus, rule) -> routing (router) -> queues -> delivery (delivery function) -> customers,
 * the subscriptions API over the same table, and the alarms and dashboard watching all of it.
 *
 * Invalid props throw one InvalidSettingsError listing every problem, before anything is built.
 */
export class WebhooksStack extends Stack {
  readonly settings: ResolvedSettings;
  readonly table: WebhookTable;
  /** The delivery records apart (docs/data-model.md, "Splitting the delivery records out"). */
  readonly deliveriesTable: WebhookTable;
  readonly queues: WebhookQueues;
  readonly routing: Routing;
  readonly ingest: EventIngest;
  readonly delivery: Delivery;
  readonly api: SubscriptionsApi;
  readonly observability: Observability;
  /** `fixedEgress`: the VPC, NAT gateways and Elastic IPs deliveries leave from. */
  readonly egress?: FixedEgress;
  /** `wayBack`: the rule that sends operational events back to VoIPBIN. */
  readonly wayBack?: WayBack;
  /** The physical name of every named resource (each carries the stage). */
  readonly names: StageResourceNames;

  constructor(scope: Construct, id: string, props: WebhooksStackProps = {}) {
    const settings = resolveSettings(props as Readonly<Record<string, unknown>>);
    super(scope, id, {
      description: `voipbin-webhooks (${settings.stage}): EventBridge -> router -> SQS -> delivery, and the subscriptions API`,
      terminationProtection: !settings.isDevStage,
      ...props,
    });
    this.settings = settings;
    const names = resourceNamesFor(settings.stage);
    this.names = names;
    // What holds data (the table, parked work, logs) is kept outside dev stages: RetainExceptOnCreate,
    // so that a first deploy that rolls back deletes what it created and the retry finds the names free.
    const removalPolicy = settings.isDevStage
      ? RemovalPolicy.DESTROY
      : RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;
    const logRetention = settings.logRetentionDays as logs.RetentionDays;

    const provisioned =
      settings.capacityMode === "provisioned"
        ? {
            targetUtilizationPercent:
              settings.provisionedTargetUtilization ?? PROVISIONED_DEFAULTS.provisionedTargetUtilization,
            minWriteCapacity:
              settings.provisionedMinWriteCapacity ?? PROVISIONED_DEFAULTS.provisionedMinWriteCapacity,
            maxWriteCapacity:
              settings.provisionedMaxWriteCapacity ?? PROVISIONED_DEFAULTS.provisionedMaxWriteCapacity,
            minReadCapacity:
              settings.provisionedMinReadCapacity ?? PROVISIONED_DEFAULTS.provisionedMinReadCapacity,
            maxReadCapacity:
              settings.provisionedMaxReadCapacity ?? PROVISIONED_DEFAULTS.provisionedMaxReadCapacity,
          }
        : undefined;
    const warmThroughput =
      settings.warmWriteUnitsPerSecond === undefined && settings.warmReadUnitsPerSecond === undefined
        ? undefined
        : {
            writeUnitsPerSecond: settings.warmWriteUnitsPerSecond,
            readUnitsPerSecond: settings.warmReadUnitsPerSecond,
          };
    // The main table: subscriptions, keys, counters, portal links, the run-time catalogue and the
    // records of layouts 1 and 2. On-demand whatever capacityMode says: its traffic is the router's
    // Query per event and one read per delivery batch, too small for a provisioned floor to pay
    // (docs/decisions.md, "The table split"), and PITR on it is what an operator recovers from. Warm
    // throughput (a launch) goes to the deliveries table, where the volume is; on-demand's own
    // starting throughput is far above this table's share of it.
    this.table = new WebhookTable(this, "Storage", {
      tableName: names.table,
      retain: !settings.isDevStage,
      pointInTimeRecovery: settings.pointInTimeRecovery,
    });
    // The delivery records: heads, attempts, event bodies, shadow deliveries. 30-day records that
    // TTL removes: no PITR, no index (layout 3's log is a base-table Query); provisioned or on-demand
    // as capacityMode says, since all the volume is here.
    this.deliveriesTable = new WebhookTable(this, "Deliveries", {
      tableName: names.deliveriesTable,
      retain: !settings.isDevStage,
      pointInTimeRecovery: false,
      pointInTimeRecoveryOffReason:
        "Delivery records only (heads, attempts, event bodies, shadow deliveries), kept 30 days and removed by TTL: a restore would bring back records the delivery log only reports, and PITR would bill every byte of them. What an operator must recover (subscriptions, keys, counters) is in the main table, with PITR; docs/data-model.md, 'Splitting the delivery records out'.",
      gsi1: false,
      ...(provisioned === undefined ? {} : { capacity: provisioned }),
      ...(warmThroughput === undefined ? {} : { warmThroughput }),
    });
    this.queues = new WebhookQueues(this, "Queues", {
      retrySchedule: settings.retrySchedule,
      deliveryQueueName: names.deliveryQueue,
      deliveryDlqName: names.deliveryDlq,
      deliveryBackstopName: names.deliveryBackstop,
      unroutableQueueName: names.unroutableQueue,
      parkedWorkRemovalPolicy: removalPolicy,
      slowDeliveryQueueName: names.slowDeliveryQueue,
    });

    // One environment for every function: what `shared/config.ts` parses at cold start.
    const functionDefaults: FunctionDefaults = {
      environment: {
        TABLE_NAME: this.table.table.tableName,
        DELIVERIES_TABLE_NAME: this.deliveriesTable.table.tableName,
        DELIVERY_QUEUE_URL: this.queues.deliveryQueue.queueUrl,
        DELIVERY_DLQ_URL: this.queues.deliveryDlq.queueUrl,
        DELIVERY_BACKSTOP_QUEUE_URL: this.queues.deliveryBackstop.queueUrl,
        UNROUTABLE_QUEUE_URL: this.queues.unroutableQueue.queueUrl,
        SLOW_DELIVERY_QUEUE_URL: this.queues.slowDeliveryQueue.queueUrl,
        ...functionSettingsEnvironment(settings),
      },
      names,
      logRetention,
      logRemovalPolicy: removalPolicy,
      logLevel: settings.logLevel,
      systemLogLevel: settings.systemLogLevel,
      tracing: settings.tracing,
    };

    this.routing = new Routing(this, "Routing", {
      table: this.table,
      deliveriesTable: this.deliveriesTable,
      deliveryQueue: this.queues.deliveryQueue,
      unroutableQueue: this.queues.unroutableQueue,
      queueName: names.routerQueue,
      failedQueueName: names.routerFailedQueue,
      failedQueueRemovalPolicy: removalPolicy,
      functionDefaults,
      reservedConcurrency: settings.routerReservedConcurrency,
      batchingWindowSeconds: settings.routerBatchingWindowSeconds,
    });
    this.ingest = new EventIngest(this, "EventIngest", {
      eventBusName: settings.eventBusName,
      attachToExistingBus: settings.attachToExistingBus,
      routerQueue: this.routing.queue,
      deadLetterQueueName: names.ingestDlq,
      deadLetterQueueRemovalPolicy: removalPolicy,
    });
    if (settings.fixedEgress) {
      this.egress = new FixedEgress(this, "FixedEgress", {
        azs: settings.fixedEgressAzs,
        stage: settings.stage,
        retain: !settings.isDevStage,
        logRetention,
      });
    }
    this.delivery = new Delivery(this, "Delivery", {
      ...(this.egress
        ? {
            network: {
              vpc: this.egress.vpc,
              subnets: this.egress.subnets,
              securityGroup: this.egress.securityGroup,
            },
          }
        : {}),
      table: this.table,
      deliveriesTable: this.deliveriesTable,
      deliveryQueue: this.queues.deliveryQueue,
      slowDeliveryQueue: this.queues.slowDeliveryQueue,
      deliveryDlq: this.queues.deliveryDlq,
      deliveryBackstop: this.queues.deliveryBackstop,
      bus: this.ingest.bus,
      functionDefaults,
      maxConcurrency: settings.deliveryMaxConcurrency,
      slowLaneMaxConcurrency: settings.slowLaneMaxConcurrency,
      reservedConcurrency: settings.deliveryReservedConcurrency,
      batchingWindowSeconds: settings.deliveryBatchingWindowSeconds,
    });
    this.api = new SubscriptionsApi(this, "SubscriptionsApi", {
      table: this.table,
      deliveriesTable: this.deliveriesTable,
      deliveryQueue: this.queues.deliveryQueue,
      functionDefaults,
      apiName: names.httpApi,
      accessLogGroupName: names.apiAccessLogGroup,
      rateLimit: settings.apiRateLimit,
      burstLimit: settings.apiBurstLimit,
      corsAllowedOrigins: settings.corsAllowedOrigins,
      accessLogRetention: logRetention,
      accessLogRemovalPolicy: removalPolicy,
    });
    this.observability = new Observability(this, "Observability", {
      functions: {
        router: this.routing.router.function,
        delivery: this.delivery.delivery.function,
        api: this.api.api.function,
        authorizer: this.api.authorizer.function,
      },
      queues: {
        delivery: this.queues.deliveryQueue,
        slowDelivery: this.queues.slowDeliveryQueue,
        deliveryDlq: this.queues.deliveryDlq,
        deliveryBackstop: this.queues.deliveryBackstop,
        unroutable: this.queues.unroutableQueue,
        router: this.routing.queue,
        routerFailed: this.routing.failedQueue,
        ingestDlq: this.ingest.deadLetterQueue,
      },
      apiStage: this.api.stage,
      stage: settings.stage,
      names,
      rules: [this.ingest.rule, this.ingest.ungroupedRule],
      eventBusName: settings.eventBusName,
      table: this.table.table,
      deliveriesTable: this.deliveriesTable.table,
      retrySchedule: settings.retrySchedule,
      retryJitter: settings.retryJitter,
      alarmEmail: settings.alarmEmail,
      alarmTopicArn: settings.alarmTopicArn,
    });

    if (settings.wayBack !== "none") {
      this.wayBack = new WayBack(this, "WayBack", {
        bus: this.ingest.bus,
        eventBusName: settings.eventBusName,
        target: settings.wayBack,
        ...(settings.wayBackEndpoint ? { endpoint: settings.wayBackEndpoint } : {}),
        ...(settings.wayBackApiKeySecretArn ? { apiKeySecretArn: settings.wayBackApiKeySecretArn } : {}),
        ...(settings.wayBackConsumerArn ? { consumerArn: settings.wayBackConsumerArn } : {}),
        queueName: names.wayBackQueue,
        dlqName: names.wayBackDlq,
        removalPolicy,
      });
      this.observability.alarmWayBack(this.wayBack.failureMetrics(), names.wayBackDlq);
    }

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    for (const [i, address] of (this.egress?.addresses ?? []).entries()) {
      output(
        `EgressAddress${i + 1}`,
        address.attrPublicIp,
        "Fixed source address of deliveries (tell customers who allowlist senders)",
      );
    }
    if (this.wayBack?.queue) {
      output("WayBackQueueUrl", this.wayBack.queue.queueUrl, "Queue VoIPBIN polls for operational events");
    }
    if (this.wayBack) {
      output(
        "WayBackDlqUrl",
        this.wayBack.deadLetterQueue.queueUrl,
        "Operational events not handed to VoIPBIN",
      );
    }
    output("EventBusName", this.ingest.bus.eventBusName, "Bus VoIPBIN services put events on");
    output("EventBusArn", this.ingest.bus.eventBusArn, "ARN of that bus (for the services' IAM policies)");
    output("ApiUrl", this.api.url, "Base URL of the subscriptions API");
    output("TableName", this.table.table.tableName, "DynamoDB table (TABLE_NAME for npm run keys)");
    output(
      "DeliveriesTableName",
      this.deliveriesTable.table.tableName,
      "DynamoDB table of the delivery records (DELIVERIES_TABLE_NAME)",
    );
    output("DeliveryQueueUrl", this.queues.deliveryQueue.queueUrl, "Delivery jobs");
    output("DeliveryDlqUrl", this.queues.deliveryDlq.queueUrl, "Dead deliveries");
    output(
      "DeliveryBackstopUrl",
      this.queues.deliveryBackstop.queueUrl,
      "Jobs SQS redrove after 35 receives (DELIVERY_BACKSTOP_QUEUE_URL; the reconciliation closes them dead)",
    );
    output("UnroutableQueueUrl", this.queues.unroutableQueue.queueUrl, "Unroutable events, with the reason");
    output("RouterQueueUrl", this.routing.queue.queueUrl, "Events waiting to be routed (fair by customer)");
    output("RouterFailedQueueUrl", this.routing.failedQueue.queueUrl, "Events the router failed on");
    output("IngestDlqUrl", this.ingest.deadLetterQueue.queueUrl, "Events EventBridge could not deliver");
    output("DashboardName", this.observability.dashboard.dashboardName, "CloudWatch dashboard");
    output("AlarmTopicArn", this.observability.alarmTopic.topicArn, "SNS topic every alarm notifies");
    output(
      "RouterFunctionName",
      this.routing.router.function.functionName,
      "Router (npm run ops -- router-failed redrive invokes it)",
    );
  }
}
