import { describe, expect, it } from "vitest";
import {
  type EndpointHealth,
  type FairnessPolicy,
  HEALTHY,
} from "#shared/domain/delivery/endpoint-health.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import type { HttpAttemptResult } from "#shared/domain/ports/sender.ts";
import type { LaneJob } from "#shared/services/delivery/fair-lanes.ts";
import { FakeEndpointHealthStore, fairLanesOver, TEST_FAIRNESS_POLICY } from "../support/fairness.ts";

/**
 * The fairness phase of an attempt (LaneGate.dial, docs/delivery.md "Fair delivery") against a fake
 * endpoint store: what it dials and with which timeout, what it hands to the slow lane or defers
 * without sending, what it writes to the shared state, and the slot it holds and releases.
 */

const NOW = 1_000_000;
const URL_ = "https://hooks.example/x";
const job = { delivery_id: "d-1", customer_id: "c-1", subscription_id: "s-1" } as DeliveryJob;
const answered = (latencyMs: number): HttpAttemptResult =>
  ({ kind: "response", statusCode: 200, latencyMs }) as HttpAttemptResult;
const timedOut = (latencyMs: number): HttpAttemptResult =>
  ({ kind: "error", error: "timeout", message: "no answer", latencyMs }) as HttpAttemptResult;

const lanes = (store: FakeEndpointHealthStore, policy?: FairnessPolicy) =>
  fairLanesOver(store, { now: new Date(NOW), ...(policy ? { policy } : {}) });

const item = (lane: "main" | "slow"): LaneJob => ({ lane, job, liveJob: "w-live", url: URL_ });

/** An attempt that records the timeout it was given and answers `result`. */
function attemptAnswering(result: HttpAttemptResult) {
  const timeouts: number[] = [];
  return {
    timeouts,
    run: async (timeoutMs: number) => {
      timeouts.push(timeoutMs);
      return { result };
    },
  };
}

const BREAKER_OPEN: EndpointHealth = { ...HEALTHY, consecutiveTimeouts: 5, openUntil: NOW + 12_500 };
const PROBE_DUE: EndpointHealth = { ...HEALTHY, consecutiveTimeouts: 5, openUntil: NOW - 1 };

