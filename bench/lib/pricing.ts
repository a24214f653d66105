/**
 * The one module of prices: public AWS list prices that turn what the bench measured into dollars
 * (the e2e run's counts, and the cost model of bench/lib/cost-model.ts), and the published prices of
 * the hosted alternatives the docs compare with. The benchmark machine has no web access, so they
 * are not fetched: each was transcribed from the source listed, on the date in `as_of`, and must be
 * re-checked there before being quoted.
 */
export const PRICE_TABLE = {
  region: "us-east-1",
  as_of: "2026-12-07 (us-east-1 list prices as published on the sources below; re-check before quoting)",
  lambda_usd_per_million_requests: 0.2,
  /** Arm64 (Graviton), first 7.5 billion GB-seconds a month; the functions are ARM_64 (infra). */
  lambda_usd_per_gb_second_arm: 0.0000133334,
  /** SQS standard queue, after the first million requests a month; a request carries ≤ 64 KiB per billed unit. */
  sqs_usd_per_million_requests: 0.4,
  /** EventBridge custom events (PutEvents), per event entry in 64 KB chunks. */
  eventbridge_usd_per_million_events: 1.0,
  /** DynamoDB on-demand, after the 2024-11-01 price reduction. */
  dynamodb_usd_per_million_wru: 0.625,
  dynamodb_usd_per_million_rru: 0.125,
  /** DynamoDB provisioned capacity (standard table class), per capacity unit-hour. */
  dynamodb_usd_per_wcu_hour: 0.00065,
  dynamodb_usd_per_rcu_hour: 0.00013,
  /** DynamoDB standard table class storage, after the first 25 GB a month (the free 25 GB are ignored). */
  dynamodb_usd_per_gb_month: 0.25,
  /** Continuous backups (point-in-time recovery), per GB-month of table size. */
  dynamodb_pitr_usd_per_gb_month: 0.2,
  /** CloudWatch Logs standard ingestion. */
  cloudwatch_logs_usd_per_gb_ingested: 0.5,
  /** CloudWatch Logs storage (archived), per GB-month (billed on the compressed size; counted uncompressed here). */
  cloudwatch_logs_usd_per_gb_month_stored: 0.03,
  /** Custom metrics (EMF included), first 10,000 a month: each metric name × dimension set. */
  cloudwatch_usd_per_metric_month: 0.3,
  /** Standard-resolution alarm, per metric it watches (a metric math alarm: per metric in its expression). */
  cloudwatch_usd_per_alarm_month: 0.1,
  /** A dashboard beyond the free three (the free three are ignored: an account has others). */
  cloudwatch_usd_per_dashboard_month: 3.0,
  /** X-Ray traces recorded. */
  xray_usd_per_million_traces: 5.0,
  /** X-Ray default sampling rule: the first request each second, then 5 % of the rest (per function). */
  xray_sampling: { reservoir_per_second: 1, rate: 0.05 },
  /** Data transfer out of EC2/Lambda to the internet, first 10 TB a month, after the free 100 GB a month. */
  data_transfer_out_usd_per_gb: 0.09,
  data_transfer_out_free_gb_month: 100,
  /** NAT gateway (the fixed-egress option), per hour and per GB processed. */
  nat_gateway_usd_per_hour: 0.045,
  nat_gateway_usd_per_gb_processed: 0.045,
  /** Public IPv4 address (an Elastic IP, in use or not), per hour since 2024-02-01. */
  public_ipv4_usd_per_hour: 0.005,
  /** Hours in a billing month (AWS prices monthly quantities at 730 hours). */
  hours_per_month: 730,
  sources: [
    "https://aws.amazon.com/lambda/pricing/",
    "https://aws.amazon.com/sqs/pricing/",
    "https://aws.amazon.com/eventbridge/pricing/",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "https://aws.amazon.com/dynamodb/pricing/provisioned/",
    "https://aws.amazon.com/cloudwatch/pricing/",
    "https://aws.amazon.com/xray/pricing/",
    "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer",
    "https://aws.amazon.com/vpc/pricing/",
  ],
} as const;

/** What the e2e run counted, the input of the cost model. */
export interface UsageCounts {
  /** Unique deliveries the receiver got in the counting window. */
  deliveries: number;
  /** AWS API requests on the wire by `service.Operation` (e.g. `sqs.ReceiveMessage`). */
  aws_requests: Record<string, number>;
  /** EventBridge PutEvents entries (billed per event, not per call). */
  eventbridge_events: number;
  lambda: Record<string, { invocations: number; gb_seconds: number }>;
  dynamodb: { wru: number; rru: number };
  /** Bytes the functions logged (CloudWatch Logs ingestion on AWS). */
  log_bytes: number;
  /**
   * Bytes stored per delivery (the record in the table and in GSI1, with DynamoDB's 100-byte
   * per-item index overhead), kept for the retention period.
   */
  storage_bytes_per_delivery?: number;
  retention_days?: number;
}

export interface CostBreakdownLine {
  quantity_per_million_deliveries: number;
  unit: string;
  usd_per_million_deliveries: number;
}

