/**
 * The customer portal's static files, served by the API function at `/portal/` of the same HTTP API
 * (PRODUCT §9): the page then calls `/v1` on its own origin with the customer's key, like any other
 * client. Every answer carries a strict Content-Security-Policy: scripts, styles and requests only
 * from this origin, no inline script or style, no frames, no plugins (docs/portal.md, "Security").
 */
import type { PortalAssets } from "../adapters/portal-assets.ts";
import type { ApiEvent, ApiResult } from "./http.ts";

export const PORTAL_BASE_PATH = "/portal";

export const PORTAL_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": PORTAL_CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
  "strict-transport-security": "max-age=31536000",
} as const;

/** The routes the portal is served on (no authorizer: the files hold no customer data). */
export const PORTAL_ROUTES = [
  { method: "GET", path: PORTAL_BASE_PATH },
  { method: "GET", path: `${PORTAL_BASE_PATH}/{proxy+}` },
] as const;

/** The raw path relative to the API, with the stage prefix API Gateway keeps for a named stage. */
function relativePath(event: Pick<ApiEvent, "rawPath" | "requestContext">): string {
  const path = event.rawPath ?? "/";
  const stage = event.requestContext?.stage;
  return stage && stage !== "$default" && path.startsWith(`/${stage}/`) ? path.slice(stage.length + 1) : path;
}

export function isPortalRequest(event: Pick<ApiEvent, "rawPath" | "requestContext">): boolean {
  const path = relativePath(event);
  return path === PORTAL_BASE_PATH || path.startsWith(`${PORTAL_BASE_PATH}/`);
}

function textResult(status: number, text: string, headers: Record<string, string> = {}): ApiResult {
  return {
    statusCode: status,
    headers: {
      ...SECURITY_HEADERS,
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
    body: text,
  };
}

/**
 * Answers a request under /portal: `/portal` redirects to `/portal/` (the page's relative URLs need
 * the slash), `/portal/` is index.html, `/portal/<file>` a built file, anything else 404. Only GET
 * and HEAD. `assets` is null where the portal was not built into this deployment.
 */
export function portalResponse(
  event: Pick<ApiEvent, "rawPath" | "requestContext">,
  assets: PortalAssets | null,
): ApiResult {
  const method = (event.requestContext?.http?.method ?? "GET").toUpperCase();
  if (method !== "GET" && method !== "HEAD") {
    return textResult(405, "Method Not Allowed\n", { allow: "GET, HEAD" });
  }
  const path = relativePath(event);
  if (path === PORTAL_BASE_PATH) {
    const stage = event.requestContext?.stage;
    const prefix =
      stage && stage !== "$default" && event.rawPath?.startsWith(`/${stage}/`) ? `/${stage}` : "";
    return textResult(308, "See /portal/\n", { location: `${prefix}${PORTAL_BASE_PATH}/` });
  }
  if (assets === null) return textResult(503, "The portal is not part of this deployment.\n");
  const name = path.slice(PORTAL_BASE_PATH.length + 1) || "index.html";
  const asset = assets.get(name);
  if (asset === undefined) return textResult(404, "Not Found\n");
  return {
    statusCode: 200,
    headers: {
      ...SECURITY_HEADERS,
      "content-type": asset.contentType,
      "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    },
    body: method === "HEAD" ? "" : asset.body,
  };
}
