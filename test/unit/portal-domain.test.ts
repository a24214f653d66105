import { describe, expect, it } from "vitest";
import { computeDeliveryStats, percentile } from "#shared/domain/delivery/stats.ts";
import {
  generatePortalLinkToken,
  isWellFormedPortalLinkToken,
  PortalLinkRefusedError,
  parseLinkDuration,
} from "#shared/domain/portal/portal-link.ts";

describe("delivery stats", () => {
  const now = new Date("2026-12-01T07:30:00.000Z");
  const at = (iso: string, status_code: number | null, latency_ms = 10) => ({
    at: iso,
    status_code,
    latency_ms,
  });

  it("counts only attempts inside (now − window, now], 2xx as success, into hourly buckets", () => {
    const stats = computeDeliveryStats(
      [
        at("2026-12-01T07:29:59.000Z", 200, 10),
        at("2026-12-01T07:00:00.000Z", 299, 20),
        at("2026-12-01T06:59:59.999Z", 300, 30),
        at("2026-12-01T06:10:00.000Z", null, 40),
        at("2026-11-30T07:30:00.000Z", 500, 50), // exactly 24 h ago: outside
        at("2026-12-01T07:30:00.001Z", 200, 60), // in the future: outside
      ],
      "24h",
      now,
    );
    expect(stats).toMatchObject({ attempts: 4, succeeded: 2, failed: 2, success_rate: 0.5 });
    expect(stats.latency_ms).toEqual({ p50: 20, p95: 40 });
    expect(stats.buckets).toHaveLength(25);
    expect(stats.buckets[0]?.start).toBe("2026-11-30T07:00:00.000Z");
    expect(stats.buckets.at(-1)).toEqual({
      start: "2026-12-01T07:00:00.000Z",
      attempts: 2,
      succeeded: 2,
      failed: 0,
    });
    expect(stats.buckets.at(-2)).toEqual({
      start: "2026-12-01T06:00:00.000Z",
      attempts: 2,
      succeeded: 0,
      failed: 2,
    });
  });

  it("has 169 hourly buckets for 7 days and nulls without attempts", () => {
    const stats = computeDeliveryStats([], "7d", now);
    expect(stats.buckets).toHaveLength(169);
    expect(stats).toMatchObject({ attempts: 0, success_rate: null, latency_ms: { p50: null, p95: null } });
  });

  it("takes percentiles by nearest rank", () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([7], 95)).toBe(7);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 100)).toBe(100);
  });
});

describe("portal links", () => {
  it("mints 256-bit url-safe tokens that the format check accepts, and nothing else", () => {
    const token = generatePortalLinkToken();
    expect(isWellFormedPortalLinkToken(token)).toBe(true);
    expect(generatePortalLinkToken()).not.toBe(token);
    expect(isWellFormedPortalLinkToken(`${token}x`)).toBe(false);
    expect(isWellFormedPortalLinkToken(token.replace("vbpl_", "vb_"))).toBe(false);
    expect(isWellFormedPortalLinkToken(`${token.slice(0, -1)}=`)).toBe(false);
  });

  it("reads durations in h, m and s (a bare number is minutes)", () => {
    expect(parseLinkDuration("1h")).toBe(3600);
    expect(parseLinkDuration("15m")).toBe(900);
    expect(parseLinkDuration("2h30m")).toBe(9000);
    expect(parseLinkDuration("90s")).toBe(90);
    expect(parseLinkDuration("30")).toBe(1800);
    for (const bad of ["", "h", "1d", "-1h", "1.5h", "soon"])
      expect(parseLinkDuration(bad), bad).toBeUndefined();
  });
});

describe("portal links: what a mutation run over shared/ found unguarded", () => {
  // Equivalent mutant: the "0" defaults of parseLinkDuration's absent parts emptied — Number("") is 0.
  it("reads --expires-in with spaces around it, two-digit hours, and nothing that is not a duration", () => {
    expect(parseLinkDuration(" 1h ")).toBe(3600);
    expect(parseLinkDuration("24h")).toBe(86_400);
    expect(parseLinkDuration("1h5s")).toBe(3605);
    expect(parseLinkDuration("x5")).toBeUndefined();
    expect(parseLinkDuration("5x")).toBeUndefined();
  });

  it("answers a refused link with its code and a message the customer reads", () => {
    const answer = (reason: "invalid" | "expired" | "used") => {
      const error = new PortalLinkRefusedError(reason);
      return { name: error.name, code: error.code, message: error.message };
    };
    expect(answer("invalid")).toEqual({
      name: "PortalLinkRefusedError",
      code: "PORTAL_LINK_INVALID",
      message: "this portal link is not valid",
    });
    expect(answer("expired")).toMatchObject({
      code: "PORTAL_LINK_EXPIRED",
      message: "this portal link has expired",
    });
    expect(answer("used")).toMatchObject({
      code: "PORTAL_LINK_USED",
      message: "this portal link has already been used",
    });
  });
});
