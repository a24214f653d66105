/**
 * Every route of PRODUCT §5 in one table: what it accepts (zod schemas, validated by shared/api/app.ts
 * and rendered by shared/api/openapi.ts), what it answers, and the one domain call it makes.
 */
import type * as z from "zod/mini";
import type { DeliveryRecord } from "../domain/delivery/delivery.ts";
import { latenessOf } from "../domain/delivery/lateness.ts";
import { EVENT_DESCRIPTIONS } from "../domain/events/descriptions.ts";
import { eventTypeDocs } from "../domain/events/event-schemas.ts";
import { BUILT_IN_CATALOGUE, type EventCatalogue } from "../domain/events/runtime-catalogue.ts";
import type { QuotaAction } from "../domain/quotas/quota.ts";
import {
  ACTIVEFLOW_SOURCE,
  type ActiveflowDestination,
  activeflowDestinationId,
} from "../domain/subscriptions/activeflow.ts";
import { ResourceNotFoundError } from "../domain/subscriptions/errors.ts";
import { publicSubscription } from "../domain/subscriptions/subscription.ts";
import {
  createSubscriptionSchema,
  EVENT_TYPE_PATTERN_MESSAGE,
  updateSubscriptionSchema,
} from "../domain/subscriptions/validation.ts";
import type { ActiveflowDestinationService } from "../services/activeflow-destinations.ts";
import type { DeliveryInsightsService } from "../services/delivery-insights.ts";
import type { DeliveryLogService } from "../services/delivery-log.ts";
import type { PortalSessionService } from "../services/portal-sessions.ts";
import type { SubscriptionService } from "../services/subscriptions.ts";
import {
  decodeActiveflowDestinationsCursor,
  decodeDeliveriesCursor,
  decodeSubscriptionsCursor,
  encodeActiveflowDestinationsCursor,
  encodeDeliveriesCursor,
  encodeSubscriptionsCursor,
} from "./cursor.ts";
import type { ErrorDetail } from "./errors.ts";
import {
  eventIdPathSchema,
  eventTypePathSchema,
  idPathSchema,
  listDeliveriesQuerySchema,
  listSubscriptionsQuerySchema,
  portalSessionRequestSchema,
  recoverRequestSchema,
  statsQuerySchema,
  testEventRequestSchema,
} from "./schemas.ts";

/**
 * The response schemas (shared/api/response-schemas.ts), as a type only: a route names its answer's
 * schema, which types its handler, without loading the module (the document generator does).
 */
type ResponseSchemas = typeof import("./response-schemas.ts");
export type ResponseName = {
  [K in keyof ResponseSchemas]: ResponseSchemas[K] extends z.ZodMiniType ? K : never;
}[keyof ResponseSchemas];

/** What route handlers call: the domain services, built once per cold start. */
export interface ApiServices {
  readonly subscriptions: SubscriptionService;
  readonly activeflowDestinations: ActiveflowDestinationService;
  readonly deliveryLog: DeliveryLogService;
  readonly insights: DeliveryInsightsService;
  readonly portalSessions: PortalSessionService;
  /** The built-in catalogue merged with the types operators added (shared/services/event-catalogue.ts). */
  readonly eventTypes: {
    current(): Promise<EventCatalogue>;
    forPattern(pattern: string): Promise<EventCatalogue>;
  };
}

export type HttpMethod = "GET" | "POST" | "PATCH" | "DELETE";
type Schema = z.ZodMiniType | undefined;
type Out<S extends Schema> = S extends z.ZodMiniType ? z.output<S> : undefined;
type Answer<R extends ResponseName | undefined> = R extends ResponseName
  ? z.input<ResponseSchemas[R]>
  : undefined;

export interface RouteInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /** The caller, from the authorizer context; empty on public routes. */
  readonly customerId: string;
  /** Epoch ms by which long work (recovery) must stop and answer. */
  readonly deadline: number;
  readonly services: ApiServices;
  /** This API's OpenAPI document (built from this very table, hence passed in rather than imported). */
  readonly openApiDocument: () => Record<string, unknown>;
}

