/**
 * The customer's view of each catalogue type's `data` (PRODUCT §12): a JSON Schema and an example.
 *
 * VoIPBIN's types come from data-schemas.json, derived from VoIPBIN's webhook projections (the
 * `WebhookMessage` structs of voipbin/monorepo `bin-<service>/models/<model>/webhook.go` and their enum constants)
 * by scripts/catalogue/derive-schemas.py: one schema per model, shared by the model's event types,
 * and one example per type (the fixture sample's data where there is one). The system's own types are
 * written here, next to the code that builds their data.
 *
 * Only the API's event-type and test routes import this module (~100 KB of data): the router and the
 * delivery worker never bundle it.
 */
import { DELIVERY_PROFILES, DISABLED_REASONS, SUBSCRIPTION_METHODS } from "../subscriptions/subscription.ts";
import type { EventType } from "./catalogue.ts";
import derived from "./data-schemas.json" with { type: "json" };

/** A JSON Schema (draft 2020-12) as plain data. */
export type JsonSchema = Readonly<Record<string, unknown>>;

export interface EventTypeDocs {
  /** The model whose projection `data` is (`call`, `aicall`...), or `webhook` for the system's own. */
  readonly model: string;
  readonly schema: JsonSchema;
  readonly example: Readonly<Record<string, unknown>>;
}

const DRAFT = "https://json-schema.org/draft/2020-12/schema";
const UUID = { type: "string", format: "uuid" } as const;
const DATE_TIME = { type: "string", format: "date-time" } as const;
const CUSTOMER = "5e4a0680-804e-11ec-8477-2fea5968d85b";
const SUBSCRIPTION = "0b7f6a52-3c1d-4e8f-9a21-6d5e4c3b2a10";

/** `data` of `webhook_test` (shared/services/delivery-log.ts, sendTestEvent). */
const WEBHOOK_TEST: EventTypeDocs = {
  model: "webhook",
  schema: {
    $schema: DRAFT,
    title: "webhook_test (data)",
    type: "object",
    properties: { subscription_id: UUID, message: { type: "string" }, created_at: DATE_TIME },
    required: ["subscription_id", "message", "created_at"],
    additionalProperties: false,
  },
  example: {
    subscription_id: SUBSCRIPTION,
    message: "This is a test event sent by voipbin-webhooks.",
    created_at: "2026-11-20T09:15:02.118Z",
  },
};

/** `data` of `webhook_subscription_disabled` (shared/adapters/operational-events.ts). */
const WEBHOOK_SUBSCRIPTION_DISABLED: EventTypeDocs = {
  model: "webhook",
  schema: {
    $schema: DRAFT,
    title: "webhook_subscription_disabled (data)",
    type: "object",
    properties: {
      id: UUID,
      customer_id: UUID,
      url: { type: "string", format: "uri" },
      method: { type: "string", enum: [...SUBSCRIPTION_METHODS] },
      event_types: { type: "array", items: { type: "string" } },
      activeflow_id: { ...UUID, type: ["string", "null"] },
      description: { type: ["string", "null"] },
      headers: {
        type: "object",
        description: "Header names with their values redacted.",
        additionalProperties: { const: "[redacted]" },
      },
      status: { type: "string", enum: ["enabled", "disabled"] },
      disabled_reason: { type: ["string", "null"], enum: [...DISABLED_REASONS, null] },
      created_at: DATE_TIME,
      updated_at: DATE_TIME,
      managed: { type: "boolean" },
      managed_by: { type: ["string", "null"] },
      delivery_profile: { type: "string", enum: [...DELIVERY_PROFILES] },
      reason: { type: "string", enum: [...DISABLED_REASONS] },
    },
    required: ["id", "customer_id", "url", "method", "event_types", "status", "reason"],
    additionalProperties: true,
  },
  example: {
    id: SUBSCRIPTION,
    customer_id: CUSTOMER,
    url: "https://hooks.example.com/voipbin",
    method: "POST",
    event_types: ["call_*"],
    activeflow_id: null,
    description: "CRM call sync",
    headers: { authorization: "[redacted]" },
    status: "disabled",
    disabled_reason: "failing",
    created_at: "2026-11-01T08:00:00.000Z",
    updated_at: "2026-11-20T09:15:02.118Z",
    managed: false,
    managed_by: null,
    delivery_profile: "standard",
    reason: "failing",
  },
};

const NULLABLE_STRING = { type: ["string", "null"] } as const;
const SUBJECT_PROPERTIES = {
  subscription_id: UUID,
  url: { type: "string", format: "uri" },
  description: NULLABLE_STRING,
} as const;
const LAST_ATTEMPT = {
  type: "object",
  description: "The attempt that told the service (as the delivery log shows it).",
  properties: {
    at: DATE_TIME,
    status_code: { type: ["integer", "null"] },
    error: NULLABLE_STRING,
  },
  required: ["at", "status_code", "error"],
  additionalProperties: false,
} as const;
const DELIVERY = "01937f4e-2a10-7c3b-9d41-5b2f8e6a7c90";

