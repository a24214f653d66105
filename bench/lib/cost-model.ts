import { deliveryOutcomeMetric, METERED_OUTCOMES, METRIC_NAMES } from "#handlers/metrics.ts";
import { PRICE_TABLE } from "./pricing.ts";

/**
 * The all-in cost model (issue 22): what a million deliveries cost on AWS at a given monthly volume,
 * from what `npm run bench -- --only cost` measured on the real functions (bench/cost.ts) and from
 * the synthesized CloudFormation template (what is deployed, and so billed, whatever the traffic).
 *
 * Every billed resource and setting of the template maps to a line of this model
 * (`BILLED_RESOURCE_TYPES`, `billedItemsOfTemplate`); test/infra/cost-model.test.ts fails when the
 * template holds a billed resource or setting the model has no line for. Prices: bench/lib/pricing.ts.
 */

/** The lines the model prices. A billed item of the template must name one of these. */
export const MODEL_LINES = [
  "eventbridge_events",
  "lambda_requests",
  "lambda_duration",
  "sqs_requests",
  "dynamodb_requests",
  "dynamodb_storage",
  "dynamodb_pitr",
  "dynamodb_provisioned_minimum",
  "cloudwatch_logs",
  "cloudwatch_metrics",
  "cloudwatch_alarms",
  "cloudwatch_dashboards",
  "xray_traces",
  "data_transfer_out",
  "nat_gateway",
  "public_ipv4",
  /** Customers' API calls: per API request, not per delivery (outside the per-delivery figures). */
  "api_requests",
  /** The fixed-egress option's VPC flow logs (CloudWatch vended logs), per attempt through the NAT. */
  "vpc_flow_logs",
  /** The way back's API destination: per operational event (rare), not per delivery. */
  "eventbridge_api_destinations",
  /** Alarm notifications: SNS's free tier (1 million publishes, 1,000 e-mails a month) covers them. */
  "sns_notifications_free_tier",
] as const;
export type ModelLine = (typeof MODEL_LINES)[number];

/** Resource types billed by their existence or use, and the model line that prices them. */
export const BILLED_RESOURCE_TYPES: Readonly<Record<string, ModelLine>> = {
  "AWS::Lambda::Function": "lambda_duration",
  "AWS::Lambda::EventSourceMapping": "sqs_requests",
  "AWS::SQS::Queue": "sqs_requests",
  "AWS::DynamoDB::Table": "dynamodb_requests",
  "AWS::Events::EventBus": "eventbridge_events",
  "AWS::Logs::LogGroup": "cloudwatch_logs",
  "AWS::CloudWatch::Alarm": "cloudwatch_alarms",
  "AWS::CloudWatch::Dashboard": "cloudwatch_dashboards",
  "AWS::EC2::NatGateway": "nat_gateway",
  "AWS::EC2::EIP": "public_ipv4",
  "AWS::ApiGatewayV2::Api": "api_requests",
  "AWS::SNS::Topic": "sns_notifications_free_tier",
  "AWS::EC2::FlowLog": "vpc_flow_logs",
  "AWS::Events::ApiDestination": "eventbridge_api_destinations",
};

/**
 * Resource types that cost nothing by themselves (their use is billed on another line: a rule's
 * matches are part of the EventBridge event price, a Lambda permission or role is free).
 */
export const FREE_RESOURCE_TYPES: ReadonlySet<string> = new Set([
  "AWS::IAM::Role",
  "AWS::IAM::Policy",
  "AWS::IAM::ManagedPolicy",
  "AWS::Lambda::Permission",
  "AWS::Lambda::EventInvokeConfig",
  "AWS::Events::Rule",
  "AWS::SQS::QueuePolicy",
  "AWS::SNS::Subscription",
  "AWS::SNS::TopicPolicy",
  "AWS::ApiGatewayV2::Stage",
  "AWS::ApiGatewayV2::Route",
  "AWS::ApiGatewayV2::Integration",
  "AWS::ApiGatewayV2::Authorizer",
  "AWS::ApplicationAutoScaling::ScalableTarget",
  "AWS::ApplicationAutoScaling::ScalingPolicy",
  "AWS::CDK::Metadata",
  // The VPC plumbing of the fixed-egress option: only the NAT gateway and its address are billed.
  "AWS::EC2::VPC",
  "AWS::EC2::VPCEndpoint",
  "AWS::EC2::Subnet",
  "AWS::EC2::RouteTable",
  "AWS::EC2::Route",
  "AWS::EC2::SubnetRouteTableAssociation",
  "AWS::EC2::InternetGateway",
  "AWS::EC2::VPCGatewayAttachment",
  "AWS::EC2::SecurityGroup",
  "AWS::EC2::SecurityGroupEgress",
  "AWS::EC2::SecurityGroupIngress",
  // The API destination's connection (its calls are billed on the destination's line).
  "AWS::Events::Connection",
]);

/** One billed thing in the template: a resource, or a billed setting of one. */
export interface BilledItem {
  readonly logicalId: string;
  readonly what: string;
  readonly line: ModelLine | undefined;
}

type TemplateResource = { Type: string; Properties?: Record<string, unknown> };
export interface CfnTemplate {
  Resources?: Record<string, TemplateResource>;
}

/**
 * Everything billed in the template: each resource of a billed type, and each billed setting (X-Ray
 * tracing, PITR, provisioned capacity, Contributor Insights, streams, provisioned concurrency,
 * Lambda's text log format or platform lines). `line` is undefined for an item the model has no line
 * for: a resource type in neither list, or a billed setting the model does not price.
 */