export interface RouteDefinition<
  P extends Schema,
  Q extends Schema,
  B extends Schema,
  R extends ResponseName | undefined,
> {
  readonly method: HttpMethod;
  /** OpenAPI-style template, e.g. `/v1/subscriptions/{id}`. */
  readonly path: string;
  /** Also the key of the route's entry in shared/api/route-docs.ts (summary, descriptions). */
  readonly operationId: string;
  readonly tag: "Event types" | "Subscriptions" | "Deliveries" | "Portal" | "Meta";
  /** False only for GET /openapi.json and the portal-link exchange. */
  readonly auth: boolean;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  readonly success: {
    readonly status: 200 | 201 | 202 | 204;
    /** The answer's schema in shared/api/response-schemas.ts, by export name. */
    readonly response?: R;
  };
  /** The per-customer quota the route takes one unit of (429 `QUOTA_EXCEEDED` when used up). */
  readonly quota?: QuotaAction;
  /** Whether a missing resource is a possible answer (404). */
  readonly notFound?: boolean;
  /**
   * Checks of the raw body that need the services (the URL's form under the deployment's policy),
   * run together with the schema so that one answer lists every problem.
   */
  /** The body may be absent (then `body` is undefined); when present it must match `body`. */
  readonly optionalBody?: boolean;
  readonly bodyChecks?: (
    body: Readonly<Record<string, unknown>>,
    services: ApiServices,
  ) => ErrorDetail[] | Promise<ErrorDetail[]>;
  readonly handle: (input: RouteInput<Out<P>, Out<Q>, Out<B>>) => Promise<Answer<R>>;
}

/** A route with its types erased, as the dispatcher and the document generator see it. */
export type Route = RouteDefinition<Schema, Schema, Schema, ResponseName | undefined> & {
  readonly handle: (input: RouteInput<unknown, unknown, unknown>) => Promise<unknown>;
};

function route<
  P extends Schema = undefined,
  Q extends Schema = undefined,
  B extends Schema = undefined,
  R extends ResponseName | undefined = undefined,
>(definition: RouteDefinition<P, Q, B, R>): Route {
  return definition as unknown as Route;
}

/**
 * An activeflow destination as the API shows it (PRODUCT §11): read-only and managed by the
 * flow-manager; `id` is the `subscription_id` its deliveries carry. Never a secret: it signs with the
 * customer's managed legacy subscription's secret, which GET /v1/subscriptions/{id}/secret gives.
 */
function activeflowDestinationView(
  destination: ActiveflowDestination,
): z.input<ResponseSchemas["activeflowDestinationSchema"]> {
  return {
    id: activeflowDestinationId(destination.activeflowId),
    kind: "activeflow",
    activeflow_id: destination.activeflowId,
    url: destination.url,
    method: destination.method,
    managed: true,
    managed_by: ACTIVEFLOW_SOURCE,
    updated_at: destination.updatedAt,
    expires_at: destination.expiresAt,
  };
}

/** A delivery as the API shows it (PRODUCT §4): without the customer id and the stored payload. */
export function deliveryView(
  record: DeliveryRecord,
  now: Date = new Date(),
): z.input<ResponseSchemas["deliverySchema"]> {
  return {
    id: record.id,
    subscription_id: record.subscription_id,
    event_id: record.event_id,
    event_type: record.event_type,
    webhook_id: record.webhook_id,
    status: record.status,
    dead_reason: record.status === "dead" ? record.dead_reason : null,
    attempts: record.attempts.map((attempt) => ({
      at: attempt.at,
      status_code: attempt.status_code,
      error: attempt.error,
      latency_ms: attempt.latency_ms,
      response_body: attempt.response_body,
      request: attempt.request
        ? {
            method: attempt.request.method,
            url: attempt.request.url,
            headers: { ...attempt.request.headers },
          }
        : null,
    })),
    next_attempt_at: record.next_attempt_at,
    created_at: record.created_at,
    updated_at: record.updated_at,
    timing: latenessOf(record, now),
    body: record.payload,
  };
}

