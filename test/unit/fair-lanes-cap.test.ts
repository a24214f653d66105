import { describe, expect, it } from "vitest";
import type { HealthChange } from "#shared/domain/delivery/endpoint-health.ts";
import { type EndpointHealth, HEALTHY } from "#shared/domain/delivery/endpoint-health.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import { FairLanes } from "#shared/services/delivery/fair-lanes.ts";
import { TEST_FAIRNESS_POLICY } from "../support/fairness.ts";

/**
 * The slow lane's per-endpoint cap (docs/delivery.md, "Fair delivery" 4): exactly
 * `endpointConcurrency` attempts at once, released as they end, and the breaker's probe is let
 * through whatever the count (it is the one request that can close the breaker).
 */

const policy = { ...TEST_FAIRNESS_POLICY, endpointConcurrency: 2 };
const job = { delivery_id: "d", customer_id: "c" } as DeliveryJob;

/** An endpoint store in memory: the state a test gives, and whether the probe claim is won. */
function lanesWith(health: EndpointHealth, claimProbe = true) {
  return new FairLanes({
    policy,
    health: {
      load: async (urls: readonly string[]) => new Map(urls.map((url) => [url, health])),
      apply: async (_url: string, _change: HealthChange) => health,
      claimProbe: async () => claimProbe,
      claimFirstDial: async () => ({ won: true, health }),
    },
    slowLane: { send: async () => "m", hold: async () => {} },
    slowQueueName: "slow",
    logger: { warn() {} },
    now: () => new Date(1_000_000),
  });
}

describe("the slow lane's per-endpoint cap", () => {
  it("lets exactly endpointConcurrency attempts through at once, and one more once one ends", async () => {
    const url = `https://slow.example/${crypto.randomUUID()}`;
    const gate = await lanesWith(HEALTHY).forBatch([url]);
    const item = { lane: "slow" as const, job, liveJob: "t", url };
    const first = await gate.beforeAttempt(item);
    const second = await gate.beforeAttempt(item);
    const third = await gate.beforeAttempt(item);
    expect([first.kind, second.kind, third.kind]).toEqual(["dial", "dial", "defer"]);
    if (first.kind !== "dial") throw new Error("dialled");
    first.release();
    first.release(); // twice is once
    expect((await gate.beforeAttempt(item)).kind).toBe("dial");
    expect((await gate.beforeAttempt(item)).kind).toBe("defer");
  });

  it("lets the breaker's probe through when the endpoint is at its cap", async () => {
    const url = `https://hole.example/${crypto.randomUUID()}`;
    // The cooldown has passed: the next attempt is the probe.
    const probeDue: EndpointHealth = {
      consecutiveTimeouts: 5,
      slowUntil: null,
      openUntil: 999_000,
      probeUntil: null,
      fastUntil: null,
      dialUntil: null,
    };
    const item = { lane: "slow" as const, job, liveJob: "t", url };
    const healthy = await lanesWith(HEALTHY).forBatch([url]);
    expect((await healthy.beforeAttempt(item)).kind).toBe("dial");
    expect((await healthy.beforeAttempt(item)).kind).toBe("dial");
    expect((await healthy.beforeAttempt(item)).kind).toBe("defer");
    const probing = await lanesWith(probeDue).forBatch([url]);
    expect((await probing.beforeAttempt(item)).kind).toBe("dial");
    // A probe lost to another instance waits for its outcome instead.
    const lost = await lanesWith(probeDue, false).forBatch([url]);
    expect((await lost.beforeAttempt(item)).kind).toBe("defer");
  });
});
