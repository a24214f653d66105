import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { createAwsClients } from "#shared/adapters/clients.ts";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from "#shared/config.ts";
import { newSubscription } from "#shared/domain/subscriptions/subscription.ts";
import { PROVISIONED_DEFAULTS } from "../infra/settings.ts";
import { toSqsRecord } from "../local/sqs-event-source.ts";
import { initOfFunctions } from "./cold-start.ts";
import { captureOutput, deliveryStorage } from "./e2e.ts";
import {
  type CfnTemplate,
  type CostMeasurements,
  type Deployment,
  deliveryBilledMs,
  deliverySerialCpuMs,
  deploymentOfTemplate,
  expectedBatchSize,
  MODEL_ASSUMPTIONS,
  modelCost,
  platformLogBytesPerInvocation,
  routerBatchSize,
  routerBilledMs,
  subtotalLines,
  sumLines,
  type VolumeCost,
} from "./lib/cost-model.ts";
import { type Item, requestUnits, snapshotOf, withoutSplitFallback } from "./lib/dynamo-units.ts";
import { provisionDeliveryEnvironment, scanBothTables, startEmulators } from "./lib/emulators.ts";
import { ENDPOINT_LATENCY, type LatencyDistribution, latencySampler } from "./lib/latency.ts";
import { PRICE_TABLE } from "./lib/pricing.ts";
import { startBenchReceiver } from "./lib/receiver.ts";
import { measureReceiverCpuPerRequestMs } from "./lib/receiver-cpu.ts";
import { installSdkMeter } from "./lib/sdk-meter.ts";
import { measureTlsHandshakeCpuMs } from "./lib/tls-handshake.ts";
import { callHangupEvent, fixturePayload, lambdaContext } from "./lib/util.ts";

/**
 * The cost section (issue 22): the real router and delivery functions — their entry modules, as
 * Lambda loads them, with their own Powertools logger and EMF metrics at the deployment's default log
 * level — against dynalite and fauxqs, delivering `call_hangup` events at fan-out 3 to a receiver
 * that answers after a seeded log-normal delay (p50 150 ms, p95 500 ms: bench/lib/latency.ts).
 * Measured: each invocation's wall-clock and CPU time, every AWS request and DynamoDB unit, every
 * byte the functions write to stdout (what CloudWatch Logs ingests), the records' size, and the bytes
 * the receiver reads per attempt. Delivery batches are measured at the sizes the model needs; the
 * model (bench/lib/cost-model.ts) prices them with the synthesized template's configuration.
 */

export const MONTHLY_VOLUMES = { at_10m_per_month: 10_000_000, at_100m_per_month: 100_000_000 } as const;
const FANOUT = 3;
/**
 * Batch sizes measured: the fan-out (one event's jobs, no window), a full batch of 10, and larger
 * batches (a standard queue's mapping takes up to 10,000 with a window of at least 1 s: Lambda
 * Developer Guide, "Lambda parameters for Amazon SQS event source mappings") for the batch size
 * choice (`batch_size_choice`).
 */
const BATCH_SIZES = [FANOUT, 10, 25, 50] as const;
/** Delivery mapping `BatchSize` options priced in `batch_size_choice`. */
const BATCH_CAP_OPTIONS = [10, 25, 50] as const;
/** Events per router invocation measured besides one: what its batching window gathers. */
const ROUTER_BATCH_SIZES = [3, 10] as const;
/** Events routed and delivered before measuring, so that the JIT has compiled the hot paths. */
const WARMUP_EVENTS = 30;
const MEMORY_OPTIONS_MB = [128, 256, 512, 1024] as const;
const WINDOW_OPTIONS_S = [0, 1, 2, 5] as const;

