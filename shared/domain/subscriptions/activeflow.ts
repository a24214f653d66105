/**
 * Activeflow destinations (PRODUCT §11, issue 21): an activeflow VoIPBIN created with its own
 * `webhook_uri` also receives every event whose `data.activeflow_id` names it, in addition to the
 * customer's own deliveries, signed with the customer's legacy secret and sent with the legacy
 * profile. Pure: parsing the flow-manager's events and the inline `Detail.activeflow_webhook`, and the
 * destination's derived id. Storage: shared/adapters/dynamodb/activeflow-destinations.ts.
 */
import { derivedUuid } from "../ids.ts";
import { LEGACY_METHODS, normalizeTmUpdate } from "./managed.ts";
import { MAX_URL_LENGTH, type SubscriptionMethod } from "./subscription.ts";

export const ACTIVEFLOW_SOURCE = "voipbin.flow-manager";
export const ACTIVEFLOW_TYPES = ["activeflow_created", "activeflow_updated", "activeflow_deleted"] as const;

/**
 * How long a destination lives without news of its activeflow (VoIPBIN's own cache keeps one 24
 * hours): every activeflow event renews it; DynamoDB's TTL then deletes it.
 */
export const ACTIVEFLOW_DESTINATION_IDLE_SECONDS = 24 * 3600;

export function isActiveflowEvent(source: string, type: string): boolean {
  return source === ACTIVEFLOW_SOURCE && (ACTIVEFLOW_TYPES as readonly string[]).includes(type);
}

/** Where an activeflow's events also go. */
export interface ActiveflowTarget {
  readonly url: string;
  readonly method: SubscriptionMethod;
}

/** A live destination as the customer sees it (read-only: VoIPBIN's flow-manager keeps it). */
export interface ActiveflowDestination extends ActiveflowTarget {
  readonly activeflowId: string;
  readonly updatedAt: string;
  /** When it goes away without further news of its activeflow (ACTIVEFLOW_DESTINATION_IDLE_SECONDS). */
  readonly expiresAt: string;
}

/** One version of an activeflow's destination, from a flow-manager event. */
export interface ActiveflowVersion {
  readonly activeflowId: string;
  /** Ordered like a customer's tm_update (normalizeTmUpdate); deletion > update > creation time. */
  readonly version: string;
  /** null: no destination (an empty webhook_uri, or deleted). */
  readonly target: ActiveflowTarget | null;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** A destination as VoIPBIN states it (`uri`, `method`), or null when it is not one we can deliver to. */
export function activeflowTargetOf(uri: unknown, method: unknown): ActiveflowTarget | null {
  if (typeof uri !== "string" || uri === "" || uri.length > MAX_URL_LENGTH || /\s/.test(uri)) return null;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return null;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") return null;
  const resolved = LEGACY_METHODS[method === undefined || method === null ? "" : String(method)];
  return resolved === undefined ? null : { url: uri, method: resolved };
}

/**
 * The destination an activeflow event states, or null when the event says nothing usable about one
 * (no activeflow id, no time): such an event is still delivered as usual, it just changes no
 * destination.
 */
export function parseActiveflowVersion(
  type: string,
  data: Readonly<Record<string, unknown>>,
): ActiveflowVersion | null {
  const id = data.id;
  if (typeof id !== "string" || !UUID.test(id)) return null;
  const version =
    normalizeTmUpdate(data.tm_delete) ??
    normalizeTmUpdate(data.tm_update) ??
    normalizeTmUpdate(data.tm_create);
  if (version === null) return null;
  const deleted = type === "activeflow_deleted" || normalizeTmUpdate(data.tm_delete) !== null;
  return {
    activeflowId: id.toLowerCase(),
    version,
    target: deleted ? null : activeflowTargetOf(data.webhook_uri, data.webhook_method),
  };
}

const DESTINATION_ID_DOMAIN = "voipbin-webhooks/activeflow-destination/v1";

/**
 * The destination's id (UUID version 8 of SHA-256 of the activeflow id): the `subscription_id` of its
 * deliveries, so that an event's delivery there has a `webhook-id` of its own, stable on every attempt.
 */
export function activeflowDestinationId(activeflowId: string): string {
  return derivedUuid(DESTINATION_ID_DOMAIN, activeflowId.toLowerCase());
}

/** The activeflow an event's data names, lower-cased, or null. */
export function activeflowIdOf(data: Readonly<Record<string, unknown>>): string | null {
  const id = data.activeflow_id;
  return typeof id === "string" && UUID.test(id) && id !== "00000000-0000-0000-0000-000000000000"
    ? id.toLowerCase()
    : null;
}
