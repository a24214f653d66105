import { brotliCompressSync, brotliDecompressSync, constants } from "node:zlib";
import type { Item } from "./table.ts";

/**
 * A delivery's payload is stored Brotli-compressed, as a binary attribute. DynamoDB bills every write
 * by item size in 1 KB steps and the payload is most of a delivery record: a typical VoIPBIN event
 * body of 1.3 KB becomes ~0.45 KB, which takes a first-attempt record from 3 KB to 2 KB. Quality 5 costs
 * about 0.1 ms per payload; higher qualities gain a few bytes for several times the CPU.
 */
export const PAYLOAD_ATTRIBUTE = "payload_br";

/** Records written before compression kept the body as a string under this name. */
const LEGACY_PAYLOAD_ATTRIBUTE = "payload";

const BROTLI_QUALITY = 5;

export function encodePayload(payload: string): Uint8Array {
  return brotliCompressSync(Buffer.from(payload, "utf8"), {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: Buffer.byteLength(payload, "utf8"),
    },
  });
}

/** The stored payload of an item, or null when the item has none (e.g. read through GSI1). */
export function decodePayload(item: Item): string | null {
  const compressed = item[PAYLOAD_ATTRIBUTE];
  if (compressed instanceof Uint8Array) return brotliDecompressSync(compressed).toString("utf8");
  const legacy = item[LEGACY_PAYLOAD_ATTRIBUTE];
  return typeof legacy === "string" ? legacy : null;
}
