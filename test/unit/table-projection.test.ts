import { describe, expect, it } from "vitest";
import { accessKeyFromItem } from "#shared/adapters/dynamodb/access-keys.ts";
import { HEAD_ATTRIBUTES_OUTSIDE_INDEX, layoutOfId } from "#shared/adapters/dynamodb/deliveries.ts";
import { decodePayload, encodePayload, PAYLOAD_ATTRIBUTE } from "#shared/adapters/dynamodb/payload-codec.ts";
import { DELIVERY_LOG_SHARDS, keys, logShardOf } from "#shared/adapters/dynamodb/table.ts";
import { deriveDeliveryIds, deriveLegacyDeliveryIds } from "#shared/domain/ids.ts";
import { TABLE_KEYS } from "#shared/resources.ts";

/** Every attribute a mapper reads, found by handing it an item that records each access. */
function attributesRead(mapper: (item: Record<string, unknown>) => unknown): Set<string> {
  const read = new Set<string>();
  const item = new Proxy({} as Record<string, unknown>, {
    get(_target, name) {
      if (typeof name === "string") read.add(name);
      return undefined;
    },
  });
  try {
    mapper(item);
  } catch {
    // Only which attributes it reached for matters.
  }
  return read;
}

describe("GSI1 projection", () => {
  it("leaves out every delivery attribute an attempt changes without a status change, and the payload", () => {
    // Otherwise each attempt would rewrite the index copy (docs/data-model.md, "Write cost").
    const projected = new Set<string>(TABLE_KEYS.gsi1.projectedAttributes);
    expect(HEAD_ATTRIBUTES_OUTSIDE_INDEX.filter((name) => projected.has(name))).toEqual([]);
    expect(projected.has(PAYLOAD_ATTRIBUTE)).toBe(false);
    // The log reads the status from the index (the status filter) and the rest from the table.
    expect(projected.has("status")).toBe(true);
  });

  it("holds every attribute a customer's key list reads", () => {
    const projected = new Set<string>(TABLE_KEYS.gsi1.projectedAttributes);
    expect([...attributesRead(accessKeyFromItem)].filter((name) => !projected.has(name))).toEqual([]);
  });
});

describe("delivery head keys (layout 3)", () => {
  const customer = "6e8e2d3a-5b1f-4c8e-9d0a-1f2e3d4c5b6a";
  const subscription = "01936b2e-8f40-7c3a-9e21-4b5c6d7e8f90";
  const at = new Date(Date.UTC(2026, 11, 1, 10, 0, 0, 250));

  it("puts a head in its subscription's write-sharded log partition, sorted by time, found from (customer, id)", () => {
    const { deliveryId } = deriveDeliveryIds("event-1", subscription, at);
    const head = keys.deliveryHead(customer, deliveryId);
    expect(head).toEqual({
      PK: keys.deliveryLogPartition(customer, subscription, logShardOf(deliveryId)).PK,
      SK: `${at.toISOString()}#${deliveryId}`,
    });
    expect(layoutOfId(deliveryId)).toBe(3);
    // Another customer's key for the same id is another item.
    expect(keys.deliveryHead("0b7c2f3e-6a8d-4e1f-9c2b-5d4e3f2a1b0c", deliveryId).PK).not.toBe(head.PK);
  });

  it("spreads one subscription's deliveries over every shard", () => {
    const shards = new Set(
      Array.from(
        { length: 64 },
        (_, i) =>
          keys.deliveryHead(customer, deriveDeliveryIds(`event-${i}`, subscription, at).deliveryId).PK,
      ),
    );
    expect(shards.size).toBe(DELIVERY_LOG_SHARDS);
  });

  it("keeps the ids of earlier layouts at DELIVERY#<id>, their log in GSI1", () => {
    const { deliveryId } = deriveLegacyDeliveryIds("event-1", subscription);
    expect(keys.deliveryHead(customer, deliveryId)).toEqual(keys.delivery(deliveryId));
    expect(layoutOfId(deliveryId)).toBe(2);
  });
});

describe("payload codec", () => {
  it("round-trips text byte for byte, Unicode included, and shrinks a typical event body", () => {
    const body = JSON.stringify({
      type: "call_hangup",
      timestamp: "2026-11-30T12:00:00.000Z",
      data: { id: "6e8e2d3a-5b1f-4c8e-9d0a-1f2e3d4c5b6a", name: "Zoë 通話 📞", status: "hangup", tags: [] },
    }).repeat(8);
    const encoded = encodePayload(body);
    expect(encoded.byteLength).toBeLessThan(Buffer.byteLength(body) / 3);
    expect(decodePayload({ [PAYLOAD_ATTRIBUTE]: encoded })).toBe(body);
  });

  it("reads records that kept the payload as a string", () => {
    expect(decodePayload({ payload: '{"a":1}' })).toBe('{"a":1}');
    expect(decodePayload({})).toBeNull();
  });
});
