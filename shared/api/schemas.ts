/**
 * Request schemas of the API (PRODUCT §5): requests are validated with these, and the OpenAPI
 * document is generated from the same objects (shared/api/openapi.ts). Request bodies and query
 * strings are strict: an unknown field is a 400, so a typo never silently does nothing. What the API
 * answers is described in shared/api/response-schemas.ts, which only the document generator loads.
 */
import * as z from "zod/mini";
import { DELIVERY_STATUSES } from "../domain/delivery/delivery.ts";
import { STATS_WINDOWS, type StatsWindow } from "../domain/delivery/stats.ts";
import { uuidString } from "../domain/events/schemas.ts";
import { withMeta } from "../domain/schema-meta.ts";

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export const EXAMPLE_SUBSCRIPTION_ID = "019a9c4e-6b2f-7c1d-9e0a-3b5c7d9e1f20";
// ---------------------------------------------------------------- parameters

export const idPathSchema = z.strictObject({
  id: withMeta(uuidString, { description: "The resource id (a UUID).", example: EXAMPLE_SUBSCRIPTION_ID }),
});

const limitSchema = withMeta(
  z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(MAX_PAGE_SIZE)), DEFAULT_PAGE_SIZE),
  { description: `Items per page, 1 to ${MAX_PAGE_SIZE}.`, example: DEFAULT_PAGE_SIZE },
);

const cursorSchema = withMeta(z.optional(z.string().check(z.minLength(1), z.maxLength(512))), {
  description: "The `next_cursor` of the previous page; omit for the first page.",
});

export const listSubscriptionsQuerySchema = z.strictObject({ limit: limitSchema, cursor: cursorSchema });

export const deliveryStatusSchema = withMeta(z.enum(DELIVERY_STATUSES), {
  description:
    "`pending`: queued, not attempted yet; `succeeded`; `failed`: the last attempt failed and another is scheduled; `dead`: no more attempts (`dead_reason` says why).",
  example: "failed",
});

export const listDeliveriesQuerySchema = z.strictObject({
  limit: limitSchema,
  cursor: cursorSchema,
  status: z.optional(deliveryStatusSchema),
});

// ---------------------------------------------------------------- bodies

export const recoverRequestSchema = withMeta(
  z.strictObject({
    since: withMeta(
      z.iso.datetime({ offset: true, message: "must be an RFC 3339 date-time with a time zone" }),
      {
        description: "Re-send deliveries created at or after this instant.",
        example: "2026-11-20T00:00:00Z",
      },
    ),
  }),
  { id: "RecoverRequest", example: { since: "2026-11-20T00:00:00Z" } },
);

// ---------------------------------------------------------------- portal additions (PRODUCT §9)

export const statsQuerySchema = z.strictObject({
  window: withMeta(z._default(z.enum(Object.keys(STATS_WINDOWS) as [StatsWindow, ...StatsWindow[]]), "24h"), {
    description: "The window counted back from now: `24h` (default) or `7d`.",
    example: "24h",
  }),
});

export const testEventRequestSchema = withMeta(
  z.strictObject({
    event_type: z.optional(
      withMeta(z.string().check(z.minLength(1), z.maxLength(100)), {
        description:
          "A catalogue type the subscription selects: its example (`GET /v1/event-types`) is sent in VoIPBIN's envelope. Absent: a `webhook_test` event.",
        example: "call_hangup",
      }),
    ),
  }),
  { id: "TestEventRequest", description: "Optional; without a body a `webhook_test` event is sent." },
);

export const eventTypePathSchema = z.strictObject({
  type: withMeta(z.string().check(z.minLength(1), z.maxLength(100)), {
    description: "An event type of the catalogue.",
    example: "call_hangup",
  }),
});

export const eventIdPathSchema = z.strictObject({
  event_id: withMeta(z.string().check(z.minLength(1), z.maxLength(256)), {
    description: "The event's id (EventBridge's `id`).",
    example: "0d9b2c1e-7f3a-4b2c-9e1d-4f5a6b7c8d9e",
  }),
});

export const portalSessionRequestSchema = withMeta(
  z.strictObject({
    token: withMeta(z.string().check(z.minLength(1), z.maxLength(256)), {
      description: "The token of a portal link (the part after `#link=`).",
      example: "vbpl_0000000000000000000000000000000000000000000",
    }),
  }),
  { id: "PortalSessionRequest" },
);