export interface CostBenchResult {
  /** The bench subtotal at full batches, provisioned capacity (auto scaling at its target). */
  usd_per_million_deliveries: number;
  usd_per_million_deliveries_on_demand: number;
  subtotal_lines: Record<string, { usd_per_million: number; detail: string }>;
  /** All-in, provisioned, fixed egress off. */
  all_in_usd_per_million: { at_10m_per_month: number; at_100m_per_month: number };
  all_in_on_demand_usd_per_million: { at_10m_per_month: number; at_100m_per_month: number };
  all_in_with_fixed_egress_usd_per_million: { at_10m_per_month: number; at_100m_per_month: number };
  all_in_detail: Record<string, VolumeCost>;
  /** CloudWatch Logs bytes per delivery at full batches with the template's log settings (platform lines included). */
  log_bytes_per_delivery: number;
  log_bytes_detail: {
    router_app_per_event: number;
    delivery_app_per_invocation: Record<string, number>;
    platform_per_invocation: Record<string, number>;
  };
  endpoint_latency: LatencyDistribution & { measured_p50_ms: number; measured_p95_ms: number };
  measurements: CostMeasurements;
  deployment: Deployment;
  /** The delivery and router functions' modelled cost per million deliveries at each memory size. */
  memory_choice: Record<
    string,
    {
      router_usd: number;
      delivery_usd: number;
      router_ms: number;
      delivery_ms: number;
      router_usd_at_10m: number;
      delivery_usd_at_10m: number;
      /** What a full batch's CPU adds to its endpoints' wait (before its last request is out, after the slowest answer) at the memory's vCPU share: every delivery of the batch waits for it. */
      delivery_serial_ms: number;
      router_cold_start_ms: number;
      delivery_cold_start_ms: number;
    }
  >;
  /** Init CPU and resident size after import of the router and delivery bundles (Node 24). */
  init: Record<string, { init_cpu_ms: number; rss_mb: number }>;
  /** The delivery mapping's BatchSize options at the deployed memory (see `batchSizeChoice`). */
  batch_size_choice: Record<
    string,
    {
      delivery_ms_per_batch: number;
      delivery_duration_usd: number;
      subtotal_usd: number;
      serial_ms: number;
      window_to_fill_at_100m_s: number;
      all_in_at_10m_per_month: number;
      all_in_at_100m_per_month: number;
    }
  >;
  /**
   * The router queue's batching window (`routerBatchingWindowSeconds`): all-in $/M (provisioned) and
   * the wait it adds before an event is routed, at each volume.
   */
  router_batching_window: Record<
    string,
    {
      at_10m_per_month: number;
      at_100m_per_month: number;
      router_batch_at_100m: number;
      added_wait_ms_at_10m: number;
      added_wait_ms_at_100m: number;
    }
  >;
  /** The batching window's trade-off: all-in $/M (provisioned) and the wait it adds to a first attempt. */
  batching_window: Record<
    string,
    { at_10m_per_month: number; at_100m_per_month: number; added_wait_ms_at_100m: number }
  >;
  events: number;
}

