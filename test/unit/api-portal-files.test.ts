import { describe, expect, it } from "vitest";
import type { PortalAssets } from "#shared/adapters/portal-assets.ts";
import type { ApiEvent } from "#shared/api/http.ts";
import { isPortalRequest, PORTAL_CONTENT_SECURITY_POLICY, portalResponse } from "#shared/api/portal.ts";

/** The portal's static files as the API function serves them: status, headers and body a browser gets. */

const assets: PortalAssets = new Map([
  ["index.html", { body: "<!doctype html>", contentType: "text/html; charset=utf-8", immutable: false }],
  ["app.1a2b.js", { body: "console.log(1)", contentType: "text/javascript; charset=utf-8", immutable: true }],
]);

const event = (rawPath: string, method = "GET", stage = "$default") =>
  ({ rawPath, requestContext: { http: { method }, stage } }) as unknown as Pick<
    ApiEvent,
    "rawPath" | "requestContext"
  >;

const SECURITY = {
  "content-security-policy": PORTAL_CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
  "strict-transport-security": "max-age=31536000",
};

describe("the portal's files", () => {
  it("are recognised under /portal only, with or without a stage prefix", () => {
    expect(isPortalRequest(event("/portal"))).toBe(true);
    expect(isPortalRequest(event("/portal/app.js"))).toBe(true);
    expect(isPortalRequest(event("/prod/portal/", "GET", "prod"))).toBe(true);
    expect(isPortalRequest(event("/portalx"))).toBe(false);
    expect(isPortalRequest(event("/v1/subscriptions"))).toBe(false);
    expect(isPortalRequest(event("/x/portal", "GET", "prod"))).toBe(false);
    expect(isPortalRequest({ rawPath: undefined, requestContext: undefined } as never)).toBe(false);
  });

  it("serve index.html at /portal/ with no caching and every security header, and a hashed file for a year", () => {
    expect(portalResponse(event("/portal/"), assets)).toEqual({
      statusCode: 200,
      headers: { ...SECURITY, "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" },
      body: "<!doctype html>",
    });
    expect(portalResponse(event("/portal/app.1a2b.js"), assets)).toEqual({
      statusCode: 200,
      headers: {
        ...SECURITY,
        "content-type": "text/javascript; charset=utf-8",
        "cache-control": "public, max-age=31536000, immutable",
      },
      body: "console.log(1)",
    });
    // HEAD: the same headers, no body.
    const head = portalResponse(event("/portal/app.1a2b.js", "head"), assets);
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe("");
    // No method: a GET.
    expect(portalResponse({ rawPath: "/portal/", requestContext: {} } as never, assets).statusCode).toBe(200);
  });

  it("redirect /portal to /portal/ (keeping a stage prefix), and refuse other methods, unknown files and a missing build", () => {
    expect(portalResponse(event("/portal"), assets)).toEqual({
      statusCode: 308,
      headers: {
        ...SECURITY,
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
        location: "/portal/",
      },
      body: "See /portal/\n",
    });
    expect(portalResponse(event("/prod/portal", "GET", "prod"), assets).headers.location).toBe(
      "/prod/portal/",
    );
    expect(portalResponse(event("/prod/portal/x", "GET", "prod"), assets).statusCode).toBe(404);
    const staged = portalResponse(
      { rawPath: "/prod/portal", requestContext: { stage: "prod" } } as never,
      assets,
    );
    expect(staged.statusCode).toBe(308);
    const post = portalResponse(event("/portal/", "POST"), assets);
    expect(post).toEqual({
      statusCode: 405,
      headers: {
        ...SECURITY,
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
        allow: "GET, HEAD",
      },
      body: "Method Not Allowed\n",
    });
    expect(portalResponse(event("/portal/nothing.js"), assets)).toMatchObject({
      statusCode: 404,
      body: "Not Found\n",
    });
    expect(portalResponse(event("/portal/"), null)).toMatchObject({
      statusCode: 503,
      body: "The portal is not part of this deployment.\n",
    });
  });
});
