/**
 * Generated from docs/openapi.json by `npm run portal:types` (scripts/portal-types.ts): do not edit.
 * One type per schema of the API's document; portal/src/api.ts names the ones the portal reads.
 */

export interface ApiSchemas {
  CreateSubscriptionRequest?: CreateSubscriptionRequest;
  UpdateSubscriptionRequest?: UpdateSubscriptionRequest;
  TestEventRequest?: TestEventRequest;
  RecoverRequest?: RecoverRequest;
  PortalSessionRequest?: PortalSessionRequest;
  EventType?: EventType;
  EventTypeList?: EventTypeList;
  Error?: Error;
  SubscriptionWithSecret?: SubscriptionWithSecret;
  SubscriptionList?: SubscriptionList;
  Subscription?: Subscription;
  ActiveflowDestinationList?: ActiveflowDestinationList;
  ActiveflowDestination?: ActiveflowDestination;
  Secret?: Secret;
  DeliveryAccepted?: DeliveryAccepted;
  DeliveryList?: DeliveryList;
  Delivery?: Delivery;
  DeliveryAttempt?: DeliveryAttempt;
  DeliveryAttemptRequest?: DeliveryAttemptRequest;
  DeliveryTiming?: DeliveryTiming;
  RecoverAccepted?: RecoverAccepted;
  SubscriptionStats?: SubscriptionStats;
  StatsBucket?: StatsBucket;
  EventDeliveryList?: EventDeliveryList;
  PortalSession?: PortalSession;
  OpenApiDocument?: OpenApiDocument;
}
export interface CreateSubscriptionRequest {
  /**
   * Where deliveries are sent. `https://` (`http://` only where the deployment allows it), at most 2048 characters, no user-info; the host must not be or resolve to a blocked address (loopback, private, link-local, CGNAT, documentation, multicast, reserved …).
   */
  url: string;
  /**
   * HTTP method of each delivery.
   */
  method?: "POST" | "PUT" | "GET" | "DELETE";
  /**
   * Event types to deliver (see `GET /v1/event-types`). Duplicates are dropped.
   *
   * @minItems 1
   * @maxItems 100
   *
   * Items: An exact event type, a resource wildcard like `call_*`, or `*`.
   */
  event_types: [string, ...string[]];
  activeflow_id?: string | null;
  description?: string | null;
  headers?: {
    [k: string]: string;
  } | null;
  filter?: {
    [k: string]: unknown;
  } | null;
  /**
   * `disabled` stops deliveries (queued jobs are dropped); setting `enabled` again clears `disabled_reason` and the failing clock.
   */
  status?: "enabled" | "disabled";
}
/**
 * Only the fields present change; `null` clears `activeflow_id`, `description`, `headers` and `filter`.
 */
export interface UpdateSubscriptionRequest {
  /**
   * Where deliveries are sent. `https://` (`http://` only where the deployment allows it), at most 2048 characters, no user-info; the host must not be or resolve to a blocked address (loopback, private, link-local, CGNAT, documentation, multicast, reserved …).
   */
  url?: string;
  /**
   * HTTP method of each delivery.
   */
  method?: "POST" | "PUT" | "GET" | "DELETE";
  /**
   * Event types to deliver (see `GET /v1/event-types`). Duplicates are dropped.
   *
   * @minItems 1
   * @maxItems 100
   *
   * Items: An exact event type, a resource wildcard like `call_*`, or `*`.
   */
  event_types?: [string, ...string[]];
  activeflow_id?: string | null;
  description?: string | null;
  headers?: {
    [k: string]: string;
  } | null;
  filter?: {
    [k: string]: unknown;
  } | null;
  /**
   * `disabled` stops deliveries (queued jobs are dropped); setting `enabled` again clears `disabled_reason` and the failing clock.
   */
  status?: "enabled" | "disabled";
}
/**
 * Optional; without a body a `webhook_test` event is sent.
 */
