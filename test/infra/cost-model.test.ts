import { beforeAll, describe, expect, it } from "vitest";
import {
  billedItemsOfTemplate,
  type CfnTemplate,
  type CostMeasurements,
  deploymentOfTemplate,
  MODEL_LINES,
  modelCost,
  routerBilledMs,
  unpricedItems,
} from "../../bench/lib/cost-model.ts";
import { resourcesOfType, type SynthesizedApp, synthesize } from "./app-fixture.ts";

/**
 * The cost model's billed lines against the synthesized template (issue 22): a billed resource or
 * setting added to the stack without a line in bench/lib/cost-model.ts fails here, naming it.
 */

/** A plausible measurement (the bench measures the real one), enough to price every line. */
const MEASURED: CostMeasurements = {
  fanout: 3,
  delivery_batches: {
    "3": {
      invocations: 10,
      wall_ms: 420,
      endpoint_span_ms: 380,
      cpu_ms: 20,
      serial_cpu_ms: 10,
      app_log_bytes: 350,
    },
    "10": {
      invocations: 10,
      wall_ms: 580,
      endpoint_span_ms: 540,
      cpu_ms: 40,
      serial_cpu_ms: 15,
      app_log_bytes: 430,
    },
  },
  router: {
    invocations: 20,
    wall_ms: 25,
    cpu_ms: 7,
    app_log_bytes: 250,
    requests: { "dynamodb.Query": 1, "dynamodb.PutItem": 1, "sqs.SendMessageBatch": 1 },
  },
  function_requests_per_delivery: { "sqs.SendMessageBatch": 0.333, "dynamodb.PutItem": 1.333 },
  wru_per_delivery: 1.333,
  rru_per_delivery: 2.167,
  storage_bytes_per_delivery: 930,
  retention_days: 30,
  http_bytes_per_attempt: 1450,
  tls_handshake_cpu_ms: 3,
};

/** Lines priced outside the per-delivery model (customers' API calls; SNS within its free tier). */
const OUTSIDE_PER_DELIVERY = new Set([
  "api_requests",
  "sns_notifications_free_tier",
  "eventbridge_api_destinations",
]);

let synth: SynthesizedApp;
let template: CfnTemplate;
beforeAll(() => {
  synth = synthesize({}, { bundle: false });
  template = synth.template.toJSON() as CfnTemplate;
});

