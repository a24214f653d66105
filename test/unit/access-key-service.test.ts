import { describe, expect, it } from "vitest";
import { hashAccessKey } from "#shared/domain/access-keys/access-key.ts";
import { PORTAL_SESSION_KEY_NAME, PortalLinkRefusedError } from "#shared/domain/portal/portal-link.ts";
import {
  authenticate,
  InvalidAccessKeyRequestError,
  listAccessKeys,
  mintAccessKey,
  revokeAccessKey,
} from "#shared/services/access-keys.ts";
import { mintPortalLink, PortalSessionService } from "#shared/services/portal-sessions.ts";
import { MemoryAccessKeys, MemoryPortalLinks } from "../support/memory-stores.ts";

/**
 * Access keys and portal links over in-memory stores: what an operator's `keys` and `portal-link`
 * commands answer, what the authorizer decides, and what is stored (a hash, never the key).
 */

const NOW = new Date("2026-12-01T10:00:00.000Z");
const CUSTOMER = "0190a000-0000-7000-8000-0000000000c1";

function keys(clock: () => Date = () => NOW) {
  const accessKeys = new MemoryAccessKeys();
  return { accessKeys, deps: { accessKeys, now: clock } };
}

const presented = (key: string) => ({ kind: "presented" as const, key, source: "header" as const });

describe("minting an access key", () => {
  it("stores its hash with the customer, name and expiry, and shows the key once", async () => {
    const { accessKeys, deps } = keys();
    const minted = await mintAccessKey(
      { customerId: CUSTOMER.toUpperCase(), name: "  ci  ", expiresInDays: 2 },
      deps,
    );
    expect(minted.key).toMatch(/^vb_/);
    expect(minted.accessKey).toEqual({
      key_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      customer_id: CUSTOMER,
      name: "ci",
      created_at: NOW.toISOString(),
      expires_at: "2026-12-03T10:00:00.000Z",
      revoked_at: null,
    });
    expect([...accessKeys.records.values()]).toEqual([
      { ...minted.accessKey, key_hash: hashAccessKey(minted.key) },
    ]);
    expect(JSON.stringify([...accessKeys.records.values()])).not.toContain(minted.key);
    const plain = await mintAccessKey({ customerId: CUSTOMER }, deps);
    expect(plain.accessKey).toMatchObject({ name: null, expires_at: null });
    expect(plain.key).not.toBe(minted.key);
  });

  it("accepts an expiry of up to ten years and a name of up to 128 characters", async () => {
    const { deps } = keys();
    const longest = await mintAccessKey(
      { customerId: CUSTOMER, name: "n".repeat(128), expiresInDays: 3650 },
      deps,
    );
    expect(longest.accessKey.expires_at).toBe(new Date(NOW.getTime() + 3650 * 86_400_000).toISOString());
    await expect(mintAccessKey({ customerId: CUSTOMER, expiresInDays: 0.5 }, deps)).resolves.toBeDefined();
  });

  it("refuses a customer id that is not a UUID, an empty or too long name, and an expiry out of range", async () => {
    const { accessKeys, deps } = keys();
    for (const [request, message] of [
      [{ customerId: "cust-1" }, "customer id must be a UUID"],
      [{ customerId: CUSTOMER, name: "   " }, "name must be 1 to 128 characters"],
      [{ customerId: CUSTOMER, name: "n".repeat(129) }, "name must be 1 to 128 characters"],
      [{ customerId: CUSTOMER, expiresInDays: 0 }, "expiry must be a number of days in (0, 3650]"],
      [{ customerId: CUSTOMER, expiresInDays: -1 }, "expiry must be a number of days in (0, 3650]"],
      [{ customerId: CUSTOMER, expiresInDays: 3651 }, "expiry must be a number of days in (0, 3650]"],
      [{ customerId: CUSTOMER, expiresInDays: Number.NaN }, "expiry must be a number of days in (0, 3650]"],
      [
        { customerId: CUSTOMER, expiresInDays: Number.POSITIVE_INFINITY },
        "expiry must be a number of days in (0, 3650]",
      ],
    ] as const) {
      const error = await mintAccessKey(request, deps).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidAccessKeyRequestError);
      expect((error as InvalidAccessKeyRequestError).message).toBe(message);
      expect((error as InvalidAccessKeyRequestError).code).toBe("ACCESS_KEY_REQUEST_INVALID");
      expect((error as InvalidAccessKeyRequestError).name).toBe("InvalidAccessKeyRequestError");
    }
    expect(accessKeys.records.size).toBe(0);
  });
});

describe("authenticating a request", () => {
  it("admits a live key as its customer and refuses the rest with the reason", async () => {
    let now = NOW;
    const { deps } = keys(() => now);
    const minted = await mintAccessKey({ customerId: CUSTOMER, expiresInDays: 1 }, deps);
    expect(await authenticate(presented(minted.key), deps)).toEqual({
      kind: "authenticated",
      customerId: CUSTOMER,
      keyId: minted.accessKey.key_id,
    });
    expect(await authenticate({ kind: "none" }, deps)).toEqual({ kind: "refused", reason: "missing" });
    expect(await authenticate(presented("not-a-key"), deps)).toEqual({
      kind: "refused",
      reason: "malformed",
    });
    expect(await authenticate(presented(`${minted.key.slice(0, -2)}AA`), deps)).toEqual({
      kind: "refused",
      reason: "unknown",
    });
    now = new Date(NOW.getTime() + 86_400_000);
    expect(await authenticate(presented(minted.key), deps)).toEqual({ kind: "refused", reason: "expired" });
    now = NOW;
    await revokeAccessKey(minted.accessKey.key_id, deps);
    expect(await authenticate(presented(minted.key), deps)).toEqual({ kind: "refused", reason: "revoked" });
  });

  it("refuses a record whose hash does not match the key presented (a store answering the wrong item)", async () => {
    const { accessKeys, deps } = keys();
    const minted = await mintAccessKey({ customerId: CUSTOMER }, deps);
    const other = await mintAccessKey({ customerId: CUSTOMER }, deps);
    accessKeys.getByHash = async () => accessKeys.records.get(other.accessKey.key_id) ?? null;
    expect(await authenticate(presented(minted.key), deps)).toEqual({ kind: "refused", reason: "unknown" });
  });
});