export async function benchCost(options: {
  events: number;
  cdkOut: string;
  progress: (message: string) => void;
}): Promise<CostBenchResult> {
  const template = readTemplate(options.cdkOut);
  const deployment = deploymentOfTemplate(template);
  const measurements = await measure(
    options.events,
    deployment,
    {
      router: powertoolsEnvironmentOf(template as CfnTemplate, "router"),
      delivery: powertoolsEnvironmentOf(template as CfnTemplate, "delivery"),
    },
    options.progress,
  );
  const { result: m, latencies } = measurements;
  // Cold start and resident size after import of the router and delivery bundles (Node 24, fresh
  // process each run): init is billed, and at a memory size's vCPU share it stretches.
  const init = await initOfFunctions(options.cdkOut, ["router", "delivery"], 5);

  // Full batches: the delivery mapping's BatchSize.
  const full = deployment.delivery_batch_size ?? 10;
  // Full delivery batches; the router's batches as the model gathers them at 100 M a month.
  const rb = routerBatchSize(deployment, MONTHLY_VOLUMES.at_100m_per_month / FANOUT);
  const subtotal = subtotalLines(m, deployment, full, "provisioned", 0.7, rb);
  const subtotalOnDemand = subtotalLines(m, deployment, full, "on-demand", 0.7, rb);
  const volumes = Object.entries(MONTHLY_VOLUMES);
  const provisionedDeployment = {
    ...deployment,
    // capacityMode=provisioned's defaults (infra/settings.ts): the minimums of the delivery records'
    // table and of each of its GSIs (the other tables stay on-demand).
    table: {
      ...deployment.table,
      provisioned: true,
      min_wcu: (1 + (deployment.table.indexes ?? 0)) * PROVISIONED_DEFAULTS.provisionedMinWriteCapacity,
      min_rcu: (1 + (deployment.table.indexes ?? 0)) * PROVISIONED_DEFAULTS.provisionedMinReadCapacity,
      index_min_wcu: (deployment.table.indexes ?? 0) * PROVISIONED_DEFAULTS.provisionedMinWriteCapacity,
      index_min_rcu: (deployment.table.indexes ?? 0) * PROVISIONED_DEFAULTS.provisionedMinReadCapacity,
      target_utilization: PROVISIONED_DEFAULTS.provisionedTargetUtilization / 100,
    },
  };
  const allIn: Record<string, VolumeCost> = {};
  for (const [key, volume] of volumes) {
    allIn[`provisioned_${key}`] = modelCost(m, provisionedDeployment, volume, { capacity: "provisioned" });
    allIn[`on_demand_${key}`] = modelCost(m, deployment, volume, { capacity: "on-demand" });
    allIn[`provisioned_fixed_egress_${key}`] = modelCost(m, provisionedDeployment, volume, {
      capacity: "provisioned",
      natGateways: Math.max(deployment.nat_gateways, 2),
    });
  }
  const pick = (prefix: string) => ({
    at_10m_per_month: allIn[`${prefix}at_10m_per_month`]?.usd_per_million ?? Number.NaN,
    at_100m_per_month: allIn[`${prefix}at_100m_per_month`]?.usd_per_million ?? Number.NaN,
  });

  // Log bytes per delivery at full batches with the deployed settings.
  const platform = (name: string) => {
    const fn = deployment.functions[name];
    return fn ? platformLogBytesPerInvocation(fn) : 0;
  };
  const fullBatch = m.delivery_batches[String(full)];
  const logBytes =
    (m.router.app_log_bytes + platform("router")) / FANOUT +
    ((fullBatch?.app_log_bytes ?? 0) + platform("delivery")) / full;

  // Memory per function: its duration per million deliveries in the subtotal (full batches, the
  // router's batch at 100 M) and at 10 M a month (batches of one event), its cold start (init CPU at
  // the memory's vCPU share) and, for the delivery function, when its last request of a full batch is
  // out (the CPU before it at that share: what a delivery waits for on top of its endpoint).
  const gbSecondUsd = (invocations: number, ms: number, mb: number) =>
    ((invocations * ms * mb) / 1000 / 1024) * PRICE_TABLE.lambda_usd_per_gb_second_arm;
  const events = 1_000_000 / FANOUT;
  const rb10m = routerBatchSize(deployment, MONTHLY_VOLUMES.at_10m_per_month / FANOUT);
  const b10m = expectedBatchSize(
    MONTHLY_VOLUMES.at_10m_per_month,
    deployment.delivery_batching_window_s,
    FANOUT,
    full,
  );
  const memoryChoice: CostBenchResult["memory_choice"] = {};
  for (const mb of MEMORY_OPTIONS_MB) {
    const share = Math.min(1, mb / MODEL_ASSUMPTIONS.mb_per_vcpu);
    const routerMs = routerBilledMs(m, mb, rb);
    const deliveryMs = deliveryBilledMs(m, full, mb);
    const serial = deliverySerialCpuMs(m, full);
    memoryChoice[`${mb}`] = {
      router_ms: routerMs,
      delivery_ms: deliveryMs,
      router_usd: round(gbSecondUsd(events / rb, routerMs, mb), 4),
      delivery_usd: round(gbSecondUsd(1_000_000 / full, deliveryMs, mb), 4),
      router_usd_at_10m: round(gbSecondUsd(events / rb10m, routerBilledMs(m, mb, rb10m), mb), 4),
      delivery_usd_at_10m: round(gbSecondUsd(1_000_000 / b10m, deliveryBilledMs(m, b10m, mb), mb), 4),
      delivery_serial_ms: Math.round(serial / share),
      router_cold_start_ms: Math.round((init.router?.init_cpu_ms ?? Number.NaN) / share),
      delivery_cold_start_ms: Math.round((init.delivery?.init_cpu_ms ?? Number.NaN) / share),
    };
  }

  // The delivery mapping's BatchSize above 10: what a full batch costs and how long its last request
  // waits to go out, and the window that would fill it at 100 M a month. The all-in figures use the
  // batch the window gathers, which the cap does not change while the window limits it.
  const deliveryMb = deployment.functions.delivery?.memory_mb ?? 512;
  const ratePerPoller100m =
    MONTHLY_VOLUMES.at_100m_per_month / MODEL_ASSUMPTIONS.seconds_per_month / MODEL_ASSUMPTIONS.sqs_pollers;
  const batchSizeChoice: CostBenchResult["batch_size_choice"] = {};
  for (const cap of BATCH_CAP_OPTIONS) {
    const d = { ...deployment, delivery_batch_size: cap };
    const lines = subtotalLines(m, d, cap, "provisioned", 0.7, rb);
    const share = Math.min(1, deliveryMb / MODEL_ASSUMPTIONS.mb_per_vcpu);
    const at = (volume: number) =>
      modelCost(m, { ...provisionedDeployment, delivery_batch_size: cap }, volume, {
        capacity: "provisioned",
      }).usd_per_million;
    batchSizeChoice[`${cap}`] = {
      delivery_ms_per_batch: deliveryBilledMs(m, cap, deliveryMb),
      delivery_duration_usd: round(
        gbSecondUsd(1_000_000 / cap, deliveryBilledMs(m, cap, deliveryMb), deliveryMb),
        4,
      ),
      subtotal_usd: sumLines(lines),
      serial_ms: Math.round(deliverySerialCpuMs(m, cap) / share),
      window_to_fill_at_100m_s: round(cap / ratePerPoller100m, 1),
      all_in_at_10m_per_month: at(MONTHLY_VOLUMES.at_10m_per_month),
      all_in_at_100m_per_month: at(MONTHLY_VOLUMES.at_100m_per_month),
    };
  }

  const windows: CostBenchResult["batching_window"] = {};
  for (const w of WINDOW_OPTIONS_S) {
    const at = (volume: number) =>
      modelCost(m, provisionedDeployment, volume, { capacity: "provisioned", windowS: w });
    const b100 = expectedBatchSize(MONTHLY_VOLUMES.at_100m_per_month, w, FANOUT);
    const ratePerPoller =
      MONTHLY_VOLUMES.at_100m_per_month / MODEL_ASSUMPTIONS.seconds_per_month / MODEL_ASSUMPTIONS.sqs_pollers;
    windows[`${w}s`] = {
      at_10m_per_month: at(MONTHLY_VOLUMES.at_10m_per_month).usd_per_million,
      at_100m_per_month: at(MONTHLY_VOLUMES.at_100m_per_month).usd_per_million,
      // A job waits until its batch is full or the window ends: on average half the gathering time.
      added_wait_ms_at_100m: Math.round(w === 0 ? 0 : Math.min(w, b100 / ratePerPoller) * 500),
    };
  }

  const routerWindows: CostBenchResult["router_batching_window"] = {};
  for (const w of WINDOW_OPTIONS_S) {
    const d = { ...provisionedDeployment, router_queue: { batching_window_s: w } };
    const at = (volume: number) => modelCost(m, d, volume, { capacity: "provisioned" }).usd_per_million;
    // A poller gathers for T (the window, or less if 10 events arrive first) from its batch's first
    // event: that one waits T, the others on average T/2. A lone event waits the whole window.
    const addedWait = (volume: number) => {
      if (w === 0) return 0;
      const eventsPerPollerPerS =
        volume / FANOUT / MODEL_ASSUMPTIONS.seconds_per_month / MODEL_ASSUMPTIONS.sqs_pollers;
      const rb = expectedBatchSize(volume / FANOUT, w, 1);
      const gathering = rb >= 10 ? Math.min(w, 10 / eventsPerPollerPerS) : w;
      return Math.round((gathering * 1000 * (1 + (rb - 1) / 2)) / rb);
    };
    routerWindows[`${w}s`] = {
      at_10m_per_month: at(MONTHLY_VOLUMES.at_10m_per_month),
      at_100m_per_month: at(MONTHLY_VOLUMES.at_100m_per_month),
      router_batch_at_100m: round(expectedBatchSize(MONTHLY_VOLUMES.at_100m_per_month / FANOUT, w, 1), 2),
      added_wait_ms_at_10m: addedWait(MONTHLY_VOLUMES.at_10m_per_month),
      added_wait_ms_at_100m: addedWait(MONTHLY_VOLUMES.at_100m_per_month),
    };
  }

  return {
    usd_per_million_deliveries: sumLines(subtotal),
    usd_per_million_deliveries_on_demand: sumLines(subtotalOnDemand),
    subtotal_lines: subtotal,
    all_in_usd_per_million: pick("provisioned_"),
    all_in_on_demand_usd_per_million: pick("on_demand_"),
    all_in_with_fixed_egress_usd_per_million: pick("provisioned_fixed_egress_"),
    all_in_detail: allIn,
    log_bytes_per_delivery: Math.round(logBytes),
    log_bytes_detail: {
      router_app_per_event: m.router.app_log_bytes,
      delivery_app_per_invocation: Object.fromEntries(
        Object.entries(m.delivery_batches).map(([b, v]) => [b, v.app_log_bytes]),
      ),
      platform_per_invocation: { router: platform("router"), delivery: platform("delivery") },
    },
    endpoint_latency: {
      ...ENDPOINT_LATENCY,
      measured_p50_ms: round(quantile(latencies, 0.5), 1),
      measured_p95_ms: round(quantile(latencies, 0.95), 1),
    },
    measurements: m,
    deployment,
    memory_choice: memoryChoice,
    init,
    batch_size_choice: batchSizeChoice,
    batching_window: windows,
    router_batching_window: routerWindows,
    events: options.events,
  };
}