/** One catalogue entry as the API shows it: with its data's schema and example (PRODUCT §12). */
function eventTypeView(catalogue: EventCatalogue, type: string, resource: string) {
  const docs = eventTypeDocs(type);
  return {
    type,
    resource,
    description:
      catalogue.addedType(type)?.description ??
      EVENT_DESCRIPTIONS[type as keyof typeof EVENT_DESCRIPTIONS] ??
      "",
    schema: docs?.schema ?? null,
    example: docs?.example ?? null,
  };
}

const subscriptionView =
  (services: ApiServices) => (subscription: Parameters<typeof publicSubscription>[0]) => {
    const view = publicSubscription(subscription);
    return {
      ...view,
      event_types: [...view.event_types],
      headers: { ...view.headers },
      failing: services.subscriptions.failingOf(subscription),
    };
  };

/**
 * Patterns the schema let through because they could name a type operators added at run time, judged
 * against the merged catalogue (built-in patterns are never looked up).
 */
async function eventTypeProblems(patterns: unknown, services: ApiServices): Promise<ErrorDetail[]> {
  if (!Array.isArray(patterns)) return [];
  const problems: ErrorDetail[] = [];
  for (const [i, pattern] of patterns.entries()) {
    if (typeof pattern !== "string" || BUILT_IN_CATALOGUE.isValidPattern(pattern)) continue;
    const catalogue = await services.eventTypes.forPattern(pattern);
    if (!catalogue.isValidPattern(pattern))
      problems.push({ path: `event_types.${i}`, message: EVENT_TYPE_PATTERN_MESSAGE });
  }
  return problems;
}

const subscriptionBodyChecks = async (
  body: Readonly<Record<string, unknown>>,
  services: ApiServices,
): Promise<ErrorDetail[]> => [
  ...services.subscriptions.urlFormProblems(body.url),
  ...(await eventTypeProblems(body.event_types, services)),
];

