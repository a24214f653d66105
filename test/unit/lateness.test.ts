import { describe, expect, it } from "vitest";
import type { DeliveryAttempt } from "#shared/domain/delivery/delivery.ts";
import { type LatenessBreakdown, latenessOf } from "#shared/domain/delivery/lateness.ts";

const T0 = Date.parse("2026-12-07T10:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();

function attempt(startMs: number, latencyMs: number, timing?: DeliveryAttempt["timing"]): DeliveryAttempt {
  return {
    at: at(startMs),
    status_code: 503,
    error: null,
    latency_ms: latencyMs,
    response_body: null,
    request: null,
    ...(timing ? { timing } : {}),
  };
}

const sum = (t: LatenessBreakdown) =>
  (t.routing_ms ?? 0) + t.queued_ms + t.fairness_ms + t.backoff_ms + t.receiver_ms + t.idle_ms;

describe("latenessOf: where a delivery's time went", () => {
  it("splits a retried delivery: routing, queue, backoff, receiver", () => {
    const timing = latenessOf(
      {
        created_at: at(0),
        routed_at: at(300),
        status: "succeeded",
        dead_reason: null,
        updated_at: at(7_000),
        attempts: [attempt(400, 1_000, { retry_at: at(6_400) }), attempt(6_500, 200, { due_at: at(6_400) })],
      },
      new Date(T0 + 60_000),
    );
    expect(timing).toEqual({
      age_ms: 6_700,
      routing_ms: 300,
      queued_ms: 100 + 100,
      fairness_ms: 0,
      backoff_ms: 5_000,
      receiver_ms: 1_200,
      idle_ms: 0,
    });
  });

  it("counts fairness's deferrals and the slow lane's wait as fairness, a manual retry's wait as idle", () => {
    const timing = latenessOf(
      {
        created_at: at(0),
        status: "dead",
        dead_reason: "attempts_exhausted",
        updated_at: at(100_000),
        attempts: [
          // Deferred 2 s by an open breaker, then attempted from the slow lane.
          attempt(3_000, 500, { held_ms: 2_000, slow_lane: true }),
          // Dead after it (no retry scheduled); a manual retry asked at 50 s, attempted at 50.1 s.
          attempt(50_100, 400, { due_at: at(50_000) }),
        ],
      },
      new Date(T0 + 200_000),
    );
    expect(timing).toMatchObject({
      age_ms: 50_500,
      routing_ms: null,
      fairness_ms: 3_000,
      queued_ms: 100,
      idle_ms: 46_500,
      receiver_ms: 900,
      backoff_ms: 0,
    });
    expect(sum(timing)).toBe(timing.age_ms);
  });

  it("a delivery waiting for its retry ages until now: backoff until its time, then queued", () => {
    const record = {
      created_at: at(0),
      routed_at: at(50),
      status: "failed" as const,
      dead_reason: null,
      updated_at: at(1_000),
      attempts: [attempt(100, 900, { retry_at: at(6_000) })],
    };
    expect(latenessOf(record, new Date(T0 + 4_000))).toMatchObject({ age_ms: 4_000, backoff_ms: 3_000 });
    const late = latenessOf({ ...record, held_ms: 1_000 }, new Date(T0 + 9_000));
    expect(late).toMatchObject({ age_ms: 9_000, backoff_ms: 5_000, fairness_ms: 1_000, queued_ms: 2_050 });
    expect(sum(late)).toBe(9_000);
  });

  it("a delivery closed without an attempt ends when closed", () => {
    const timing = latenessOf(
      {
        created_at: at(0),
        status: "dead",
        dead_reason: "subscription_disabled",
        updated_at: at(2_500),
        attempts: [],
      },
      new Date(T0 + 9_000),
    );
    expect(timing).toMatchObject({ age_ms: 2_500, queued_ms: 2_500 });
  });
});