describe("the cost model's billed lines", () => {
  it("has a line for every billed resource and setting of the synthesized template", () => {
    expect(unpricedItems(template)).toEqual([]);
    const lines = new Set(billedItemsOfTemplate(template).map((item) => item.line));
    for (const line of ["lambda_duration", "sqs_requests", "dynamodb_requests", "cloudwatch_alarms"]) {
      expect(lines).toContain(line);
    }
  });

  it("has a line for every billed resource of the optional features: fixed egress, the way back", () => {
    for (const context of [
      { fixedEgress: "true" },
      { wayBack: "sqs", wayBackConsumerArn: "arn:aws:iam::123456789012:role/voipbin" },
      {
        wayBack: "https",
        wayBackEndpoint: "https://api.voipbin.net/hook",
        wayBackApiKeySecretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:voipbin-AbCdEf",
      },
    ]) {
      const variant = synthesize(context, { bundle: false }).template.toJSON() as CfnTemplate;
      expect(unpricedItems(variant), JSON.stringify(context)).toEqual([]);
    }
    const egress = deploymentOfTemplate(
      synthesize({ fixedEgress: "true" }, { bundle: false }).template.toJSON(),
    );
    expect(egress.nat_gateways).toBeGreaterThan(0);
    const cost = modelCost(MEASURED, egress, 100_000_000, { capacity: "on-demand" });
    expect(cost.lines.nat_gateway?.usd_per_million).toBeGreaterThan(0);
    expect(cost.lines.vpc_flow_logs?.usd_per_million).toBeGreaterThan(0);
  });

  it("prices every line it declares, at both volumes", () => {
    const deployment = deploymentOfTemplate(template);
    for (const volume of [10_000_000, 100_000_000]) {
      const cost = modelCost(MEASURED, deployment, volume, { capacity: "on-demand" });
      for (const line of MODEL_LINES) {
        if (!OUTSIDE_PER_DELIVERY.has(line)) expect(Object.keys(cost.lines), line).toContain(line);
      }
    }
  });

  it("names a billed resource or setting the model has no line for", () => {
    // What another lane adding a stream and Contributor Insights would synthesize.
    const json = structuredClone(template) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    json.Resources.Firehose = { Type: "AWS::Kinesis::Stream", Properties: { ShardCount: 1 } };
    const tableId = Object.keys(json.Resources).find(
      (id) => json.Resources[id]?.Type === "AWS::DynamoDB::Table",
    );
    const table = json.Resources[tableId ?? ""];
    if (table === undefined) throw new Error("no table in the template");
    table.Properties.ContributorInsightsSpecification = { Enabled: true };
    const problems = unpricedItems(json);
    expect(problems).toEqual([
      expect.stringMatching(
        /^StorageTable\w+: Contributor Insights is billed but the cost model has no line/,
      ),
      expect.stringMatching(
        /^Firehose: AWS::Kinesis::Stream is billed but the cost model has no line for it — add one to bench\/lib\/cost-model.ts/,
      ),
    ]);
  });

  it("names settings that bill more than the model prices: x86_64, large ephemeral storage, KMS keys", () => {
    const json = structuredClone(template) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const first = (type: string) => {
      const id = Object.keys(json.Resources).find((key) => json.Resources[key]?.Type === type);
      const resource = json.Resources[id ?? ""];
      if (id === undefined || resource === undefined) throw new Error(`no ${type} in the template`);
      return { id, resource };
    };
    expect(unpricedItems(json)).toEqual([]);
    const fn = first("AWS::Lambda::Function");
    fn.resource.Properties.Architectures = ["x86_64"];
    fn.resource.Properties.EphemeralStorage = { Size: 2048 };
    const queue = first("AWS::SQS::Queue");
    queue.resource.Properties.KmsMasterKeyId = "alias/aws/sqs";
    const logs = first("AWS::Logs::LogGroup");
    logs.resource.Properties.KmsKeyId = "arn:aws:kms:us-east-1:111111111111:key/example";
    const problems = unpricedItems(json);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${fn.id}: x86_64 duration \\(priced as arm64\\) is billed`)),
        expect.stringMatching(new RegExp(`^${fn.id}: ephemeral storage above 512 MB is billed`)),
        expect.stringMatching(new RegExp(`^${queue.id}: KMS encryption \\(KMS requests\\) is billed`)),
        expect.stringMatching(new RegExp(`^${logs.id}: KMS encryption \\(KMS requests\\) is billed`)),
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it("reads what the template bills whatever the traffic: alarms, dashboards, tracing, PITR", () => {
    const deployment = deploymentOfTemplate(template);
    expect(deployment.alarms).toBe(resourcesOfType(synth.template, "AWS::CloudWatch::Alarm").length);
    expect(deployment.dashboards).toBe(1);
    // The delivery records' table has no PITR (the main table's covers subscriptions and keys).
    expect(deployment.table.pitr).toBe(false);
    // Lane fair's router queue: EventBridge's send, the mapping's receive and delete are billed.
    expect(deployment.router_queue).toEqual({ batching_window_s: 1 });
    const direct = modelCost(MEASURED, { ...deployment, router_queue: undefined }, 10_000_000, {
      capacity: "on-demand",
    });
    const queued = modelCost(MEASURED, deployment, 10_000_000, { capacity: "on-demand" });
    // 3 requests per event at fan-out 3 and batches of one event: 1 M requests, $0.40 per million deliveries.
    expect(
      (queued.lines.sqs_requests?.usd_per_million ?? 0) - (direct.lines.sqs_requests?.usd_per_million ?? 0),
    ).toBeCloseTo(0.4, 2);
    expect(Object.values(deployment.functions).every((fn) => !fn.tracing)).toBe(true);
    const lean = modelCost(MEASURED, deployment, 10_000_000, { capacity: "on-demand" });
    expect(lean.lines.xray_traces?.usd_per_million).toBe(0);
    // Billed per alarm metric: TableThrottled's expression reads six metrics (the main table, GSI1
    // and the deliveries table, reads and writes), so it costs six alarms.
    const alarmList = resourcesOfType(synth.template, "AWS::CloudWatch::Alarm");
    const mathMetrics = alarmList
      .map(([, a]) => (a.Properties as { Metrics?: { MetricStat?: unknown }[] }).Metrics)
      .filter((m) => m !== undefined)
      .reduce((t, m) => t + Math.max(1, m.filter((q) => q.MetricStat !== undefined).length), 0);
    const mathAlarms = alarmList.filter(([, a]) => (a.Properties as { Metrics?: unknown }).Metrics).length;
    expect(mathMetrics).toBeGreaterThan(mathAlarms);
    expect(deployment.alarm_metrics).toBe(deployment.alarms - mathAlarms + mathMetrics);
    expect(lean.lines.cloudwatch_alarms?.usd_per_million).toBeCloseTo(
      (deployment.alarm_metrics * 0.1) / 10,
      6,
    );

    const traced = deploymentOfTemplate(synthesize({ tracing: "true" }, { bundle: false }).template.toJSON());
    expect(
      billedItemsOfTemplate(synthesize({ tracing: "true" }, { bundle: false }).template.toJSON()).some(
        (item) => item.line === "xray_traces",
      ),
    ).toBe(true);
    const tracedCost = modelCost(MEASURED, traced, 10_000_000, { capacity: "on-demand" });
    // 1 trace a second per function (2.63 M a month each) plus 5 % of the rest: ~$2.7 per million at 10 M.
    expect(tracedCost.lines.xray_traces?.usd_per_million).toBeGreaterThan(2);
  });

  it("prices PITR only where the template turns it on: the main table, not the delivery records'", () => {
    // By default PITR is on for the main table only, and nothing of a delivery is in it.
    const pitrTables = billedItemsOfTemplate(template as CfnTemplate)
      .filter((item) => item.line === "dynamodb_pitr")
      .map((item) => item.logicalId);
    expect(pitrTables).toEqual([expect.stringMatching(/^Storage/)]);
    expect(
      modelCost(MEASURED, deploymentOfTemplate(template), 100_000_000, { capacity: "on-demand" }).lines
        .dynamodb_pitr?.usd_per_million,
    ).toBe(0);
    const off = synthesize(
      { pointInTimeRecovery: "false" },
      { bundle: false },
    ).template.toJSON() as CfnTemplate;
    expect(billedItemsOfTemplate(off).some((item) => item.line === "dynamodb_pitr")).toBe(false);
    const deployment = deploymentOfTemplate(off);
    expect(deployment.table.pitr).toBe(false);
    expect(
      modelCost(MEASURED, deployment, 100_000_000, { capacity: "on-demand" }).lines.dynamodb_pitr
        ?.usd_per_million,
    ).toBe(0);
    // A template of one table (before the split) priced PITR on every delivery byte: 930 B per
    // delivery kept 30 days, 0.866 GB-month per million deliveries at $0.20.
    const oneTable = {
      ...deploymentOfTemplate(template),
      table: { ...deploymentOfTemplate(template).table, pitr: true },
    };
    const on = modelCost(MEASURED, oneTable, 100_000_000, { capacity: "on-demand" });
    expect(on.lines.dynamodb_pitr?.usd_per_million).toBeCloseTo(0.173, 3);
  });

  it("prices provisioned capacity's minimums from the template's auto scaling floor", () => {
    const provisioned = deploymentOfTemplate(
      synthesize(
        { capacityMode: "provisioned", provisionedMinWriteCapacity: "100" },
        { bundle: false },
      ).template.toJSON(),
    );
    // The deliveries table's floor (no index); the main table stays on-demand, without one.
    expect(provisioned.table).toEqual(
      expect.objectContaining({ provisioned: true, min_wcu: 100, min_rcu: 5, target_utilization: 0.7 }),
    );
    const small = modelCost(MEASURED, provisioned, 10_000_000, { capacity: "provisioned" });
    // 100 WCU of floor against ~7 WCU of need at 10 M a month: ~93 × 730 h × $0.00065 ≈ $44, $4.4/M.
    expect(small.lines.dynamodb_provisioned_minimum?.usd_per_million).toBeGreaterThan(4);
  });

  it("reads the router queue's batching window (1 s by default) and prices the router's batches from it", () => {
    const windowed = synthesize({ routerBatchingWindowSeconds: "2" }, { bundle: false });
    const routerMappings = resourcesOfType(windowed.template, "AWS::Lambda::EventSourceMapping").filter(
      ([, m]) => JSON.stringify(m.Properties.FunctionName).includes("Router"),
    );
    expect(routerMappings).toHaveLength(1);
    expect(routerMappings[0]?.[1].Properties.MaximumBatchingWindowInSeconds).toBe(2);
    const d = deploymentOfTemplate(windowed.template.toJSON() as CfnTemplate);
    expect(d.router_queue).toEqual({ batching_window_s: 2 });
    expect(deploymentOfTemplate(template).router_queue).toEqual({ batching_window_s: 1 });
    const off = deploymentOfTemplate(
      synthesize({ routerBatchingWindowSeconds: "0" }, { bundle: false }).template.toJSON() as CfnTemplate,
    );
    expect(off.router_queue).toEqual({ batching_window_s: 0 });

    // At 100 M a month (12.7 events/s, 5 pollers) a 2 s window gathers ~5 events per invocation:
    // fewer router invocations and deletes; at 10 M (1.3 events/s) it gathers nothing.
    const at = (deployment: typeof d, volume: number) =>
      modelCost(MEASURED, deployment, volume, { capacity: "provisioned" });
    const [high, highOff] = [at(d, 100_000_000), at(off, 100_000_000)];
    expect(high.lines.sqs_requests?.detail).toContain("batches of 5.1 events");
    expect(high.lines.sqs_requests?.usd_per_million).toBeLessThan(
      (highOff.lines.sqs_requests?.usd_per_million ?? 0) - 0.1,
    );
    expect(high.lines.lambda_requests?.usd_per_million).toBeLessThan(
      highOff.lines.lambda_requests?.usd_per_million ?? 0,
    );
    expect(at(d, 10_000_000).usd_per_million).toBeCloseTo(at(off, 10_000_000).usd_per_million, 3);

    // The router routes a batch's events concurrently: the AWS waits overlap, the CPU adds up.
    const one = routerBilledMs(MEASURED, 256);
    const five = routerBilledMs(MEASURED, 256, 5);
    expect(five).toBeLessThan(5 * one);
    expect(five).toBeGreaterThan(one);
  });
});
