import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EVENT_CATALOGUE } from "#shared/domain/events/catalogue.ts";
import { parseRoutableEvent } from "#shared/domain/events/schemas.ts";
import { subscriptionMatches } from "#shared/domain/subscriptions/subscription.ts";
import { bodyMatches, expectedRouting, fuzzCases } from "../../bench/chaos/fuzz.ts";
import { expectedToMatch, planWorkload } from "../../bench/chaos/plan.ts";

const CUSTOMER = "0f5a2c8e-4b7d-4e21-9c3a-5d6e7f8a9b0c";

function busEvent(entry: { Source: string; DetailType: string; Detail: string }) {
  return {
    version: "0",
    id: "8a3c0d1e-0000-4000-8000-000000000001",
    "detail-type": entry.DetailType,
    source: entry.Source,
    account: "000000000000",
    time: "2026-11-30T12:00:00Z",
    region: "us-east-1",
    resources: [],
    detail: JSON.parse(entry.Detail),
  };
}

/** What the router's parser makes of an event: routed, or unroutable with its reason. */
function productOutcome(event: unknown): string {
  try {
    parseRoutableEvent(event);
    return "delivered";
  } catch (error) {
    return `unroutable:${(error as { reason?: string }).reason}`;
  }
}

describe("chaos fuzz stage", () => {
  it("draws the same cases from the same seed, every kind among them", () => {
    const a = fuzzCases(200, 7, CUSTOMER);
    expect(fuzzCases(200, 7, CUSTOMER)).toEqual(a);
    expect(new Set(a.map((c) => c.kind)).size).toBeGreaterThanOrEqual(10);
    expect(a.some((c) => c.expect.outcome === "rejected_by_bus")).toBe(true);
  });

  it("expects of each event what PRODUCT §2 says, in agreement with the router's own parser", () => {
    for (const fuzzCase of fuzzCases(300, 3, CUSTOMER)) {
      if (fuzzCase.expect.outcome === "rejected_by_bus") continue;
      const expected =
        fuzzCase.expect.outcome === "unroutable" ? `unroutable:${fuzzCase.expect.reason}` : "delivered";
      expect(productOutcome(busEvent(fuzzCase.entry)), `${fuzzCase.key} (${fuzzCase.kind})`).toBe(expected);
    }
  });

  it("checks a delivered body against the data on the bus, key order of the envelope included", () => {
    const expect_ = { type: "call_hangup", data: { a: 1, b: "ß" } };
    expect(bodyMatches('{"type":"call_hangup","data":{"a":1,"b":"ß"}}', expect_)).toBe(true);
    expect(bodyMatches('{"data":{"a":1,"b":"ß"},"type":"call_hangup"}', expect_)).toBe(false);
    expect(bodyMatches('{"type":"call_hangup","data":{"a":1}}', expect_)).toBe(false);
    expect(expectedRouting("call_hangup", { customer_id: CUSTOMER, data: [] })).toEqual({
      outcome: "unroutable",
      reason: "invalid_detail",
    });
  });
});

describe("chaos workload plan", () => {
  const types = EVENT_CATALOGUE.map((e) => e.type as string);

  it("computes the expected deliveries with its own matcher, which agrees with the router's", () => {
    const plan = planWorkload({ targetDeliveries: 500, customers: 4, seed: 5, poisonEvents: 3 });
    expect(plan.expected.size).toBeGreaterThanOrEqual(500);
    expect(plan.events.slice(0, 3).every((e) => e.customerId === plan.poisonCustomers[0])).toBe(true);
    fc.assert(
      fc.property(
        fc.constantFrom(...plan.subscriptions),
        fc.constantFrom(...types),
        fc.constantFrom(...plan.events.map((e) => e.data)),
        (subscription, type, data) => {
          const product = subscriptionMatches(
            {
              status: "enabled",
              activeflow_id: subscription.activeflowId,
              event_types: [...subscription.eventTypes],
            },
            type,
            data,
          );
          expect(expectedToMatch(subscription, type, data)).toBe(product);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
