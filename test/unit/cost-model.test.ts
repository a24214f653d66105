import { describe, expect, it } from "vitest";
import {
  billedMs,
  type CostMeasurements,
  type Deployment,
  deletesPerBatch,
  egressBytesPerAttempt,
  expectedBatchSize,
  modelCost,
  platformLogBytesPerInvocation,
  routerSqsPerEvent,
  subtotalLines,
} from "../../bench/lib/cost-model.ts";
import { ENDPOINT_LATENCY, latencySampler } from "../../bench/lib/latency.ts";

const FN = { memory_mb: 256, tracing: false, log_format: "JSON" as const, system_log_level: "WARN" };
const BATCH = {
  invocations: 1,
  wall_ms: 500,
  endpoint_span_ms: 500,
  cpu_ms: 40,
  serial_cpu_ms: 10,
  app_log_bytes: 0,
};

/** Measurements of a run, with the fields a test is about given. */
function measurements(fields: Partial<CostMeasurements>): CostMeasurements {
  return {
    fanout: 3,
    delivery_batches: { "10": BATCH },
    router: { invocations: 1, wall_ms: 6, cpu_ms: 5, app_log_bytes: 0, requests: {} },
    function_requests_per_delivery: {},
    wru_per_delivery: 1,
    rru_per_delivery: 2,
    storage_bytes_per_delivery: 1000,
    retention_days: 30,
    http_bytes_per_attempt: 1400,
    tls_handshake_cpu_ms: 2,
    ...fields,
  };
}

/** A deployment without fixed charges, with the fields a test is about given. */
function deployment(fields: Partial<Deployment>): Deployment {
  return {
    functions: { router: FN, delivery: FN },
    alarms: 0,
    alarm_metrics: 0,
    dashboards: 0,
    queues: 2,
    sqs_mappings: 2,
    delivery_batching_window_s: 1,
    table: { pitr: false, provisioned: false, min_wcu: 0, min_rcu: 0, target_utilization: 0.7 },
    nat_gateways: 0,
    public_ipv4: 0,
    custom_metrics: 0,
    ...fields,
  };
}

describe("the cost bench's endpoint latency", () => {
  it("is reproducible from its seed and has the documented median and 95th percentile", () => {
    const draw = (n: number) => {
      const sample = latencySampler(ENDPOINT_LATENCY);
      return Array.from({ length: n }, () => sample());
    };
    const a = draw(20_000);
    expect(draw(20_000)).toEqual(a);
    const sorted = [...a].sort((x, y) => x - y);
    expect(sorted[Math.floor(0.5 * sorted.length)]).toBeGreaterThan(140);
    expect(sorted[Math.floor(0.5 * sorted.length)]).toBeLessThan(160);
    expect(sorted[Math.floor(0.95 * sorted.length)]).toBeGreaterThan(470);
    expect(sorted[Math.floor(0.95 * sorted.length)]).toBeLessThan(530);
    expect(Math.max(...a)).toBeLessThanOrEqual(ENDPOINT_LATENCY.maxMs);
    expect(draw(5)).not.toEqual(
      Array.from({ length: 5 }, latencySampler({ ...ENDPOINT_LATENCY, seed: ENDPOINT_LATENCY.seed + 1 })),
    );
  });
});

