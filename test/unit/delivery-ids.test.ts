import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  deriveDeliveryIds,
  deriveLegacyDeliveryIds,
  parseDeliveryId,
  subscriptionTagOf,
  uuidv7,
} from "../../shared/domain/ids.ts";

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const WEBHOOK_ID = /^msg_[0-9a-f]{32}$/;

const EVENT = "0b7c2f3e-6a8d-4e1f-9c2b-5d4e3f2a1b0c";
const SUBSCRIPTION_A = "01936b2e-8f40-7c3a-9e21-4b5c6d7e8f90";
const SUBSCRIPTION_B = "01936b2e-8f41-7d4b-8f32-5c6d7e8f9a01";

describe("deriveLegacyDeliveryIds (records and jobs from before layout 3)", () => {
  it("is stable: the same pair always gives the same ids", () => {
    expect(deriveLegacyDeliveryIds(EVENT, SUBSCRIPTION_A)).toEqual(
      deriveLegacyDeliveryIds(EVENT, SUBSCRIPTION_A),
    );
  });

  it("pins the derivation, so a change to it is a deliberate, visible decision", () => {
    // Changing these values changes every webhook-id receivers deduplicate on.
    expect(deriveLegacyDeliveryIds(EVENT, SUBSCRIPTION_A)).toMatchInlineSnapshot(`
      {
        "deliveryId": "9ad127a2-6134-8170-a93d-8efebc7d874a",
        "webhookId": "msg_9aaa5d259b7262011641538328d46cad",
      }
    `);
  });

  it("formats a v8 UUID and a msg_ webhook id", () => {
    const ids = deriveLegacyDeliveryIds(EVENT, SUBSCRIPTION_A);
    expect(ids.deliveryId).toMatch(UUID_V8);
    expect(ids.webhookId).toMatch(WEBHOOK_ID);
  });

  it("differs between subscriptions and between events", () => {
    const a = deriveLegacyDeliveryIds(EVENT, SUBSCRIPTION_A);
    const b = deriveLegacyDeliveryIds(EVENT, SUBSCRIPTION_B);
    const c = deriveLegacyDeliveryIds(SUBSCRIPTION_A, EVENT);
    expect(new Set([a.deliveryId, b.deliveryId, c.deliveryId]).size).toBe(3);
    expect(new Set([a.webhookId, b.webhookId, c.webhookId]).size).toBe(3);
  });

  it("is not fooled by moving characters across the boundary between the two ids", () => {
    const ab = deriveLegacyDeliveryIds("ab", "c");
    const bc = deriveLegacyDeliveryIds("a", "bc");
    expect(ab.deliveryId).not.toBe(bc.deliveryId);
    expect(ab.webhookId).not.toBe(bc.webhookId);
    expect(deriveLegacyDeliveryIds("", "x").webhookId).not.toBe(deriveLegacyDeliveryIds("x", "").webhookId);
  });

  it("gives distinct ids to distinct pairs (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (e1, s1, e2, s2) => {
        fc.pre(e1 !== e2 || s1 !== s2);
        const first = deriveLegacyDeliveryIds(e1, s1);
        const second = deriveLegacyDeliveryIds(e2, s2);
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
          const ids = deriveLegacyDeliveryIds(eventId, subscriptionId);
          return UUID_V8.test(ids.deliveryId) && WEBHOOK_ID.test(ids.webhookId);
        },
      ),
    );
  });
});

describe("deriveDeliveryIds (layout 3)", () => {
  const AT = new Date(Date.UTC(2026, 11, 1, 10, 0, 0));

  it("pins the derivation; the webhook-id is the one earlier layouts sent", () => {
    expect(deriveDeliveryIds(EVENT, SUBSCRIPTION_A, AT)).toMatchInlineSnapshot(`
      {
        "deliveryId": "01a2310c-0100-7169-b2d1-27a26134d170",
        "webhookId": "msg_9aaa5d259b7262011641538328d46cad",
      }
    `);
    expect(deriveDeliveryIds(EVENT, SUBSCRIPTION_A, AT).webhookId).toBe(
      deriveLegacyDeliveryIds(EVENT, SUBSCRIPTION_A).webhookId,
    );
  });

  it("is a version 7 UUID that says its time and its subscription's tag", () => {
    const ids = deriveDeliveryIds(EVENT, SUBSCRIPTION_A, AT);
    expect(ids.deliveryId).toMatch(UUID_V7);
    expect(parseDeliveryId(ids.deliveryId)).toEqual({
      createdAt: AT,
      subscriptionTag: subscriptionTagOf(SUBSCRIPTION_A),
    });
    // Ids of earlier layouts (version 8) and other UUIDs name no log partition.
    expect(parseDeliveryId(deriveLegacyDeliveryIds(EVENT, SUBSCRIPTION_A).deliveryId)).toBeNull();
    expect(parseDeliveryId("not-a-uuid")).toBeNull();
    // Only the stored (lower-case) spelling names a log partition, and only with RFC 9562's variant.
    expect(parseDeliveryId(ids.deliveryId.toUpperCase())).toBeNull();
    const otherVariant = `${ids.deliveryId.slice(0, 19)}c${ids.deliveryId.slice(20)}`;
    expect(parseDeliveryId(otherVariant)).toBeNull();
  });

  it("sorts by time, as the log partition's sort key needs", () => {
    const earlier = deriveDeliveryIds(EVENT, SUBSCRIPTION_A, new Date(AT.getTime() - 1)).deliveryId;
    const later = deriveDeliveryIds(SUBSCRIPTION_B, SUBSCRIPTION_A, AT).deliveryId;
    expect(earlier < later).toBe(true);
  });

  it("round-trips any time and subscription, and differs between pairs at one instant (property)", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.string(),
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        (eventId, other, subscriptionId, ms) => {
          fc.pre(eventId !== other);
          const at = new Date(ms);
          const ids = deriveDeliveryIds(eventId, subscriptionId, at);
          const parsed = parseDeliveryId(ids.deliveryId);
          return (
            UUID_V7.test(ids.deliveryId) &&
            WEBHOOK_ID.test(ids.webhookId) &&
            parsed?.createdAt.getTime() === ms &&
            parsed.subscriptionTag === subscriptionTagOf(subscriptionId) &&
            deriveDeliveryIds(other, subscriptionId, at).deliveryId !== ids.deliveryId
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("uuidv7", () => {
  it("takes whole milliseconds from the epoch to 2^48, and says what it got otherwise", () => {
    expect(uuidv7(0)).toMatch(UUID_V7);
    expect(() => uuidv7(-1)).toThrow(
      new RangeError("uuidv7 timestamp must be whole milliseconds in [0, 2^48), got -1"),
    );
    expect(() => uuidv7(1.5)).toThrow(RangeError);
    expect(() => uuidv7(2 ** 48)).toThrow(RangeError);
  });

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
