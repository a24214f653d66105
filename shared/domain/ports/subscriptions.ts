/**
 * Subscriptions as the use cases see them (the ports): the customer's own, the ones VoIPBIN manages,
 * and the activeflow destinations. The DynamoDB repositories (shared/adapters/dynamodb/) implement them.
 */
import type {
  ActiveflowDestination,
  ActiveflowTarget,
  ActiveflowVersion,
} from "../subscriptions/activeflow.ts";
import type { CustomerControl } from "../subscriptions/managed.ts";
import type { DisabledReason, Subscription, SubscriptionWithSecrets } from "../subscriptions/subscription.ts";

/** Fields the API may change on a subscription (PATCH); see SubscriptionRepository.update. */
export type SubscriptionChangeField =
  | "url"
  | "method"
  | "event_types"
  | "activeflow_id"
  | "description"
  | "headers"
  | "filter"
  | "status"
  | "disabled_reason"
  | "failing_since"
  | "updated_at";

export interface SubscriptionChange {
  readonly set: Partial<Record<SubscriptionChangeField, unknown>>;
  readonly remove: readonly SubscriptionChangeField[];
}

/** What the router needs to match an event; the secrets never leave the table on the routing path. */
export type RoutingSubscription = Pick<
  Subscription,
  "id" | "customer_id" | "event_types" | "activeflow_id" | "status" | "delivery_profile" | "filter"
>;

export interface SubscriptionRepository {
  /** The customer's subscriptions without their secrets, as the router matches events against them. */
  listForRouting(customerId: string): Promise<RoutingSubscription[]>;
  get(customerId: string, subscriptionId: string): Promise<SubscriptionWithSecrets | null>;
  /** False: there was none. */
  delete(customerId: string, subscriptionId: string): Promise<boolean>;
  create(subscription: SubscriptionWithSecrets): Promise<void>;
  /**
   * Starts the failing clock unless it already runs. True when this call started it: exactly one
   * failure per streak announces it.
   */
  markFailing(customerId: string, subscriptionId: string, since: string): Promise<boolean>;
  /**
   * Resets the failing clock. When the streak it ended began, or null when there was none: exactly
   * one success announces the recovery.
   */
  clearFailing(customerId: string, subscriptionId: string): Promise<string | null>;
  /** The subscription as disabled; null when it is gone. */
  disable(
    customerId: string,
    subscriptionId: string,
    reason: DisabledReason,
    now: Date,
  ): Promise<SubscriptionWithSecrets | null>;
  /** Takes one of the customer's `limit` subscription slots; false when they are all taken. */
  reserveSlot(customerId: string, limit: number, now: Date): Promise<boolean>;
  releaseSlot(customerId: string, now: Date): Promise<void>;
  countForCustomer(customerId: string): Promise<number>;
  listPage(
    customerId: string,
    options: { limit: number; afterId?: string | undefined },
  ): Promise<{ items: SubscriptionWithSecrets[]; hasMore: boolean }>;
  /** The subscription as changed; null when it is gone. */
  update(
    customerId: string,
    subscriptionId: string,
    change: SubscriptionChange,
  ): Promise<SubscriptionWithSecrets | null>;
  rotateSecret(
    customerId: string,
    subscriptionId: string,
    rotation: { expectedSecret: string; newSecret: string; previousExpiresAt: string; now: string },
  ): Promise<"rotated" | "conflict" | "not_found">;
}

/** What applying one version of a customer did (logged, and counted by the import's summary). */
export type ManagedChange = "created" | "updated" | "removed" | "unchanged" | "ignored_older";

export interface ManagedSubscriptionRepository {
  /** Applies one version of a customer: idempotent, and a no-op when a later version was applied. */
  apply(control: CustomerControl, now: Date): Promise<ManagedChange>;
}

export interface ActiveflowDestinationRepository {
  /** Applies one version of an activeflow's destination; `older`: a later version was applied. */
  apply(customerId: string, version: ActiveflowVersion, now: Date): Promise<"applied" | "older">;
  putInline(customerId: string, activeflowId: string, target: ActiveflowTarget, now: Date): Promise<void>;
  /** `none`: the activeflow has no destination; `unknown`: nothing is known of it. */
  lookup(customerId: string, activeflowId: string, now: Date): Promise<ActiveflowTarget | "none" | "unknown">;
  listPage(
    customerId: string,
    options: { limit: number; afterId?: string | undefined; now: Date },
  ): Promise<{ items: ActiveflowDestination[]; nextAfterId: string | null }>;
}
