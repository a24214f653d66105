import { describe, expect, it } from "vitest";
import { type EndpointHealth, HEALTHY } from "#shared/domain/delivery/endpoint-health.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import type { HttpAttemptResult } from "#shared/domain/ports/sender.ts";
import type { LaneGate } from "#shared/services/delivery/fair-lanes.ts";
import { FakeEndpointHealthStore, fairLanesOver, TEST_FAIRNESS_POLICY } from "../support/fairness.ts";

/**
 * The slow lane's per-endpoint cap (docs/delivery.md, "Fair delivery" 4): exactly
 * `endpointConcurrency` attempts at once, released as they end, and the breaker's probe is let
 * through whatever the count (it is the one request that can close the breaker).
 */

const policy = { ...TEST_FAIRNESS_POLICY, endpointConcurrency: 2 };
const job = { delivery_id: "d", customer_id: "c" } as DeliveryJob;

/** Fair lanes of one instance over a store in memory (a test may change its state between batches). */
function lanesWith(health: EndpointHealth) {
  const store = new FakeEndpointHealthStore(health);
  return Object.assign(fairLanesOver(store, { policy }).fair, { store });
}

/** Starts an attempt through the gate that runs until `finish` is called; `started` once it was dialled. */
function begin(gate: LaneGate, url: string) {
  let finish = () => {};
  let started = false;
  const phase = gate.dial({ lane: "slow", job, liveJob: "t", url }, () => {
    started = true;
    return new Promise<{ result: HttpAttemptResult }>((resolve) => {
      finish = () =>
        resolve({ result: { kind: "response", statusCode: 200, latencyMs: 1 } as HttpAttemptResult });
    });
  });
  return { phase, started: () => started, finish: () => finish() };
}

/** The outcome of a gate's next job: dialled (its attempt left running) or not. */
async function next(gate: LaneGate, url: string): Promise<string | undefined> {
  const attempt = begin(gate, url);
  let outcome: string | undefined;
  void attempt.phase.then((phase) => {
    outcome = phase.outcome;
  });
  await expect.poll(() => attempt.started() || outcome !== undefined).toBe(true);
  return attempt.started() ? "dial" : outcome;
}

describe("the slow lane's per-endpoint cap", () => {
  it("lets exactly endpointConcurrency attempts through at once, and one more once one ends", async () => {
    const url = "https://slow.example/a";
    const gate = await lanesWith(HEALTHY).forBatch([url]);
    const first = begin(gate, url);
    const second = begin(gate, url);
    expect(await next(gate, url)).toBe("deferred");
    expect([first.started(), second.started()]).toEqual([true, true]);
    first.finish();
    expect((await first.phase).outcome).toBe("attempted");
    expect(await next(gate, url)).toBe("dial");
    expect(await next(gate, url)).toBe("deferred");
    second.finish();
    await second.phase;
  });

  it("lets the breaker's probe through when the endpoint is at its cap", async () => {
    const url = "https://hole.example/a";
    // The cooldown has passed: the next attempt is the probe.
    const probeDue: EndpointHealth = {
      consecutiveTimeouts: 5,
      slowUntil: null,
      openUntil: 999_000,
      probeUntil: null,
      fastUntil: null,
      dialUntil: null,
    };
    // One instance: two attempts of a batch hold the endpoint's two slots...
    const lanes = lanesWith(HEALTHY);
    const healthy = await lanes.forBatch([url]);
    expect(await next(healthy, url)).toBe("dial");
    expect(await next(healthy, url)).toBe("dial");
    expect(await next(healthy, url)).toBe("deferred");
    // ...and a later batch of the same instance finds the breaker's probe due: it is let through.
    lanes.store.health = probeDue;
    expect(await next(await lanes.forBatch([url]), url)).toBe("dial");
    // A probe lost to another instance waits for its outcome instead.
    lanes.store.wins.probe = false;
    expect(await next(await lanes.forBatch([url]), url)).toBe("deferred");
  });
});