export interface TestEventRequest {
  /**
   * A catalogue type the subscription selects: its example (`GET /v1/event-types`) is sent in VoIPBIN's envelope. Absent: a `webhook_test` event.
   */
  event_type?: string;
}
export interface RecoverRequest {
  /**
   * Re-send deliveries created at or after this instant.
   */
  since: string;
}
export interface PortalSessionRequest {
  /**
   * The token of a portal link (the part after `#link=`).
   */
  token: string;
}
export interface EventType {
  type: string;
  resource: string;
  description: string;
  /**
   * A JSON Schema (draft 2020-12) of the event's `data`, derived from VoIPBIN's webhook projection of the resource and shared by the resource's types; null for a type operators added at run time. A field is required when VoIPBIN always writes it (Go's encoding/json rules: not omitempty, or an id or a struct); unknown fields are allowed: VoIPBIN adds fields between releases, so a receiver should accept unknown ones.
   */
  schema: {
    [k: string]: unknown;
  } | null;
  /**
   * A realistic `data` of this type (it validates against `schema`); `POST /v1/subscriptions/{id}/test` with `event_type` sends it. Null for a type operators added at run time.
   */
  example: {
    [k: string]: unknown;
  } | null;
}
export interface EventTypeList {
  items: EventType[];
  /**
   * Pass as `cursor` for the next page; null on the last page.
   */
  next_cursor: string | null;
}
export interface Error {
  error: {
    /**
     * Stable: branch on it.
     */
    code:
      | "VALIDATION_FAILED"
      | "MALFORMED_JSON"
      | "AUTHENTICATION_REQUIRED"
      | "INVALID_CREDENTIALS"
      | "PORTAL_LINK_INVALID"
      | "PORTAL_LINK_EXPIRED"
      | "PORTAL_LINK_USED"
      | "NOT_FOUND"
      | "METHOD_NOT_ALLOWED"
      | "SUBSCRIPTION_LIMIT_REACHED"
      | "SUBSCRIPTION_DISABLED"
      | "SUBSCRIPTION_DELETED"
      | "DELIVERY_NOT_RETRYABLE"
      | "CONCURRENT_MODIFICATION"
      | "MANAGED_SUBSCRIPTION"
      | "PAYLOAD_TOO_LARGE"
      | "UNSUPPORTED_MEDIA_TYPE"
      | "RATE_LIMITED"
      | "QUOTA_EXCEEDED"
      | "INTERNAL_ERROR";
    /**
     * For people; may change.
     */
    message: string;
    /**
     * One entry per invalid field (VALIDATION_FAILED); empty otherwise.
     */
    details: {
      path: string;
      message: string;
    }[];
  };
}
/**
 * The new subscription, with its secret (shown here, by `GET …/secret`, and on rotation only).
 */
export interface SubscriptionWithSecret {
  id: string;
  customer_id: string;
  url: string;
  method: "POST" | "PUT" | "GET" | "DELETE";
  event_types: string[];
  activeflow_id: string | null;
  description: string | null;
  headers: {
    [k: string]: string;
  };
  /**
   * The payload filter over the event's `data` (docs/api.md, "Payload filters"); null: every event of the subscribed types.
   */
  filter: {
    [k: string]: unknown;
  } | null;
  status: "enabled" | "disabled";
  /**
   * Why it is disabled: `manual` (by the API), `endpoint_gone` (410), `failing` (auto-disable).
   */
  disabled_reason: ("manual" | "endpoint_gone" | "failing") | null;
  /**
   * When it was created.
   */
  created_at: string;
  /**
   * When it last changed.
   */
  updated_at: string;
  /**
   * True for a subscription VoIPBIN keeps in step with the customer's webhook settings (the managed legacy subscription): read-only here (PATCH, DELETE and rotate answer 409 `MANAGED_SUBSCRIPTION`), not counted toward the subscription limit.
   */
  managed: boolean;
  /**
   * Who keeps a managed subscription in step (`voipbin.customer-manager`); null otherwise.
   */
  managed_by: string | null;
  /**
   * The endpoint's failing streak while it lasts (docs/delivery.md, "Warnings before loss"); null when its last attempt succeeded, it has none yet, or it is disabled.
   */
  failing: {
    /**
     * When the failing streak began: the first failed attempt since the last success.
     */
    since: string;
    /**
     * When the subscription is disabled (`failing`) unless an attempt succeeds first.
     */
    auto_disable_at: string;
  } | null;
  /**
   * `standard` (the outcome rules of docs/delivery.md) or `legacy` (VoIPBIN's own: only 5xx, timeouts and connection errors are retried, other statuses are final, redirects followed; docs/cutover.md).
   */
  delivery_profile: "standard" | "legacy";
  /**
   * The signing secret: `whsec_` + base64 of 32 bytes. Keep it secret. For a managed subscription, `whsec_` + base64 of the UTF-8 bytes of the customer's VoIPBIN `webhook_secret` (the key VoIPBIN's own sender uses).
   */
  secret: string;
}
export interface SubscriptionList {
  items: Subscription[];
  /**
   * Pass as `cursor` for the next page; null on the last page.
   */
  next_cursor: string | null;
}
export interface Subscription {
  id: string;
  customer_id: string;
  url: string;
  method: "POST" | "PUT" | "GET" | "DELETE";
  event_types: string[];
  activeflow_id: string | null;
  description: string | null;
  headers: {
    [k: string]: string;
  };
  /**
   * The payload filter over the event's `data` (docs/api.md, "Payload filters"); null: every event of the subscribed types.
   */
  filter: {
    [k: string]: unknown;
  } | null;
  status: "enabled" | "disabled";
  /**
   * Why it is disabled: `manual` (by the API), `endpoint_gone` (410), `failing` (auto-disable).
   */
  disabled_reason: ("manual" | "endpoint_gone" | "failing") | null;
  /**
   * When it was created.
   */
  created_at: string;
  /**
   * When it last changed.
   */
  updated_at: string;
  /**
   * True for a subscription VoIPBIN keeps in step with the customer's webhook settings (the managed legacy subscription): read-only here (PATCH, DELETE and rotate answer 409 `MANAGED_SUBSCRIPTION`), not counted toward the subscription limit.
   */
  managed: boolean;
  /**
   * Who keeps a managed subscription in step (`voipbin.customer-manager`); null otherwise.
   */
  managed_by: string | null;
  /**
   * The endpoint's failing streak while it lasts (docs/delivery.md, "Warnings before loss"); null when its last attempt succeeded, it has none yet, or it is disabled.
   */
  failing: {
    /**
     * When the failing streak began: the first failed attempt since the last success.
     */
    since: string;
    /**
     * When the subscription is disabled (`failing`) unless an attempt succeeds first.
     */
    auto_disable_at: string;
  } | null;
  /**
   * `standard` (the outcome rules of docs/delivery.md) or `legacy` (VoIPBIN's own: only 5xx, timeouts and connection errors are retried, other statuses are final, redirects followed; docs/cutover.md).
   */
  delivery_profile: "standard" | "legacy";
}
export interface ActiveflowDestinationList {
  items: ActiveflowDestination[];
  /**
   * Pass as `cursor` for the next page; null on the last page.
   */
  next_cursor: string | null;
}
/**
 * Where an activeflow's own events also go (PRODUCT §11): every event whose `data.activeflow_id` names the activeflow, signed with the managed legacy subscription's secret and sent with the legacy profile.
 */
