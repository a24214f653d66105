/**
 * Request and response schemas of the API (PRODUCT §5). Requests are validated with these; the
 * OpenAPI document is generated from the same objects (shared/api/openapi.ts). Request bodies and
 * query strings are strict: an unknown field is a 400, so a typo never silently does nothing.
 */
import * as z from "zod";
import { DEAD_REASONS, DELIVERY_STATUSES } from "../domain/delivery/delivery.ts";
import { STATS_WINDOWS, type StatsWindow } from "../domain/delivery/stats.ts";
import { uuidString } from "../domain/events/schemas.ts";
import { DISABLED_REASONS, SUBSCRIPTION_METHODS } from "../domain/subscriptions/subscription.ts";
import { ERROR_CODES } from "./errors.ts";

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

const instant = (description: string, example = "2026-11-20T09:17:41.123Z") =>
  z.string().meta({ format: "date-time", description, example });

const EXAMPLE_SUBSCRIPTION_ID = "019a9c4e-6b2f-7c1d-9e0a-3b5c7d9e1f20";
const EXAMPLE_CUSTOMER_ID = "5e4a0680-804e-11ec-8477-2fea5968d85b";
const EXAMPLE_DELIVERY_ID = "3f2a1b0c-9d8e-8f7a-b6c5-d4e3f2a1b0c9";
const EXAMPLE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw9zJ3UEvD0sA=";

// ---------------------------------------------------------------- parameters

export const idPathSchema = z.strictObject({
  id: uuidString.meta({ description: "The resource id (a UUID).", example: EXAMPLE_SUBSCRIPTION_ID }),
});

const limitSchema = z.coerce
  .number()
  .int()
  .min(1)
  .max(MAX_PAGE_SIZE)
  .default(DEFAULT_PAGE_SIZE)
  .meta({ description: `Items per page, 1 to ${MAX_PAGE_SIZE}.`, example: DEFAULT_PAGE_SIZE });

const cursorSchema = z
  .string()
  .min(1)
  .max(512)
  .optional()
  .meta({ description: "The `next_cursor` of the previous page; omit for the first page." });

export const listSubscriptionsQuerySchema = z.strictObject({ limit: limitSchema, cursor: cursorSchema });

export const deliveryStatusSchema = z.enum(DELIVERY_STATUSES).meta({
  description:
    "`pending`: queued, not attempted yet; `succeeded`; `failed`: the last attempt failed and another is scheduled; `dead`: no more attempts (`dead_reason` says why).",
  example: "failed",
});

export const listDeliveriesQuerySchema = z.strictObject({
  limit: limitSchema,
  cursor: cursorSchema,
  status: deliveryStatusSchema.optional(),
});

// ---------------------------------------------------------------- bodies

export const recoverRequestSchema = z
  .strictObject({
    since: z.iso.datetime({ offset: true, message: "must be an RFC 3339 date-time with a time zone" }).meta({
      description: "Re-send deliveries created at or after this instant.",
      example: "2026-11-20T00:00:00Z",
    }),
  })
  .meta({ id: "RecoverRequest", example: { since: "2026-11-20T00:00:00Z" } });

// ---------------------------------------------------------------- responses

export const subscriptionSchema = z
  .object({
    id: z.string().meta({ format: "uuid", example: EXAMPLE_SUBSCRIPTION_ID }),
    customer_id: z.string().meta({ format: "uuid", example: EXAMPLE_CUSTOMER_ID }),
    url: z.string().meta({ example: "https://example.com/webhooks/voipbin" }),
    method: z.enum(SUBSCRIPTION_METHODS),
    event_types: z.array(z.string()).meta({ example: ["call_hangup", "message_*"] }),
    activeflow_id: z.string().nullable().meta({ format: "uuid" }),
    description: z.string().nullable(),
    headers: z.record(z.string(), z.string()).meta({ example: { "x-customer-token": "s3cr3t" } }),
    status: z.enum(["enabled", "disabled"]),
    disabled_reason: z.enum(DISABLED_REASONS).nullable().meta({
      description:
        "Why it is disabled: `manual` (by the API), `endpoint_gone` (410), `failing` (auto-disable).",
    }),
    created_at: instant("When it was created."),
    updated_at: instant("When it last changed."),
  })
  .meta({
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
      status: "enabled",
      disabled_reason: null,
      created_at: "2026-11-20T09:17:41.123Z",
      updated_at: "2026-11-20T09:17:41.123Z",
    },
  });

const secretField = z.string().meta({
  description: "The signing secret: `whsec_` + base64 of 32 bytes. Keep it secret.",
  example: EXAMPLE_SECRET,
});

