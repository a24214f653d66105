import { describe, expect, it } from "vitest";
import {
  afterLostFirstDial,
  cooldownFor,
  decideLane,
  type EndpointHealth,
  firstDialDeferMs,
  HEALTHY,
  healthChangeAfter,
} from "#shared/domain/delivery/endpoint-health.ts";
import { TEST_FAIRNESS_POLICY } from "../support/fairness.ts";

const policy = TEST_FAIRNESS_POLICY;
const now = 1_000_000;
const health = (patch: Partial<EndpointHealth>): EndpointHealth => ({ ...HEALTHY, ...patch });

describe("fair delivery: which lane, whether to dial", () => {
  it("dials an endpoint proven fast from the main lane with the main lane's budget", () => {
    const proven = health({ fastUntil: now + 1 });
    expect(decideLane("main", proven, policy, now)).toEqual({
      kind: "dial",
      timeoutMs: 15_000,
      budgetMs: 3000,
      probe: false,
    });
    // The budget never exceeds the full timeout.
    expect(decideLane("main", proven, { ...policy, timeoutMs: 1000 }, now)).toEqual({
      kind: "dial",
      timeoutMs: 1000,
      probe: false,
    });
  });

  it("lets one main-lane attempt at a time dial an endpoint not proven fast (the first dial)", () => {
    // Nobody has seen it, or its proof lapsed: claim the first dial.
    expect(decideLane("main", HEALTHY, policy, now)).toEqual({ kind: "claim_first_dial" });
    expect(decideLane("main", health({ fastUntil: now }), policy, now)).toEqual({ kind: "claim_first_dial" });
    // Claimed even when a (possibly stale) view shows the lease held: the claim reads afresh.
    expect(decideLane("main", health({ dialUntil: now + 1 }), policy, now)).toEqual({
      kind: "claim_first_dial",
    });
    // Lost, and another attempt holds it: wait out of flight for about the budget.
    expect(afterLostFirstDial(health({ dialUntil: now + 1 }), policy, now)).toEqual({
      kind: "defer",
      delayMs: 3000,
      reason: "first_dial",
    });
    // Lost because the holder proved it fast meanwhile: dial; marked slow: slow lane.
    expect(afterLostFirstDial(health({ dialUntil: now + 1, fastUntil: now + 1 }), policy, now)).toMatchObject(
      {
        kind: "dial",
        budgetMs: 3000,
      },
    );
    expect(afterLostFirstDial(health({ dialUntil: now + 1, slowUntil: now + 1 }), policy, now)).toEqual({
      kind: "to_slow_lane",
    });
    // The deferral is the budget in whole seconds, at least SQS's smallest delay.
    expect([firstDialDeferMs(3000), firstDialDeferMs(500), firstDialDeferMs(2500)]).toEqual([
      3000, 1000, 3000,
    ]);
    // No shorter budget, no slow lane to learn for: dialled freely.
    expect(decideLane("main", HEALTHY, { ...policy, mainLaneTimeoutMs: 15_000 }, now)).toMatchObject({
      kind: "dial",
    });
  });

  it("hands a slow or broken endpoint's jobs to the slow lane without dialling", () => {
    expect(decideLane("main", health({ slowUntil: now + 1 }), policy, now)).toEqual({ kind: "to_slow_lane" });
    expect(decideLane("main", health({ slowUntil: now, fastUntil: now + 1 }), policy, now)).toMatchObject({
      kind: "dial",
    });
    // An open (or probing) breaker keeps the main lane away even when slow_until has lapsed.
    expect(decideLane("main", health({ consecutiveTimeouts: 5, openUntil: now - 1 }), policy, now)).toEqual({
      kind: "to_slow_lane",
    });
  });

  it("dials with the full timeout in the slow lane; defers while the breaker is open; probes after", () => {
    expect(decideLane("slow", health({ slowUntil: now + 10 }), policy, now)).toEqual({
      kind: "dial",
      timeoutMs: 15_000,
      probe: false,
    });
    const open = health({ consecutiveTimeouts: 5, openUntil: now + 20_000 });
    expect(decideLane("slow", open, policy, now)).toEqual({ kind: "defer", delayMs: 20_000 });
    const cooled = health({ consecutiveTimeouts: 5, openUntil: now });
    expect(decideLane("slow", cooled, policy, now)).toEqual({ kind: "claim_probe" });
    // Another instance holds the probe: wait for its lease.
    expect(decideLane("slow", { ...cooled, probeUntil: now + 7000 }, policy, now)).toEqual({
      kind: "defer",
      delayMs: 7000,
    });
  });
});