/** The synthesized stack template in cdk.out (run `npm run synth` first). */
export function readTemplate(cdkOut: string): object {
  if (!existsSync(cdkOut)) throw new Error(`no ${cdkOut}: run \`npm run synth\` first`);
  const file = readdirSync(cdkOut).find((f) => /^VoipbinWebhooks-.*\.template\.json$/.test(f));
  if (file === undefined) throw new Error(`no VoipbinWebhooks-*.template.json in ${cdkOut}`);
  return JSON.parse(readFileSync(path.join(cdkOut, file), "utf8")) as object;
}

type Handler<E, R> = (event: E, context: Context) => Promise<R>;

/**
 * The Powertools settings the template gives a function (`POWERTOOLS_*` of its environment): what
 * decides what it logs and whether it publishes EMF metrics, and so its CloudWatch Logs bytes.
 */
export function powertoolsEnvironmentOf(template: CfnTemplate, name: string): Record<string, string> {
  const stem = name === "router" ? /Router.*Function/ : /Delivery.*Function/;
  const entry = Object.entries(template.Resources ?? {}).find(
    ([id, r]) => r.Type === "AWS::Lambda::Function" && stem.test(id),
  );
  if (entry === undefined) throw new Error(`no ${name} function in the synthesized template`);
  const variables =
    (entry[1].Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
    {};
  return Object.fromEntries(
    Object.entries(variables).filter(
      (pair): pair is [string, string] => pair[0].startsWith("POWERTOOLS_") && typeof pair[1] === "string",
    ),
  );
}

/**
 * The process environment a function of the template sees, for measuring its log bytes: every
 * Powertools or Lambda logging setting another bench section left in this process (the local stack
 * sets POWERTOOLS_METRICS_DISABLED=true for its in-process functions and never takes it back, which
 * made a full run measure 0 log bytes) is dropped, and the template's own settings put in.
 */
export function functionEnvironment(
  current: NodeJS.ProcessEnv,
  deployed: Readonly<Record<string, string>>,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(current)) {
    if (key.startsWith("POWERTOOLS_") || key.startsWith("AWS_LAMBDA_LOG_")) continue;
    env[key] = value;
  }
  return { ...env, ...deployed };
}

