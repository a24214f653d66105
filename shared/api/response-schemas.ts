/**
 * What the API answers (PRODUCT §5), as zod schemas for the OpenAPI document: the routes name their
 * answer's schema here by its export name (shared/api/routes.ts `success.response`), which types the
 * route's handler, but only the document generator (shared/api/openapi.ts) loads this module, so the
 * API function neither bundles these schemas nor builds them at cold start.
 */
import * as z from "zod/mini";
import { DEAD_REASONS } from "../domain/delivery/delivery.ts";
import { STATS_WINDOWS, type StatsWindow } from "../domain/delivery/stats.ts";
import { withMeta } from "../domain/schema-meta.ts";
import {
  DELIVERY_PROFILES,
  DISABLED_REASONS,
  SUBSCRIPTION_METHODS,
} from "../domain/subscriptions/subscription.ts";
import { ERROR_CODES } from "./errors.ts";
import { deliveryStatusSchema, EXAMPLE_SUBSCRIPTION_ID } from "./schemas.ts";

const instant = (description: string, example = "2026-11-20T09:17:41.123Z") =>
  withMeta(z.string(), { format: "date-time", description, example });

/** Shorthands for the response fields, which are described for the OpenAPI document only. */
const text = (meta: z.core.GlobalMeta = {}) => withMeta(z.string(), meta);
const int = (meta: z.core.GlobalMeta = {}) => withMeta(z.number().check(z.int()), meta);

const EXAMPLE_CUSTOMER_ID = "5e4a0680-804e-11ec-8477-2fea5968d85b";
const EXAMPLE_DELIVERY_ID = "3f2a1b0c-9d8e-8f7a-b6c5-d4e3f2a1b0c9";
const EXAMPLE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw9zJ3UEvD0sA=";

// ---------------------------------------------------------------- responses

export const subscriptionSchema = withMeta(
  z.object({
    id: text({ format: "uuid", example: EXAMPLE_SUBSCRIPTION_ID }),
    customer_id: text({ format: "uuid", example: EXAMPLE_CUSTOMER_ID }),
    url: text({ example: "https://example.com/webhooks/voipbin" }),
    method: z.enum(SUBSCRIPTION_METHODS),
    event_types: withMeta(z.array(z.string()), { example: ["call_hangup", "message_*"] }),
    activeflow_id: withMeta(z.nullable(z.string()), { format: "uuid" }),
    description: z.nullable(z.string()),
    headers: withMeta(z.record(z.string(), z.string()), { example: { "x-customer-token": "s3cr3t" } }),
    filter: withMeta(z.nullable(z.record(z.string(), z.unknown())), {
      description:
        'The payload filter over the event\'s `data` (docs/api.md, "Payload filters"); null: every event of the subscribed types.',
    }),
    status: z.enum(["enabled", "disabled"]),
    disabled_reason: withMeta(z.nullable(z.enum(DISABLED_REASONS)), {
      description:
        "Why it is disabled: `manual` (by the API), `endpoint_gone` (410), `failing` (auto-disable).",
    }),
    created_at: instant("When it was created."),
    updated_at: instant("When it last changed."),
    managed: withMeta(z.boolean(), {
      description:
        "True for a subscription VoIPBIN keeps in step with the customer's webhook settings (the managed legacy subscription): read-only here (PATCH, DELETE and rotate answer 409 `MANAGED_SUBSCRIPTION`), not counted toward the subscription limit.",
    }),
    managed_by: withMeta(z.nullable(z.string()), {
      description: "Who keeps a managed subscription in step (`voipbin.customer-manager`); null otherwise.",
    }),
    failing: withMeta(
      z.nullable(
        z.object({
          since: instant("When the failing streak began: the first failed attempt since the last success."),
          auto_disable_at: instant(
            "When the subscription is disabled (`failing`) unless an attempt succeeds first.",
            "2026-11-25T09:17:41.123Z",
          ),
        }),
      ),
      {
        description:
          'The endpoint\'s failing streak while it lasts (docs/delivery.md, "Warnings before loss"); null when its last attempt succeeded, it has none yet, or it is disabled.',
      },
    ),
    delivery_profile: withMeta(z.enum(DELIVERY_PROFILES), {
      description:
        "`standard` (the outcome rules of docs/delivery.md) or `legacy` (VoIPBIN's own: only 5xx, timeouts and connection errors are retried, other statuses are final, redirects followed; docs/cutover.md).",
    }),
  }),
  {
    id: "Subscription",
    example: {
      id: EXAMPLE_SUBSCRIPTION_ID,
      customer_id: EXAMPLE_CUSTOMER_ID,
      url: "https://example.com/webhooks/voipbin",
      method: "POST",
      event_types: ["call_hangup", "message_*"],
      activeflow_id: null,
      description: "Production call events",
      headers: {},
      filter: null,
      status: "enabled",
      disabled_reason: null,
      created_at: "2026-11-20T09:17:41.123Z",
      updated_at: "2026-11-20T09:17:41.123Z",
      managed: false,
      managed_by: null,
      failing: null,
      delivery_profile: "standard",
    },
  },
);

