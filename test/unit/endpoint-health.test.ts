import { describe, expect, it } from "vitest";
import {
  cooldownFor,
  decideLane,
  type EndpointHealth,
  HEALTHY,
  healthChangeAfter,
} from "#shared/domain/delivery/endpoint-health.ts";
import { TEST_FAIRNESS_POLICY } from "../support/fairness.ts";

const policy = TEST_FAIRNESS_POLICY;
const now = 1_000_000;
const health = (patch: Partial<EndpointHealth>): EndpointHealth => ({ ...HEALTHY, ...patch });

describe("fair delivery: which lane, whether to dial", () => {
  it("dials a healthy endpoint from the main lane with the main lane's budget", () => {
    expect(decideLane("main", HEALTHY, policy, now)).toEqual({
      kind: "dial",
      timeoutMs: 15_000,
      budgetMs: 3000,
      probe: false,
    });
    // The budget never exceeds the full timeout.
    expect(decideLane("main", HEALTHY, { ...policy, timeoutMs: 1000 }, now)).toEqual({
      kind: "dial",
      timeoutMs: 1000,
      probe: false,
    });
  });

  it("hands a slow or broken endpoint's jobs to the slow lane without dialling", () => {
    expect(decideLane("main", health({ slowUntil: now + 1 }), policy, now)).toEqual({ kind: "to_slow_lane" });
    expect(decideLane("main", health({ slowUntil: now }), policy, now)).toMatchObject({ kind: "dial" });
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
  it("costs no write for a healthy endpoint that answers in time", () => {
    expect(healthChangeAfter("main", { kind: "answered", latencyMs: 50 }, HEALTHY, policy, now)).toBeNull();
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
    });
    expect(healthChangeAfter("slow", { kind: "answered", latencyMs: 9000 }, broken, policy, now)).toEqual({
      kind: "recovered",
      slowUntil: now + 300_000,
    });
  });
});