export function billedItemsOfTemplate(template: CfnTemplate): BilledItem[] {
  const items: BilledItem[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    const props = resource.Properties ?? {};
    const type = resource.Type;
    const line = BILLED_RESOURCE_TYPES[type];
    if (line !== undefined) items.push({ logicalId, what: type, line });
    else if (!FREE_RESOURCE_TYPES.has(type)) items.push({ logicalId, what: type, line: undefined });
    if (type === "AWS::EC2::VPCEndpoint" && props.VpcEndpointType === "Interface") {
      // Gateway endpoints (DynamoDB, S3) are free; interface endpoints are billed by the hour and GB.
      items.push({ logicalId, what: "interface VPC endpoint", line: undefined });
    }
    if (type === "AWS::Lambda::Function") {
      const tracing = (props.TracingConfig as { Mode?: string } | undefined)?.Mode;
      if (tracing === "Active") items.push({ logicalId, what: "X-Ray active tracing", line: "xray_traces" });
      items.push({ logicalId, what: "function logs", line: "cloudwatch_logs" });
      if (props.SnapStart !== undefined) items.push({ logicalId, what: "SnapStart", line: undefined });
      // The duration line is priced at arm64's GB-second; x86_64's is higher (Lambda pricing page).
      const architectures = (props.Architectures as string[] | undefined) ?? ["x86_64"];
      if (!architectures.includes("arm64")) {
        items.push({ logicalId, what: "x86_64 duration (priced as arm64)", line: undefined });
      }
      const ephemeral = (props.EphemeralStorage as { Size?: number } | undefined)?.Size;
      if (ephemeral !== undefined && ephemeral > 512) {
        items.push({ logicalId, what: "ephemeral storage above 512 MB", line: undefined });
      }
    }
    // Encryption with a KMS key bills KMS requests per message, publish or log batch (KMS pricing);
    // SQS's own SSE (SqsManagedSseEnabled) and the services' default encryption cost nothing.
    const kmsKey =
      (type === "AWS::SQS::Queue" && props.KmsMasterKeyId !== undefined) ||
      (type === "AWS::SNS::Topic" && props.KmsMasterKeyId !== undefined) ||
      (type === "AWS::Logs::LogGroup" && props.KmsKeyId !== undefined);
    if (kmsKey) items.push({ logicalId, what: "KMS encryption (KMS requests)", line: undefined });
    if (type === "AWS::DynamoDB::Table") {
      items.push({ logicalId, what: "table storage", line: "dynamodb_storage" });
      const pitr = props.PointInTimeRecoverySpecification as
        | { PointInTimeRecoveryEnabled?: boolean }
        | undefined;
      if (pitr?.PointInTimeRecoveryEnabled === true) {
        items.push({ logicalId, what: "point-in-time recovery", line: "dynamodb_pitr" });
      }
      if (props.BillingMode !== "PAY_PER_REQUEST") {
        items.push({ logicalId, what: "provisioned capacity", line: "dynamodb_provisioned_minimum" });
      }
      const insights = props.ContributorInsightsSpecification as { Enabled?: boolean } | undefined;
      if (insights?.Enabled === true)
        items.push({ logicalId, what: "Contributor Insights", line: undefined });
      if (props.StreamSpecification !== undefined) {
        items.push({ logicalId, what: "DynamoDB Streams", line: undefined });
      }
      if (props.KinesisStreamSpecification !== undefined) {
        items.push({ logicalId, what: "Kinesis Data Streams for DynamoDB", line: undefined });
      }
      const sse = props.SSESpecification as { SSEType?: string; KMSMasterKeyId?: unknown } | undefined;
      if (sse?.KMSMasterKeyId !== undefined) {
        items.push({ logicalId, what: "customer managed KMS key", line: undefined });
      }
    }
    if (type === "AWS::Lambda::Alias" || type === "AWS::Lambda::Version") {
      if (props.ProvisionedConcurrencyConfig !== undefined) {
        items.push({ logicalId, what: "provisioned concurrency", line: undefined });
      }
    }
  }
  return items;
}

/** Items the model cannot price, as messages naming the line to add. */
export function unpricedItems(template: CfnTemplate): string[] {
  return billedItemsOfTemplate(template)
    .filter((item) => item.line === undefined || !(MODEL_LINES as readonly string[]).includes(item.line))
    .map(
      (item) =>
        `${item.logicalId}: ${item.what} is billed but the cost model has no line for it — add one to bench/lib/cost-model.ts (MODEL_LINES and BILLED_RESOURCE_TYPES or billedItemsOfTemplate, priced in deploymentOfTemplate/modelCost, prices in bench/lib/pricing.ts), or list the type in FREE_RESOURCE_TYPES if AWS does not bill it`,
    );
}

/** What the model reads from the template: every quantity that is billed whatever the traffic. */
export interface Deployment {
  readonly functions: Readonly<
    Record<
      string,
      {
        memory_mb: number;
        tracing: boolean;
        log_format: "Text" | "JSON";
        system_log_level: string;
        /** Lambda's application log level (JSON format; Lambda passes it as AWS_LAMBDA_LOG_LEVEL). */
        application_log_level?: string;
      }
    >
  >;
  readonly alarms: number;
  /** What the alarms are billed on: one per metric each watches (a metric math alarm: each metric it reads). */
  readonly alarm_metrics: number;
  readonly dashboards: number;
  readonly queues: number;
  /** SQS event source mappings (each one's pollers long-poll its queue all the time). */
  readonly sqs_mappings: number;
  /** The delivery mappings' `MaximumBatchingWindowInSeconds`. */
  readonly delivery_batching_window_s: number;
  /**
   * The delivery mappings' `BatchSize`: the most jobs one invocation gets (10 without a window; up to
   * 10,000 on a standard queue with a window of at least 1 s: Lambda Developer Guide, "Lambda
   * parameters for Amazon SQS event source mappings"). Absent: 10.
   */
  readonly delivery_batch_size?: number;
  /**
   * The router's own queue (the bus rule's target, read by the router's event source mapping), with
   * its mapping's batching window; undefined when EventBridge invokes the router directly.
   */
  readonly router_queue?: { readonly batching_window_s: number };
  /**
   * The table of the delivery records (docs/data-model.md, "Splitting the delivery records out"):
   * its PITR and capacity are what scale with deliveries. The main table (subscriptions, keys) is
   * on-demand and its PITR bills a few MB, nothing per delivery.
   */
  readonly table: {
    readonly pitr: boolean;
    readonly provisioned: boolean;
    /** Minimum write/read capacity units of the table plus its GSIs (auto scaling's floor). */
    readonly min_wcu: number;
    readonly min_rcu: number;
    /**
     * The GSIs' part of those minimums: an index has capacity of its own, scaled on its own traffic,
     * so its floor is paid wherever the table's traffic is. Absent: table and GSIs taken together.
     */
    readonly index_min_wcu?: number;
    readonly index_min_rcu?: number;
    /** The GSIs of the delivery records' table (each has capacity of its own when provisioned). */
    readonly indexes?: number;
    /**
     * The other tables (the main table: subscriptions, keys, endpoint state) are on-demand whatever
     * `capacityMode` says, so their units are priced on-demand in every mode.
     */
    readonly other_tables_on_demand?: boolean;
    readonly target_utilization: number;
  };
  readonly nat_gateways: number;
  readonly public_ipv4: number;
  /** Custom (EMF) metrics the functions may publish: every name × its one `service` dimension. */
  readonly custom_metrics: number;
}

