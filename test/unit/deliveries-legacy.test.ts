import { describe, expect, it } from "vitest";
import { decodeAttempt, encodeAttempt } from "#shared/adapters/dynamodb/attempt-codec.ts";
import {
  isBoundedLayout,
  layout1Attempts,
  layout1State,
  legacyLogPartitions,
} from "#shared/adapters/dynamodb/deliveries-legacy.ts";
import { DELIVERY_LOG_SHARDS, keys } from "#shared/adapters/dynamodb/table.ts";
import type { DeliveryAttempt } from "#shared/domain/delivery/delivery.ts";

const attempt: DeliveryAttempt = {
  at: "2026-11-20T09:17:42.123Z",
  status_code: 503,
  error: null,
  latency_ms: 87,
  response_body: "Service Unavailable",
  request: {
    method: "POST",
    url: "https://example.com/hook",
    headers: { "content-type": "application/json", "webhook-id": "msg_abc" },
  },
};

describe("the attempt codec (attempt-codec.ts)", () => {
  it("reads back what it wrote", () => {
    expect(decodeAttempt(encodeAttempt(attempt))).toEqual(attempt);
    const bare = {
      ...attempt,
      status_code: null,
      error: "timeout: no response within 10000 ms",
      request: null,
    };
    expect(decodeAttempt(encodeAttempt(bare))).toEqual(bare);
  });

  it("reads a blob stored by an earlier release: the dictionary is frozen", () => {
    // Written by this codec when it was split out of deliveries.ts; a changed dictionary or tuple
    // order would make every stored attempt unreadable.
    const stored = Buffer.from(
      "i1YyMjAy0zU01DUyCDGwtDI0tzIx0jM0Mo5S0jE1MNbJK83J0bEw11HCYqeSTjTMz7AwSK1IzC3ISdVLzs/VB4WOkk41weDVwYySxKRkpdrYWAA=",
      "base64",
    );
    expect(decodeAttempt(new Uint8Array(stored))).toEqual(attempt);
  });

  it("answers null where no blob is", () => {
    expect(decodeAttempt(undefined)).toBeNull();
    expect(decodeAttempt("z")).toBeNull();
  });
});

describe("the legacy layouts (deliveries-legacy.ts)", () => {
  const layout1 = {
    event_id: "e1",
    status: "failed",
    succeeded_at: null,
    next_attempt_at: "2026-11-20T09:20:00.000Z",
    attempts: [
      { ...attempt, request: undefined },
      { ...attempt, at: "2026-11-20T09:18:42.123Z" },
    ],
  };

  it("tells the bounded layouts (2, 3) from layout 1", () => {
    expect(isBoundedLayout({ layout: 2 })).toBe(true);
    expect(isBoundedLayout({ layout: 3 })).toBe(true);
    expect(isBoundedLayout({ layout: 1 })).toBe(false);
    expect(isBoundedLayout(layout1)).toBe(false);
  });

  it("reads a layout-1 item's attempts, a missing request as null", () => {
    expect(layout1Attempts(layout1)).toEqual([
      { ...attempt, request: null },
      { ...attempt, at: "2026-11-20T09:18:42.123Z" },
    ]);
    expect(layout1Attempts({ layout: 3 })).toEqual([]);
  });

  it("reads a layout-1 item's state: its attempt count bounds the chain; no live job, never dead-lettered", () => {
    expect(layout1State(layout1)).toEqual({
      event_id: "e1",
      status: "failed",
      dead_reason: null,
      succeeded_at: null,
      next_attempt_at: "2026-11-20T09:20:00.000Z",
      chain_attempts: 2,
      live_job: null,
      prev_job: null,
      held_ms: 0,
      dead_lettered_at: null,
    });
    expect(layout1State({ ...layout1, attempt_count: 7 }).chain_attempts).toBe(7);
  });

  it("lists the GSI1 log partitions of layouts 1 and 2", () => {
    expect(legacyLogPartitions("sub-1")).toEqual([
      { pk: keys.deliveriesOfSubscription("sub-1").GSI1PK, index: true },
      ...Array.from({ length: DELIVERY_LOG_SHARDS }, (_, shard) => ({
        pk: keys.deliveryLogShard("sub-1", shard).GSI1PK,
        index: true,
      })),
    ]);
    expect(legacyLogPartitions("sub-1")).toHaveLength(DELIVERY_LOG_SHARDS + 1);
  });
});
