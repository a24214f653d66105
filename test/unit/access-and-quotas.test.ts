/**
 * What a caller meets at the API's door, decided by pure domain functions: which credentials count
 * (401 or the key's customer), whether a key still works, and the 429's message and `Retry-After`
 * when a quota is used up. Written for the mutation run over shared/ (docs/benchmarks.md, "Mutation
 * testing"): each case is one an edit of the code would change for a user.
 */
import { describe, expect, it } from "vitest";
import {
  accessKeyStatus,
  generateAccessKey,
  hashAccessKey,
  hashesEqual,
  isWellFormedAccessKey,
} from "#shared/domain/access-keys/access-key.ts";
import { extractCredentials } from "#shared/domain/access-keys/credentials.ts";
import {
  describeQuota,
  QuotaExceededError,
  quotaWindow,
  secondsUntilWindowEnds,
} from "#shared/domain/quotas/quota.ts";

describe("the credentials a request presents", () => {
  const KEY = "vb_abcdefghijklmnopqrstuvwxyz012345";

  it("reads `Authorization: Bearer <key>` in any case of the header name and the scheme", () => {
    expect(extractCredentials({ Authorization: `bearer  ${KEY} ` }, {})).toEqual({
      kind: "presented",
      key: KEY,
      source: "header",
    });
    expect(extractCredentials({ authorization: `Bearer\t${KEY}` }, {})).toEqual({
      kind: "presented",
      key: KEY,
      source: "header",
    });
  });

  it("lets a Bearer header win over the accesskey query parameter", () => {
    expect(extractCredentials({ authorization: `Bearer ${KEY}` }, { accesskey: "vb_other" })).toEqual({
      kind: "presented",
      key: KEY,
      source: "header",
    });
  });

  it("counts another scheme as a refused key, never falling back to the query parameter", () => {
    expect(extractCredentials({ authorization: "Basic dXNlcjpwYXNz" }, { accesskey: KEY })).toEqual({
      kind: "presented",
      key: "",
      source: "header",
    });
  });

  it("falls back to the query parameter when the header is absent, empty or a bare `Bearer`", () => {
    const fromQuery = { kind: "presented", key: KEY, source: "query" };
    expect(extractCredentials({}, { accesskey: KEY })).toEqual(fromQuery);
    expect(extractCredentials({ authorization: "" }, { accesskey: KEY })).toEqual(fromQuery);
    expect(extractCredentials({ authorization: "  " }, { accesskey: KEY })).toEqual(fromQuery);
    expect(extractCredentials({ authorization: "Bearer" }, { accesskey: KEY })).toEqual(fromQuery);
    expect(extractCredentials({ authorization: "Bearer   " }, { accesskey: KEY })).toEqual(fromQuery);
  });

  it("presents nothing without a header or with an empty query parameter", () => {
    expect(extractCredentials({}, {})).toEqual({ kind: "none" });
    expect(extractCredentials({ "x-other": "Bearer x" }, { accesskey: "" })).toEqual({ kind: "none" });
    expect(extractCredentials({ authorization: undefined }, {})).toEqual({ kind: "none" });
  });
});