const secretField = text({
  description:
    "The signing secret: `whsec_` + base64 of 32 bytes. Keep it secret. For a managed subscription, `whsec_` + base64 of the UTF-8 bytes of the customer's VoIPBIN `webhook_secret` (the key VoIPBIN's own sender uses).",
  example: EXAMPLE_SECRET,
});

export const createdSubscriptionSchema = withMeta(z.extend(subscriptionSchema, { secret: secretField }), {
  id: "SubscriptionWithSecret",
  description: "The new subscription, with its secret (shown here, by `GET …/secret`, and on rotation only).",
});

export const secretSchema = withMeta(z.object({ secret: secretField }), { id: "Secret" });

const listOf = <T extends z.ZodMiniType>(item: T, id: string) =>
  withMeta(
    z.object({
      items: z.array(item),
      next_cursor: withMeta(z.nullable(z.string()), {
        description: "Pass as `cursor` for the next page; null on the last page.",
      }),
    }),
    { id },
  );

export const subscriptionListSchema = listOf(subscriptionSchema, "SubscriptionList");

export const activeflowDestinationSchema = withMeta(
  z.object({
    id: text({
      format: "uuid",
      description: "The `subscription_id` of its deliveries (derived from the activeflow id).",
      example: "0c5e7a3b-41d2-8f6e-9a1b-2c3d4e5f6a7b",
    }),
    kind: withMeta(z.literal("activeflow"), { description: "Always `activeflow`." }),
    activeflow_id: text({ format: "uuid", example: "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d" }),
    url: text({ example: "https://example.com/flows/callback" }),
    method: z.enum(SUBSCRIPTION_METHODS),
    managed: withMeta(z.literal(true), {
      description:
        "Always true: VoIPBIN's flow-manager keeps it from the activeflow's `webhook_uri`; read-only here.",
    }),
    managed_by: withMeta(z.literal("voipbin.flow-manager"), { description: "Who keeps it in step." }),
    updated_at: instant("When the flow-manager last changed it."),
    expires_at: instant(
      "When it goes away unless its activeflow is heard of again (24 hours after the last activeflow event).",
    ),
  }),
  {
    id: "ActiveflowDestination",
    description:
      "Where an activeflow's own events also go (PRODUCT §11): every event whose `data.activeflow_id` names the activeflow, signed with the managed legacy subscription's secret and sent with the legacy profile.",
  },
);

export const activeflowDestinationListSchema = listOf(
  activeflowDestinationSchema,
  "ActiveflowDestinationList",
);

export const eventTypeSchema = withMeta(
  z.object({
    type: text({ example: "call_hangup" }),
    resource: text({ example: "call" }),
    description: z.string(),
    schema: withMeta(z.nullable(z.record(z.string(), z.unknown())), {
      description:
        "A JSON Schema (draft 2020-12) of the event's `data`, derived from VoIPBIN's webhook projection of the resource and shared by the resource's types; null for a type operators added at run time. A field is required when VoIPBIN always writes it (Go's encoding/json rules: not omitempty, or an id or a struct); unknown fields are allowed: VoIPBIN adds fields between releases, so a receiver should accept unknown ones.",
      example: { type: "object", properties: { id: { type: "string", format: "uuid" } }, required: ["id"] },
    }),
    example: withMeta(z.nullable(z.record(z.string(), z.unknown())), {
      description:
        "A realistic `data` of this type (it validates against `schema`); `POST /v1/subscriptions/{id}/test` with `event_type` sends it. Null for a type operators added at run time.",
      example: { id: "6e8e2d3a-5b1f-4c8e-9d0a-1f2e3d4c5b6a", status: "hangup", hangup_reason: "normal" },
    }),
  }),
  { id: "EventType" },
);

export const eventTypeListSchema = withMeta(listOf(eventTypeSchema, "EventTypeList"), {
  description:
    "The whole catalogue in one page (`next_cursor` is always null), each type with its `schema` and `example` (about 200 KB in all; `GET /v1/event-types/{type}` gives one): the built-in types, then the types operators added at run time (`npm run ops -- event-types add`), within a minute of their addition.",
});

