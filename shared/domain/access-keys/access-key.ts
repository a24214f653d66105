/**
 * Access keys (PRODUCT §5): `vb_` + 32 base64url characters (24 random bytes). Only the SHA-256 of a
 * key is ever stored; the key itself exists in the operator's terminal once, when it is minted.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const ACCESS_KEY_PREFIX = "vb_";
const ACCESS_KEY_BYTES = 24;
const ACCESS_KEY_PATTERN = /^vb_[A-Za-z0-9_-]{32}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A key as stored and listed: never the key, never its hash. */
export interface AccessKey {
  readonly key_id: string;
  readonly customer_id: string;
  readonly name: string | null;
  readonly created_at: string;
  /** When the key stops working; null: never. */
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
}

/** What the table holds for a key: the public fields and the SHA-256 of the key. */
export interface AccessKeyRecord extends AccessKey {
  readonly key_hash: string;
}

export type AccessKeyStatus = "active" | "expired" | "revoked";

export function generateAccessKey(): string {
  return ACCESS_KEY_PREFIX + randomBytes(ACCESS_KEY_BYTES).toString("base64url");
}

export function isWellFormedAccessKey(candidate: string): boolean {
  return ACCESS_KEY_PATTERN.test(candidate);
}

/** Lower-case hex SHA-256: the key's only stored form, and its lookup key. */
export function hashAccessKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/**
 * Compares two SHA-256 hex digests in constant time. The lookup already selects the item by hash;
 * this re-check guards against an item that is not what it claims, without a timing side channel.
 */
export function hashesEqual(a: string, b: string): boolean {
  if (!SHA256_HEX.test(a) || !SHA256_HEX.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, "hex"), Buffer.from(b, "hex"));
}

export function accessKeyStatus(key: AccessKey, now: Date): AccessKeyStatus {
  if (key.revoked_at !== null) return "revoked";
  if (key.expires_at !== null && Date.parse(key.expires_at) <= now.getTime()) return "expired";
  return "active";
}