export const createdSubscriptionSchema = subscriptionSchema.extend({ secret: secretField }).meta({
  id: "SubscriptionWithSecret",
  description: "The new subscription, with its secret (shown here, by `GET …/secret`, and on rotation only).",
});

export const secretSchema = z.object({ secret: secretField }).meta({ id: "Secret" });

const listOf = <T extends z.ZodType>(item: T, id: string) =>
  z
    .object({
      items: z.array(item),
      next_cursor: z
        .string()
        .nullable()
        .meta({ description: "Pass as `cursor` for the next page; null on the last page." }),
    })
    .meta({ id });

export const subscriptionListSchema = listOf(subscriptionSchema, "SubscriptionList");

export const eventTypeSchema = z
  .object({
    type: z.string().meta({ example: "call_hangup" }),
    resource: z.string().meta({ example: "call" }),
    description: z.string(),
  })
  .meta({ id: "EventType" });

export const eventTypeListSchema = listOf(eventTypeSchema, "EventTypeList").meta({
  description: "The whole catalogue in one page (`next_cursor` is always null).",
});

export const attemptRequestSchema = z
  .object({
    method: z.string().meta({ example: "POST" }),
    url: z.string().meta({ example: "https://hooks.example.com/voipbin" }),
    headers: z.record(z.string(), z.string()).meta({
      description:
        "Every header sent, signatures included (`webhook-id`, `webhook-timestamp`, `webhook-signature`, `x-voipbin-signature`, `content-type`, `user-agent`, custom headers).",
      example: { "content-type": "application/json", "webhook-id": "msg_5f0e8f7c2b1a4d3e9c8b7a6f5e4d3c2b" },
    }),
  })
  .meta({ id: "DeliveryAttemptRequest" });

export const attemptSchema = z
  .object({
    at: instant("When the attempt was sent."),
    status_code: z
      .number()
      .int()
      .nullable()
      .meta({ description: "The endpoint's status; null if none.", example: 503 }),
    error: z.string().nullable().meta({
      description:
        "Why no response counted (timeout, connection refused, blocked address …); null if it answered.",
      example: null,
    }),
    latency_ms: z.number().int().meta({ example: 120 }),
    response_body: z.string().nullable().meta({
      description: "The start of the endpoint's answer (4 KiB at most).",
      example: "Service Unavailable",
    }),
    request: attemptRequestSchema.nullable().meta({
      description:
        "What this attempt sent: method, URL and headers (the body is the delivery's payload, the same on every attempt). Null on attempts recorded before requests were kept.",
    }),
  })
  .meta({ id: "DeliveryAttempt" });

export const deliverySchema = z
  .object({
    id: z.string().meta({ format: "uuid", example: EXAMPLE_DELIVERY_ID }),
    subscription_id: z.string().meta({ format: "uuid", example: EXAMPLE_SUBSCRIPTION_ID }),
    event_id: z.string().meta({ example: "0d9b2c1e-7f3a-4b2c-9e1d-4f5a6b7c8d9e" }),
    event_type: z.string().meta({ example: "call_hangup" }),
    webhook_id: z.string().meta({
      description: "The `webhook-id` header: the same on every attempt and redelivery.",
      example: "msg_5f0e8f7c2b1a4d3e9c8b7a6f5e4d3c2b",
    }),
    status: deliveryStatusSchema,
    dead_reason: z.enum(DEAD_REASONS).nullable().meta({
      description:
        "Why it is `dead` (null otherwise): `attempts_exhausted`, `endpoint_gone` (the endpoint answered 410), `subscription_disabled`, `subscription_deleted` (it was queued or retrying when that happened), `internal` (the queue gave up on it before our code did; see docs/delivery.md).",
      example: null,
    }),
    attempts: z.array(attemptSchema).meta({ description: "Every attempt, oldest first." }),
    next_attempt_at: z
      .string()
      .nullable()
      .meta({ format: "date-time", description: "When the next attempt is due; null when none is." }),
    created_at: instant("When it was first queued or attempted."),
    updated_at: instant("When it last changed."),
    body: z.string().nullable().meta({
      description:
        "The exact body sent on every attempt. Only `GET /v1/deliveries/{id}` and `GET /v1/events/{event_id}/deliveries` carry it; null in a subscription's log.",
      example: '{"type":"call_hangup","data":{"id":"6e8e2d3a-5b1f-4c8e-9d0a-1f2e3d4c5b6a"}}',
    }),
  })
  .meta({ id: "Delivery" });

export const deliveryListSchema = listOf(deliverySchema, "DeliveryList");

export const deliveryAcceptedSchema = z
  .object({ delivery_id: z.string().meta({ format: "uuid", example: EXAMPLE_DELIVERY_ID }) })
  .meta({ id: "DeliveryAccepted", description: "Look it up with `GET /v1/deliveries/{delivery_id}`." });