/** The functions' logical-id stems in the template (`<Construct>…Function…`), by function name. */
const FUNCTION_STEMS: Readonly<Record<string, RegExp>> = {
  router: /Router.*Function/,
  delivery: /Delivery.*Function/,
  api: /SubscriptionsApiApi.*Function/,
  authorizer: /Authorizer.*Function/,
};

/** Every metric the handlers can publish (handlers/metrics.ts), each billed in the hours it is published. */
export function customMetricNames(): string[] {
  const names: string[] = [];
  for (const group of Object.values(METRIC_NAMES)) names.push(...Object.values(group));
  for (const outcome of METERED_OUTCOMES) names.push(deliveryOutcomeMetric(outcome));
  return names;
}

/**
 * Alarm metrics of the template: CloudWatch bills an alarm per metric it watches ($0.10 a month each
 * at standard resolution), so an alarm on a metric math expression counts every metric the
 * expression reads (CloudWatch pricing, "Alarms": per alarm metric; infracost prices
 * `aws_cloudwatch_metric_alarm` the same way).
 */
export function alarmMetricsOfTemplate(template: CfnTemplate): number {
  return Object.values(template.Resources ?? {})
    .filter((r) => r.Type === "AWS::CloudWatch::Alarm")
    .reduce((total, alarm) => {
      const queries = alarm.Properties?.Metrics as { MetricStat?: unknown }[] | undefined;
      if (queries === undefined) return total + 1;
      return total + Math.max(1, queries.filter((q) => q.MetricStat !== undefined).length);
    }, 0);
}

export function deploymentOfTemplate(template: CfnTemplate): Deployment {
  const resources = Object.entries(template.Resources ?? {});
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  const functions: Record<string, Deployment["functions"][string]> = {};
  for (const [id, fn] of ofType("AWS::Lambda::Function")) {
    const name = Object.entries(FUNCTION_STEMS).find(([, stem]) => stem.test(id))?.[0];
    if (name === undefined) continue;
    const props = fn.Properties ?? {};
    const logging = (props.LoggingConfig ?? {}) as {
      LogFormat?: string;
      SystemLogLevel?: string;
      ApplicationLogLevel?: string;
    };
    functions[name] = {
      memory_mb: Number(props.MemorySize ?? 128),
      tracing: (props.TracingConfig as { Mode?: string } | undefined)?.Mode === "Active",
      log_format: logging.LogFormat === "JSON" ? "JSON" : "Text",
      system_log_level: logging.LogFormat === "JSON" ? (logging.SystemLogLevel ?? "INFO") : "INFO",
      ...(logging.LogFormat === "JSON"
        ? { application_log_level: logging.ApplicationLogLevel ?? "INFO" }
        : {}),
    };
  }
  const mappings = ofType("AWS::Lambda::EventSourceMapping").map(([, m]) => m.Properties ?? {});
  const sqsMappings = mappings.filter((m) => JSON.stringify(m.EventSourceArn ?? "").includes("Queue"));
  const deliveryMapping = sqsMappings.find((m) => JSON.stringify(m.FunctionName ?? "").includes("Delivery"));
  const routerMapping = sqsMappings.find((m) => JSON.stringify(m.FunctionName ?? "").includes("Router"));
  const tables = ofType("AWS::DynamoDB::Table").map(([, t]) => t.Properties ?? {});
  // The delivery records' table: named so by the stack (shared/resources.ts); a template of one table
  // (before the split) holds them in that one.
  const table = tables.find((t) => String(t.TableName ?? "").includes("-deliveries")) ?? tables[0] ?? {};
  const provisioned = table.BillingMode !== "PAY_PER_REQUEST" && tables.length > 0;
  const throughputs = [
    table.ProvisionedThroughput,
    ...((table.GlobalSecondaryIndexes ?? []) as { ProvisionedThroughput?: unknown }[]).map(
      (g) => g.ProvisionedThroughput,
    ),
  ] as ({ ReadCapacityUnits?: number; WriteCapacityUnits?: number } | undefined)[];
  const policies = ofType("AWS::ApplicationAutoScaling::ScalingPolicy").map(([, p]) => p.Properties ?? {});
  const target = Number(
    (policies[0]?.TargetTrackingScalingPolicyConfiguration as { TargetValue?: number } | undefined)
      ?.TargetValue ?? 70,
  );
  return {
    functions,
    alarms: ofType("AWS::CloudWatch::Alarm").length,
    alarm_metrics: alarmMetricsOfTemplate(template),
    dashboards: ofType("AWS::CloudWatch::Dashboard").length,
    queues: ofType("AWS::SQS::Queue").length,
    sqs_mappings: sqsMappings.length,
    delivery_batching_window_s: Number(deliveryMapping?.MaximumBatchingWindowInSeconds ?? 0),
    delivery_batch_size: Number(deliveryMapping?.BatchSize ?? 10),
    ...(routerMapping === undefined
      ? {}
      : { router_queue: { batching_window_s: Number(routerMapping.MaximumBatchingWindowInSeconds ?? 0) } }),
    table: {
      pitr:
        (table.PointInTimeRecoverySpecification as { PointInTimeRecoveryEnabled?: boolean } | undefined)
          ?.PointInTimeRecoveryEnabled === true,
      provisioned,
      min_wcu: provisioned ? throughputs.reduce((t, p) => t + Number(p?.WriteCapacityUnits ?? 0), 0) : 0,
      min_rcu: provisioned ? throughputs.reduce((t, p) => t + Number(p?.ReadCapacityUnits ?? 0), 0) : 0,
      index_min_wcu: provisioned
        ? throughputs.slice(1).reduce((t, p) => t + Number(p?.WriteCapacityUnits ?? 0), 0)
        : 0,
      index_min_rcu: provisioned
        ? throughputs.slice(1).reduce((t, p) => t + Number(p?.ReadCapacityUnits ?? 0), 0)
        : 0,
      indexes: ((table.GlobalSecondaryIndexes ?? []) as unknown[]).length,
      other_tables_on_demand:
        tables.length > 1 &&
        tables.filter((t) => t !== table).every((t) => t.BillingMode === "PAY_PER_REQUEST"),
      target_utilization: target / 100,
    },
    nat_gateways: ofType("AWS::EC2::NatGateway").length,
    public_ipv4: ofType("AWS::EC2::EIP").length,
    custom_metrics: customMetricNames().length,
  };
}

