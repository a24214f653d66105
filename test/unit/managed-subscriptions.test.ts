import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decideDeliveryStep } from "#shared/domain/delivery/delivery-step.ts";
import { signDelivery } from "#shared/domain/signing.ts";
import {
  InvalidCustomerControlError,
  legacySecretToWhsec,
  managedSubscriptionId,
  normalizeTmUpdate,
  parseCustomerVersion,
} from "#shared/domain/subscriptions/managed.ts";

const ID = "5e4a0680-804e-11ec-8477-2fea5968d85b";
const B64URL = "q3Jx-9_Zt0aVbM2kLp8sWn4eYc1HfR6u"; // 32 base64url characters
const HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

describe("managed legacy subscriptions: the customer version", () => {
  it("orders tm_update to the nanosecond, across Go's RFC 3339 and VoIPBIN's DATETIME(6) forms", () => {
    expect(normalizeTmUpdate("2026-01-20T03:09:11.123456789Z")).toBe("2026-01-20T03:09:11.123456789Z");
    expect(normalizeTmUpdate("2026-01-20 03:09:11.123456")).toBe("2026-01-20T03:09:11.123456000Z");
    expect(normalizeTmUpdate("2026-01-20T05:09:11+02:00")).toBe("2026-01-20T03:09:11.000000000Z");
    const a = normalizeTmUpdate("2026-01-20T03:09:11.000000001Z") as string;
    const b = normalizeTmUpdate("2026-01-20T03:09:11.000000002Z") as string;
    expect(a < b).toBe(true);
    for (const bad of ["", "yesterday", "2026-02-30T00:00:00Z", 1_700_000_000, null]) {
      expect(normalizeTmUpdate(bad)).toBeNull();
    }
  });

  it("imports both secret forms so x-voipbin-signature is VoIPBIN's HMAC keyed by the secret's ASCII bytes", () => {
    for (const secret of [B64URL, HEX]) {
      const body = '{"type":"call_hangup","data":{"id":"x"}}';
      const headers = signDelivery({
        webhookId: "msg_1",
        timestamp: new Date(),
        body,
        secrets: [legacySecretToWhsec(secret)],
      });
      const voipbin = createHmac("sha256", Buffer.from(secret, "ascii")).update(body).digest("hex");
      expect(headers["x-voipbin-signature"]).toBe(`sha256=${voipbin}`);
    }
  });

  it("an empty method is GET (Go's rule); an empty webhook_uri or customer_deleted removes", () => {
    const base = {
      id: ID,
      webhook_uri: "http://example.com/hook",
      webhook_secret: B64URL,
      tm_update: "2026-01-01T00:00:00Z",
    };
    expect(parseCustomerVersion("customer_updated", { ...base, webhook_method: "" }, ID)).toMatchObject({
      kind: "upsert",
      method: "GET",
      url: "http://example.com/hook",
      secret: legacySecretToWhsec(B64URL),
    });
    expect(parseCustomerVersion("customer_updated", { ...base, webhook_uri: "" })).toMatchObject({
      kind: "remove",
    });
    // Go's omitempty drops an empty string field: absent reads as "".
    const { webhook_uri: _omitted, ...withoutUri } = base;
    expect(parseCustomerVersion("customer_updated", withoutUri)).toMatchObject({ kind: "remove" });
    expect(
      parseCustomerVersion("customer_deleted", {
        id: ID,
        tm_update: null,
        tm_delete: "2026-01-02T00:00:00Z",
      }),
    ).toEqual({
      kind: "remove",
      customerId: ID,
      version: "2026-01-02T00:00:00.000000000Z",
    });
  });

  it("lists every problem of a malformed version at once, never the secret", () => {
    let caught: unknown;
    try {
      parseCustomerVersion(
        "customer_created",
        {
          id: "nope",
          webhook_uri: "mailto:x@y",
          webhook_method: "post",
          webhook_secret: "s3cr3t-value",
          tm_update: 5,
        },
        "5e4a0680-804e-11ec-8477-2fea5968d85b",
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidCustomerControlError);
    const problems = (caught as InvalidCustomerControlError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.join(" ")).not.toContain("s3cr3t-value");
    expect(() =>
      parseCustomerVersion(
        "customer_updated",
        { ...{ id: ID, tm_update: "2026-01-01T00:00:00Z" }, webhook_uri: "https://a.example" },
        "7c0f9a52-1b2e-4d61-9a43-3f8e2d9b6a10",
      ),
    ).toThrow(/must equal data.id/);
  });

  it("derives one stable subscription id per customer, whatever the case of its id", () => {
    expect(managedSubscriptionId(ID)).toBe(managedSubscriptionId(ID.toUpperCase()));
    expect(managedSubscriptionId(ID)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});

describe("the legacy profile's decision after an attempt (PRODUCT §11)", () => {
  const base = {
    attempt: 1,
    schedule: [5, 300],
    jitter: 0,
    now: new Date("2026-06-01T00:00:00Z"),
    // Failing for a year: the standard profile would auto-disable; the legacy one never does.
    failingSince: "2025-06-01T00:00:00Z",
    autoDisableAfterSeconds: 3600,
    profile: "legacy" as const,
  };
  it("closes every non-2xx status below 500 as dead (endpoint_rejected), 410 included, without touching the subscription", () => {
    for (const statusCode of [301, 400, 404, 410, 429]) {
      expect(decideDeliveryStep({ ...base, outcome: { statusCode, retryAfter: null } })).toEqual({
        outcome: "endpoint_rejected",
        status: "dead",
        deadReason: "endpoint_rejected",
        nextAttemptAt: null,
        subscription: { kind: "none" },
        queue: { kind: "delete" },
      });
    }
  });
  it("retries 5xx, timeouts, connection errors and blocked addresses on the normal schedule, with no failing clock", () => {
    for (const outcome of [
      { statusCode: 503, retryAfter: null },
      { error: "timeout" },
      { error: "connection_refused" },
      { error: "blocked_destination" },
    ]) {
      const step = decideDeliveryStep({ ...base, outcome });
      expect(step).toMatchObject({
        outcome: "retry_scheduled",
        status: "failed",
        subscription: { kind: "none" },
      });
      expect(step.queue).toEqual({ kind: "retry", delaySeconds: 5 });
    }
    expect(
      decideDeliveryStep({ ...base, attempt: 3, outcome: { statusCode: 500, retryAfter: null } }),
    ).toMatchObject({ status: "dead", deadReason: "attempts_exhausted", queue: { kind: "dead_letter" } });
  });
  it("leaves the standard profile as it was: 410 disables, 404 is retried", () => {
    const standard = { ...base, profile: "standard" as const, failingSince: null };
    expect(decideDeliveryStep({ ...standard, outcome: { statusCode: 410, retryAfter: null } })).toMatchObject(
      {
        outcome: "endpoint_gone",
      },
    );
    expect(decideDeliveryStep({ ...standard, outcome: { statusCode: 404, retryAfter: null } })).toMatchObject(
      {
        outcome: "retry_scheduled",
      },
    );
  });
});
