import { createHash, createHmac, createSecretKey, type Hash, type Hmac, type KeyObject } from "node:crypto";

type SourceData = string | ArrayBuffer | ArrayBufferView;

/**
 * The SHA-256 the AWS SDK clients sign requests with (their `sha256` option): the SDK's own node
 * implementation, except that an HMAC key given as bytes becomes a KeyObject once. SigV4 signs every
 * request with an HMAC keyed by the (cached) signing key; node:crypto's HMAC set-up with a Buffer key
 * costs ~28 µs on Node 24, with a KeyObject ~6 µs (measured, docs/benchmarks.md).
 */
export class KeyedSha256 {
  readonly digestLength = 32;
  private hash: Hash | Hmac;
  private finished = false;
  private readonly key: string | KeyObject | undefined;

  constructor(secret?: SourceData) {
    this.key = secret === undefined ? undefined : keyOf(secret);
    this.hash = this.create();
  }

  update(data: Uint8Array | string): void {
    if (this.finished) throw new Error("Attempted to update an already finished hash.");
    this.hash.update(data);
  }

  async digest(): Promise<Uint8Array> {
    let digest: Buffer;
    if (this.key !== undefined) {
      this.finished = true;
      digest = this.hash.digest();
    } else {
      // A plain hash may be digested again after more updates (the SDK's contract): digest a copy.
      digest = (this.hash as Hash).copy().digest();
    }
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
  }

  reset(): void {
    this.hash = this.create();
    this.finished = false;
  }

  private create(): Hash | Hmac {
    return this.key === undefined ? createHash("sha256") : createHmac("sha256", this.key);
  }
}

// Keyed by the bytes' object: the SigV4 signer reuses the same signing-key array for a whole day.
const keyObjects = new WeakMap<object, KeyObject>();

function keyOf(secret: SourceData): string | KeyObject {
  if (typeof secret === "string") return secret;
  const cached = keyObjects.get(secret);
  if (cached !== undefined) return cached;
  const bytes = ArrayBuffer.isView(secret)
    ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)
    : Buffer.from(secret);
  const key = createSecretKey(bytes);
  keyObjects.set(secret, key);
  return key;
}