export const attemptRequestSchema = withMeta(
  z.object({
    method: text({ example: "POST" }),
    url: text({ example: "https://hooks.example.com/voipbin" }),
    headers: withMeta(z.record(z.string(), z.string()), {
      description:
        "Every header sent, signatures included (`webhook-id`, `webhook-timestamp`, `webhook-signature`, `x-voipbin-signature`, `content-type`, `user-agent`, custom headers).",
      example: { "content-type": "application/json", "webhook-id": "msg_5f0e8f7c2b1a4d3e9c8b7a6f5e4d3c2b" },
    }),
  }),
  { id: "DeliveryAttemptRequest" },
);

export const attemptSchema = withMeta(
  z.object({
    at: instant("When the attempt was sent."),
    status_code: withMeta(z.nullable(z.number().check(z.int())), {
      description: "The endpoint's status; null if none.",
      example: 503,
    }),
    error: withMeta(z.nullable(z.string()), {
      description:
        "Why no response counted (timeout, connection refused, blocked address …); null if it answered.",
      example: null,
    }),
    latency_ms: int({ example: 120 }),
    response_body: withMeta(z.nullable(z.string()), {
      description: "The start of the endpoint's answer (4 KiB at most).",
      example: "Service Unavailable",
    }),
    request: withMeta(z.nullable(attemptRequestSchema), {
      description:
        "What this attempt sent: method, URL and headers (the body is the delivery's payload, the same on every attempt). Null on attempts recorded before requests were kept.",
    }),
  }),
  { id: "DeliveryAttempt" },
);

const millis = (description: string, example: number) => int({ description, example });

/** "Why was it late?" (docs/delivery.md): shared/domain/delivery/lateness.ts. */
export const latenessSchema = withMeta(
  z.object({
    age_ms: millis(
      "From the event's time to the end of the last attempt (a delivery that is over), or to now; the sum of the parts below.",
      5_480,
    ),
    routing_ms: withMeta(z.nullable(z.number().check(z.int())), {
      description:
        "From the event's time until the router handed it on. Null where that instant is not read (a subscription's log, older events, test events): it is then counted in `queued_ms`.",
      example: 140,
    }),
    queued_ms: millis("On a queue, nothing holding it: waiting for the delivery function.", 95),
    fairness_ms: millis(
      "Held by fairness: deferred by the endpoint's breaker or per-endpoint cap, or waiting on the slow lane.",
      0,
    ),
    backoff_ms: millis("Waiting out the retry schedule after failed attempts.", 5_012),
    receiver_ms: millis(
      "The receiver's own time: each request from its start to its answer or timeout.",
      233,
    ),
    idle_ms: millis("Over (succeeded or dead) until a manual retry or a recovery opened it again.", 0),
  }),
  {
    id: "DeliveryTiming",
    description:
      'Where the delivery\'s time went (docs/delivery.md, "Why was it late?"), derived from what its record holds; the parts add up to `age_ms`.',
  },
);

export const deliverySchema = withMeta(
  z.object({
    id: text({ format: "uuid", example: EXAMPLE_DELIVERY_ID }),
    subscription_id: text({ format: "uuid", example: EXAMPLE_SUBSCRIPTION_ID }),
    event_id: text({ example: "0d9b2c1e-7f3a-4b2c-9e1d-4f5a6b7c8d9e" }),
    event_type: text({ example: "call_hangup" }),
    webhook_id: text({
      description: "The `webhook-id` header: the same on every attempt and redelivery.",
      example: "msg_5f0e8f7c2b1a4d3e9c8b7a6f5e4d3c2b",
    }),
    status: deliveryStatusSchema,
    dead_reason: withMeta(z.nullable(z.enum(DEAD_REASONS)), {
      description:
        "Why it is `dead` (null otherwise): `attempts_exhausted`, `endpoint_gone` (the endpoint answered 410), `subscription_disabled`, `subscription_deleted` (it was queued or retrying when that happened), `internal` (the queue gave up on it before our code did; see docs/delivery.md).",
      example: null,
    }),
    attempts: withMeta(z.array(attemptSchema), { description: "Every attempt, oldest first." }),
    next_attempt_at: withMeta(z.nullable(z.string()), {
      format: "date-time",
      description: "When the next attempt is due; null when none is.",
    }),
    created_at: instant("When it was first queued or attempted."),
    updated_at: instant("When it last changed."),
    timing: latenessSchema,
    body: withMeta(z.nullable(z.string()), {
      description:
        "The exact body sent on every attempt. Only `GET /v1/deliveries/{id}` and `GET /v1/events/{event_id}/deliveries` carry it; null in a subscription's log.",
      example: '{"type":"call_hangup","data":{"id":"6e8e2d3a-5b1f-4c8e-9d0a-1f2e3d4c5b6a"}}',
    }),
  }),
  { id: "Delivery" },
);

