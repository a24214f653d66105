import { createHmac } from "node:crypto";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  generateSecret,
  InvalidSecretError,
  isWellFormedSecret,
  NoSigningSecretError,
  signDelivery,
} from "../../shared/domain/signing.ts";

const NOW = new Date("2026-11-20T09:17:41.250Z");
const BODY = '{"type":"call_hangup","data":{"id":"6e8e2d3a","text":"héllo ☎"}}';
const WEBHOOK_ID = "msg_0123456789abcdef0123456789abcdef";

function keyBytes(secret: string): Buffer {
  return Buffer.from(secret.slice("whsec_".length), "base64");
}

describe("secrets", () => {
  it("generates whsec_ + base64 of 32 random bytes", () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(keyBytes(secret)).toHaveLength(32);
    expect(isWellFormedSecret(secret)).toBe(true);
    expect(generateSecret()).not.toBe(secret);
  });

  it.each([
    ["no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    ["another prefix of the same length", `whsek_${Buffer.alloc(32).toString("base64")}`],
    ["empty", "whsec_"],
    ["too short", `whsec_${Buffer.alloc(16).toString("base64")}`],
    ["too long", `whsec_${Buffer.alloc(65).toString("base64")}`],
    ["not base64", `whsec_${"!".repeat(44)}`],
    ["url-safe alphabet", `whsec_${"-_".repeat(22)}`],
    ["missing padding", `whsec_${Buffer.alloc(32).toString("base64").replace("=", "")}`],
    ["whitespace", ` whsec_${Buffer.alloc(32).toString("base64")}`],
  ])("rejects a malformed secret (%s)", (_label, secret) => {
    expect(isWellFormedSecret(secret)).toBe(false);
  });

  it("accepts the Standard Webhooks spec's 24-byte example secret", () => {
    expect(isWellFormedSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).toBe(true);
  });

  it("accepts every key length of the spec's 24..64 bytes, whatever its base64 padding", () => {
    // 64 bytes end in "==", 62 in "=", 63 in none: the decoded length must count padding exactly.
    for (const bytes of [24, 25, 26, 62, 63, 64]) {
      expect(isWellFormedSecret(`whsec_${Buffer.alloc(bytes, 7).toString("base64")}`), String(bytes)).toBe(
        true,
      );
    }
    expect(isWellFormedSecret(`whsec_${Buffer.alloc(23, 7).toString("base64")}`)).toBe(false);
  });

  // Equivalent mutants a mutation run reports here (docs/benchmarks.md, "Mutation testing"):
  // - the signer cache's lookup, cap and eviction (signing.ts signerFor): any change to them keeps
  //   every signature the same and only costs CPU or memory; the two tests around the cache below
  //   pin what a receiver sees (same headers, still verifiable after eviction).
  // - the "utf8" of `hmac.update(text, "utf8")` emptied: Node's default encoding for a string is
  //   UTF-8, so the bytes signed are the same (the non-ASCII body of BODY would tell otherwise).
});

describe("signDelivery", () => {
  beforeEach(() => {
    // standardwebhooks' verify rejects timestamps more than 5 minutes from the clock.
    vi.useFakeTimers({ now: NOW, toFake: ["Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("produces headers that standardwebhooks verifies with the subscription secret", () => {
    const secret = generateSecret();
    const headers = signDelivery({ webhookId: WEBHOOK_ID, timestamp: NOW, body: BODY, secrets: [secret] });
    expect(headers["webhook-id"]).toBe(WEBHOOK_ID);
    expect(headers["webhook-timestamp"]).toBe(String(Math.floor(NOW.getTime() / 1000)));
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });

  it("signs with every secret during rotation, and each one verifies alone", () => {
    const current = generateSecret();
    const previous = generateSecret();
    const headers = signDelivery({
      webhookId: WEBHOOK_ID,
      timestamp: NOW,
      body: BODY,
      secrets: [current, previous],
    });
    expect(headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect(new Webhook(current).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(new Webhook(previous).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });

  it("is rejected with a wrong secret or a tampered body", () => {
    const secret = generateSecret();
    const headers = signDelivery({ webhookId: WEBHOOK_ID, timestamp: NOW, body: BODY, secrets: [secret] });
    expect(() => new Webhook(generateSecret()).verify(BODY, headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(secret).verify(BODY.replace("hangup", "hangUp"), headers)).toThrow(
      WebhookVerificationError,
    );
    expect(() => new Webhook(secret).verify(BODY, { ...headers, "webhook-id": "msg_other" })).toThrow(
      WebhookVerificationError,
    );
  });

  it("computes x-voipbin-signature as hex HMAC-SHA256 of the UTF-8 body with the current key bytes", () => {
    const current = generateSecret();
    const previous = generateSecret();
    const headers = signDelivery({
      webhookId: WEBHOOK_ID,
      timestamp: NOW,
      body: BODY,
      secrets: [current, previous],
    });
    const expected = createHmac("sha256", keyBytes(current)).update(Buffer.from(BODY, "utf8")).digest("hex");
    expect(headers["x-voipbin-signature"]).toBe(`sha256=${expected}`);
  });

  it("matches the Standard Webhooks spec test vector", () => {
    const headers = signDelivery({
      webhookId: "msg_p5jXN8AQM9LWM0D4loKWxJek",
      timestamp: new Date(1614265330 * 1000),
      body: '{"test": 2432232314}',
      secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    });
    expect(headers["webhook-timestamp"]).toBe("1614265330");
    expect(headers["webhook-signature"]).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("gives the same headers on repeated calls (the signer cache is transparent)", () => {
    const secret = generateSecret();
    const input = { webhookId: WEBHOOK_ID, timestamp: NOW, body: BODY, secrets: [secret] };
    expect(signDelivery(input)).toEqual(signDelivery(input));
  });

  it("keeps signing correctly after the signer cache has evicted entries", () => {
    const first = generateSecret();
    signDelivery({ webhookId: WEBHOOK_ID, timestamp: NOW, body: BODY, secrets: [first] });
    for (let i = 0; i < 300; i++) {
      signDelivery({ webhookId: WEBHOOK_ID, timestamp: NOW, body: BODY, secrets: [generateSecret()] });
    }
    const headers = signDelivery({ webhookId: WEBHOOK_ID, timestamp: NOW, body: BODY, secrets: [first] });
    expect(new Webhook(first).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });

  it("refuses to sign without a secret", () => {
    expect(() => signDelivery({ webhookId: WEBHOOK_ID, timestamp: NOW, body: BODY, secrets: [] })).toThrow(
      NoSigningSecretError,
    );
  });

  it("rejects a malformed secret without revealing it", () => {
    const good = generateSecret();
    const bad = "whsec_this-is-not-base64-but-secret-anyway";
    let thrown: unknown;
    try {
      signDelivery({ webhookId: WEBHOOK_ID, timestamp: NOW, body: BODY, secrets: [good, bad] });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidSecretError);
    const error = thrown as InvalidSecretError;
    expect(error.position).toBe(1);
    expect(error.message).not.toContain(bad.slice("whsec_".length));
    expect(error.message).not.toContain(good.slice("whsec_".length));
    expect(JSON.stringify(error)).not.toContain(bad.slice("whsec_".length));
  });
});
