/**
 * Signing of deliveries (PRODUCT §4): Standard Webhooks v1 headers, so that a receiver using the
 * `standardwebhooks` package verifies every delivery, plus VoIPBIN's legacy `x-voipbin-signature`
 * that today's receivers check.
 */
import { createHmac, createSecretKey, type KeyObject, randomBytes } from "node:crypto";
import { CodedError } from "./errors.ts";

const SECRET_PREFIX = "whsec_";
const SECRET_BYTES = 32;
// The Standard Webhooks spec allows 24..64-byte keys; accepting the range keeps its published test
// vector (24 bytes) and secrets minted elsewhere usable, while ours are always 32 bytes.
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
// Canonical padded base64 only: Node's decoder is lenient while the standardwebhooks one is strict,
// and both must derive the same key bytes from the same secret.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A secret that cannot be used to sign. The message never contains the secret itself. */
export class InvalidSecretError extends CodedError {
  override readonly name = "InvalidSecretError";
  readonly code = "SECRET_INVALID";
  constructor(readonly position: number) {
    super(`signing secret #${position} is not a well-formed whsec_ secret`);
  }
}

/** Raised when a delivery has no secret at all: sending it unsigned would be worse than failing. */
export class NoSigningSecretError extends CodedError {
  override readonly name = "NoSigningSecretError";
  readonly code = "SECRET_MISSING";
  constructor() {
    super("at least one signing secret is required");
  }
}

export type SignatureHeaders = Record<
  "webhook-id" | "webhook-timestamp" | "webhook-signature" | "x-voipbin-signature",
  string
>;

export interface SignDeliveryInput {
  readonly webhookId: string;
  readonly timestamp: Date;
  readonly body: string;
  /** The current secret first, then previous ones still inside their rotation overlap. */
  readonly secrets: readonly string[];
}

/** A new subscription secret: `whsec_` + base64 of 32 crypto-random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString("base64");
}

export function isWellFormedSecret(s: string): boolean {
  if (!s.startsWith(SECRET_PREFIX)) return false;
  const encoded = s.slice(SECRET_PREFIX.length);
  if (!BASE64.test(encoded)) return false;
  const byteLength = (encoded.length / 4) * 3 - (encoded.endsWith("==") ? 2 : encoded.endsWith("=") ? 1 : 0);
  return byteLength >= MIN_SECRET_BYTES && byteLength <= MAX_SECRET_BYTES;
}

/**
 * A secret's key as a KeyObject: node:crypto's HMAC with a Buffer key costs ~28 µs to set up on
 * Node 24 (the key bytes are imported each time), with a KeyObject ~6 µs (measured; docs/benchmarks.md).
 */
interface Signer {
  readonly key: KeyObject;
}

// Signing runs once per delivery attempt; decoding a secret and importing its key each time is
// wasted work. The cap keeps a long-lived Lambda from accumulating every secret it has ever seen.
const SIGNER_CACHE_LIMIT = 256;
const signerCache = new Map<string, Signer>();

function signerFor(secret: string, position: number): Signer {
  const cached = signerCache.get(secret);
  if (cached !== undefined) return cached;
  if (!isWellFormedSecret(secret)) throw new InvalidSecretError(position);
  const signer: Signer = { key: createSecretKey(Buffer.from(secret.slice(SECRET_PREFIX.length), "base64")) };
  if (signerCache.size >= SIGNER_CACHE_LIMIT) {
    // Map iteration order is insertion order, so this evicts the oldest entry.
    const oldest = signerCache.keys().next();
    if (oldest.done !== true) signerCache.delete(oldest.value);
  }
  signerCache.set(secret, signer);
  return signer;
}

/**
 * The signature headers of one attempt. `webhook-signature` carries one `v1,` entry per secret so a
 * receiver that still has the previous secret keeps verifying during rotation; the legacy header is
 * keyed by the current secret only, as VoIPBIN receivers have a single secret.
 */
export function signDelivery(input: SignDeliveryInput): SignatureHeaders {
  const { webhookId, timestamp, body, secrets } = input;
  const signers = secrets.map((secret, i) => signerFor(secret, i));
  const current = signers[0];
  if (current === undefined) throw new NoSigningSecretError();
  const seconds = Math.floor(timestamp.getTime() / 1000);
  // The Standard Webhooks signed content: `${id}.${timestamp}.${body}`, HMAC-SHA256, base64. The
  // same bytes as the standardwebhooks package's sign() (its pure-JS SHA-256 costs 3–4× the CPU of
  // node:crypto); test/unit/signing.test.ts verifies every signature with that package.
  const signed = `${webhookId}.${seconds}.${body}`;
  return {
    "webhook-id": webhookId,
    "webhook-timestamp": String(seconds),
    "webhook-signature": signers.map((signer) => `v1,${standardSignature(signer, signed)}`).join(" "),
    "x-voipbin-signature": `sha256=${createHmac("sha256", current.key).update(body, "utf8").digest("hex")}`,
  };
}

function standardSignature(signer: Signer, signed: string): string {
  return createHmac("sha256", signer.key).update(signed, "utf8").digest("base64");
}
