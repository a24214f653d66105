/**
 * Identifiers of deliveries and subscriptions.
 *
 * Delivery ids are derived, not random: the router may be retried and enqueue the same job twice,
 * and the receiver's deduplication relies on `webhook-id` being the same for every attempt and
 * redelivery of one event to one subscription (PRODUCT §4).
 */
import { createHash, randomBytes } from "node:crypto";

// Versioned so that a future change of derivation cannot collide with ids minted by this one.
const DELIVERY_ID_DOMAIN = "voipbin-webhooks/delivery-id/v1";

export interface DeliveryIds {
  /** UUID (version 8, RFC 9562) naming the delivery record. */
  readonly deliveryId: string;
  /** `msg_` + 32 lowercase hex chars, sent as the `webhook-id` header. */
  readonly webhookId: string;
}

function lengthPrefixed(value: string): Buffer {
  const bytes = Buffer.from(value, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function setVersionAndVariant(bytes: Buffer, version: number): Buffer {
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | (version << 4);
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  return bytes;
}

/**
 * Same (event, subscription) → same ids; any other pair → other ids. Each id is length-prefixed so
 * that ("ab", "c") and ("a", "bc") hash different inputs.
 */
export function deriveDeliveryIds(eventId: string, subscriptionId: string): DeliveryIds {
  const digest = createHash("sha256")
    .update(lengthPrefixed(DELIVERY_ID_DOMAIN))
    .update(lengthPrefixed(eventId))
    .update(lengthPrefixed(subscriptionId))
    .digest();
  // The two halves of the digest, so the ids do not read as two spellings of one value in logs.
  return {
    deliveryId: formatUuid(setVersionAndVariant(digest.subarray(0, 16), 8)),
    webhookId: `msg_${digest.subarray(16, 32).toString("hex")}`,
  };
}

const MAX_UUIDV7_MILLIS = 2 ** 48 - 1;

/**
 * A UUIDv7 (RFC 9562): 48-bit Unix milliseconds then 74 random bits, so ids sort by creation time
 * across milliseconds (order within one millisecond is random).
 */
export function uuidv7(now: number = Date.now()): string {
  if (!Number.isInteger(now) || now < 0 || now > MAX_UUIDV7_MILLIS) {
    throw new RangeError(`uuidv7 timestamp must be whole milliseconds in [0, 2^48), got ${now}`);
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  return formatUuid(setVersionAndVariant(bytes, 7));
}