/** What the cost bench measured on the real functions (bench/cost.ts). */
export interface CostMeasurements {
  readonly fanout: number;
  /** By batch size: mean wall-clock and CPU milliseconds of one delivery invocation, and its deliveries. */
  readonly delivery_batches: Readonly<
    Record<
      string,
      {
        invocations: number;
        /** Wall-clock of the invocation on this machine (local emulators; for reference). */
        wall_ms: number;
        /** From the first request's arrival at the endpoint to the slowest answer leaving it. */
        endpoint_span_ms: number;
        cpu_ms: number;
        /** CPU before the last request was out plus after the slowest answer came back. */
        serial_cpu_ms: number;
        app_log_bytes: number;
        /**
         * The in-process receiver's CPU for the batch's requests (measured on its own), already taken
         * out of `cpu_ms` (absent: `cpu_ms` includes it, an upper bound of the function's).
         */
        receiver_cpu_ms?: number;
      }
    >
  >;
  /** Mean wall-clock and CPU milliseconds of one router invocation (one event), and its log bytes. */
  readonly router: {
    invocations: number;
    /** Wall-clock on this machine against the local emulators (for reference; not billed as such). */
    wall_ms: number;
    cpu_ms: number;
    app_log_bytes: number;
    /** AWS requests per event, by `service.Operation`. */
    requests: Readonly<Record<string, number>>;
    /**
     * SQS requests per router invocation, by events per invocation: a batch's jobs share
     * SendMessageBatch requests (shared/services/shared-enqueue.ts). Absent: `requests`' per event.
     */
    sqs_requests_per_invocation?: Readonly<Record<string, number>>;
  };
  /** SQS requests the delivery function made per delivery (the rest of the functions' are the router's). */
  readonly delivery_sqs_requests_per_delivery?: number;
  /** AWS requests the functions themselves made, per delivery, by `service.Operation`. */
  readonly function_requests_per_delivery: Readonly<Record<string, number>>;
  readonly wru_per_delivery: number;
  readonly rru_per_delivery: number;
  /**
   * Read units per delivery of the table split's transition (the main table asked for records
   * dated before the split, for a day after it), measured and left out of `rru_per_delivery`.
   */
  readonly split_fallback_rru_per_delivery?: number;
  /** The GSIs' share of `wru_per_delivery` (their copies) and of `rru_per_delivery` (Queries on them). */
  readonly index_wru_per_delivery?: number;
  readonly index_rru_per_delivery?: number;
  /** The part of the units on tables other than the delivery records' (the main table). */
  readonly other_tables_wru_per_delivery?: number;
  readonly other_tables_rru_per_delivery?: number;
  /**
   * The read units per delivery by what was read (`<operation> <PK word>/<SK word>`, or the Query's
   * index): which reads the subtotal's RRU are for.
   */
  readonly rru_per_delivery_by_read?: Readonly<Record<string, number>>;
  /** Head, attempts and a share of the event's payload, with per-item overhead, in the table and GSI1. */
  readonly storage_bytes_per_delivery: number;
  /** The same without GSI1's copies: what PITR bills (the table's data; absent: all of it). */
  readonly pitr_bytes_per_delivery?: number;
  readonly retention_days: number;
  /** HTTP bytes the delivery function wrote per attempt (request line, headers, body). */
  readonly http_bytes_per_attempt: number;
  /**
   * Client CPU of a new TLS connection (bench/lib/tls-handshake.ts): the cost bench's receiver speaks
   * plain HTTP, customers' endpoints HTTPS. Added per new connection (`new_connections_per_attempt`).
   */
  readonly tls_handshake_cpu_ms: number;
}

/** Assumptions of the model that no measurement here can give; each is documented in docs/deploy.md. */
export const MODEL_ASSUMPTIONS = {
  /** Lambda's SQS pollers per mapping at low and moderate load (Lambda Developer Guide: it starts with five). */
  sqs_pollers: 5,
  /** A long poll of an idle queue lasts 20 s: 3 empty receives a minute per poller. */
  long_poll_seconds: 20,
  /** One vCPU per 1,769 MB (Lambda Developer Guide, "Configuring Lambda function memory"). */
  mb_per_vcpu: 1769,
  /** Measured CPU ran on one core of this machine; Lambda's Graviton core is taken as equally fast. */
  /** TLS 1.3 record framing: 5-byte header + 16-byte AEAD tag + 1 content-type byte per ≤ 16 KiB record. */
  tls_record_overhead_bytes: 22,
  tls_record_max_bytes: 16_384,
  /** Client side of a TLS 1.3 handshake (ClientHello with SNI and key share, client Finished). */
  tls_handshake_client_bytes: 600,
  /** New TLS connections per attempt: 1 (endpoints are many, execution environments freeze: no reuse assumed). */
  new_connections_per_attempt: 1,
  /** TCP/IP headers: 40 bytes per segment, ~8 segments sent per attempt (handshake, request, ACKs, FIN). */
  tcp_ip_bytes_per_attempt: 320,
  /** CloudWatch Logs stored uncompressed for the retention (an upper bound: storage is billed compressed). */
  log_retention_days: 30,
  /** Platform lines per invocation in Lambda's text format (START, END, REPORT; XRAY with tracing). */
  text_platform_line_bytes: { start: 75, end: 50, report: 230, xray: 120 },
  /** In JSON format at system level INFO: platform.start, platform.runtimeDone (no), platform.report. */
  json_platform_line_bytes: { start: 130, report: 330, xray: 90 },
  seconds_per_month: 730 * 3600,
  /** VPC flow log records per attempt through the NAT (a new flow each, two directions, ~75 B a record). */
  flow_log_bytes_per_attempt: 150,
  /**
   * What one AWS request takes from inside the region (the emulators' latency on a shared 2-core
   * machine is not AWS's): DynamoDB's single-digit milliseconds (DynamoDB Developer Guide, "What is
   * Amazon DynamoDB?"), an SQS send of the order of 10–20 ms.
   */
  aws_request_ms: { dynamodb: 6, sqs: 15, eventbridge: 15 },
} as const;

