import {
  type AccessKey,
  type AccessKeyRecord,
  accessKeyStatus,
  generateAccessKey,
  hashAccessKey,
  hashesEqual,
  isWellFormedAccessKey,
} from "../domain/access-keys/access-key.ts";
import type { PresentedCredentials } from "../domain/access-keys/credentials.ts";
import { CodedError } from "../domain/errors.ts";
import { isCanonicalUuid, uuidv7 } from "../domain/ids.ts";
import { type Clock, systemClock } from "../domain/ports/clock.ts";
import type { AccessKeyRepository, RevokeResult } from "../domain/ports/stores.ts";

export interface AccessKeyDependencies {
  readonly accessKeys: Pick<AccessKeyRepository, "create" | "getByHash" | "listByCustomer" | "revoke">;
  readonly now?: Clock;
}

/** Why a request is not authenticated; the API turns these into the two 401 codes of PRODUCT §5. */
export type AuthenticationFailure = "missing" | "malformed" | "unknown" | "expired" | "revoked";

export type AuthenticationResult =
  | { readonly kind: "authenticated"; readonly customerId: string; readonly keyId: string }
  | { readonly kind: "refused"; readonly reason: AuthenticationFailure };

/** An operator asked for something the CLI cannot do (bad customer id, expiry, name). */
export class InvalidAccessKeyRequestError extends CodedError {
  override readonly name = "InvalidAccessKeyRequestError";
  readonly code = "ACCESS_KEY_REQUEST_INVALID";
}

const MAX_NAME_LENGTH = 128;
const MAX_EXPIRY_DAYS = 3650;

export interface MintRequest {
  readonly customerId: string;
  readonly name?: string | undefined;
  /** Days until the key stops working; undefined: it never expires. */
  readonly expiresInDays?: number | undefined;
}

export interface MintedAccessKey {
  /** The key itself: shown once, never stored. */
  readonly key: string;
  readonly accessKey: AccessKey;
}

export async function mintAccessKey(
  request: MintRequest,
  deps: AccessKeyDependencies,
): Promise<MintedAccessKey> {
  const customerId = request.customerId.toLowerCase();
  if (!isCanonicalUuid(customerId)) throw new InvalidAccessKeyRequestError("customer id must be a UUID");
  const name = request.name?.trim();
  if (name !== undefined && (name === "" || name.length > MAX_NAME_LENGTH)) {
    throw new InvalidAccessKeyRequestError(`name must be 1 to ${MAX_NAME_LENGTH} characters`);
  }
  const days = request.expiresInDays;
  if (days !== undefined && !(Number.isFinite(days) && days > 0 && days <= MAX_EXPIRY_DAYS)) {
    throw new InvalidAccessKeyRequestError(`expiry must be a number of days in (0, ${MAX_EXPIRY_DAYS}]`);
  }
  const now = (deps.now ?? systemClock)();
  const key = generateAccessKey();
  const record: AccessKeyRecord = {
    key_id: uuidv7(now.getTime()),
    key_hash: hashAccessKey(key),
    customer_id: customerId,
    name: name ?? null,
    created_at: now.toISOString(),
    expires_at: days === undefined ? null : new Date(now.getTime() + days * 86_400_000).toISOString(),
    revoked_at: null,
  };
  await deps.accessKeys.create(record);
  return { key, accessKey: publicAccessKey(record) };
}

/** The key as operators see it: no key, no hash. */
export function publicAccessKey(record: AccessKeyRecord): AccessKey {
  return {
    key_id: record.key_id,
    customer_id: record.customer_id,
    name: record.name,
    created_at: record.created_at,
    expires_at: record.expires_at,
    revoked_at: record.revoked_at,
  };
}

/**
 * Judges presented credentials. A malformed key is refused without a lookup; a well-formed one is
 * looked up by its SHA-256 (the key itself never leaves this function).
 */
export async function authenticate(
  credentials: PresentedCredentials,
  deps: AccessKeyDependencies,
): Promise<AuthenticationResult> {
  if (credentials.kind === "none") return { kind: "refused", reason: "missing" };
  if (!isWellFormedAccessKey(credentials.key)) return { kind: "refused", reason: "malformed" };
  const now = (deps.now ?? systemClock)();
  const keyHash = hashAccessKey(credentials.key);
  const record = await deps.accessKeys.getByHash(keyHash, now);
  if (record === null || !hashesEqual(record.key_hash, keyHash))
    return { kind: "refused", reason: "unknown" };
  const status = accessKeyStatus(record, now);
  if (status !== "active") return { kind: "refused", reason: status };
  return { kind: "authenticated", customerId: record.customer_id, keyId: record.key_id };
}

export async function listAccessKeys(customerId: string, deps: AccessKeyDependencies): Promise<AccessKey[]> {
  const id = customerId.toLowerCase();
  if (!isCanonicalUuid(id)) throw new InvalidAccessKeyRequestError("customer id must be a UUID");
  const records = await deps.accessKeys.listByCustomer(id, (deps.now ?? systemClock)());
  return records.map(publicAccessKey);
}

export async function revokeAccessKey(keyId: string, deps: AccessKeyDependencies): Promise<RevokeResult> {
  const id = keyId.toLowerCase();
  if (!isCanonicalUuid(id)) throw new InvalidAccessKeyRequestError("key id must be a UUID (see `keys list`)");
  return deps.accessKeys.revoke(id, (deps.now ?? systemClock)());
}