describe("access keys", () => {
  it("mints vb_ + 32 base64url characters, well formed and different each time", () => {
    const a = generateAccessKey();
    expect(a).toMatch(/^vb_[A-Za-z0-9_-]{32}$/);
    expect(isWellFormedAccessKey(a)).toBe(true);
    expect(generateAccessKey()).not.toBe(a);
  });

  it("refuses keys with the wrong prefix, length or alphabet, or with anything around them", () => {
    const good = "vb_abcdefghijklmnopqrstuvwxyz012345";
    expect(isWellFormedAccessKey(good)).toBe(true);
    for (const bad of [
      "vc_abcdefghijklmnopqrstuvwxyz012345",
      "vb_abcdefghijklmnopqrstuvwxyz01234",
      "vb_abcdefghijklmnopqrstuvwxyz0123456",
      "vb_abcdefghijklmnopqrstuvwxyz01234+",
      ` ${good}`,
      `${good}\n`,
      `x${good}`,
    ]) {
      expect(isWellFormedAccessKey(bad), bad).toBe(false);
    }
  });

  it("stores the lower-case hex SHA-256 of the key, compared only as two well-formed digests", () => {
    const hash = hashAccessKey("vb_key");
    expect(hash).toBe("cdbf4b792f35aa23083d96223e60dfef3f74b1087f53eafc38dc1ef71bde2810");
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashesEqual(hash, hashAccessKey("vb_key"))).toBe(true);
    expect(hashesEqual(hash, hashAccessKey("vb_kez"))).toBe(false);
    expect(hashesEqual(hash.toUpperCase(), hash.toUpperCase())).toBe(false);
    expect(hashesEqual(hash, `${hash}0`)).toBe(false);
    expect(hashesEqual(`x${hash.slice(1)}`, `x${hash.slice(1)}`)).toBe(false);
    expect(hashesEqual(`${hash}\n`, hash)).toBe(false);
  });

  it("is revoked once revoked, expired from its expiry instant on, active otherwise", () => {
    const key = {
      key_id: "k",
      customer_id: "c",
      name: null,
      created_at: "2026-01-01T00:00:00.000Z",
      expires_at: "2026-02-01T00:00:00.000Z",
      revoked_at: null,
    };
    expect(accessKeyStatus(key, new Date("2026-01-31T23:59:59.999Z"))).toBe("active");
    expect(accessKeyStatus(key, new Date("2026-02-01T00:00:00.000Z"))).toBe("expired");
    expect(accessKeyStatus({ ...key, expires_at: null }, new Date("2099-01-01T00:00:00Z"))).toBe("active");
    expect(
      accessKeyStatus({ ...key, revoked_at: "2026-01-02T00:00:00.000Z" }, new Date("2026-01-03T00:00:00Z")),
    ).toBe("revoked");
  });
});

describe("quotas", () => {
  const perMinute = { limit: 10, windowSeconds: 60 };

  it("counts in windows aligned on the epoch", () => {
    expect(quotaWindow(perMinute, new Date("2026-12-01T10:05:59.999Z"))).toEqual({
      startS: Date.parse("2026-12-01T10:05:00Z") / 1000,
      endS: Date.parse("2026-12-01T10:06:00Z") / 1000,
    });
    expect(quotaWindow({ limit: 1, windowSeconds: 3600 }, new Date("2026-12-01T10:05:00Z"))).toEqual({
      startS: Date.parse("2026-12-01T10:00:00Z") / 1000,
      endS: Date.parse("2026-12-01T11:00:00Z") / 1000,
    });
  });

  it("tells the caller to retry after the whole seconds left in the window, at least 1", () => {
    const at = (iso: string) => {
      const now = new Date(iso);
      return secondsUntilWindowEnds(quotaWindow(perMinute, now), now);
    };
    expect(at("2026-12-01T10:05:00.000Z")).toBe(60);
    expect(at("2026-12-01T10:05:30.500Z")).toBe(30);
    expect(at("2026-12-01T10:05:59.001Z")).toBe(1);
    expect(secondsUntilWindowEnds({ startS: 0, endS: 60 }, new Date(61_000))).toBe(1);
  });

  it("names the quota in the 429's message", () => {
    expect(describeQuota("test_event", perMinute)).toBe("10 test events per minute");
    expect(describeQuota("retry", { limit: 100, windowSeconds: 3600 })).toBe("100 manual retries per hour");
    expect(describeQuota("recover", { limit: 5, windowSeconds: 86_400 })).toBe("5 recover calls per day");
    expect(describeQuota("recover", { limit: 5, windowSeconds: 90 })).toBe("5 recover calls per 90 seconds");
    const error = new QuotaExceededError("retry", { limit: 3, windowSeconds: 60 }, 17);
    expect(error).toMatchObject({
      code: "QUOTA_EXCEEDED",
      name: "QuotaExceededError",
      retryAfterSeconds: 17,
    });
    expect(error.message).toBe("quota exceeded: at most 3 manual retries per minute; retry after 17 s");
  });
});