export interface CostResult {
  usd_per_million_deliveries: number;
  /** Including CloudWatch Logs ingestion at the functions' default log level. */
  usd_per_million_deliveries_with_logs: number;
  /** Including logs and the storage of the delivery records for their retention period. */
  usd_per_million_deliveries_with_logs_and_storage: number;
  breakdown: Record<string, CostBreakdownLine>;
  prices: typeof PRICE_TABLE;
}

/**
 * Dollars per million deliveries, line by line; the total (the goal's measure: requests, Lambda
 * GB-seconds, DynamoDB request units) is the sum of every line except logs and storage.
 */
export function computeCost(usage: UsageCounts, prices = PRICE_TABLE): CostResult {
  if (usage.deliveries <= 0) throw new Error("cannot price a run without deliveries");
  const perMillion = (quantity: number) => (quantity / usage.deliveries) * 1_000_000;
  const breakdown: Record<string, CostBreakdownLine> = {};
  const line = (name: string, quantity: number, unit: string, usdPerUnit: number) => {
    const q = perMillion(quantity);
    breakdown[name] = {
      quantity_per_million_deliveries: roundTo(q, 1),
      unit,
      usd_per_million_deliveries: roundTo(q * usdPerUnit, 4),
    };
  };
  const sum = (prefix: string) =>
    Object.entries(usage.aws_requests)
      .filter(([key]) => key.startsWith(prefix))
      .reduce((total, [, n]) => total + n, 0);

  line(
    "eventbridge_putevents",
    usage.eventbridge_events,
    "events",
    prices.eventbridge_usd_per_million_events / 1e6,
  );
  line("sqs_requests", sum("sqs."), "requests", prices.sqs_usd_per_million_requests / 1e6);
  for (const [name, fn] of Object.entries(usage.lambda).sort(([a], [b]) => a.localeCompare(b))) {
    line(
      `lambda_${name}_requests`,
      fn.invocations,
      "invocations",
      prices.lambda_usd_per_million_requests / 1e6,
    );
    line(`lambda_${name}_duration`, fn.gb_seconds, "GB-seconds", prices.lambda_usd_per_gb_second_arm);
  }
  line("dynamodb_writes", usage.dynamodb.wru, "WRU", prices.dynamodb_usd_per_million_wru / 1e6);
  line("dynamodb_reads", usage.dynamodb.rru, "RRU", prices.dynamodb_usd_per_million_rru / 1e6);
  const total = Object.values(breakdown).reduce((t, l) => t + l.usd_per_million_deliveries, 0);
  line(
    "cloudwatch_logs",
    usage.log_bytes / 1024 ** 3,
    "GB ingested",
    prices.cloudwatch_logs_usd_per_gb_ingested,
  );
  const logs = breakdown.cloudwatch_logs?.usd_per_million_deliveries ?? 0;
  let storage = 0;
  if (usage.storage_bytes_per_delivery !== undefined) {
    const months = (usage.retention_days ?? 30) / 30;
    const gbMonths = ((usage.storage_bytes_per_delivery * usage.deliveries) / 1024 ** 3) * months;
    line("dynamodb_storage", gbMonths, "GB-months", prices.dynamodb_usd_per_gb_month);
    storage = breakdown.dynamodb_storage?.usd_per_million_deliveries ?? 0;
  }
  return {
    usd_per_million_deliveries: roundTo(total, 3),
    usd_per_million_deliveries_with_logs: roundTo(total + logs, 3),
    usd_per_million_deliveries_with_logs_and_storage: roundTo(total + logs + storage, 3),
    breakdown,
    prices,
  };
}

/**
 * Published prices of hosted alternatives, per million deliveries at the plan's overage rate, as
 * the author knew them. Not fetched: re-check every figure at its source before quoting it.
 */
export const ALTERNATIVES = [
  {
    name: "Svix (hosted)",
    published:
      "Free: 50k messages/month; Professional from $490/month (50k messages/month included); overage $0.0001 per message, i.e. $100 per million (svix.com/pricing as transcribed by a third party on 2026-09-20)",
    usd_per_million_deliveries: 100,
    source: "https://www.svix.com/pricing/",
  },
  {
    name: "Hookdeck Outpost (managed)",
    published:
      "Outpost (managed outbound webhooks): usage-based, about $10 per million events as the author recalls — not verified; Hookdeck's Event Gateway plans: Developer free (10k events), Team from $39/month, Growth from $499/month, events metered beyond (hookdeck.com/pricing as transcribed by a third party on 2026-09-20)",
    usd_per_million_deliveries: 10,
    source: "https://hookdeck.com/pricing",
  },
  {
    name: "EventBridge API destinations",
    published:
      "$0.20 per million invocations + $1.00 per million PutEvents (one event fans out to N rule targets); no Standard Webhooks signing, no per-customer subscriptions (a rule per target, 300 rules per bus by default), no delivery log",
    // At fan-out 3: 1/3 of a PutEvents event per delivery + one invocation per delivery.
    usd_per_million_deliveries: roundTo(1.0 / 3 + 0.2, 3),
    source: "https://aws.amazon.com/eventbridge/pricing/",
  },
] as const;

function roundTo(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