export const deliveryListSchema = listOf(deliverySchema, "DeliveryList");

export const deliveryAcceptedSchema = withMeta(
  z.object({ delivery_id: text({ format: "uuid", example: EXAMPLE_DELIVERY_ID }) }),
  { id: "DeliveryAccepted", description: "Look it up with `GET /v1/deliveries/{delivery_id}`." },
);

export const recoverAcceptedSchema = withMeta(
  z.object({
    count: int({ description: "Deliveries queued to be sent again.", example: 12 }),
    complete: withMeta(z.boolean(), {
      description:
        "False when the request's time budget ran out first: call again with `since` = `next_since`.",
      example: true,
    }),
    next_since: withMeta(z.nullable(z.string()), {
      format: "date-time",
      description: "Where to continue when `complete` is false; else null.",
    }),
  }),
  { id: "RecoverAccepted" },
);

export const openApiDocumentSchema = withMeta(z.record(z.string(), z.unknown()), {
  id: "OpenApiDocument",
  description: "This document.",
});

const errorCodes = Object.values(ERROR_CODES).flat();

export const errorSchema = withMeta(
  z.object({
    error: z.object({
      code: withMeta(z.enum(errorCodes as [string, ...string[]]), { description: "Stable: branch on it." }),
      message: text({ description: "For people; may change." }),
      details: withMeta(z.array(z.object({ path: z.string(), message: z.string() })), {
        description: "One entry per invalid field (VALIDATION_FAILED); empty otherwise.",
      }),
    }),
  }),
  {
    id: "Error",
    example: {
      error: {
        code: "VALIDATION_FAILED",
        message: "The request is not valid; see details.",
        details: [{ path: "url", message: "only https:// URLs are accepted" }],
      },
    },
  },
);

// ---------------------------------------------------------------- portal additions (PRODUCT §9)

const statsBucketSchema = withMeta(
  z.object({
    start: instant("Start of the hour (UTC).", "2026-11-20T09:00:00.000Z"),
    attempts: int({ example: 12 }),
    succeeded: int({ example: 11 }),
    failed: int({ example: 1 }),
  }),
  { id: "StatsBucket" },
);

export const subscriptionStatsSchema = withMeta(
  z.object({
    window: z.enum(Object.keys(STATS_WINDOWS) as [StatsWindow, ...StatsWindow[]]),
    from: instant("Start of the window (exclusive)."),
    to: instant("End of the window: now."),
    attempts: int({ description: "Attempts sent in the window.", example: 240 }),
    succeeded: int({ description: "Attempts answered 2xx.", example: 236 }),
    failed: int({
      description: "Attempts that failed: another status, a timeout, a connection error, a blocked address.",
      example: 4,
    }),
    success_rate: withMeta(z.nullable(z.number()), {
      description: "`succeeded / attempts` in [0, 1]; null without attempts.",
      example: 0.983,
    }),
    latency_ms: withMeta(
      z.object({
        p50: withMeta(z.nullable(z.number()), { example: 84 }),
        p95: withMeta(z.nullable(z.number()), { example: 410 }),
      }),
      { description: "Latency percentiles (nearest rank) of the attempts; null without attempts." },
    ),
    buckets: withMeta(z.array(statsBucketSchema), {
      description: "One per hour, oldest first: 25 for `24h`, 169 for `7d` (the partial hours at both ends).",
    }),
    complete: withMeta(z.boolean(), {
      description:
        "False when the log was too large to read in one request: then the newest deliveries were counted.",
      example: true,
    }),
  }),
  { id: "SubscriptionStats" },
);

export const eventDeliveryListSchema = withMeta(listOf(deliverySchema, "EventDeliveryList"), {
  description:
    "The deliveries of this event to the caller's subscriptions, oldest first, in one page (`next_cursor` is always null). Empty when it reached none of them.",
});

export const portalSessionSchema = withMeta(
  z.object({
    access_key: text({
      description: "An access key for this customer that expires at `expires_at`. Keep it out of URLs.",
      example: "vb_0123456789abcdefghijklmnopqrstuv",
    }),
    customer_id: text({ format: "uuid", example: EXAMPLE_CUSTOMER_ID }),
    expires_at: instant("When the session's key stops working."),
  }),
  { id: "PortalSession" },
);