export const recoverAcceptedSchema = z
  .object({
    count: z.number().int().meta({ description: "Deliveries queued to be sent again.", example: 12 }),
    complete: z.boolean().meta({
      description:
        "False when the request's time budget ran out first: call again with `since` = `next_since`.",
      example: true,
    }),
    next_since: z
      .string()
      .nullable()
      .meta({ format: "date-time", description: "Where to continue when `complete` is false; else null." }),
  })
  .meta({ id: "RecoverAccepted" });

export const openApiDocumentSchema = z
  .record(z.string(), z.unknown())
  .meta({ id: "OpenApiDocument", description: "This document." });

const errorCodes = Object.values(ERROR_CODES).flat();

export const errorSchema = z
  .object({
    error: z.object({
      code: z.enum(errorCodes as [string, ...string[]]).meta({ description: "Stable: branch on it." }),
      message: z.string().meta({ description: "For people; may change." }),
      details: z
        .array(z.object({ path: z.string(), message: z.string() }))
        .meta({ description: "One entry per invalid field (VALIDATION_FAILED); empty otherwise." }),
    }),
  })
  .meta({
    id: "Error",
    example: {
      error: {
        code: "VALIDATION_FAILED",
        message: "The request is not valid; see details.",
        details: [{ path: "url", message: "only https:// URLs are accepted" }],
      },
    },
  });

// ---------------------------------------------------------------- portal additions (PRODUCT §9)

export const statsQuerySchema = z.strictObject({
  window: z
    .enum(Object.keys(STATS_WINDOWS) as [StatsWindow, ...StatsWindow[]])
    .default("24h")
    .meta({ description: "The window counted back from now: `24h` (default) or `7d`.", example: "24h" }),
});

const statsBucketSchema = z
  .object({
    start: instant("Start of the hour (UTC).", "2026-11-20T09:00:00.000Z"),
    attempts: z.number().int().meta({ example: 12 }),
    succeeded: z.number().int().meta({ example: 11 }),
    failed: z.number().int().meta({ example: 1 }),
  })
  .meta({ id: "StatsBucket" });

export const subscriptionStatsSchema = z
  .object({
    window: z.enum(Object.keys(STATS_WINDOWS) as [StatsWindow, ...StatsWindow[]]),
    from: instant("Start of the window (exclusive)."),
    to: instant("End of the window: now."),
    attempts: z.number().int().meta({ description: "Attempts sent in the window.", example: 240 }),
    succeeded: z.number().int().meta({ description: "Attempts answered 2xx.", example: 236 }),
    failed: z.number().int().meta({
      description: "Attempts that failed: another status, a timeout, a connection error, a blocked address.",
      example: 4,
    }),
    success_rate: z.number().nullable().meta({
      description: "`succeeded / attempts` in [0, 1]; null without attempts.",
      example: 0.983,
    }),
    latency_ms: z
      .object({
        p50: z.number().nullable().meta({ example: 84 }),
        p95: z.number().nullable().meta({ example: 410 }),
      })
      .meta({ description: "Latency percentiles (nearest rank) of the attempts; null without attempts." }),
    buckets: z.array(statsBucketSchema).meta({
      description: "One per hour, oldest first: 25 for `24h`, 169 for `7d` (the partial hours at both ends).",
    }),
    complete: z.boolean().meta({
      description:
        "False when the log was too large to read in one request: then the newest deliveries were counted.",
      example: true,
    }),
  })
  .meta({ id: "SubscriptionStats" });

export const eventIdPathSchema = z.strictObject({
  event_id: z.string().min(1).max(256).meta({
    description: "The event's id (EventBridge's `id`).",
    example: "0d9b2c1e-7f3a-4b2c-9e1d-4f5a6b7c8d9e",
  }),
});

export const eventDeliveryListSchema = listOf(deliverySchema, "EventDeliveryList").meta({
  description:
    "The deliveries of this event to the caller's subscriptions, oldest first, in one page (`next_cursor` is always null). Empty when it reached none of them.",
});

export const portalSessionRequestSchema = z
  .strictObject({
    token: z.string().min(1).max(256).meta({
      description: "The token of a portal link (the part after `#link=`).",
      example: "vbpl_0000000000000000000000000000000000000000000",
    }),
  })
  .meta({ id: "PortalSessionRequest" });

export const portalSessionSchema = z
  .object({
    access_key: z.string().meta({
      description: "An access key for this customer that expires at `expires_at`. Keep it out of URLs.",
      example: "vb_0123456789abcdefghijklmnopqrstuv",
    }),
    customer_id: z.string().meta({ format: "uuid", example: EXAMPLE_CUSTOMER_ID }),
    expires_at: instant("When the session's key stops working."),
  })
  .meta({ id: "PortalSession" });