export const ROUTES: readonly Route[] = [
  route({
    method: "GET",
    path: "/v1/event-types",
    operationId: "listEventTypes",
    tag: "Event types",
    auth: true,
    success: { status: 200, response: "eventTypeListSchema" },
    handle: async ({ services }) => {
      const catalogue = await services.eventTypes.current();
      return {
        items: catalogue.list().map(({ type, resource }) => eventTypeView(catalogue, type, resource)),
        next_cursor: null,
      };
    },
  }),
  route({
    method: "GET",
    path: "/v1/event-types/{type}",
    operationId: "getEventType",
    tag: "Event types",
    auth: true,
    params: eventTypePathSchema,
    notFound: true,
    success: { status: 200, response: "eventTypeSchema" },
    handle: async ({ params, services }) => {
      const catalogue = await services.eventTypes.current();
      const resource = catalogue.resourceOf(params.type);
      if (resource === undefined) throw new ResourceNotFoundError("event type");
      return eventTypeView(catalogue, params.type, resource);
    },
  }),
  route({
    method: "POST",
    path: "/v1/subscriptions",
    operationId: "createSubscription",
    tag: "Subscriptions",
    auth: true,
    body: createSubscriptionSchema,
    bodyChecks: subscriptionBodyChecks,
    success: {
      status: 201,
      response: "createdSubscriptionSchema",
    },
    handle: async ({ customerId, body, services }) => {
      const created = await services.subscriptions.create(customerId, body);
      return { ...subscriptionView(services)(created), secret: created.secret };
    },
  }),
  route({
    method: "GET",
    path: "/v1/subscriptions",
    operationId: "listSubscriptions",
    tag: "Subscriptions",
    auth: true,
    query: listSubscriptionsQuerySchema,
    success: { status: 200, response: "subscriptionListSchema" },
    handle: async ({ customerId, query, services }) => {
      const afterId =
        query.cursor === undefined ? undefined : decodeSubscriptionsCursor(query.cursor, customerId);
      const page = await services.subscriptions.list(customerId, { limit: query.limit, afterId });
      return {
        items: page.items.map(subscriptionView(services)),
        next_cursor:
          page.nextAfterId === null ? null : encodeSubscriptionsCursor(customerId, page.nextAfterId),
      };
    },
  }),
  route({
    method: "GET",
    path: "/v1/activeflow-destinations",
    operationId: "listActiveflowDestinations",
    tag: "Subscriptions",
    auth: true,
    query: listSubscriptionsQuerySchema,
    success: { status: 200, response: "activeflowDestinationListSchema" },
    handle: async ({ customerId, query, services }) => {
      const afterId =
        query.cursor === undefined ? undefined : decodeActiveflowDestinationsCursor(query.cursor, customerId);
      const page = await services.activeflowDestinations.list(customerId, { limit: query.limit, afterId });
      return {
        items: page.items.map(activeflowDestinationView),
        next_cursor:
          page.nextAfterId === null ? null : encodeActiveflowDestinationsCursor(customerId, page.nextAfterId),
      };
    },
  }),
  route({
    method: "GET",
    path: "/v1/subscriptions/{id}",
    operationId: "getSubscription",
    tag: "Subscriptions",
    auth: true,
    params: idPathSchema,
    notFound: true,
    success: { status: 200, response: "subscriptionSchema" },
    handle: async ({ customerId, params, services }) =>
      subscriptionView(services)(await services.subscriptions.get(customerId, params.id)),
  }),
  route({
    method: "PATCH",
    path: "/v1/subscriptions/{id}",
    operationId: "updateSubscription",
    tag: "Subscriptions",
    auth: true,
    params: idPathSchema,
    body: updateSubscriptionSchema,
    bodyChecks: subscriptionBodyChecks,
    notFound: true,
    success: { status: 200, response: "subscriptionSchema" },
    handle: async ({ customerId, params, body, services }) =>
      subscriptionView(services)(await services.subscriptions.update(customerId, params.id, body)),
  }),
  route({
    method: "DELETE",
    path: "/v1/subscriptions/{id}",
    operationId: "deleteSubscription",
    tag: "Subscriptions",
    auth: true,
    params: idPathSchema,
    notFound: true,
    success: { status: 204 },
    handle: async ({ customerId, params, services }) => {
      await services.subscriptions.delete(customerId, params.id);
      return undefined;
    },
  }),
  route({
    method: "GET",
    path: "/v1/subscriptions/{id}/secret",
    operationId: "getSubscriptionSecret",
    tag: "Subscriptions",
    auth: true,
    params: idPathSchema,
    notFound: true,
    success: { status: 200, response: "secretSchema" },
    handle: async ({ customerId, params, services }) => ({
      secret: await services.subscriptions.getSecret(customerId, params.id),
    }),
  }),
  route({
    method: "POST",
    path: "/v1/subscriptions/{id}/secret/rotate",
    operationId: "rotateSubscriptionSecret",
    tag: "Subscriptions",
    auth: true,
    params: idPathSchema,
    notFound: true,
    success: { status: 200, response: "secretSchema" },
    handle: async ({ customerId, params, services }) => ({
      secret: await services.subscriptions.rotateSecret(customerId, params.id),
    }),
  }),
  route({
    method: "POST",
    path: "/v1/subscriptions/{id}/test",
    operationId: "sendTestEvent",
    tag: "Deliveries",
    auth: true,
    params: idPathSchema,
    body: testEventRequestSchema,
    optionalBody: true,
    bodyChecks: (body) => {
      const type = body.event_type;
      return typeof type !== "string" || eventTypeDocs(type) !== undefined
        ? []
        : [
            {
              path: "event_type",
              message: `"${type.slice(0, 100)}" is not an event type with an example (GET /v1/event-types lists them)`,
            },
          ];
    },
    notFound: true,
    success: { status: 202, response: "deliveryAcceptedSchema" },
    quota: "test_event",
    handle: async ({ body, customerId, params, services }) => {
      const type = body?.event_type;
      const docs = type === undefined ? undefined : eventTypeDocs(type);
      const sample = type !== undefined && docs !== undefined ? { type, data: docs.example } : undefined;
      const { deliveryId } = await services.deliveryLog.sendTestEvent(customerId, params.id, sample);
      return { delivery_id: deliveryId };
    },
  }),
  route({
    method: "GET",
    path: "/v1/subscriptions/{id}/deliveries",
    operationId: "listDeliveries",
    tag: "Deliveries",
    auth: true,
    params: idPathSchema,
    query: listDeliveriesQuerySchema,
    notFound: true,
    success: { status: 200, response: "deliveryListSchema" },
    handle: async ({ customerId, params, query, services }) => {
      const after = query.cursor === undefined ? undefined : decodeDeliveriesCursor(query.cursor, params.id);
      const page = await services.deliveryLog.list(customerId, params.id, {
        limit: query.limit,
        status: query.status,
        after,
      });
      return {
        items: page.items.map((record) => deliveryView(record)),
        next_cursor: page.next === null ? null : encodeDeliveriesCursor(params.id, page.next),
      };
    },
  }),
  route({
    method: "POST",
    path: "/v1/subscriptions/{id}/recover",
    operationId: "recoverDeliveries",
    tag: "Deliveries",
    auth: true,
    params: idPathSchema,
    body: recoverRequestSchema,
    notFound: true,
    success: { status: 202, response: "recoverAcceptedSchema" },
    quota: "recover",
    handle: async ({ customerId, params, body, deadline, services }) => {
      const result = await services.deliveryLog.recover(customerId, params.id, new Date(body.since), {
        deadline,
      });
      return { count: result.count, complete: result.complete, next_since: result.nextSince };
    },
  }),
  route({
    method: "GET",
    path: "/v1/deliveries/{id}",
    operationId: "getDelivery",
    tag: "Deliveries",
    auth: true,
    params: idPathSchema,
    notFound: true,
    success: { status: 200, response: "deliverySchema" },
    handle: async ({ customerId, params, services }) =>
      deliveryView(await services.deliveryLog.get(customerId, params.id)),
  }),
  route({
    method: "POST",
    path: "/v1/deliveries/{id}/retry",
    operationId: "retryDelivery",
    tag: "Deliveries",
    auth: true,
    params: idPathSchema,
    notFound: true,
    success: { status: 202, response: "deliveryAcceptedSchema" },
    quota: "retry",
    handle: async ({ customerId, params, services }) => {
      const { deliveryId } = await services.deliveryLog.retry(customerId, params.id);
      return { delivery_id: deliveryId };
    },
  }),
  route({
    method: "GET",
    path: "/v1/subscriptions/{id}/stats",
    operationId: "getSubscriptionStats",
    tag: "Deliveries",
    auth: true,
    params: idPathSchema,
    query: statsQuerySchema,
    notFound: true,
    success: { status: 200, response: "subscriptionStatsSchema" },
    handle: async ({ customerId, params, query, deadline, services }) => {
      const stats = await services.insights.stats(customerId, params.id, query.window, { deadline });
      return { ...stats, buckets: [...stats.buckets] };
    },
  }),
  route({
    method: "GET",
    path: "/v1/events/{event_id}/deliveries",
    operationId: "listEventDeliveries",
    tag: "Deliveries",
    auth: true,
    params: eventIdPathSchema,
    success: { status: 200, response: "eventDeliveryListSchema" },
    handle: async ({ customerId, params, services }) => ({
      items: (await services.insights.eventDeliveries(customerId, params.event_id)).map((record) =>
        deliveryView(record),
      ),
      next_cursor: null,
    }),
  }),
  route({
    method: "POST",
    path: "/v1/portal/sessions",
    operationId: "createPortalSession",
    tag: "Portal",
    auth: false,
    body: portalSessionRequestSchema,
    success: { status: 201, response: "portalSessionSchema" },
    handle: async ({ body, services }) => {
      const session = await services.portalSessions.exchange(body.token);
      return {
        access_key: session.key,
        customer_id: session.accessKey.customer_id,
        expires_at: session.accessKey.expires_at as string,
      };
    },
  }),
  route({
    method: "GET",
    path: "/openapi.json",
    operationId: "getOpenApiDocument",
    tag: "Meta",
    auth: false,
    success: { status: 200, response: "openApiDocumentSchema" },
    handle: async ({ openApiDocument }) => openApiDocument(),
  }),
];
