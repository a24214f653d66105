/**
 * Identifiers of deliveries and subscriptions.
 *
 * Delivery ids are derived, not random: the router may be retried and enqueue the same job twice,
 * and the receiver's deduplication relies on `webhook-id` being the same for every attempt and
 * redelivery of one event to one subscription (PRODUCT §4). Since layout 3 a delivery id also says
 * where its record is (its time and its subscription's tag: docs/data-model.md), so that the record
 * can live in its subscription's log partition and still be found by id without an index.
 */
import { createHash, randomBytes } from "node:crypto";

// Versioned so that a future change of derivation cannot collide with ids minted by this one.
const DELIVERY_ID_DOMAIN = "voipbin-webhooks/delivery-id/v1";
const MAX_UUIDV7_MILLIS = 2 ** 48 - 1;

export interface DeliveryIds {
  /** UUID naming the delivery record: the version 7 layout since layout 3, version 8 before (RFC 9562). */
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

function digestOf(eventId: string, subscriptionId: string): Buffer {
  return createHash("sha256")
    .update(lengthPrefixed(DELIVERY_ID_DOMAIN))
    .update(lengthPrefixed(eventId))
    .update(lengthPrefixed(subscriptionId))
    .digest();
}

/** `msg_` + the second half of the pair's digest: unchanged since the first layout (receivers deduplicate on it). */
const webhookIdOf = (digest: Buffer): string => `msg_${digest.subarray(16, 32).toString("hex")}`;

/** The `webhook-id` of an event's delivery to a subscription: the same in every layout. */
export function deriveWebhookId(eventId: string, subscriptionId: string): string {
  return webhookIdOf(digestOf(eventId, subscriptionId));
}

/**
 * The ids of records written before layout 3 (UUID version 8, the first half of the digest). Same
 * (event, subscription) → same ids; any other pair → other ids. Each id is length-prefixed so that
 * ("ab", "c") and ("a", "bc") hash different inputs. Kept to find the deliveries of events routed
 * before the upgrade (docs/data-model.md, "Migrating to layout 3").
 */
export function deriveLegacyDeliveryIds(eventId: string, subscriptionId: string): DeliveryIds {
  const digest = digestOf(eventId, subscriptionId);
  // The two halves of the digest, so the ids do not read as two spellings of one value in logs.
  return {
    deliveryId: formatUuid(setVersionAndVariant(Buffer.from(digest.subarray(0, 16)), 8)),
    webhookId: webhookIdOf(digest),
  };
}

/** Bits of a subscription's tag carried in its delivery ids (docs/data-model.md, "Layout 3"). */
export const SUBSCRIPTION_TAG_BITS = 16;

/** 16 bits of SHA-256(subscription id): which log partitions of its customer hold its deliveries. */
export function subscriptionTagOf(subscriptionId: string): number {
  const digest = createHash("sha256").update(lengthPrefixed(subscriptionId)).digest();
  return digest.readUIntBE(0, SUBSCRIPTION_TAG_BITS / 8);
}

const clampMillis = (ms: number): number =>
  Number.isFinite(ms) ? Math.min(Math.max(Math.floor(ms), 0), MAX_UUIDV7_MILLIS) : 0;

/**
 * The ids of a delivery (layout 3): a UUID in the version 7 layout (RFC 9562) whose 48-bit
 * millisecond field is the event's time, so ids (and the table keys built from them) sort by time;
 * its 12-bit `rand_a` and the 4 bits after the variant carry the subscription's tag, the remaining
 * 58 bits the (event, subscription) digest. Everything is derived: the same event (same id and
 * time, as a retried or redriven router sees it) to the same subscription gives the same ids, so a
 * duplicate job finds the same record. The `webhook-id` is the one every earlier layout sent.
 */
export function deriveDeliveryIds(eventId: string, subscriptionId: string, createdAt: Date): DeliveryIds {
  const digest = digestOf(eventId, subscriptionId);
  const tag = subscriptionTagOf(subscriptionId);
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(clampMillis(createdAt.getTime()), 0, 6);
  bytes[6] = 0x70 | (tag >>> 12);
  bytes[7] = (tag >>> 4) & 0xff;
  bytes[8] = 0x80 | ((tag & 0x0f) << 2) | ((digest[0] ?? 0) & 0x03);
  digest.copy(bytes, 9, 1, 8);
  return { deliveryId: formatUuid(bytes), webhookId: webhookIdOf(digest) };
}

/**
 * A UUID of any version, in either case (VoIPBIN's ids are version 4, ours version 7 or 8): the one
 * check of a UUID's shape. Stored ids are lower case (`isCanonicalUuid`); input is lower-cased once
 * it has passed (`uuidString`, shared/domain/events/schemas.ts). Both cases spelled out, not the `i`
 * flag: the OpenAPI document renders a pattern's source without its flags.
 */
export const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** A UUID as this service stores and compares it: lower-case hex. */
export const isCanonicalUuid = (text: string): boolean =>
  UUID_PATTERN.test(text) && text === text.toLowerCase();

/** What a layout-3 delivery id says about itself; null for any other id (the ids of earlier layouts are version 8). */
export function parseDeliveryId(deliveryId: string): { createdAt: Date; subscriptionTag: number } | null {
  if (!isCanonicalUuid(deliveryId) || deliveryId[14] !== "7") return null;
  const bytes = Buffer.from(deliveryId.replaceAll("-", ""), "hex");
  if (((bytes[8] ?? 0) & 0xc0) !== 0x80) return null;
  const tag = (((bytes[6] ?? 0) & 0x0f) << 12) | ((bytes[7] ?? 0) << 4) | (((bytes[8] ?? 0) >>> 2) & 0x0f);
  return { createdAt: new Date(bytes.readUIntBE(0, 6)), subscriptionTag: tag };
}

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

/**
 * A name-based UUID (version 8 layout, RFC 9562) of SHA-256 over a versioned domain and a name: the
 * same name always gives the same id, and ids of different domains never collide. For items that
 * must be found without a lookup (a customer's managed subscription, an activeflow's destination).
 */
export function derivedUuid(domain: string, name: string): string {
  const digest = createHash("sha256").update(lengthPrefixed(domain)).update(lengthPrefixed(name)).digest();
  return formatUuid(setVersionAndVariant(Buffer.from(digest.subarray(0, 16)), 8));
}