describe("fair delivery: what an attempt teaches", () => {
  it("proves an endpoint fast by an answer within the budget, and renews the proof only in its second half", () => {
    expect(healthChangeAfter("main", { kind: "answered", latencyMs: 50 }, HEALTHY, policy, now)).toEqual({
      kind: "proven_fast",
      fastUntil: now + 60_000,
    });
    // A fresh proof costs no write per delivery.
    const proven = health({ fastUntil: now + 40_000 });
    expect(healthChangeAfter("main", { kind: "answered", latencyMs: 50 }, proven, policy, now)).toBeNull();
    expect(
      healthChangeAfter(
        "main",
        { kind: "answered", latencyMs: 50 },
        health({ fastUntil: now + 29_000 }),
        policy,
        now,
      ),
    ).toEqual({ kind: "proven_fast", fastUntil: now + 60_000 });
    // Without a shorter budget nothing is ever proven (no first dial to skip).
    expect(
      healthChangeAfter(
        "main",
        { kind: "answered", latencyMs: 50 },
        HEALTHY,
        { ...policy, mainLaneTimeoutMs: 15_000 },
        now,
      ),
    ).toBeNull();
    expect(healthChangeAfter("slow", { kind: "answered", latencyMs: 50 }, HEALTHY, policy, now)).toBeNull();
  });

  it("marks an endpoint slow that answers after the main lane's budget; a main-lane timeout counts", () => {
    expect(healthChangeAfter("main", { kind: "answered", latencyMs: 5000 }, HEALTHY, policy, now)).toEqual({
      kind: "mark_slow",
      slowUntil: now + 300_000,
    });
    expect(healthChangeAfter("main", { kind: "timed_out" }, HEALTHY, policy, now)?.kind).toBe("timeout");
  });

  it("counts full timeouts and opens the breaker at the threshold, for longer after each failed probe", () => {
    const change = healthChangeAfter("slow", { kind: "timed_out" }, HEALTHY, policy, now);
    expect(change?.kind).toBe("timeout");
    if (change?.kind !== "timeout") return;
    expect(change.openUntilIfThreshold(4)).toBeNull();
    expect(change.openUntilIfThreshold(5)).toBe(now + 30_000);
    expect(change.openUntilIfThreshold(6)).toBe(now + 60_000);
    expect(cooldownFor(50, policy)).toBe(600_000);
    // Without a shorter main-lane budget, main-lane timeouts count too.
    expect(
      healthChangeAfter("main", { kind: "timed_out" }, HEALTHY, { ...policy, mainLaneTimeoutMs: 15_000 }, now)
        ?.kind,
    ).toBe("timeout");
  });

  it("closes the breaker on any answer; a fast one also brings the endpoint back to the main lane", () => {
    const broken = health({ consecutiveTimeouts: 7, openUntil: now - 1, slowUntil: now + 1000 });
    expect(healthChangeAfter("slow", { kind: "answered", latencyMs: 200 }, broken, policy, now)).toEqual({
      kind: "recovered",
      slowUntil: null,
      fastUntil: now + 60_000,
    });
    expect(healthChangeAfter("slow", { kind: "answered", latencyMs: 9000 }, broken, policy, now)).toEqual({
      kind: "recovered",
      slowUntil: now + 300_000,
    });
  });
});