function replaceEnvironment(env: NodeJS.ProcessEnv): void {
  for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
  Object.assign(process.env, env);
}

async function measure(
  eventsPerBatchSize: number,
  deployment: Deployment,
  powertools: { router: Record<string, string>; delivery: Record<string, string> },
  progress: (message: string) => void,
): Promise<{ result: CostMeasurements; latencies: number[] }> {
  const emulators = await startEmulators();
  const sample = latencySampler(ENDPOINT_LATENCY);
  const latencies: number[] = [];
  // The process's CPU time when the last request of an invocation arrived and when its last answer
  // left: what the function did before every request was out and after the slowest answer came back
  // cannot overlap the wait for that answer (bench/lib/cost-model.ts, billedMs).
  const cpuNow = () => {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  };
  const marks = { lastArrival: 0, lastAnswer: 0, firstArrivalAt: 0, lastAnswerAt: 0 };
  // While the receiver's own CPU is measured (measureReceiverCpuPerRequestMs), it answers at once.
  let probing = false;
  const receiver = await startBenchReceiver(
    () => {
      if (probing) return;
      marks.lastArrival = cpuNow();
      if (marks.firstArrivalAt === 0) marks.firstArrivalAt = performance.now();
    },
    { status: 204 },
    {
      delayMs: () => {
        if (probing) return 0;
        const ms = sample();
        latencies.push(ms);
        return ms;
      },
      onAnswer: () => {
        if (probing) return;
        marks.lastAnswer = cpuNow();
        marks.lastAnswerAt = performance.now();
      },
    },
  );
  const sdk = installSdkMeter({ keepDynamoBodies: true });
  const output = captureOutput();
  const saved = { ...process.env };
  try {
    const { local, queues, config } = await provisionDeliveryEnvironment(
      emulators,
      "costm",
      DEFAULT_RETRY_SCHEDULE_SECONDS,
    );
    // The functions' environment as Lambda sets it for the deployed template: their configuration,
    // Powertools' settings, and the advanced logging controls' application level.
    Object.assign(process.env, {
      TABLE_NAME: config.TABLE_NAME,
      DELIVERIES_TABLE_NAME: config.DELIVERIES_TABLE_NAME,
      DELIVERY_QUEUE_URL: config.DELIVERY_QUEUE_URL,
      DELIVERY_DLQ_URL: config.DELIVERY_DLQ_URL,
      DELIVERY_BACKSTOP_QUEUE_URL: config.DELIVERY_BACKSTOP_QUEUE_URL,
      UNROUTABLE_QUEUE_URL: config.UNROUTABLE_QUEUE_URL,
      // The deployed function has its slow lane, so fair delivery's endpoint state is read and
      // written as on AWS (a run without it measured neither; a full run took it from the e2e stack).
      SLOW_DELIVERY_QUEUE_URL: queues.slowDeliveryQueueUrl,
      DYNAMODB_ENDPOINT: emulators.dynamodbEndpoint,
      SQS_ENDPOINT: emulators.sqsEndpoint,
      EVENTBRIDGE_ENDPOINT: "http://127.0.0.1:9",
      ALLOW_HTTP_URLS: "true",
      ALLOWED_CIDRS: "127.0.0.0/8",
      AWS_REGION: "us-east-1",
    });
    // Lambda sets AWS_LAMBDA_LOG_LEVEL from the template's application log level (Powertools reads it).
    const lambdaLogging = (name: string) => ({
      AWS_LAMBDA_LOG_LEVEL: deployment.functions[name]?.application_log_level ?? "INFO",
      AWS_LAMBDA_LOG_FORMAT: deployment.functions[name]?.log_format ?? "JSON",
    });
    replaceEnvironment(
      functionEnvironment(process.env, { ...powertools.router, ...lambdaLogging("router") }),
    );
    const router = (await import("../functions/router.ts")).handler as Handler<unknown, unknown>;
    replaceEnvironment(
      functionEnvironment(process.env, { ...powertools.delivery, ...lambdaLogging("delivery") }),
    );
    const delivery = (await import("../functions/delivery.ts")).handler as unknown as Handler<
      SQSEvent,
      SQSBatchResponse
    >;

    const clients = createAwsClients(config);
    const customers = Array.from({ length: 10 }, () => randomUUID());
    for (const customer of customers) {
      for (let n = 0; n < FANOUT; n++) {
        await new SubscriptionRepository(clients.doc, config.TABLE_NAME).create(
          newSubscription({ customer_id: customer, url: `${receiver.url}/hook/${customer}/${n}` }),
        );
      }
    }
    const data = fixturePayload("call_hangup");
    const routerRuns = { invocations: 0, wall: 0, cpu: 0, logs: 0 };
    const routerRequests: Record<string, number> = {};
    const batches: Record<string, CostMeasurements["delivery_batches"][string]> = {};
    let deliveries = 0;
    let bytesBefore = 0;
    let attempts = 0;
    /** The router's SQS requests per invocation, by events per invocation (its shared sends). */
    const routerSqs: Record<string, { invocations: number; requests: number }> = {};
    const deliverySqs = { requests: 0 };
    const sqsCount = (snapshot: Record<string, number>) =>
      Object.entries(snapshot)
        .filter(([op]) => op.startsWith("sqs."))
        .reduce((t, [, n]) => t + n, 0);
    const phase = async (size: number, events: number, counted: boolean, routerSizes: readonly number[]) => {
      // Route the events as the router queue's mapping hands them over: batches of `routerSizes[j]`
      // records (1: what it gathers at these rates without a window), each body the rule's event.
      sdk.active = true;
      output.reset();
      for (let i = 0, j = 0; i < events; j++) {
        const k = Math.min(routerSizes[j % routerSizes.length] as number, events - i);
        const group = Array.from({ length: k }, (_, n) =>
          callHangupEvent(customers[(i + n) % customers.length] as string, data),
        );
        i += k;
        const before = sdk.snapshot();
        const cpu = process.cpuUsage();
        const began = performance.now();
        await router(routerBatch(group), lambdaContext("router"));
        const wall = performance.now() - began;
        const used = process.cpuUsage(cpu);
        if (!counted) continue;
        const after = sdk.snapshot();
        const tally = routerSqs[String(k)] ?? { invocations: 0, requests: 0 };
        routerSqs[String(k)] = tally;
        tally.invocations++;
        tally.requests += sqsCount(after) - sqsCount(before);
        if (k !== 1) continue;
        // One event per invocation: its time, its requests and its log bytes are one event's.
        routerRuns.wall += wall;
        routerRuns.cpu += (used.user + used.system) / 1000;
        routerRuns.invocations++;
        for (const [op, n] of Object.entries(after)) {
          routerRequests[op] = (routerRequests[op] ?? 0) + n - (before[op] ?? 0);
        }
      }
      if (counted && routerSizes.every((k) => k === 1)) routerRuns.logs += output.byService.router ?? 0;
      output.reset();
      sdk.active = false;

      // Deliver them in batches of `size`, one invocation at a time (so that the process's CPU time
      // around an invocation is that invocation's, and the receiver's share of its requests).
      const run = { invocations: 0, wall: 0, span: 0, cpu: 0, serialCpu: 0, deliveries: 0 };
      for (;;) {
        const messages: Message[] = [];
        while (messages.length < size) {
          const { Messages = [] } = await local.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queues.deliveryQueueUrl,
              // A receive returns at most 10 messages (SQS API Reference, ReceiveMessage).
              MaxNumberOfMessages: Math.min(10, size - messages.length),
              WaitTimeSeconds: 0,
              VisibilityTimeout: 600,
              MessageSystemAttributeNames: ["All"],
            }),
          );
          if (Messages.length === 0) break;
          messages.push(...Messages);
        }
        if (messages.length === 0) break;
        const records = messages.map((message) =>
          toSqsRecord(message, "arn:aws:sqs:us-east-1:000000000000:costm-d", "us-east-1"),
        );
        sdk.active = counted;
        const sqsBefore = sqsCount(sdk.snapshot());
        const cpuStart = cpuNow();
        marks.firstArrivalAt = 0;
        const began = performance.now();
        const response = await delivery({ Records: records }, lambdaContext("delivery"));
        const wall = performance.now() - began;
        const cpuEnd = cpuNow();
        sdk.active = false;
        deliverySqs.requests += sqsCount(sdk.snapshot()) - sqsBefore;
        run.wall += wall;
        run.span += marks.lastAnswerAt - marks.firstArrivalAt;
        run.cpu += cpuEnd - cpuStart;
        run.serialCpu += marks.lastArrival - cpuStart + (cpuEnd - marks.lastAnswer);
        if (response.batchItemFailures.length > 0) {
          throw new Error(`${response.batchItemFailures.length} deliveries failed in the cost bench`);
        }
        run.invocations++;
        run.deliveries += records.length;
        // At most 10 entries per DeleteMessageBatch (SQS API Reference), as Lambda deletes them.
        for (let at = 0; at < messages.length; at += 10) {
          await local.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queues.deliveryQueueUrl,
              Entries: messages
                .slice(at, at + 10)
                .map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
            }),
          );
        }
      }
      if (!counted) return;
      attempts += run.deliveries;
      deliveries += run.deliveries;
      batches[String(size)] = {
        invocations: run.invocations,
        wall_ms: round(run.wall / run.invocations, 1),
        endpoint_span_ms: round(run.span / run.invocations, 1),
        // Process CPU during the invocations (the receiver's share of their requests included: an
        // upper bound of the function's own), per invocation.
        cpu_ms: round(run.cpu / run.invocations, 2),
        serial_cpu_ms: round(run.serialCpu / run.invocations, 2),
        app_log_bytes: round((output.byService.delivery ?? 0) / run.invocations, 1),
      };
      progress(
        `cost: batches of ${size}: ${run.invocations} invocations, ${batches[String(size)]?.wall_ms} ms wall, ${batches[String(size)]?.cpu_ms} ms CPU (${batches[String(size)]?.serial_cpu_ms} ms outside the wait), ${batches[String(size)]?.app_log_bytes} log bytes each`,
      );
    };
    await phase(10, WARMUP_EVENTS, false, [1, 3, 10]);
    bytesBefore = receiver.bytesRead();
    const connectionsBefore = receiver.connections();
    output.active = true;
    sdk.reset();
    // Delivery batches of 3 after one event per router invocation (the router's time, requests and
    // logs per event); of 10 after router batches of 3 and 10 (its shared sends at those sizes).
    // The per-delivery requests, units and bytes are those of these two phases; the larger batches
    // after them are timed only (their subscriptions repeat within a batch here, 10 customers of 3
    // subscriptions, which a deployment with many customers would not see).
    for (const size of BATCH_SIZES.filter((b) => b <= 10)) {
      await phase(size, eventsPerBatchSize, true, size === FANOUT ? [1] : ROUTER_BATCH_SIZES);
    }
    const perDelivery = {
      deliveries,
      attempts,
      requests: sdk.snapshot(),
      dynamo: [...sdk.parsedDynamoRequests()],
      deliverySqs: deliverySqs.requests,
      httpBytes: (receiver.bytesRead() - bytesBefore) / attempts,
      connections: receiver.connections() - connectionsBefore,
    };
    for (const size of BATCH_SIZES.filter((b) => b > 10)) {
      await phase(size, eventsPerBatchSize, true, ROUTER_BATCH_SIZES);
    }
    output.active = false;
    const httpBytes = perDelivery.httpBytes;
    // The receiver's CPU per request, measured on its own and taken out of each batch's process CPU:
    // what is left is the delivery function's (the serial part keeps it, an upper bound).
    probing = true;
    const receiverCpuMs = await measureReceiverCpuPerRequestMs({
      url: receiver.url,
      bytes: Math.round(httpBytes),
      keepAlive: perDelivery.connections / perDelivery.attempts < 0.5,
      requests: 300,
    });
    probing = false;
    for (const [size, batch] of Object.entries(batches)) {
      const perRequest = Math.min(receiverCpuMs, batch.cpu_ms / Number(size));
      batches[size] = {
        ...batch,
        cpu_ms: round(Math.max(batch.serial_cpu_ms, batch.cpu_ms - perRequest * Number(size)), 2),
        receiver_cpu_ms: round(perRequest * Number(size), 2),
      };
    }
    progress(
      `cost: the receiver's CPU: ${round(receiverCpuMs, 3)} ms per request, taken out of each batch's`,
    );

    const items = (await scanBothTables(local.dynamodb, config)) as unknown as Item[];
    const readsByKind: Record<string, number> = {};
    const unitsByTable: Record<string, { wru: number; rru: number }> = {};
    const snapshot = snapshotOf(items);
    const steady = withoutSplitFallback(perDelivery.dynamo, config.TABLE_NAME);
    const units = requestUnits(steady, snapshot, readsByKind, unitsByTable);
    const splitFallbackRru = requestUnits(perDelivery.dynamo, snapshot).rru - units.rru;
    const otherTables = Object.entries(unitsByTable).filter(
      ([name]) => name !== config.DELIVERIES_TABLE_NAME,
    );
    const otherUnits = (key: "wru" | "rru") =>
      round(otherTables.reduce((t, [, u]) => t + u[key], 0) / perDelivery.deliveries, 3);
    const requests: Record<string, number> = {};
    for (const [op, n] of Object.entries(perDelivery.requests)) {
      requests[op] = round(n / perDelivery.deliveries, 3);
    }
    const result: CostMeasurements = {
      fanout: FANOUT,
      delivery_batches: batches,
      router: {
        invocations: routerRuns.invocations,
        wall_ms: round(routerRuns.wall / routerRuns.invocations, 2),
        cpu_ms: round(routerRuns.cpu / routerRuns.invocations, 2),
        app_log_bytes: round(routerRuns.logs / routerRuns.invocations, 1),
        requests: Object.fromEntries(
          Object.entries(routerRequests).map(([op, n]) => [op, round(n / routerRuns.invocations, 3)]),
        ),
        sqs_requests_per_invocation: Object.fromEntries(
          Object.entries(routerSqs).map(([k, t]) => [k, round(t.requests / t.invocations, 3)]),
        ),
      },
      delivery_sqs_requests_per_delivery: round(perDelivery.deliverySqs / perDelivery.deliveries, 3),
      function_requests_per_delivery: requests,
      wru_per_delivery: round(units.wru / perDelivery.deliveries, 3),
      index_wru_per_delivery: round(units.indexWru / perDelivery.deliveries, 3),
      other_tables_wru_per_delivery: otherUnits("wru"),
      other_tables_rru_per_delivery: otherUnits("rru"),
      index_rru_per_delivery: round(
        Object.entries(readsByKind)
          .filter(([kind]) => kind.startsWith("Query ") && kind !== "Query table")
          .reduce((t, [, rru]) => t + rru, 0) / perDelivery.deliveries,
        3,
      ),
      rru_per_delivery: round(units.rru / perDelivery.deliveries, 3),
      split_fallback_rru_per_delivery: round(splitFallbackRru / perDelivery.deliveries, 3),
      rru_per_delivery_by_read: Object.fromEntries(
        Object.entries(readsByKind)
          .sort(([, a], [, b]) => b - a)
          .map(([kind, rru]) => [kind, round(rru / perDelivery.deliveries, 3)]),
      ),
      storage_bytes_per_delivery: deliveryStorage(items).bytes,
      pitr_bytes_per_delivery: deliveryStorage(items).tableBytes,
      retention_days: 30,
      http_bytes_per_attempt: Math.round(httpBytes),
      tls_handshake_cpu_ms: await measureTlsHandshakeCpuMs(),
    };
    return { result, latencies };
  } finally {
    output.restore();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    sdk.uninstall();
    await receiver.close();
    await emulators.stop();
  }
}

function routerBatch(events: readonly object[]): SQSEvent {
  const now = String(Date.now());
  return {
    Records: events.map((event) => ({
      messageId: randomUUID(),
      receiptHandle: randomUUID(),
      body: JSON.stringify(event),
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: now,
        SenderId: "events.amazonaws.com",
        ApproximateFirstReceiveTimestamp: now,
      },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:costm-router",
      awsRegion: "us-east-1",
    })),
  };
}

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