export interface ActiveflowDestination {
  /**
   * The `subscription_id` of its deliveries (derived from the activeflow id).
   */
  id: string;
  /**
   * Always `activeflow`.
   */
  kind: "activeflow";
  activeflow_id: string;
  url: string;
  method: "POST" | "PUT" | "GET" | "DELETE";
  /**
   * Always true: VoIPBIN's flow-manager keeps it from the activeflow's `webhook_uri`; read-only here.
   */
  managed: true;
  /**
   * Who keeps it in step.
   */
  managed_by: "voipbin.flow-manager";
  /**
   * When the flow-manager last changed it.
   */
  updated_at: string;
  /**
   * When it goes away unless its activeflow is heard of again (24 hours after the last activeflow event).
   */
  expires_at: string;
}
export interface Secret {
  /**
   * The signing secret: `whsec_` + base64 of 32 bytes. Keep it secret. For a managed subscription, `whsec_` + base64 of the UTF-8 bytes of the customer's VoIPBIN `webhook_secret` (the key VoIPBIN's own sender uses).
   */
  secret: string;
}
/**
 * Look it up with `GET /v1/deliveries/{delivery_id}`.
 */
export interface DeliveryAccepted {
  delivery_id: string;
}
export interface DeliveryList {
  items: Delivery[];
  /**
   * Pass as `cursor` for the next page; null on the last page.
   */
  next_cursor: string | null;
}
export interface Delivery {
  id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  /**
   * The `webhook-id` header: the same on every attempt and redelivery.
   */
  webhook_id: string;
  /**
   * `pending`: queued, not attempted yet; `succeeded`; `failed`: the last attempt failed and another is scheduled; `dead`: no more attempts (`dead_reason` says why).
   */
  status: "pending" | "succeeded" | "failed" | "dead";
  /**
   * Why it is `dead` (null otherwise): `attempts_exhausted`, `endpoint_gone` (the endpoint answered 410), `subscription_disabled`, `subscription_deleted` (it was queued or retrying when that happened), `internal` (the queue gave up on it before our code did; see docs/delivery.md).
   */
  dead_reason:
    | (
        | "attempts_exhausted"
        | "endpoint_gone"
        | "subscription_disabled"
        | "subscription_deleted"
        | "internal"
        | "endpoint_rejected"
      )
    | null;
  /**
   * Every attempt, oldest first.
   */
  attempts: DeliveryAttempt[];
  /**
   * When the next attempt is due; null when none is.
   */
  next_attempt_at: string | null;
  /**
   * When it was first queued or attempted.
   */
  created_at: string;
  /**
   * When it last changed.
   */
  updated_at: string;
  timing: DeliveryTiming;
  /**
   * The exact body sent on every attempt. Only `GET /v1/deliveries/{id}` and `GET /v1/events/{event_id}/deliveries` carry it; null in a subscription's log.
   */
  body: string | null;
}
export interface DeliveryAttempt {
  /**
   * When the attempt was sent.
   */
  at: string;
  /**
   * The endpoint's status; null if none.
   */
  status_code: number | null;
  /**
   * Why no response counted (timeout, connection refused, blocked address …); null if it answered.
   */
  error: string | null;
  latency_ms: number;
  /**
   * The start of the endpoint's answer (4 KiB at most).
   */
  response_body: string | null;
  /**
   * What this attempt sent: method, URL and headers (the body is the delivery's payload, the same on every attempt). Null on attempts recorded before requests were kept.
   */
  request: DeliveryAttemptRequest | null;
}
export interface DeliveryAttemptRequest {
  method: string;
  url: string;
  /**
   * Every header sent, signatures included (`webhook-id`, `webhook-timestamp`, `webhook-signature`, `x-voipbin-signature`, `content-type`, `user-agent`, custom headers).
   */
  headers: {
    [k: string]: string;
  };
}
/**
 * Where the delivery's time went (docs/delivery.md, "Why was it late?"), derived from what its record holds; the parts add up to `age_ms`.
 */
