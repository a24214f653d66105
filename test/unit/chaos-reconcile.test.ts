import { describe, expect, it } from "vitest";
import {
  type ExpectedDelivery,
  failures,
  type PairKey,
  pairKey,
  type ReceivedDelivery,
  reconcile,
} from "../../bench/chaos/reconcile.ts";

const expectedOf = (...pairs: [string, string, string?][]) =>
  new Map<PairKey, ExpectedDelivery>(
    pairs.map(([eventKey, subscriptionId, profile]) => [
      pairKey(eventKey, subscriptionId),
      { eventKey, subscriptionId, profile: profile ?? "healthy" },
    ]),
  );

const got = (acks: number, webhookId: string, requests = acks): ReceivedDelivery => ({
  acks,
  requests,
  webhookIds: new Set([webhookId]),
});

describe("chaos reconciliation", () => {
  const expected = expectedOf(
    ["e1", "s1"],
    ["e1", "s2", "flaky"],
    ["e2", "s1"],
    ["e3", "s3", "always_failing"],
  );

  it("balances when every delivery was acknowledged or dead-lettered", () => {
    const result = reconcile({
      expected,
      received: new Map([
        ["e1|s1", got(1, "msg_a")],
        ["e1|s2", got(1, "msg_b", 3)],
        ["e2|s1", got(1, "msg_c")],
        ["e3|s3", got(0, "msg_d", 4)],
      ]),
      deadLettered: new Set(["e3|s3"]),
      faultedAfterHttp: new Set(),
    });
    expect(result).toMatchObject({
      expected: 4,
      delivered_unique: 3,
      dead_lettered: 1,
      lost: 0,
      duplicates: 0,
      equation_holds: true,
    });
    expect(result.by_profile.always_failing).toMatchObject({ expected: 1, dead_lettered: 1 });
    expect(failures(result)).toEqual([]);
  });

  it("detects a loss: a delivery neither acknowledged nor dead-lettered", () => {
    const result = reconcile({
      expected,
      received: new Map([
        ["e1|s1", got(1, "msg_a")],
        ["e1|s2", got(0, "msg_b", 4)],
        ["e2|s1", got(1, "msg_c")],
      ]),
      deadLettered: new Set(["e3|s3"]),
      faultedAfterHttp: new Set(),
    });
    expect(result.lost).toBe(1);
    expect(result.samples.lost).toEqual(["e1|s2"]);
    expect(result.equation_holds).toBe(false);
    expect(failures(result).join("\n")).toMatch(/1 deliveries lost.*e1\|s2/);
  });

  it("detects a duplicate and attributes it to a fault between the HTTP call and its record", () => {
    const received = new Map([
      ["e1|s1", got(2, "msg_a")],
      ["e1|s2", got(3, "msg_b")],
      ["e2|s1", got(1, "msg_c")],
    ]);
    const result = reconcile({
      expected,
      received,
      deadLettered: new Set(["e3|s3"]),
      faultedAfterHttp: new Set(["msg_a"]),
    });
    expect(result).toMatchObject({
      delivered_unique: 3,
      duplicates: 2,
      duplicate_deliveries: 3,
      duplicates_explained: 1,
      duplicates_unexplained: 1,
      lost: 0,
      equation_holds: true,
    });
    expect(result.samples.unexplained_duplicates).toEqual(["e1|s2"]);
    // Duplicates are reported, not a failure of the run.
    expect(failures(result)).toEqual([]);
  });

  it("counts an acknowledged delivery whose job still ended in the DLQ once, as delivered", () => {
    const result = reconcile({
      expected: expectedOf(["e1", "s1"]),
      received: new Map([["e1|s1", got(1, "msg_a")]]),
      deadLettered: new Set(["e1|s1"]),
      faultedAfterHttp: new Set(),
    });
    expect(result).toMatchObject({ delivered_unique: 1, dead_lettered: 0, delivered_and_dead_lettered: 1 });
    expect(result.equation_holds).toBe(true);
  });

  it("fails on events held on the router's on-failure destination, deliveries nobody expected, and webhook-id conflicts", () => {
    const result = reconcile({
      expected: expectedOf(["e1", "s1"], ["e2", "s1"]),
      received: new Map<PairKey, ReceivedDelivery>([
        ["e1|s1", { acks: 1, requests: 2, webhookIds: new Set(["msg_a", "msg_z"]) }],
        ["e9|s1", got(1, "msg_a")],
      ]),
      deadLettered: new Set(),
      faultedAfterHttp: new Set(),
      heldForOperator: new Set(["e2|s1"]),
    });
    expect(result).toMatchObject({ held_for_operator: 1, lost: 0, unexpected: 1, equation_holds: false });
    // e1|s1 has two ids, and msg_a names two pairs.
    expect(result.webhook_id_conflicts).toBe(2);
    const messages = failures(result).join("\n");
    expect(messages).toMatch(/held on the router's on-failure destination/);
    expect(messages).toMatch(/no subscription should have received/);
    expect(messages).toMatch(/webhook-id conflicts/);
  });
});
