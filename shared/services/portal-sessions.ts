/**
 * Portal links and the sessions they open (PRODUCT §9, docs/portal.md "Portal links"). An operator
 * mints a link for one customer; the portal exchanges the link's token once, at the public
 * `POST /v1/portal/sessions`, for an access key that expires an hour later and then calls the
 * public API with it like any other client. No new kind of credential reaches the authorizer.
 */

import type { AccessKey } from "../domain/access-keys/access-key.ts";
import { isCanonicalUuid } from "../domain/ids.ts";
import {
  generatePortalLinkToken,
  hashPortalLinkToken,
  isWellFormedPortalLinkToken,
  PORTAL_LINK_DEFAULT_SECONDS,
  PORTAL_LINK_MAX_SECONDS,
  PORTAL_SESSION_KEY_NAME,
  PORTAL_SESSION_SECONDS,
  PortalLinkRefusedError,
} from "../domain/portal/portal-link.ts";
import { type Clock, systemClock } from "../domain/ports/clock.ts";
import type { PortalLinkRepository } from "../domain/ports/stores.ts";
import { type AccessKeyDependencies, InvalidAccessKeyRequestError, mintAccessKey } from "./access-keys.ts";

export interface PortalSessionDependencies {
  readonly portalLinks: Pick<PortalLinkRepository, "create" | "consume">;
  readonly accessKeys: AccessKeyDependencies["accessKeys"];
  readonly now?: Clock | undefined;
}

export interface MintedPortalLink {
  /** The token, shown once (in the link); only its SHA-256 is stored. */
  readonly token: string;
  readonly customerId: string;
  readonly expiresAt: string;
}

export async function mintPortalLink(
  request: { readonly customerId: string; readonly expiresInSeconds?: number | undefined },
  deps: PortalSessionDependencies,
): Promise<MintedPortalLink> {
  const customerId = request.customerId.toLowerCase();
  if (!isCanonicalUuid(customerId)) throw new InvalidAccessKeyRequestError("customer id must be a UUID");
  const seconds = request.expiresInSeconds ?? PORTAL_LINK_DEFAULT_SECONDS;
  if (!(Number.isInteger(seconds) && seconds > 0 && seconds <= PORTAL_LINK_MAX_SECONDS)) {
    throw new InvalidAccessKeyRequestError(
      `a portal link expires within ${PORTAL_LINK_MAX_SECONDS / 3600} hours (e.g. 15m, 1h, 24h)`,
    );
  }
  const now = (deps.now ?? systemClock)();
  const token = generatePortalLinkToken();
  const expiresAt = new Date(now.getTime() + seconds * 1000).toISOString();
  await deps.portalLinks.create({
    link_hash: hashPortalLinkToken(token),
    customer_id: customerId,
    created_at: now.toISOString(),
    expires_at: expiresAt,
    used_at: null,
  });
  return { token, customerId, expiresAt };
}

export interface PortalSession {
  /** The session's access key: held by the portal in sessionStorage, never in a URL. */
  readonly key: string;
  readonly accessKey: AccessKey;
}

export class PortalSessionService {
  constructor(private readonly deps: PortalSessionDependencies) {}

  /** Uses the link up and mints the session's key; throws PortalLinkRefusedError with the reason. */
  async exchange(token: string): Promise<PortalSession> {
    if (!isWellFormedPortalLinkToken(token)) throw new PortalLinkRefusedError("invalid");
    const now = (this.deps.now ?? systemClock)();
    const consumed = await this.deps.portalLinks.consume(hashPortalLinkToken(token), now);
    if (consumed.kind === "refused") throw new PortalLinkRefusedError(consumed.reason);
    const { key, accessKey } = await mintAccessKey(
      {
        customerId: consumed.link.customer_id,
        name: PORTAL_SESSION_KEY_NAME,
        expiresInDays: PORTAL_SESSION_SECONDS / 86_400,
      },
      { accessKeys: this.deps.accessKeys, now: () => now },
    );
    return { key, accessKey };
  }
}
