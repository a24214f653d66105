import { BUILT_IN_CATALOGUE, type EventCatalogue } from "../events/runtime-catalogue.ts";
import type { ResourceData } from "../events/schemas.ts";
import { uuidv7 } from "../ids.ts";
import { generateSecret } from "../signing.ts";
import { matchesFilter, type PayloadFilter } from "./filter.ts";

export const SUBSCRIPTION_METHODS = ["POST", "PUT", "GET", "DELETE"] as const;

/**
 * PRODUCT §3: a subscription URL is at most 2048 characters. Here rather than in validation.ts, so
 * that the functions which only send to a URL (delivery, router) do not build the API's schemas.
 */
export const MAX_URL_LENGTH = 2048;
export type SubscriptionMethod = (typeof SUBSCRIPTION_METHODS)[number];

/** Delivery profiles (PRODUCT §11): ours (§4), and VoIPBIN's outcome rules with our durability. */
export const DELIVERY_PROFILES = ["standard", "legacy"] as const;
export type DeliveryProfile = (typeof DELIVERY_PROFILES)[number];

/**
 * The system's own event types (`webhook_test`, `webhook_subscription_disabled`, …): a legacy
 * subscription's `*` leaves them out, since VoIPBIN's sender never sent them to the customer's URL.
 */
export const isSystemEventType = (type: string): boolean => type.startsWith("webhook_");

export const DISABLED_REASONS = ["manual", "endpoint_gone", "failing"] as const;
export type DisabledReason = (typeof DISABLED_REASONS)[number];

/** A subscription as the domain sees it, without its secrets. */
export interface Subscription {
  readonly id: string;
  readonly customer_id: string;
  readonly url: string;
  readonly method: SubscriptionMethod;
  readonly event_types: readonly string[];
  readonly activeflow_id: string | null;
  readonly description: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly status: "enabled" | "disabled";
  readonly disabled_reason: DisabledReason | null;
  readonly created_at: string;
  readonly updated_at: string;
  /** When the current unbroken run of failed attempts began; null when the last attempt succeeded. */
  readonly failing_since: string | null;
  /**
   * Set on a managed subscription (PRODUCT §11): kept by VoIPBIN's control events, read-only for the
   * customer, outside the subscription limit. Absent on the customer's own subscriptions.
   */
  readonly managed_by?: string;
  /** Absent means `standard`. */
  readonly delivery_profile?: DeliveryProfile;
  /** A payload filter over the event's `data` (PRODUCT §12, ./filter.ts); absent: every event. */
  readonly filter?: PayloadFilter;
}

/** The signing secrets of a subscription: the current one and, during rotation, the previous one. */
export interface SubscriptionSecrets {
  readonly secret: string;
  readonly previous_secret: string | null;
  readonly previous_secret_expires_at: string | null;
}

export type SubscriptionWithSecrets = Subscription & SubscriptionSecrets;

/**
 * A new, enabled subscription for every event type with a fresh secret, as the API creates it,
 * with any field given instead: what the local tools (bench, chaos) and the tests store directly.
 */
export function newSubscription(
  fields: Partial<SubscriptionWithSecrets> & Pick<SubscriptionWithSecrets, "customer_id" | "url">,
  now: Date = new Date(),
): SubscriptionWithSecrets {
  const at = now.toISOString();
  return {
    id: uuidv7(now.getTime()),
    method: "POST",
    event_types: ["*"],
    activeflow_id: null,
    description: null,
    headers: {},
    status: "enabled",
    disabled_reason: null,
    created_at: at,
    updated_at: at,
    failing_since: null,
    secret: generateSecret(),
    previous_secret: null,
    previous_secret_expires_at: null,
    ...fields,
  };
}

/**
 * Whether an event goes to this subscription: enabled, one of its patterns matches the type, and,
 * when it filters on an activeflow, the event's data carries that activeflow id, and its payload
 * filter, if any, matches the data.
 */
export function subscriptionMatches(
  subscription: Pick<
    Subscription,
    "status" | "activeflow_id" | "event_types" | "delivery_profile" | "filter"
  >,
  eventType: string,
  data: ResourceData,
  catalogue: EventCatalogue = BUILT_IN_CATALOGUE,
): boolean {
  if (subscription.status !== "enabled") return false;
  if (subscription.delivery_profile === "legacy" && isSystemEventType(eventType)) return false;

  if (subscription.activeflow_id !== null) {
    const activeflowId = data.activeflow_id;
    if (typeof activeflowId !== "string" || activeflowId.toLowerCase() !== subscription.activeflow_id)
      return false;
  }
  if (!subscription.event_types.some((pattern) => catalogue.matches(pattern, eventType))) return false;
  // Last: the cheap checks above turn most events away before the filter walks the data.
  return subscription.filter === undefined || matchesFilter(subscription.filter, data);
}

/** The secrets that sign a delivery now: the current one first, then the previous one while its overlap lasts. */
export function signingSecrets(secrets: SubscriptionSecrets, now: Date): string[] {
  const valid = [secrets.secret];
  if (
    secrets.previous_secret !== null &&
    secrets.previous_secret_expires_at !== null &&
    Date.parse(secrets.previous_secret_expires_at) > now.getTime()
  ) {
    valid.push(secrets.previous_secret);
  }
  return valid;
}

/** The subscription as published outside (API responses, operational events): never the secrets. */
export function publicSubscription(subscription: Subscription): PublicSubscription {
  return {
    id: subscription.id,
    customer_id: subscription.customer_id,
    url: subscription.url,
    method: subscription.method,
    event_types: subscription.event_types,
    activeflow_id: subscription.activeflow_id,
    description: subscription.description,
    headers: subscription.headers,
    status: subscription.status,
    disabled_reason: subscription.disabled_reason,
    created_at: subscription.created_at,
    updated_at: subscription.updated_at,
    managed: subscription.managed_by !== undefined,
    managed_by: subscription.managed_by ?? null,
    delivery_profile: subscription.delivery_profile ?? "standard",
    filter: subscription.filter ?? null,
  };
}

export type PublicSubscription = Omit<
  Subscription,
  "failing_since" | "managed_by" | "delivery_profile" | "filter"
> & {
  readonly filter: PayloadFilter | null;
  readonly managed: boolean;
  readonly managed_by: string | null;
  readonly delivery_profile: DeliveryProfile;
};