describe("listing and revoking keys", () => {
  it("lists a customer's keys without key or hash, and revokes once", async () => {
    const { deps } = keys();
    const a = await mintAccessKey({ customerId: CUSTOMER, name: "a" }, deps);
    await mintAccessKey({ customerId: "0190a000-0000-7000-8000-0000000000c2" }, deps);
    const listed = await listAccessKeys(CUSTOMER.toUpperCase(), deps);
    expect(listed).toEqual([a.accessKey]);
    expect(await revokeAccessKey(a.accessKey.key_id.toUpperCase(), deps)).toEqual({
      kind: "revoked",
      key: expect.objectContaining({ key_id: a.accessKey.key_id, revoked_at: NOW.toISOString() }),
    });
    expect((await revokeAccessKey(a.accessKey.key_id, deps)).kind).toBe("already_revoked");
    await expect(listAccessKeys("nope", deps)).rejects.toThrow("customer id must be a UUID");
    await expect(revokeAccessKey("nope", deps)).rejects.toThrow("key id must be a UUID (see `keys list`)");
  });
});

describe("portal links", () => {
  function portal(clock: () => Date = () => NOW) {
    const portalLinks = new MemoryPortalLinks();
    const accessKeys = new MemoryAccessKeys();
    const deps = { portalLinks, accessKeys, now: clock };
    return { portalLinks, accessKeys, deps, sessions: new PortalSessionService(deps) };
  }

  it("mints a link for an hour by default, up to 24 hours, storing only the token's hash", async () => {
    const { portalLinks, deps } = portal();
    const link = await mintPortalLink({ customerId: CUSTOMER.toUpperCase() }, deps);
    expect(link).toEqual({
      token: expect.stringMatching(/^vbpl_/),
      customerId: CUSTOMER,
      expiresAt: "2026-12-01T11:00:00.000Z",
    });
    expect([...portalLinks.records.values()]).toEqual([
      {
        link_hash: hashAccessKey(link.token),
        customer_id: CUSTOMER,
        created_at: NOW.toISOString(),
        expires_at: "2026-12-01T11:00:00.000Z",
        used_at: null,
      },
    ]);
    // `--expires-in 24h`, the documented maximum, is accepted.
    expect(
      (await mintPortalLink({ customerId: CUSTOMER, expiresInSeconds: 24 * 3600 }, deps)).expiresAt,
    ).toBe("2026-12-02T10:00:00.000Z");
    expect((await mintPortalLink({ customerId: CUSTOMER, expiresInSeconds: 1 }, deps)).expiresAt).toBe(
      "2026-12-01T10:00:01.000Z",
    );
    for (const seconds of [0, -60, 24 * 3600 + 1, 90.5]) {
      await expect(mintPortalLink({ customerId: CUSTOMER, expiresInSeconds: seconds }, deps)).rejects.toThrow(
        "a portal link expires within 24 hours (e.g. 15m, 1h, 24h)",
      );
    }
    await expect(mintPortalLink({ customerId: "x" }, deps)).rejects.toThrow("customer id must be a UUID");
    expect(portalLinks.records.size).toBe(3);
  });

  it("exchanges a link once for a portal-session key of the link's customer that expires an hour later", async () => {
    const { accessKeys, deps, sessions } = portal();
    const link = await mintPortalLink({ customerId: CUSTOMER }, deps);
    const session = await sessions.exchange(link.token);
    expect(session.accessKey).toMatchObject({
      customer_id: CUSTOMER,
      name: PORTAL_SESSION_KEY_NAME,
      created_at: NOW.toISOString(),
      expires_at: "2026-12-01T11:00:00.000Z",
    });
    expect(await authenticate(presented(session.key), { accessKeys, now: () => NOW })).toMatchObject({
      kind: "authenticated",
      customerId: CUSTOMER,
    });
    const again = await sessions.exchange(link.token).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(PortalLinkRefusedError);
    expect((again as PortalLinkRefusedError).reason).toBe("used");
    expect(accessKeys.records.size).toBe(1);
  });

  it("refuses a malformed, unknown or expired link without minting a key", async () => {
    let now = NOW;
    const { accessKeys, deps, sessions } = portal(() => now);
    const link = await mintPortalLink({ customerId: CUSTOMER, expiresInSeconds: 60 }, deps);
    const reasons: string[] = [];
    for (const token of ["nope", `vbpl_${"A".repeat(43)}`]) {
      reasons.push(
        ((await sessions.exchange(token).catch((e: unknown) => e)) as PortalLinkRefusedError).reason,
      );
    }
    now = new Date(NOW.getTime() + 60_000);
    reasons.push(
      ((await sessions.exchange(link.token).catch((e: unknown) => e)) as PortalLinkRefusedError).reason,
    );
    expect(reasons).toEqual(["invalid", "invalid", "expired"]);
    // A malformed token is refused without a lookup.
    expect(deps.portalLinks.consumed).toHaveLength(2);
    expect(accessKeys.records.size).toBe(0);
  });
});
