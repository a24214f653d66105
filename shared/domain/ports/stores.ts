/**
 * The smaller stores as the use cases see them (the ports): access keys, portal links, quota
 * counters, the shadow log and endpoint health. The DynamoDB repositories (shared/adapters/dynamodb/)
 * implement them.
 */
import type { AccessKeyRecord } from "../access-keys/access-key.ts";
import type { EndpointHealth, HealthChange } from "../delivery/endpoint-health.ts";
import type { PortalLinkRecord, PortalLinkRefusal } from "../portal/portal-link.ts";
import type { QuotaAction, QuotaRule } from "../quotas/quota.ts";

export type RevokeResult =
  | { readonly kind: "revoked"; readonly key: AccessKeyRecord }
  | { readonly kind: "already_revoked"; readonly key: AccessKeyRecord }
  | { readonly kind: "not_found" };

export interface AccessKeyRepository {
  create(record: AccessKeyRecord): Promise<void>;
  getByHash(keyHash: string, now?: Date): Promise<AccessKeyRecord | null>;
  getById(keyId: string, now?: Date): Promise<AccessKeyRecord | null>;
  listByCustomer(customerId: string, now?: Date): Promise<AccessKeyRecord[]>;
  /** Revoking twice keeps the first revocation time. */
  revoke(keyId: string, now: Date): Promise<RevokeResult>;
}

export type ConsumeResult =
  | { readonly kind: "consumed"; readonly link: PortalLinkRecord }
  | { readonly kind: "refused"; readonly reason: PortalLinkRefusal };

export interface PortalLinkRepository {
  create(record: PortalLinkRecord): Promise<void>;
  /** Marks the link used; of two exchanges racing with the same token exactly one wins. */
  consume(linkHash: string, now: Date): Promise<ConsumeResult>;
}

export interface QuotaCounterRepository {
  /** Counts one use of `action` in the rule's current window; false when the window's quota is spent. */
  tryConsume(customerId: string, action: QuotaAction, rule: QuotaRule, now: Date): Promise<boolean>;
}

/**
 * What a shadow delivery would have sent (PRODUCT §11, shadow mode): the request exactly as built and
 * signed, the body by its SHA-256. One line of `npm run ops -- shadow export`.
 */
export interface ShadowRecord {
  /** The event's time (the delivery's `created_at`): the same for a duplicate job of the same delivery. */
  readonly at: string;
  /** When the delivery function signed it (the `webhook-timestamp`'s instant). */
  readonly signed_at: string;
  readonly customer_id: string;
  readonly subscription_id: string;
  readonly event_id: string;
  readonly event_type: string;
  readonly delivery_id: string;
  readonly webhook_id: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body_sha256: string;
  readonly body_bytes: number;
}

/**
 * Hour partitions, each written over a few shards: a shadow period runs a whole customer's traffic
 * (or many customers') through here, and one partition takes at most 1,000 writes a second (DynamoDB
 * Developer Guide, "Best practices for designing and using partition keys effectively").
 */
export interface ShadowLogRepository {
  put(record: ShadowRecord, retentionDays: number): Promise<void>;
  list(options: { since: Date; until: Date; customerId?: string }): AsyncGenerator<ShadowRecord>;
}

/** Per-endpoint health (the circuit breaker's memory), shared by every delivery function. */
export interface EndpointHealthStore {
  load(urls: readonly string[], nowMs: number): Promise<Map<string, EndpointHealth>>;
  apply(url: string, change: HealthChange, nowMs: number): Promise<EndpointHealth>;
  /** One probe per endpoint at a time: true when this caller holds the lease. */
  claimProbe(url: string, nowMs: number, leaseMs: number): Promise<boolean>;
  /**
   * One main-lane attempt at a time to an endpoint not proven fast (docs/delivery.md, "The first
   * dial"): won, or lost with the state as it is now.
   */
  claimFirstDial(
    url: string,
    nowMs: number,
    leaseMs: number,
  ): Promise<{ readonly won: boolean; readonly health: EndpointHealth }>;
}
