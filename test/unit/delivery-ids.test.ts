import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deriveDeliveryIds, uuidv7 } from "../../shared/domain/ids.ts";

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const WEBHOOK_ID = /^msg_[0-9a-f]{32}$/;

const EVENT = "0b7c2f3e-6a8d-4e1f-9c2b-5d4e3f2a1b0c";
const SUBSCRIPTION_A = "01936b2e-8f40-7c3a-9e21-4b5c6d7e8f90";
const SUBSCRIPTION_B = "01936b2e-8f41-7d4b-8f32-5c6d7e8f9a01";

describe("deriveDeliveryIds", () => {
  it("is stable: the same pair always gives the same ids", () => {
    expect(deriveDeliveryIds(EVENT, SUBSCRIPTION_A)).toEqual(deriveDeliveryIds(EVENT, SUBSCRIPTION_A));
  });

  it("pins the derivation, so a change to it is a deliberate, visible decision", () => {
    // Changing these values changes every webhook-id receivers deduplicate on.
    expect(deriveDeliveryIds(EVENT, SUBSCRIPTION_A)).toMatchInlineSnapshot(`
      {
        "deliveryId": "9ad127a2-6134-8170-a93d-8efebc7d874a",
        "webhookId": "msg_9aaa5d259b7262011641538328d46cad",
      }
    `);
  });

  it("formats a v8 UUID and a msg_ webhook id", () => {
    const ids = deriveDeliveryIds(EVENT, SUBSCRIPTION_A);
    expect(ids.deliveryId).toMatch(UUID_V8);
    expect(ids.webhookId).toMatch(WEBHOOK_ID);
  });

  it("differs between subscriptions and between events", () => {
    const a = deriveDeliveryIds(EVENT, SUBSCRIPTION_A);
    const b = deriveDeliveryIds(EVENT, SUBSCRIPTION_B);
    const c = deriveDeliveryIds(SUBSCRIPTION_A, EVENT);
    expect(new Set([a.deliveryId, b.deliveryId, c.deliveryId]).size).toBe(3);
    expect(new Set([a.webhookId, b.webhookId, c.webhookId]).size).toBe(3);
  });

  it("is not fooled by moving characters across the boundary between the two ids", () => {
    const ab = deriveDeliveryIds("ab", "c");
    const bc = deriveDeliveryIds("a", "bc");
    expect(ab.deliveryId).not.toBe(bc.deliveryId);
    expect(ab.webhookId).not.toBe(bc.webhookId);
    expect(deriveDeliveryIds("", "x").webhookId).not.toBe(deriveDeliveryIds("x", "").webhookId);
  });

  it("gives distinct ids to distinct pairs (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (e1, s1, e2, s2) => {
        fc.pre(e1 !== e2 || s1 !== s2);
        const first = deriveDeliveryIds(e1, s1);
        const second = deriveDeliveryIds(e2, s2);
        return first.deliveryId !== second.deliveryId && first.webhookId !== second.webhookId;
      }),
      { numRuns: 2000 },
    );
  });

  it("always produces well-formed ids (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme" }),
        fc.string({ unit: "grapheme" }),
        (eventId, subscriptionId) => {
          const ids = deriveDeliveryIds(eventId, subscriptionId);
          return UUID_V8.test(ids.deliveryId) && WEBHOOK_ID.test(ids.webhookId);
        },
      ),
    );
  });
});

describe("uuidv7", () => {
  it("is a v7 UUID carrying the millisecond timestamp", () => {
    const now = Date.UTC(2026, 10, 20, 9, 15, 2, 118);
    const id = uuidv7(now);
    expect(id).toMatch(UUID_V7);
    expect(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(now);
  });

  it("defaults to the current time", () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    const millis = Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16);
    expect(millis).toBeGreaterThanOrEqual(before);
    expect(millis).toBeLessThanOrEqual(after);
  });

  it("sorts by creation time across milliseconds", () => {
    const start = Date.UTC(2026, 0, 1);
    const ids = Array.from({ length: 200 }, (_, i) => uuidv7(start + i));
    expect([...ids].sort()).toEqual(ids);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 2 }), fc.integer({ min: 1, max: 1000 }), (t, dt) => {
        const later = Math.min(t + dt, 2 ** 48 - 1);
        return uuidv7(t) < uuidv7(later);
      }),
    );
  });

  it("is random within one millisecond", () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 1000 }, () => uuidv7(now)));
    expect(ids.size).toBe(1000);
  });

  it.each([-1, 1.5, Number.NaN, 2 ** 48])("rejects the timestamp %s", (now) => {
    expect(() => uuidv7(now)).toThrow(RangeError);
  });
});