describe("the cost model's arithmetic", () => {
  it("adds the CPU at the vCPU share of the memory to the waits, only the CPU that cannot overlap them", () => {
    // 1,769 MB is one vCPU.
    expect(billedMs(500, 40, 1769, 10)).toBe(510);
    // 256 MB is 0.1447 vCPU: the 10 serial ms take 69.1 ms.
    expect(billedMs(500, 40, 256, 10)).toBe(570);
    // Without a serial part given (the router), all CPU adds.
    expect(billedMs(20, 10, 256)).toBe(Math.ceil(20 + 10 / (256 / 1769)));
    // More CPU than the wait can hide: the invocation lasts as long as its CPU at that share.
    expect(billedMs(100, 100, 128, 0)).toBe(Math.ceil(100 / (128 / 1769)));
  });

  it("prices the router's sends as measured at its batch size, and the delivery mapping's receives per send", () => {
    const m = measurements({
      router: {
        invocations: 1,
        wall_ms: 6,
        cpu_ms: 5,
        app_log_bytes: 0,
        requests: { "sqs.SendMessageBatch": 1, "dynamodb.Query": 1 },
        // 3 jobs an event: 1 send for 1 or 3 events (9 jobs), 3 for 10 events (30 jobs).
        sqs_requests_per_invocation: { "1": 1, "3": 1, "10": 3 },
      },
      delivery_sqs_requests_per_delivery: 0,
      function_requests_per_delivery: { "sqs.SendMessageBatch": 1 / 3 },
    });
    expect(routerSqsPerEvent(m, 1)).toBe(1);
    expect(routerSqsPerEvent(m, 3)).toBeCloseTo(1 / 3, 5);
    expect(routerSqsPerEvent(m, 10)).toBeCloseTo(0.3, 5);
    // Between measured sizes: the requests per invocation interpolated (1 at 3 events, 3 at 10).
    expect(routerSqsPerEvent(m, 6.5)).toBeCloseTo(2 / 6.5, 5);
    const d = deployment({ router_queue: { batching_window_s: 1 } });
    const sqs = (rb: number) => subtotalLines(m, d, 10, "on-demand", 0.7, rb).sqs_requests?.usd_per_million;
    // Per million deliveries (333,333 events), one event per router invocation: the functions'
    // 333,333 sends, 333,333 receives (one per event's 3 jobs) and 100,000 deletes, the router
    // queue's send, receive and delete per event.
    expect(sqs(1)).toBeCloseTo(((333_333 + 333_333 + 100_000 + 3 * 333_333) * 0.4) / 1e6, 3);
    // 10 events per invocation: a send and a receive per 10 jobs, a router queue delete per 10 events.
    expect(sqs(10)).toBeCloseTo(((100_000 + 100_000 + 100_000 + 2 * 333_333 + 33_333) * 0.4) / 1e6, 3);
    // Batches of 30 (a BatchSize above 10): one invocation per 30 jobs, but a receive returns at most
    // 10 messages and a DeleteMessageBatch deletes at most 10, so receives and deletes stay one per 10.
    const m30: CostMeasurements = {
      ...m,
      delivery_batches: {
        "30": { ...(m.delivery_batches["10"] as CostMeasurements["delivery_batches"][string]) },
      },
    };
    const at30 = subtotalLines(m30, d, 30, "on-demand", 0.7, 10);
    expect(at30.sqs_requests?.usd_per_million).toBeCloseTo(
      ((100_000 + 100_000 + 100_000 + 2 * 333_333 + 33_333) * 0.4) / 1e6,
      3,
    );
    expect(at30.lambda_requests?.usd_per_million).toBeCloseTo(((33_333 + 1e6 / 30) * 0.2) / 1e6, 5);
  });

  it("pays each of the table's and the GSI's provisioned minimums against its own traffic", () => {
    const m = measurements({
      delivery_batches: { "3": BATCH, "10": BATCH },
      index_wru_per_delivery: 0,
      index_rru_per_delivery: 0,
    });
    const table = { pitr: false, provisioned: true, min_wcu: 10, min_rcu: 10, target_utilization: 0.7 };
    const d = deployment({ table: { ...table, index_min_wcu: 5, index_min_rcu: 5 } });
    const minimum = (of: Deployment) =>
      modelCost(m, of, 10_000_000, { capacity: "provisioned" }).lines.dynamodb_provisioned_minimum
        ?.usd_per_million;
    // 10 M a month is 3.8 deliveries/s: the table needs 5.4 WCU and 10.9 RCU at 70 %, above its own
    // 5 and 5; the GSI, written and read by no delivery, pays its 5 WCU and 5 RCU all month.
    expect(minimum(d)).toBeCloseTo(((5 * 0.00065 + 5 * 0.00013) * 730) / 10, 3);
    // Taken together (the model before), the GSI's idle floor hid behind the table's traffic.
    expect(minimum({ ...d, table })).toBeCloseTo(((10 - (3.805 * 1) / 0.7) * 0.00065 * 730) / 10, 2);
  });

  it("prices the main table's units on-demand even when the delivery records' table is provisioned", () => {
    // 1 WRU and 2 RRU per delivery, of which 0.1 WRU and 1.5 RRU on the main table (subscriptions,
    // endpoint state), which the stack keeps on-demand whatever capacityMode says.
    const m = measurements({ other_tables_wru_per_delivery: 0.1, other_tables_rru_per_delivery: 1.5 });
    const table = { pitr: false, provisioned: true, min_wcu: 0, min_rcu: 0, target_utilization: 0.7 };
    const dynamo = (d: Deployment) =>
      subtotalLines(m, d, 10, "provisioned", 0.7, 1).dynamodb_requests?.usd_per_million;
    const provisioned = (wru: number, rru: number) => ((wru * 0.00065 + rru * 0.00013) * 1e6) / 3600 / 0.7;
    const onDemand = (wru: number, rru: number) => wru * 0.625 + rru * 0.125;
    expect(dynamo(deployment({ table: { ...table, other_tables_on_demand: true } }))).toBeCloseTo(
      provisioned(0.9, 0.5) + onDemand(0.1, 1.5),
      6,
    );
    // One table for everything (before the split): all of it provisioned.
    expect(dynamo(deployment({ table }))).toBeCloseTo(provisioned(1, 2), 6);
  });

  it("deletes a batch with one DeleteMessageBatch per 10 jobs", () => {
    expect(deletesPerBatch(3)).toBe(1);
    expect(deletesPerBatch(7.6)).toBe(1);
    expect(deletesPerBatch(10)).toBe(1);
    expect(deletesPerBatch(11)).toBe(2);
    expect(deletesPerBatch(50)).toBe(5);
  });

  it("gathers batches from the arrival rate per poller and the window, at least one event's jobs", () => {
    expect(expectedBatchSize(10_000_000, 0, 3)).toBe(3);
    // 100 M a month is 38 deliveries/s, 7.6 per poller-second with 5 pollers.
    expect(expectedBatchSize(100_000_000, 1, 3)).toBeCloseTo(7.61, 1);
    expect(expectedBatchSize(100_000_000, 2, 3)).toBe(10);
    // A larger BatchSize: at 100 M a month the 1 s window, not the cap, limits the batch.
    expect(expectedBatchSize(100_000_000, 1, 3, 50)).toBeCloseTo(7.61, 1);
    expect(expectedBatchSize(100_000_000, 5, 3, 50)).toBeCloseTo(38.05, 1);
    expect(expectedBatchSize(100_000_000, 20, 3, 50)).toBe(50);
  });

  it("counts Lambda's platform lines only where the log format and level write them", () => {
    const base = { memory_mb: 256, tracing: false };
    expect(platformLogBytesPerInvocation({ ...base, log_format: "JSON", system_log_level: "WARN" })).toBe(0);
    expect(
      platformLogBytesPerInvocation({ ...base, log_format: "JSON", system_log_level: "INFO" }),
    ).toBeGreaterThan(300);
    expect(
      platformLogBytesPerInvocation({ ...base, log_format: "Text", system_log_level: "INFO" }),
    ).toBeGreaterThan(300);
    expect(
      platformLogBytesPerInvocation({ ...base, tracing: true, log_format: "Text", system_log_level: "INFO" }),
    ).toBeGreaterThan(
      platformLogBytesPerInvocation({ ...base, log_format: "Text", system_log_level: "INFO" }),
    );
  });

  it("puts TLS framing, a handshake and TCP/IP headers on top of the HTTP bytes of an attempt", () => {
    expect(egressBytesPerAttempt(1450)).toBe(1450 + 22 + 600 + 320);
    expect(egressBytesPerAttempt(40_000)).toBe(40_000 + 3 * 22 + 600 + 320);
  });
});