/** `data` of `webhook_endpoint_failing` (shared/domain/events/operational.ts). */
const WEBHOOK_ENDPOINT_FAILING: EventTypeDocs = {
  model: "webhook",
  schema: {
    $schema: DRAFT,
    title: "webhook_endpoint_failing (data)",
    type: "object",
    properties: {
      ...SUBJECT_PROPERTIES,
      failing_since: DATE_TIME,
      auto_disable_at: DATE_TIME,
      delivery_id: UUID,
      event_type: { type: "string" },
      last_attempt: LAST_ATTEMPT,
    },
    required: [
      "subscription_id",
      "url",
      "description",
      "failing_since",
      "auto_disable_at",
      "delivery_id",
      "event_type",
      "last_attempt",
    ],
    additionalProperties: false,
  },
  example: {
    subscription_id: SUBSCRIPTION,
    url: "https://hooks.example.com/voipbin",
    description: "CRM call sync",
    failing_since: "2026-11-20T09:15:02.118Z",
    auto_disable_at: "2026-11-25T09:15:02.118Z",
    delivery_id: DELIVERY,
    event_type: "call_hangup",
    last_attempt: { at: "2026-11-20T09:15:02.118Z", status_code: 503, error: null },
  },
};

/** `data` of `webhook_delivery_exhausted` (shared/domain/events/operational.ts). */
const WEBHOOK_DELIVERY_EXHAUSTED: EventTypeDocs = {
  model: "webhook",
  schema: {
    $schema: DRAFT,
    title: "webhook_delivery_exhausted (data)",
    type: "object",
    properties: {
      ...SUBJECT_PROPERTIES,
      delivery_id: UUID,
      event_id: { type: "string" },
      event_type: { type: "string" },
      webhook_id: { type: "string", pattern: "^msg_" },
      attempts: { type: "integer", minimum: 1 },
      created_at: DATE_TIME,
      last_attempt: LAST_ATTEMPT,
    },
    required: [
      "subscription_id",
      "url",
      "description",
      "delivery_id",
      "event_id",
      "event_type",
      "webhook_id",
      "attempts",
      "created_at",
      "last_attempt",
    ],
    additionalProperties: false,
  },
  example: {
    subscription_id: SUBSCRIPTION,
    url: "https://hooks.example.com/voipbin",
    description: "CRM call sync",
    delivery_id: DELIVERY,
    event_id: "8d2c6a1e-4b7f-4e0a-b3c5-9f1d2e3a4b5c",
    event_type: "call_hangup",
    webhook_id: "msg_5f1c9a2e7b3d4c8e9a0b1c2d3e4f5a6b",
    attempts: 8,
    created_at: "2026-11-20T09:15:02.118Z",
    last_attempt: {
      at: "2026-11-21T12:41:37.530Z",
      status_code: null,
      error: "timeout: no answer within 15000 ms",
    },
  },
};

/** `data` of `webhook_endpoint_recovered` (shared/domain/events/operational.ts). */
const WEBHOOK_ENDPOINT_RECOVERED: EventTypeDocs = {
  model: "webhook",
  schema: {
    $schema: DRAFT,
    title: "webhook_endpoint_recovered (data)",
    type: "object",
    properties: {
      ...SUBJECT_PROPERTIES,
      failing_since: DATE_TIME,
      recovered_at: DATE_TIME,
      failing_seconds: { type: "integer", minimum: 0 },
    },
    required: ["subscription_id", "url", "description", "failing_since", "recovered_at", "failing_seconds"],
    additionalProperties: false,
  },
  example: {
    subscription_id: SUBSCRIPTION,
    url: "https://hooks.example.com/voipbin",
    description: "CRM call sync",
    failing_since: "2026-11-20T09:15:02.118Z",
    recovered_at: "2026-11-20T11:02:45.006Z",
    failing_seconds: 6463,
  },
};

const OWN: Readonly<Record<string, EventTypeDocs>> = {
  webhook_test: WEBHOOK_TEST,
  webhook_subscription_disabled: WEBHOOK_SUBSCRIPTION_DISABLED,
  webhook_endpoint_failing: WEBHOOK_ENDPOINT_FAILING,
  webhook_delivery_exhausted: WEBHOOK_DELIVERY_EXHAUSTED,
  webhook_endpoint_recovered: WEBHOOK_ENDPOINT_RECOVERED,
};

const MODELS: Readonly<Record<string, { readonly source: string; readonly schema: JsonSchema }>> =
  derived.models;
const TYPES: Readonly<Record<string, { readonly model: string; readonly example: Record<string, unknown> }>> =
  derived.types;

/**
 * The schema and example of a built-in type; undefined for a type operators added at run time
 * (nothing is known of its data) or one outside the catalogue.
 */
export function eventTypeDocs(type: EventType | string): EventTypeDocs | undefined {
  // hasOwn: a type is customer input, and `__proto__` must not find Object.prototype.
  if (Object.hasOwn(OWN, type)) return OWN[type];
  if (!Object.hasOwn(TYPES, type)) return undefined;
  const entry = TYPES[type];
  const model = entry === undefined ? undefined : MODELS[entry.model];
  if (entry === undefined || model === undefined) return undefined;
  return { model: entry.model, schema: model.schema, example: entry.example };
}

/** Where a model's schema was derived from (`voipbin/monorepo <package> <struct>`). */
export function modelSource(model: string): string | undefined {
  return Object.hasOwn(MODELS, model) ? MODELS[model]?.source : undefined;
}
