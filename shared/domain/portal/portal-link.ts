/**
 * Portal links (PRODUCT §9): an operator mints a short-lived link for one customer; the portal
 * exchanges its token, once, for a short-lived access key (docs/portal.md, "Portal links").
 *
 * The token is 32 random bytes, only its SHA-256 is stored (like an access key), it travels in the
 * URL fragment (never sent to a server, so never in an access log or a Referer), it works once, and
 * only until it expires. The key it is exchanged for expires an hour later.
 */
import { randomBytes } from "node:crypto";
import { hashAccessKey } from "../access-keys/access-key.ts";
import { CodedError } from "../errors.ts";

export const PORTAL_LINK_PREFIX = "vbpl_";
const PORTAL_LINK_BYTES = 32;
const PORTAL_LINK_PATTERN = /^vbpl_[A-Za-z0-9_-]{43}$/;

/** Default and greatest lifetime of a link before it is used. */
export const PORTAL_LINK_DEFAULT_SECONDS = 3600;
export const PORTAL_LINK_MAX_SECONDS = 24 * 3600;
/** Lifetime of the access key a link is exchanged for. */
export const PORTAL_SESSION_SECONDS = 3600;
/** The name the session's access key is listed under (`npm run keys -- list`). */
export const PORTAL_SESSION_KEY_NAME = "portal session";

export interface PortalLinkRecord {
  readonly link_hash: string;
  readonly customer_id: string;
  readonly created_at: string;
  readonly expires_at: string;
  readonly used_at: string | null;
}

/** Why a link is refused; each is its own stable API error code. */
export type PortalLinkRefusal = "invalid" | "expired" | "used";

const REFUSAL_CODES = {
  invalid: "PORTAL_LINK_INVALID",
  expired: "PORTAL_LINK_EXPIRED",
  used: "PORTAL_LINK_USED",
} as const;

export class PortalLinkRefusedError extends CodedError {
  override readonly name = "PortalLinkRefusedError";
  readonly code: (typeof REFUSAL_CODES)[PortalLinkRefusal];
  constructor(readonly reason: PortalLinkRefusal) {
    super(
      reason === "invalid"
        ? "this portal link is not valid"
        : reason === "expired"
          ? "this portal link has expired"
          : "this portal link has already been used",
    );
    this.code = REFUSAL_CODES[reason];
  }
}

export function generatePortalLinkToken(): string {
  return PORTAL_LINK_PREFIX + randomBytes(PORTAL_LINK_BYTES).toString("base64url");
}

export function isWellFormedPortalLinkToken(candidate: string): boolean {
  return PORTAL_LINK_PATTERN.test(candidate);
}

export const hashPortalLinkToken = (token: string): string => hashAccessKey(token);

/**
 * `30m`, `1h`, `90s`, `2h30m` → seconds; undefined for anything else. A bare number is minutes.
 */
export function parseLinkDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 60;
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(trimmed);
  if (match === null || trimmed === "") return undefined;
  const [, h = "0", m = "0", s = "0"] = match;
  return Number(h) * 3600 + Number(m) * 60 + Number(s);
}
