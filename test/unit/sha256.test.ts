import { createHash, createHmac } from "node:crypto";
import { Sha256Js } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
import { KeyedSha256 } from "#shared/adapters/sha256.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("KeyedSha256 (the SDK clients' sha256)", () => {
  it("hashes and HMACs like node:crypto, with string and byte keys", async () => {
    const plain = new KeyedSha256();
    plain.update("hello ");
    expect(hex(await plain.digest())).toBe(createHash("sha256").update("hello ").digest("hex"));
    // A plain hash may be digested again after more input, as the SDK's own implementation allows.
    plain.update("world");
    expect(hex(await plain.digest())).toBe(createHash("sha256").update("hello world").digest("hex"));

    const key = new Uint8Array(Buffer.alloc(32, 7));
    const cases: [Uint8Array | string | ArrayBuffer, Buffer | string][] = [
      [key, Buffer.from(key)],
      [key, Buffer.from(key)],
      ["AWS4secret", "AWS4secret"],
      [key.buffer as ArrayBuffer, Buffer.from(key)],
    ];
    for (const [secret, reference] of cases) {
      const hmac = new KeyedSha256(secret);
      hmac.update(new TextEncoder().encode("to sign"));
      expect(hex(await hmac.digest())).toBe(createHmac("sha256", reference).update("to sign").digest("hex"));
    }
    const finished = new KeyedSha256(key);
    await finished.digest();
    expect(() => finished.update("more")).toThrow(/finished/);
    finished.reset();
    finished.update("again");
    expect(hex(await finished.digest())).toBe(
      createHmac("sha256", Buffer.from(key)).update("again").digest("hex"),
    );
  });

  it("gives SigV4 the same signatures as the SDK's pure-JS SHA-256", async () => {
    const request = {
      method: "POST",
      protocol: "https:",
      hostname: "dynamodb.us-east-1.amazonaws.com",
      path: "/",
      headers: {
        host: "dynamodb.us-east-1.amazonaws.com",
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "DynamoDB_20120810.PutItem",
      },
      body: '{"TableName":"t","Item":{"PK":{"S":"a"}}}',
    };
    const signer = (sha256: typeof KeyedSha256 | typeof Sha256Js) =>
      new SignatureV4({
        service: "dynamodb",
        region: "us-east-1",
        credentials: {
          accessKeyId: "AKIDEXAMPLE",
          secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        },
        sha256,
      });
    const signingDate = new Date("2026-12-01T08:00:00Z");
    const ours = signer(KeyedSha256);
    const reference = signer(Sha256Js);
    for (let i = 0; i < 3; i++) {
      // Several requests on the same signer: the cached signing key's KeyObject is reused.
      const body = `${request.body}${i}`;
      const a = await ours.sign({ ...request, body }, { signingDate });
      const b = await reference.sign({ ...request, body }, { signingDate });
      expect(a.headers.authorization).toBe(b.headers.authorization);
    }
  });
});
