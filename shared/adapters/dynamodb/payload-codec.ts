import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { Item } from "./table.ts";

/**
 * A delivery's payload is stored compressed (raw DEFLATE), as a binary attribute. DynamoDB bills
 * every write by item size in 1 KB steps and the payload is most of a delivery record: a typical
 * VoIPBIN event body of 1.3 KB becomes ~0.46 KB, which takes a first-attempt record from 3 KB to 2 KB.
 * Measured on a `call_hangup` body (Node 24): DEFLATE level 6 gives 459 bytes in ~22 µs; Brotli gives
 * 435–470 bytes but costs ~45–60 µs at any quality, its encoder set-up dominating such small inputs.
 */
export const PAYLOAD_ATTRIBUTE = "payload_z";

/** Records written before compression kept the body as a string under this name. */
const LEGACY_PAYLOAD_ATTRIBUTE = "payload";

export function encodePayload(payload: string): Uint8Array {
  return deflateRawSync(Buffer.from(payload, "utf8"), { level: 6 });
}

/** The stored payload of an item, or null when the item has none (e.g. read through GSI1). */
export function decodePayload(item: Item): string | null {
  const compressed = item[PAYLOAD_ATTRIBUTE];
  if (compressed instanceof Uint8Array) return inflateRawSync(compressed).toString("utf8");
  const legacy = item[LEGACY_PAYLOAD_ATTRIBUTE];
  return typeof legacy === "string" ? legacy : null;
}