/**
 * Delivery jobs Lambda hands one invocation at this volume and batching window (model, see docs): what
 * a poller gathers in the window (`rate × window / pollers`), at least one event's jobs, at most the
 * mapping's `BatchSize` (`cap`). Below the cap it is the window, not the cap, that limits the batch.
 */
export function expectedBatchSize(
  deliveriesPerMonth: number,
  windowS: number,
  fanout: number,
  cap = 10,
): number {
  const rate = deliveriesPerMonth / MODEL_ASSUMPTIONS.seconds_per_month;
  const gathered = (rate * windowS) / MODEL_ASSUMPTIONS.sqs_pollers;
  return Math.min(cap, Math.max(Math.min(fanout, cap), gathered));
}

/**
 * SQS requests a batch of `b` jobs needs from the mapping to delete them: `DeleteMessageBatch` takes
 * at most 10 entries (SQS API Reference, DeleteMessageBatch), so a batch above 10 needs one per 10.
 */
export function deletesPerBatch(b: number): number {
  return Math.max(1, Math.ceil(b / SQS_BATCH_ENTRIES - 1e-9));
}

/** Entries of one SQS batch request, and messages of one ReceiveMessage (SQS API Reference). */
const SQS_BATCH_ENTRIES = 10;

/** Events per router invocation behind its queue at this many events a month (1 without a queue). */
export function routerBatchSize(d: Deployment, eventsPerMonth: number): number {
  return d.router_queue ? expectedBatchSize(eventsPerMonth, d.router_queue.batching_window_s, 1) : 1;
}

/**
 * Units per delivery billed on-demand whatever the capacity mode: all of them on-demand, and on
 * provisioned capacity those of the tables that stay on-demand (the main table, when the template
 * keeps it so).
 */
function onDemandUnits(
  m: CostMeasurements,
  d: Deployment,
  capacity: "provisioned" | "on-demand",
): { wru: number; rru: number } {
  if (capacity === "on-demand") return { wru: m.wru_per_delivery, rru: m.rru_per_delivery };
  if (!d.table.other_tables_on_demand) return { wru: 0, rru: 0 };
  return { wru: m.other_tables_wru_per_delivery ?? 0, rru: m.other_tables_rru_per_delivery ?? 0 };
}

/** A measured batch size's numbers, linearly interpolated between the two measured sizes around `b`. */
function atBatch(
  m: CostMeasurements,
  b: number,
): { endpoint_span_ms: number; cpu_ms: number; serial_cpu_ms: number; app_log_bytes: number } {
  const sizes = Object.keys(m.delivery_batches)
    .map(Number)
    .sort((x, y) => x - y);
  if (sizes.length === 0) throw new Error("no delivery batch measured");
  const lower = [...sizes].reverse().find((s) => s <= b) ?? (sizes[0] as number);
  const upper = sizes.find((s) => s >= b) ?? (sizes[sizes.length - 1] as number);
  const lo = m.delivery_batches[String(lower)];
  const hi = m.delivery_batches[String(upper)];
  if (lo === undefined || hi === undefined) throw new Error("unreachable");
  const t = upper === lower ? 0 : (b - lower) / (upper - lower);
  const mix = (a: number, c: number) => a + (c - a) * t;
  return {
    endpoint_span_ms: mix(lo.endpoint_span_ms, hi.endpoint_span_ms),
    cpu_ms: mix(lo.cpu_ms, hi.cpu_ms),
    serial_cpu_ms: mix(lo.serial_cpu_ms, hi.serial_cpu_ms),
    app_log_bytes: mix(lo.app_log_bytes, hi.app_log_bytes),
  };
}

/**
 * Billed milliseconds of an invocation at `memoryMb`: what it waits for (an endpoint's answer, AWS's
 * answers, which do not depend on the memory) plus its CPU at the vCPU share the memory buys (CPU
 * measured on one core here; 512 MB buys ~0.29 vCPU). `serialCpuMs` is the CPU that cannot overlap
 * the wait (the delivery function's work before its last request is out and after the slowest
 * answer is back); the rest runs while that answer is awaited, unless there is more of it than the
 * wait hides (then the invocation lasts as long as its CPU). Without it (the router), all of the
 * CPU adds to the waits.
 */
export function billedMs(waitMs: number, cpuMs: number, memoryMb: number, serialCpuMs = cpuMs): number {
  const share = Math.min(1, memoryMb / MODEL_ASSUMPTIONS.mb_per_vcpu);
  return Math.ceil(Math.max(waitMs + serialCpuMs / share, cpuMs / share));
}

/**
 * The router's billed ms for one invocation of `batch` events (1: one event): one event's AWS
 * requests' latency plus the batch's CPU at the memory's share. The router routes a batch's events
 * concurrently (handlers/router.ts, `Promise.all`), so their waits overlap and their CPU adds up.
 */
export function routerBilledMs(m: CostMeasurements, memoryMb: number, batch = 1): number {
  return billedMs(awsWaitMs(m.router.requests), m.router.cpu_ms * batch, memoryMb, m.router.cpu_ms);
}

/**
 * The delivery function's billed ms for a batch of `b`: the endpoints' span (first request in to the
 * slowest answer out, measured at the receiver), the batch's read before the sends and the slowest
 * record's write after its answer (AWS latency), TLS handshakes before the sends, CPU at the share.
 */
export function deliveryBilledMs(m: CostMeasurements, b: number, memoryMb: number): number {
  const batch = atBatch(m, b);
  const tls = b * MODEL_ASSUMPTIONS.new_connections_per_attempt * m.tls_handshake_cpu_ms;
  const wait = batch.endpoint_span_ms + 2 * MODEL_ASSUMPTIONS.aws_request_ms.dynamodb;
  return billedMs(wait, batch.cpu_ms + tls, memoryMb, deliverySerialCpuMs(m, b));
}

/**
 * The delivery function's CPU at a batch of `b` that cannot overlap its endpoints' wait (before its
 * last request is out, after the slowest answer), TLS handshakes included, on one core.
 */
export function deliverySerialCpuMs(m: CostMeasurements, b: number): number {
  return (
    atBatch(m, b).serial_cpu_ms + b * MODEL_ASSUMPTIONS.new_connections_per_attempt * m.tls_handshake_cpu_ms
  );
}

