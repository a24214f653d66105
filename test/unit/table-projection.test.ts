import { describe, expect, it } from "vitest";
import { accessKeyFromItem } from "#shared/adapters/dynamodb/access-keys.ts";
import { HEAD_ATTRIBUTES_OUTSIDE_INDEX } from "#shared/adapters/dynamodb/deliveries.ts";
import { decodePayload, encodePayload, PAYLOAD_ATTRIBUTE } from "#shared/adapters/dynamodb/payload-codec.ts";
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