describe("LaneGate.dial: the fairness phase", () => {
  it("main lane, an endpoint not proven fast: claims its first dial, dials with the full timeout, records it proven fast", async () => {
    const store = new FakeEndpointHealthStore(HEALTHY);
    const gate = await lanes(store).fair.forBatch([URL_]);
    const attempt = attemptAnswering(answered(40));
    const phase = await gate.dial(item("main"), attempt.run);
    expect(phase).toEqual({ outcome: "attempted", attempted: { result: answered(40) } });
    expect(attempt.timeouts).toEqual([TEST_FAIRNESS_POLICY.timeoutMs]);
    expect(store.claims).toEqual(["first_dial"]);
    expect(store.changes).toEqual(["proven_fast"]);
  });

  it("main lane, a first dial held by another attempt: defers one budget without sending", async () => {
    const store = new FakeEndpointHealthStore(HEALTHY, { firstDial: false });
    const gate = await lanes(store).fair.forBatch([URL_]);
    const attempt = attemptAnswering(answered(40));
    const phase = await gate.dial(item("main"), attempt.run);
    expect(phase).toEqual({
      outcome: "deferred",
      seconds: 3,
      message: expect.stringContaining("first dial") as string,
    });
    expect(attempt.timeouts).toEqual([]);
    expect(store.changes).toEqual([]);
  });

  it("main lane, an endpoint marked slow: hands the job to the slow lane under its live identity, unsent", async () => {
    const store = new FakeEndpointHealthStore({ ...HEALTHY, slowUntil: NOW + 60_000 });
    const { fair, handedOver } = lanes(store);
    const attempt = attemptAnswering(answered(40));
    const phase = await (await fair.forBatch([URL_])).dial(item("main"), attempt.run);
    expect(phase.outcome).toBe("moved_to_slow_lane");
    expect(handedOver).toEqual([{ ...job, token: "w-live" }]);
    expect(attempt.timeouts).toEqual([]);
  });

  it("main lane, an attempt past its budget: marks the endpoint slow while the attempt still runs, and keeps it so after", async () => {
    const store = new FakeEndpointHealthStore({ ...HEALTHY, fastUntil: NOW + 60_000 });
    const policy = { ...TEST_FAIRNESS_POLICY, mainLaneTimeoutMs: 5 };
    const gate = await lanes(store, policy).fair.forBatch([URL_]);
    const phase = await gate.dial(item("main"), async () => {
      // The attempt answers only once the budget has marked the endpoint slow: it is never abandoned.
      await expect.poll(() => store.changes, { timeout: 10_000, interval: 5 }).toEqual(["mark_slow"]);
      return { result: answered(5_000) };
    });
    expect(phase.outcome).toBe("attempted");
    expect(store.changes).toEqual(["mark_slow", "mark_slow"]);
  });

  it("slow lane, an open breaker: defers until the cooldown has passed (whole seconds, rounded up)", async () => {
    const store = new FakeEndpointHealthStore(BREAKER_OPEN);
    const attempt = attemptAnswering(answered(40));
    const phase = await (await lanes(store).fair.forBatch([URL_])).dial(item("slow"), attempt.run);
    expect(phase).toMatchObject({ outcome: "deferred", seconds: 13 });
    expect(attempt.timeouts).toEqual([]);
  });

  it("slow lane, a probe due: claims it, dials with the full timeout, counts a timeout", async () => {
    const store = new FakeEndpointHealthStore(PROBE_DUE);
    const attempt = attemptAnswering(timedOut(15_000));
    const phase = await (await lanes(store).fair.forBatch([URL_])).dial(item("slow"), attempt.run);
    expect(phase.outcome).toBe("attempted");
    expect(store.claims).toEqual(["probe"]);
    expect(attempt.timeouts).toEqual([TEST_FAIRNESS_POLICY.timeoutMs]);
    expect(store.changes).toEqual(["timeout"]);
  });

  it("slow lane, a probe claimed by another instance: waits for its lease, unsent", async () => {
    const store = new FakeEndpointHealthStore(PROBE_DUE, { probe: false });
    const phase = await (await lanes(store).fair.forBatch([URL_])).dial(
      item("slow"),
      attemptAnswering(answered(1)).run,
    );
    expect(phase).toMatchObject({ outcome: "deferred", seconds: 20 });
  });

  it("slow lane: holds one of the endpoint's slots for the attempt and releases it when the attempt ends, even by throwing", async () => {
    const store = new FakeEndpointHealthStore(HEALTHY);
    const policy = { ...TEST_FAIRNESS_POLICY, endpointConcurrency: 1 };
    const gate = await lanes(store, policy).fair.forBatch([URL_]);
    let finish = (_: { result: HttpAttemptResult }) => {};
    const first = gate.dial(
      item("slow"),
      () => new Promise<{ result: HttpAttemptResult }>((resolve) => (finish = resolve)),
    );
    await expect
      .poll(() => gate.dial(item("slow"), attemptAnswering(answered(1)).run))
      .toMatchObject({
        outcome: "deferred",
        seconds: 15,
        message: expect.stringContaining("concurrency cap") as string,
      });
    finish({ result: answered(10) });
    expect((await first).outcome).toBe("attempted");
    await expect(
      gate.dial(item("slow"), async () => {
        throw new Error("the sender failed");
      }),
    ).rejects.toThrow("the sender failed");
    expect((await gate.dial(item("slow"), attemptAnswering(answered(1)).run)).outcome).toBe("attempted");
  });

  it("counts the slow lane's cap per instance (per FairLanes), not per process", async () => {
    const policy = { ...TEST_FAIRNESS_POLICY, endpointConcurrency: 1 };
    const one = await lanes(new FakeEndpointHealthStore(HEALTHY), policy).fair.forBatch([URL_]);
    const other = await lanes(new FakeEndpointHealthStore(HEALTHY), policy).fair.forBatch([URL_]);
    let finish = (_: { result: HttpAttemptResult }) => {};
    const held = one.dial(
      item("slow"),
      () => new Promise<{ result: HttpAttemptResult }>((resolve) => (finish = resolve)),
    );
    // Another instance (another cold start's FairLanes) has its own slots.
    expect((await other.dial(item("slow"), attemptAnswering(answered(1)).run)).outcome).toBe("attempted");
    finish({ result: answered(1) });
    await held;
  });

  it("keeps the attempt's result when the shared state cannot be written (the state is advice)", async () => {
    const store = new FakeEndpointHealthStore(HEALTHY);
    store.apply = async () => {
      throw new Error("throttled");
    };
    const gate = await lanes(store).fair.forBatch([URL_]);
    const phase = await gate.dial(item("main"), attemptAnswering(answered(40)).run);
    expect(phase).toEqual({ outcome: "attempted", attempted: { result: answered(40) } });
  });
});