/** What AWS requests take, by service (MODEL_ASSUMPTIONS.aws_request_ms), for these requests. */
function awsWaitMs(requests: Readonly<Record<string, number>>): number {
  const latency = MODEL_ASSUMPTIONS.aws_request_ms as Readonly<Record<string, number>>;
  return Object.entries(requests).reduce(
    (total, [op, n]) => total + n * (latency[op.split(".")[0] ?? ""] ?? 0),
    0,
  );
}

/** Platform log bytes Lambda writes per invocation in the function's configured format and level. */
export function platformLogBytesPerInvocation(fn: Deployment["functions"][string]): number {
  const a = MODEL_ASSUMPTIONS;
  if (fn.log_format === "Text") {
    const t = a.text_platform_line_bytes;
    return t.start + t.end + t.report + (fn.tracing ? t.xray : 0);
  }
  if (fn.system_log_level === "WARN") return 0;
  const j = a.json_platform_line_bytes;
  return j.start + j.report + (fn.tracing ? j.xray : 0);
}

export interface CostLine {
  readonly usd_per_million: number;
  readonly detail: string;
}

export interface VolumeCost {
  readonly deliveries_per_month: number;
  readonly batch_size: number;
  readonly usd_per_million: number;
  readonly fixed_usd_per_month: number;
  readonly lines: Readonly<Record<string, CostLine>>;
}

export interface ModelOptions {
  readonly capacity: "provisioned" | "on-demand";
  /** Override the template's batching window (for the window trade-off table). */
  readonly windowS?: number;
  /** Override the delivery mapping's `BatchSize` (for the batch size trade-off table). */
  readonly batchCap?: number;
  /** Price the fixed-egress NAT option (`nat_gateways` × 730 h + processing) even if the template has none. */
  readonly natGateways?: number;
}

const sqsOf = (requests: Readonly<Record<string, number>>) =>
  Object.entries(requests)
    .filter(([op]) => op.startsWith("sqs."))
    .reduce((t, [, n]) => t + n, 0);

/**
 * The router's SQS requests per event when it is handed `rb` events per invocation: measured per
 * invocation at a few batch sizes (a batch's jobs share SendMessageBatch requests of 10 entries),
 * linearly interpolated between the two sizes around `rb` — above the true figure between them,
 * since the requests per invocation grow in steps (ceil(jobs / 10)).
 */
export function routerSqsPerEvent(m: CostMeasurements, rb: number): number {
  const by = m.router.sqs_requests_per_invocation;
  const sizes = Object.keys(by ?? {})
    .map(Number)
    .sort((x, y) => x - y);
  if (by === undefined || sizes.length === 0) return sqsOf(m.router.requests);
  const lower = [...sizes].reverse().find((k) => k <= rb) ?? (sizes[0] as number);
  const upper = sizes.find((k) => k >= rb) ?? (sizes[sizes.length - 1] as number);
  const lo = by[String(lower)] as number;
  const hi = by[String(upper)] as number;
  const perInvocation =
    upper === lower ? lo * (rb / lower) : lo + ((hi - lo) * (rb - lower)) / (upper - lower);
  return perInvocation / rb;
}

/**
 * The bench subtotal (what the functions and the services they call cost per delivery: events,
 * requests, duration, request units) at a batch size, in dollars per million deliveries.
 */
export function subtotalLines(
  m: CostMeasurements,
  d: Deployment,
  b: number,
  capacity: "provisioned" | "on-demand",
  targetUtilization = d.table.target_utilization,
  routerBatch = 1,
): Record<string, CostLine> {
  const p = PRICE_TABLE;
  const perM = 1_000_000;
  const events = perM / m.fanout;
  const invocations = perM / b;
  // Behind its own queue the router is invoked per batch of events (routed concurrently: their waits
  // overlap, their CPU adds up); without one, once per event.
  const routerInvocations = d.router_queue ? events / routerBatch : events;
  // The router queue: EventBridge's SendMessage per event, the mapping's receive per arrival and
  // DeleteMessageBatch per batch (billed SQS requests, like the delivery queue's).
  const routerQueueRequests = d.router_queue ? events * 2 + routerInvocations : 0;
  const routerMb = d.functions.router?.memory_mb ?? 512;
  const deliveryMb = d.functions.delivery?.memory_mb ?? 512;
  const routerMs = routerBilledMs(m, routerMb, d.router_queue ? routerBatch : 1);
  const deliveryMs = deliveryBilledMs(m, b, deliveryMb);
  const gbS = (routerInvocations * routerMs * routerMb + invocations * deliveryMs * deliveryMb) / 1000 / 1024;
  // The router's sends at its batch size (shared between a batch's events), the delivery function's own.
  const routerSqs = routerSqsPerEvent(m, d.router_queue ? routerBatch : 1);
  const deliverySqs =
    m.delivery_sqs_requests_per_delivery ??
    sqsOf(m.function_requests_per_delivery) - routerSqsPerEvent(m, 1) / m.fanout;
  const fnSqs = deliverySqs + routerSqs / m.fanout;
  // The mapping receives what arrives while it gathers (about one router send's jobs per receive: an
  // event's, or a router batch's up to 10) and deletes each batch's successes with one DeleteMessageBatch.
  // A receive returns at most 10 messages, a DeleteMessageBatch deletes at most 10 (batches above 10
  // need one of each per 10 jobs).
  const jobsPerArrival = Math.min(SQS_BATCH_ENTRIES, m.fanout / Math.max(routerSqs, m.fanout / 10));
  const receives = perM / Math.min(b, Math.max(jobsPerArrival, 1));
  const deletes = invocations * deletesPerBatch(b);
  const sqsRequests = fnSqs * perM + receives + deletes + routerQueueRequests;
  const wru = m.wru_per_delivery * perM;
  const rru = m.rru_per_delivery * perM;
  const hoursPerUnitS = 1 / 3600;
  // Provisioned applies to the delivery records' table only: the other tables' units are on-demand.
  const onDemandShare = onDemandUnits(m, d, capacity);
  const odWru = onDemandShare.wru * perM;
  const odRru = onDemandShare.rru * perM;
  const dynamo =
    (odWru * p.dynamodb_usd_per_million_wru + odRru * p.dynamodb_usd_per_million_rru) / perM +
    // Provisioned: a unit-second of capacity per unit consumed, at the target utilisation.
    (((wru - odWru) * p.dynamodb_usd_per_wcu_hour + (rru - odRru) * p.dynamodb_usd_per_rcu_hour) *
      hoursPerUnitS) /
      targetUtilization;
  const lines: Record<string, CostLine> = {
    eventbridge_events: {
      usd_per_million: (events * p.eventbridge_usd_per_million_events) / perM,
      detail: `${fmt(events)} PutEvents entries (1 event per ${m.fanout} deliveries)`,
    },
    lambda_requests: {
      usd_per_million: ((routerInvocations + invocations) * p.lambda_usd_per_million_requests) / perM,
      detail: `${fmt(routerInvocations)} router + ${fmt(invocations)} delivery invocations (batches of ${fmt(b, 1)})`,
    },
    lambda_duration: {
      usd_per_million: gbS * p.lambda_usd_per_gb_second_arm,
      detail: `${fmt(gbS)} GB-s: router ${routerMs} ms at ${routerMb} MB per invocation of ${fmt(d.router_queue ? routerBatch : 1, 1)} event(s), delivery ${deliveryMs} ms at ${deliveryMb} MB per batch`,
    },
    sqs_requests: {
      usd_per_million: (sqsRequests * p.sqs_usd_per_million_requests) / perM,
      detail: `${fmt(sqsRequests)} requests: the functions' ${fmt(fnSqs * perM)} (the router's ${fmt((routerSqs / m.fanout) * perM)}), the delivery mapping's ${fmt(receives)} receives and ${fmt(deletes)} deletes${d.router_queue ? `, the router queue's ${fmt(routerQueueRequests)} (send, receive, delete; batches of ${fmt(routerBatch, 1)} events)` : ""}`,
    },
    dynamodb_requests: {
      usd_per_million: dynamo,
      detail: `${fmt(wru)} WRU + ${fmt(rru)} RRU, ${capacity === "on-demand" ? "on-demand" : `provisioned at ${Math.round(targetUtilization * 100)} % utilisation${odWru + odRru > 0 ? ` (the main table's ${fmt(odWru)} WRU + ${fmt(odRru)} RRU on-demand)` : ""}`}`,
    },
  };
  return lines;
}