export interface DeliveryTiming {
  /**
   * From the event's time to the end of the last attempt (a delivery that is over), or to now; the sum of the parts below.
   */
  age_ms: number;
  /**
   * From the event's time until the router handed it on. Null where that instant is not read (a subscription's log, older events, test events): it is then counted in `queued_ms`.
   */
  routing_ms: number | null;
  /**
   * On a queue, nothing holding it: waiting for the delivery function.
   */
  queued_ms: number;
  /**
   * Held by fairness: deferred by the endpoint's breaker or per-endpoint cap, or waiting on the slow lane.
   */
  fairness_ms: number;
  /**
   * Waiting out the retry schedule after failed attempts.
   */
  backoff_ms: number;
  /**
   * The receiver's own time: each request from its start to its answer or timeout.
   */
  receiver_ms: number;
  /**
   * Over (succeeded or dead) until a manual retry or a recovery opened it again.
   */
  idle_ms: number;
}
export interface RecoverAccepted {
  /**
   * Deliveries queued to be sent again.
   */
  count: number;
  /**
   * False when the request's time budget ran out first: call again with `since` = `next_since`.
   */
  complete: boolean;
  /**
   * Where to continue when `complete` is false; else null.
   */
  next_since: string | null;
}
export interface SubscriptionStats {
  window: "24h" | "7d";
  /**
   * Start of the window (exclusive).
   */
  from: string;
  /**
   * End of the window: now.
   */
  to: string;
  /**
   * Attempts sent in the window.
   */
  attempts: number;
  /**
   * Attempts answered 2xx.
   */
  succeeded: number;
  /**
   * Attempts that failed: another status, a timeout, a connection error, a blocked address.
   */
  failed: number;
  /**
   * `succeeded / attempts` in [0, 1]; null without attempts.
   */
  success_rate: number | null;
  /**
   * Latency percentiles (nearest rank) of the attempts; null without attempts.
   */
  latency_ms: {
    p50: number | null;
    p95: number | null;
  };
  /**
   * One per hour, oldest first: 25 for `24h`, 169 for `7d` (the partial hours at both ends).
   */
  buckets: StatsBucket[];
  /**
   * False when the log was too large to read in one request: then the newest deliveries were counted.
   */
  complete: boolean;
}
export interface StatsBucket {
  /**
   * Start of the hour (UTC).
   */
  start: string;
  attempts: number;
  succeeded: number;
  failed: number;
}
export interface EventDeliveryList {
  items: Delivery[];
  /**
   * Pass as `cursor` for the next page; null on the last page.
   */
  next_cursor: string | null;
}
export interface PortalSession {
  /**
   * An access key for this customer that expires at `expires_at`. Keep it out of URLs.
   */
  access_key: string;
  customer_id: string;
  /**
   * When the session's key stops working.
   */
  expires_at: string;
}
/**
 * This document.
 */
export interface OpenApiDocument {
  [k: string]: unknown;
}
