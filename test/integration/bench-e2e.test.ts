import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { benchE2e, benchE2eSearch } from "../../bench/e2e.ts";
import { benchFairness } from "../../bench/fairness.ts";

/** The section at a small size: 20 events/s × fan-out 3 for 2 s, two customers. */
const SMALL = {
  rate: 20,
  fanout: 3,
  durationS: 2,
  warmupS: 1,
  customers: 2,
  stepS: 1,
  drainTimeoutMs: 30_000,
  stallMs: 15_000,
} as const;

describe("bench e2e section (small size)", () => {
  it("drives the local stack at a fixed rate, loses nothing, and counts requests, invocations and units", async () => {
    const send = (Object.getPrototypeOf(DynamoDBClient.prototype) as { send: unknown }).send;
    const progress: string[] = [];
    const result = await benchE2e({
      ...SMALL,
      maxRateSteps: [20],
      progress: (message) => progress.push(message),
    });

    expect(result.events).toBe(40);
    expect(result.expected_deliveries).toBe(120);
    expect(result.delivered_unique).toBe(120);
    expect(result.lost).toBe(0);
    expect(result.duplicates).toBe(0);
    expect(result.samples_ms).toHaveLength(120);
    expect(result.latency_ms.p50).toBeGreaterThan(0);
    expect(result.latency_ms.p99).toBeGreaterThanOrEqual(result.latency_ms.p50);
    expect(Number.isFinite(result.latency_ms.p99)).toBe(true);

    // Every event was put once and routed once; every AWS request of every component was seen.
    const requests = result.usage.aws_requests;
    // Requests are counted on the wire: an SDK retry (a slow answer on a loaded machine) is one more.
    expect(requests["eventbridge.PutEvents"]).toBeGreaterThanOrEqual(40);
    expect(result.usage.eventbridge_events).toBe(40);
    // The router reads a customer's subscriptions once per batch of its events: at most one Query
    // per event (and an SDK retry or so), at least one.
    expect(requests["dynamodb.Query"]).toBeGreaterThanOrEqual(1);
    expect(requests["dynamodb.Query"]).toBeLessThanOrEqual(40 + 4);
    expect(requests["sqs.SendMessageBatch"]).toBeGreaterThanOrEqual(40);
    // One SendMessageBatch per routed event (fan-out 3), and a few SDK retries at most. The router
    // queue's requests are SQS requests on AWS too (EventBridge's SendMessage per event, the router
    // mapping's receives and deletes): counted, as SendMessage, one per event, even where the local
    // bus's target put several events in one SendMessageBatch (bench/lib/sdk-meter.ts).
    expect(requests["sqs.SendMessageBatch"]).toBeLessThanOrEqual(40 + 4);
    expect(requests["sqs.SendMessage"]).toBeGreaterThanOrEqual(40);
    expect(requests["sqs.ReceiveMessage"]).toBeGreaterThanOrEqual(12);
    expect(requests["sqs.DeleteMessageBatch"]).toBeGreaterThanOrEqual(12);
    expect(result.usage.lambda_measured).toBe(true);
    // The router's mapping hands it batches: at most one invocation per event.
    expect(result.usage.lambda.router?.invocations).toBeGreaterThanOrEqual(1);
    expect(result.usage.lambda.router?.invocations).toBeLessThanOrEqual(40);
    expect(result.usage.lambda.delivery?.invocations).toBeGreaterThanOrEqual(12);
    expect(result.usage.lambda.delivery?.gb_seconds).toBeGreaterThan(0);
    // At least one write unit per delivery record (layout 3 writes no index copy) and per event's body.
    expect(result.usage.dynamodb.wru).toBeGreaterThanOrEqual(120 + 40);
    expect(result.usage.dynamodb.rru).toBeGreaterThan(0);
    expect(result.cost.usd_per_million_deliveries).toBeGreaterThan(0);
    expect(result.usage.storage_bytes_per_delivery).toBeGreaterThan(200);
    expect(result.cost.breakdown.dynamodb_writes?.usd_per_million_deliveries).toBeGreaterThan(0);

    // The throughput search: one step (run again only if the first run was not sustained).
    expect(result.steps.length).toBeGreaterThanOrEqual(1);
    expect(result.steps.length).toBeLessThanOrEqual(2);
    expect(result.steps[0]).toMatchObject({ offered_events_per_s: 20, expected_deliveries: 60, lost: 0 });
    expect(result.memory.rss_mb).toBeGreaterThan(result.memory.rss_mb_before_stack / 2);
    // Where the RSS is: the main heap as V8 committed it, the local SQS worker's heap, file-backed pages.
    expect(result.memory.heap_total_mb_at_peak).toBeGreaterThanOrEqual(
      result.memory.heap_used_mb_at_peak ?? 0,
    );
    expect(result.memory.worker_heaps_mb_at_peak).toBeGreaterThan(1);
    expect(result.memory.file_backed_mb_at_peak).toBeGreaterThan(1);
    // The load driver runs in a process of its own; its CPU is reported apart from the stack's.
    expect(result.cpu_ms_per_delivery_by_process?.bench_driver).toBeGreaterThan(0);
    expect(result.cpu_ms_per_delivery).toBeCloseTo(
      (result.cpu_ms_per_delivery_by_process?.stack ?? 0) +
        (result.cpu_ms_per_delivery_by_process?.dynalite ?? 0),
      1,
    );
    expect(progress.some((line) => line.includes("120/120 delivered"))).toBe(true);

    // The process-wide wrappers are gone afterwards.
    expect((Object.getPrototypeOf(DynamoDBClient.prototype) as { send: unknown }).send).toBe(send);
  }, 120_000);

  it("measures a stack run in a process of its own, as `npm start` runs it (the memory goal's figure)", async () => {
    const result = await benchE2e({
      ...SMALL,
      maxRateSteps: [],
      stackInChildProcess: true,
      progress: () => {},
    });
    expect(result.delivered_unique).toBe(120);
    expect(result.lost).toBe(0);
    // Its functions ran elsewhere: this process's invocation meter saw none of them.
    expect(result.usage.lambda_measured).toBe(false);
    // The child's figures, not this process's: its RSS grew from what node and the modules took, the
    // local SQS worker's heap is its, and its CPU was counted (by IPC) apart from dynalite's.
    expect(result.memory.rss_mb_before_stack).toBeGreaterThan(20);
    expect(result.memory.rss_mb).toBeGreaterThan(result.memory.rss_mb_before_stack);
    expect(result.memory.heap_total_mb_at_peak).toBeGreaterThanOrEqual(
      result.memory.heap_used_mb_at_peak ?? 0,
    );
    expect(result.memory.worker_heaps_mb_at_peak).toBeGreaterThan(1);
    expect(result.memory.children_rss_mb).toBeGreaterThan(10);
    expect(result.cpu_ms_per_delivery_by_process?.stack).toBeGreaterThan(0);
    expect(result.cpu_ms_per_delivery_by_process?.dynalite).toBeGreaterThan(0);
  }, 120_000);

  it("searches the highest sustained rate on a stack run as `npm start` runs it", async () => {
    const progress: string[] = [];
    const search = await benchE2eSearch({
      ...SMALL,
      warmupS: 0,
      maxRateSteps: [20],
      refineProbes: 2,
      progress: (message) => progress.push(message),
    });
    expect(search.steps[0]).toMatchObject({ offered_events_per_s: 20, expected_deliveries: 60 });
    // The max is the measured rate of the highest sustained run; a loaded machine may fail the step
    // twice, and then the bisections probe below it.
    const sustained = search.steps.filter((s) => s.sustained);
    expect(search.max_deliveries_per_s).toBe(Math.max(0, ...sustained.map((s) => s.deliveries_per_s)));
    const probes = search.steps.filter((s) => s.bisection);
    if (search.steps[0]?.sustained) expect(probes).toHaveLength(0);
    else for (const probe of probes) expect(probe.offered_events_per_s).toBeLessThan(20);
    expect(progress.some((line) => line.includes("in a process of its own"))).toBe(true);
  }, 120_000);

  it("runs the fairness section on a second stack in the same process, after the e2e section's", async () => {
    // `npm run bench` runs its sections one after the other in one process. Each local stack must
    // run its own function instances: with the first stack's (configured at their cold start with
    // its endpoints, now stopped) every healthy delivery of this section was lost.
    const result = await benchFairness({
      healthyRate: 5,
      healthyCustomers: 2,
      neighbourShare: 0.2,
      warmupS: 1,
      measureS: 2,
      drainTimeoutMs: 30_000,
      routerBurstEvents: 60,
      routerHealthyRate: 10,
      routerPhaseS: 2,
      burstOnsetDeliveries: 10,
      burstOnsetS: 3,
      progress: () => {},
    });
    expect(result.healthy_lost).toBe(0);
    // Fair routing: every healthy event was routed, and the burst's events all were too.
    expect(result.runs.router_alone.healthy_unrouted).toBe(0);
    expect(result.runs.router_with_burst.healthy_unrouted).toBe(0);
    expect(result.runs.router_with_burst.burst_routed_in_ms).toBeGreaterThan(0);
    expect(result.router_p99_ms_alone).toBeGreaterThan(0);
    expect(Number.isFinite(result.router_p99_ratio)).toBe(true);
    expect(result.runs.burst_onset.healthy_events).toBeGreaterThan(0);
    expect(result.burst_onset_p99_ms).toBeGreaterThan(0);
    expect(result.runs.alone.healthy_events).toBeGreaterThanOrEqual(10);
    expect(result.healthy_p99_ms_alone).toBeGreaterThan(0);
    expect(result.healthy_p99_ms_with_neighbour).toBeGreaterThan(0);
  }, 120_000);
});
