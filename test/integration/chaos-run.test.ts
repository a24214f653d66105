import { describe, expect, it } from "vitest";
import { runChaos } from "../../bench/chaos/driver.ts";
import { NO_FAULTS } from "../../bench/chaos/faults.ts";
import { runOutageStage } from "../../bench/chaos/outage.ts";

/**
 * The real chaos driver at a small size: the local stack in this process, misbehaving receivers,
 * SDK faults of a few kinds (none on the router's lookup, whose Lambda retry takes a minute), a short
 * fuzz stage — and nothing lost.
 */
describe("npm run chaos, small", () => {
  it("loses no delivery under faults and accounts for every one", { timeout: 90_000 }, async () => {
    const lines: string[] = [];
    const result = await runChaos({
      mode: "test",
      targetDeliveries: 250,
      customers: 3,
      seed: 11,
      rates: {
        ...NO_FAULTS,
        dynamodbThrottle: 0.02,
        sqsBatchEntryFailure: 0.05,
        deliveryRecord: 0.05,
        deliveryLoad: 0.02,
        // The delivery core's waits are delayed re-sends: some fail, some come back early, and the
        // function dies after some hand-offs' record writes (the new job on no queue until the old
        // message comes back and re-sends it) or after their sends (both messages exist).
        deliverySchedule: 0.1,
        wakeEarly: 0.2,
        resendCrash: 0.1,
      },
      poisonEvents: 0,
      fuzzEvents: 25,
      retrySchedule: [1, 1],
      retryJitter: 0.1,
      deliveryTimeoutMs: 2_000,
      visibilityTimeoutSeconds: 5,
      deliveryConcurrency: 4,
      blackHoleSeconds: 8,
      maxBacklog: 500,
      settleTimeoutMs: 45_000,
      progress: (line) => lines.push(line),
    });
    expect(result.failures).toEqual([]);
    expect(result.lost).toBe(0);
    expect(result.equation_holds).toBe(true);
    expect(result.delivered_unique + result.dead_lettered).toBe(result.expected);
    expect(result.expected).toBeGreaterThanOrEqual(250);
    expect(result.faults_injected).toBeGreaterThan(0);
    expect(result.faults.dynamodb_throttled ?? 0).toBeGreaterThan(0);
    // The re-sends were exposed: failed, and crashed on both sides of the send.
    expect(result.faults.delivery_resend_failed ?? 0).toBeGreaterThan(0);
    expect(result.faults.crash_after_resend ?? 0).toBeGreaterThan(0);
    expect(result.faults.crash_after_handoff_recorded ?? 0).toBeGreaterThan(0);
    expect(result.receiver.signature_failures).toBe(0);
    // Every delivery to the endpoint that never answers 2xx ends in the dead-letter queue.
    expect(result.always_failing.expected).toBeGreaterThan(0);
    expect(result.always_failing.dead_lettered).toBe(result.always_failing.expected);
    // The black-holing customer swallowed requests, yet each of its deliveries was delivered once it
    // answered again, or dead-lettered: nothing lost (counted in `lost` above, for everyone).
    expect(result.black_hole.expected).toBeGreaterThan(0);
    expect(result.black_hole.swallowed_requests).toBeGreaterThan(0);
    expect(result.black_hole.delivered + result.black_hole.dead_lettered).toBe(result.black_hole.expected);
    // A duplicate only where a fault hit between the HTTP call and its record.
    expect(result.duplicates_explained).toBe(result.duplicates);
    expect(result.fuzz?.router_invocation_failures).toBe(0);
    expect(result.fuzz?.missing).toBe(0);
    expect(lines.some((line) => line.includes("settled"))).toBe(true);
  });

  it("outage stage: a failing customer's deliveries each get every attempt of the schedule, nothing lost", {
    timeout: 240_000,
  }, async () => {
    const lines: string[] = [];
    const outage = await runOutageStage({
      durationS: 4,
      healthyRate: 4,
      healthyCustomers: 2,
      failingRate: 10,
      blackHoleRate: 1,
      inFlightLimit: 300,
      retrySchedule: [1, 2, 2],
      deliveryTimeoutMs: 2_000,
      drainTimeoutMs: 60_000,
      log: (line) => lines.push(line),
    });
    expect(outage.failures).toEqual([]);
    expect(outage.lost).toBe(0);
    expect(outage.failing_events).toBeGreaterThanOrEqual(30);
    // Every failing delivery dead-lettered by our code after the schedule's 4 attempts, counted on
    // the failing endpoint itself.
    expect(outage.failing_dead).toBe(outage.failing_events);
    expect(outage.internal_deaths).toBe(0);
    expect(outage.attempts_per_dead_delivery).toBe(4);
    // In flight was sampled, and stayed under the scaled quota.
    expect(outage.max_in_flight).toBeGreaterThan(0);
    expect(outage.max_in_flight).toBeLessThanOrEqual(300);
    expect(outage.healthy_p99_ms_alone).toBeGreaterThan(0);
    // Every healthy event was delivered in both phases, and the records say by which path; the
    // baseline is the same traffic with the neighbours' endpoints answering.
    expect(outage.baseline).toBe("neighbours_answering");
    expect(outage.healthy_deliveries.alone.delivered + outage.healthy_deliveries.with_outage.delivered).toBe(
      outage.healthy_events,
    );
    expect(outage.healthy_stages_p99_ms.with_outage.routed_to_endpoint).toBeGreaterThan(0);
    expect(outage.cpu_ms_per_s.alone).toBeGreaterThan(0);
    expect(lines).toHaveLength(3);
  });
});