/** All-in dollars per million deliveries at a monthly volume (fixed monthly charges amortised). */
export function modelCost(
  m: CostMeasurements,
  d: Deployment,
  deliveriesPerMonth: number,
  options: ModelOptions,
): VolumeCost {
  const p = PRICE_TABLE;
  const a = MODEL_ASSUMPTIONS;
  const perM = 1_000_000;
  const millions = deliveriesPerMonth / perM;
  const window = options.windowS ?? d.delivery_batching_window_s;
  const b = expectedBatchSize(
    deliveriesPerMonth,
    window,
    m.fanout,
    options.batchCap ?? d.delivery_batch_size,
  );
  const rb = routerBatchSize(d, deliveriesPerMonth / m.fanout);
  const lines: Record<string, CostLine> = {
    ...subtotalLines(m, d, b, options.capacity, d.table.target_utilization, rb),
  };
  const monthly = (usd: number, detail: string): CostLine => ({ usd_per_million: usd / millions, detail });

  // Logs: what the functions wrote (measured) plus Lambda's platform lines in the configured format.
  const events = perM / m.fanout;
  const invocations = perM / b;
  const router = d.functions.router;
  const delivery = d.functions.delivery;
  const logBytes =
    (events / rb) * (m.router.app_log_bytes + (router ? platformLogBytesPerInvocation(router) : 0)) +
    invocations * (atBatch(m, b).app_log_bytes + (delivery ? platformLogBytesPerInvocation(delivery) : 0));
  const logGb = logBytes / 1024 ** 3;
  lines.cloudwatch_logs = {
    usd_per_million:
      logGb * p.cloudwatch_logs_usd_per_gb_ingested +
      logGb * (a.log_retention_days / 30) * p.cloudwatch_logs_usd_per_gb_month_stored,
    detail: `${fmt(logBytes / perM)} B per delivery ingested and kept ${a.log_retention_days} days`,
  };

  // X-Ray: per traced function, 1 request a second plus 5 % of the rest, of its invocations.
  const tracedInvocationsPerMonth = (name: string, perDelivery: number) => {
    if (!d.functions[name]?.tracing) return 0;
    const n = perDelivery * deliveriesPerMonth;
    const reservoir = Math.min(n, p.xray_sampling.reservoir_per_second * a.seconds_per_month);
    return reservoir + (n - reservoir) * p.xray_sampling.rate;
  };
  const traces =
    tracedInvocationsPerMonth("router", 1 / (m.fanout * rb)) + tracedInvocationsPerMonth("delivery", 1 / b);
  lines.xray_traces = monthly(
    (traces / perM) * p.xray_usd_per_million_traces,
    traces === 0 ? "tracing off" : `${fmt(traces)} traces a month`,
  );

  // DynamoDB storage (and PITR on the same size): each delivery's records kept for their retention.
  const gbMonthsPerM = ((m.storage_bytes_per_delivery * perM) / 1024 ** 3) * (m.retention_days / 30);
  lines.dynamodb_storage = {
    usd_per_million: gbMonthsPerM * p.dynamodb_usd_per_gb_month,
    detail: `${fmt(m.storage_bytes_per_delivery)} B per delivery (head, attempts, its share of the event's payload, index copies) for ${m.retention_days} days`,
  };
  const pitrBytes = m.pitr_bytes_per_delivery ?? m.storage_bytes_per_delivery;
  const pitrGbMonthsPerM = ((pitrBytes * perM) / 1024 ** 3) * (m.retention_days / 30);
  lines.dynamodb_pitr = {
    usd_per_million: d.table.pitr ? pitrGbMonthsPerM * p.dynamodb_pitr_usd_per_gb_month : 0,
    detail: d.table.pitr
      ? `PITR on the table holding the delivery records: ${fmt(pitrBytes)} B per delivery (GSI copies not billed)`
      : "no PITR on the delivery records' table (the main table's PITR covers subscriptions and keys: MB, not per delivery)",
  };
  // Provisioned: auto scaling never goes below the minimums; the part of the minimum above what the
  // traffic needs is paid on top of the per-request figure.
  let minimumUsd = 0;
  if (options.capacity === "provisioned" && d.table.provisioned) {
    const perSecond = deliveriesPerMonth / a.seconds_per_month;
    const needed = (unitsPerDelivery: number) => (perSecond * unitsPerDelivery) / d.table.target_utilization;
    // Each of the table and its GSIs scales on its own traffic and never goes below its own minimum:
    // an index that little is written to pays its floor even when the table's traffic is far above
    // the table's (DynamoDB Developer Guide, "Provisioned throughput considerations for global
    // secondary indexes": a GSI has its own provisioned capacity).
    const indexWru = m.index_wru_per_delivery ?? 0;
    const indexRru = m.index_rru_per_delivery ?? 0;
    const split = d.table.index_min_wcu !== undefined && m.index_wru_per_delivery !== undefined;
    const idle = (min: number, indexMin: number, units: number, indexUnits: number) =>
      split
        ? Math.max(0, min - indexMin - needed(units - indexUnits)) +
          Math.max(0, indexMin - needed(indexUnits))
        : Math.max(0, min - needed(units));
    const onDemand = onDemandUnits(m, d, "provisioned");
    minimumUsd =
      (idle(d.table.min_wcu, d.table.index_min_wcu ?? 0, m.wru_per_delivery - onDemand.wru, indexWru) *
        p.dynamodb_usd_per_wcu_hour +
        idle(d.table.min_rcu, d.table.index_min_rcu ?? 0, m.rru_per_delivery - onDemand.rru, indexRru) *
          p.dynamodb_usd_per_rcu_hour) *
      p.hours_per_month;
  }
  lines.dynamodb_provisioned_minimum = monthly(
    minimumUsd,
    d.table.provisioned
      ? `minimum ${d.table.min_wcu} WCU / ${d.table.min_rcu} RCU (table and GSI${d.table.index_min_wcu !== undefined ? `, each its own: GSI ${d.table.index_min_wcu} / ${d.table.index_min_rcu}` : ""}) above each one's traffic`
      : "on-demand",
  );

  // Fixed CloudWatch.
  lines.cloudwatch_metrics = monthly(
    d.custom_metrics * p.cloudwatch_usd_per_metric_month,
    `${d.custom_metrics} custom metrics (upper bound: each published every hour)`,
  );
  lines.cloudwatch_alarms = monthly(
    d.alarm_metrics * p.cloudwatch_usd_per_alarm_month,
    `${d.alarms} alarms watching ${d.alarm_metrics} metrics (billed per alarm metric)`,
  );
  lines.cloudwatch_dashboards = monthly(
    d.dashboards * p.cloudwatch_usd_per_dashboard_month,
    `${d.dashboards} dashboard(s)`,
  );
  // The mappings' pollers long-poll even when the queues are empty.
  const idlePolls = d.sqs_mappings * a.sqs_pollers * (a.seconds_per_month / a.long_poll_seconds);
  lines.sqs_idle_polling = monthly(
    (idlePolls / perM) * p.sqs_usd_per_million_requests,
    `${fmt(idlePolls)} empty long polls a month (${d.sqs_mappings} mappings × ${a.sqs_pollers} pollers)`,
  );

  // Egress: the request on the wire, TLS framing, a TLS handshake and TCP/IP headers, per attempt.
  const bytesPerAttempt = egressBytesPerAttempt(m.http_bytes_per_attempt);
  const egressGbMonth = (bytesPerAttempt * deliveriesPerMonth) / 1024 ** 3;
  const billedGb = Math.max(0, egressGbMonth - p.data_transfer_out_free_gb_month);
  lines.data_transfer_out = monthly(
    billedGb * p.data_transfer_out_usd_per_gb,
    `${fmt(bytesPerAttempt)} B per attempt, ${fmt(egressGbMonth, 1)} GB a month, ${p.data_transfer_out_free_gb_month} GB free`,
  );

  // The fixed-egress option: NAT gateways by the hour, every egress byte processed, their addresses.
  const nat = options.natGateways ?? d.nat_gateways;
  const ipv4 = options.natGateways ?? d.public_ipv4;
  lines.nat_gateway = monthly(
    nat * p.nat_gateway_usd_per_hour * p.hours_per_month +
      (nat > 0 ? egressGbMonth * p.nat_gateway_usd_per_gb_processed : 0),
    nat === 0 ? "fixed egress off" : `${nat} NAT gateway(s), ${fmt(egressGbMonth, 1)} GB processed`,
  );
  lines.vpc_flow_logs = monthly(
    nat > 0
      ? ((a.flow_log_bytes_per_attempt * deliveriesPerMonth) / 1024 ** 3) *
          p.cloudwatch_logs_usd_per_gb_ingested
      : 0,
    nat === 0 ? "fixed egress off" : `~${a.flow_log_bytes_per_attempt} B of flow log records per attempt`,
  );
  lines.public_ipv4 = monthly(
    ipv4 * p.public_ipv4_usd_per_hour * p.hours_per_month,
    ipv4 === 0 ? "none" : `${ipv4} Elastic IP(s)`,
  );

  const total = Object.values(lines).reduce((t, l) => t + l.usd_per_million, 0);
  const fixed =
    (lines.cloudwatch_metrics.usd_per_million +
      lines.cloudwatch_alarms.usd_per_million +
      lines.cloudwatch_dashboards.usd_per_million +
      lines.sqs_idle_polling.usd_per_million +
      lines.dynamodb_provisioned_minimum.usd_per_million +
      lines.nat_gateway.usd_per_million +
      lines.public_ipv4.usd_per_million) *
    millions;
  return {
    deliveries_per_month: deliveriesPerMonth,
    batch_size: round(b, 2),
    usd_per_million: round(total, 3),
    fixed_usd_per_month: round(fixed, 2),
    lines: Object.fromEntries(
      Object.entries(lines).map(([k, l]) => [
        k,
        { usd_per_million: round(l.usd_per_million, 4), detail: l.detail },
      ]),
    ),
  };
}

/** Bytes on the wire per attempt to a customer's endpoint (what data transfer out bills). */
export function egressBytesPerAttempt(httpBytes: number): number {
  const a = MODEL_ASSUMPTIONS;
  const records = Math.max(1, Math.ceil(httpBytes / a.tls_record_max_bytes));
  return Math.round(
    httpBytes +
      records * a.tls_record_overhead_bytes +
      a.new_connections_per_attempt * a.tls_handshake_client_bytes +
      a.tcp_ip_bytes_per_attempt,
  );
}

export function sumLines(lines: Readonly<Record<string, CostLine>>): number {
  return round(
    Object.values(lines).reduce((t, l) => t + l.usd_per_million, 0),
    3,
  );
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function fmt(value: number, digits = 0): string {
  return round(value, digits).toLocaleString("en-US");
}
