import { describe, expect, it } from "vitest";
import { handleApiRequest } from "#shared/api/app.ts";
import type { ApiEvent } from "#shared/api/http.ts";
import type { ApiServices } from "#shared/api/routes.ts";
import { BUILT_IN_CATALOGUE } from "#shared/domain/events/runtime-catalogue.ts";
import { deriveDeliveryIds, uuidv7 } from "#shared/domain/ids.ts";
import { activeflowDestinationId } from "#shared/domain/subscriptions/activeflow.ts";
import { DestinationPolicy } from "#shared/domain/subscriptions/destination-policy.ts";
import { newSubscription } from "#shared/domain/subscriptions/subscription.ts";
import { ActiveflowDestinationService } from "#shared/services/activeflow-destinations.ts";
import { DeliveryInsightsService } from "#shared/services/delivery-insights.ts";
import { DeliveryLogService } from "#shared/services/delivery-log.ts";
import { mintPortalLink, PortalSessionService } from "#shared/services/portal-sessions.ts";
import { QuotaService } from "#shared/services/quotas.ts";
import { SubscriptionService } from "#shared/services/subscriptions.ts";
import { testResolver } from "../support/api.ts";
import {
  MemoryAccessKeys,
  MemoryDeliveries,
  MemoryDeliveryQueue,
  MemoryPortalLinks,
  MemoryQuotaCounters,
  MemorySubscriptions,
} from "../support/memory-stores.ts";

/**
 * The API's request pipeline (shared/api/app.ts) and its route table (routes.ts) over the real
 * services on in-memory stores: the status, headers and §5 bodies a client gets, at unit speed.
 * test/integration/api-*.test.ts run the same API behind the authorizer against the emulators.
 */

const NOW = new Date("2026-12-01T10:00:00.000Z");
const CUSTOMER = "0190a000-0000-7000-8000-0000000000a1";
const OTHER = "0190a000-0000-7000-8000-0000000000a2";

function api() {
  const subscriptionStore = new MemorySubscriptions();
  const deliveries = new MemoryDeliveries();
  const queue = new MemoryDeliveryQueue();
  const accessKeys = new MemoryAccessKeys();
  const portalLinks = new MemoryPortalLinks();
  const clock = () => NOW;
  const rule = { limit: 100, windowSeconds: 3600 };
  const quotas = new QuotaService({
    counters: new MemoryQuotaCounters(),
    rules: { test_event: rule, retry: rule, recover: rule },
    now: clock,
  });
  const destinations = [
    {
      activeflowId: "0190a000-0000-7000-8000-0000000000f1",
      url: "https://flow.example.com/a",
      method: "POST" as const,
      updatedAt: NOW.toISOString(),
      expiresAt: "2026-12-02T10:00:00.000Z",
    },
    {
      activeflowId: "0190a000-0000-7000-8000-0000000000f2",
      url: "https://flow.example.com/b",
      method: "PUT" as const,
      updatedAt: NOW.toISOString(),
      expiresAt: "2026-12-02T10:00:00.000Z",
    },
  ];
  const services: ApiServices = {
    subscriptions: new SubscriptionService({
      repository: subscriptionStore,
      policy: new DestinationPolicy({ allowHttp: false, allowedCidrs: [] }),
      resolver: testResolver,
      settings: {
        maxSubscriptionsPerCustomer: 5,
        secretRotationOverlapSeconds: 3600,
        autoDisableAfterSeconds: 86_400,
      },
      now: clock,
    }),
    activeflowDestinations: new ActiveflowDestinationService({
      repository: {
        listPage: async (customerId, options) => {
          const rest =
            customerId === CUSTOMER
              ? destinations.filter((d) => options.afterId === undefined || d.activeflowId > options.afterId)
              : [];
          const items = rest.slice(0, options.limit);
          return {
            items,
            nextAfterId: rest.length > options.limit ? (items.at(-1)?.activeflowId ?? null) : null,
          };
        },
      },
      now: clock,
    }),
    deliveryLog: new DeliveryLogService({
      subscriptions: subscriptionStore,
      deliveries,
      queue,
      quotas,
      settings: { retentionDays: 30 },
      now: clock,
    }),
    insights: new DeliveryInsightsService({
      subscriptions: subscriptionStore,
      deliveries,
      settings: { attemptLookbackSeconds: 3600 },
      now: clock,
    }),
    portalSessions: new PortalSessionService({ portalLinks, accessKeys, now: clock }),
    eventTypes: { current: async () => BUILT_IN_CATALOGUE, forPattern: async () => BUILT_IN_CATALOGUE },
  };
  const request = async (
    method: string,
    path: string,
    options: {
      body?: unknown;
      query?: Record<string, string>;
      headers?: Record<string, string>;
      customerId?: string | null;
      authError?: string;
      remainingTimeMs?: number;
      stage?: string;
      /** Replaces parts of the event as API Gateway would send it (a missing context, odd values). */
      event?: Record<string, unknown>;
    } = {},
  ) => {
    const lambda =
      options.authError !== undefined
        ? { auth_error: options.authError }
        : options.customerId === null
          ? null
          : { customer_id: options.customerId ?? CUSTOMER, key_id: "0190a000-0000-7000-8000-00000000bee1" };
    const event = {
      rawPath: path,
      headers:
        options.body === undefined
          ? (options.headers ?? {})
          : { "content-type": "application/json", ...options.headers },
      queryStringParameters: options.query,
      body:
        options.body === undefined
          ? undefined
          : typeof options.body === "string"
            ? options.body
            : JSON.stringify(options.body),
      isBase64Encoded: false,
      requestContext: {
        http: { method },
        stage: options.stage ?? "$default",
        authorizer: lambda === null ? undefined : { lambda },
      },
      ...options.event,
    } as unknown as ApiEvent;
    const outcome = await handleApiRequest(
      event,
      services,
      { recoverTimeBudgetMs: 10_000 },
      {
        openApiDocument: () => ({ openapi: "3.1.0" }),
        ...(options.remainingTimeMs !== undefined
          ? { remainingTimeMs: () => options.remainingTimeMs as number }
          : {}),
      },
    );
    const { body } = outcome.result;
    return {
      ...outcome,
      status: outcome.result.statusCode,
      // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, read by path in the assertions.
      json: body === undefined ? undefined : (JSON.parse(body) as Record<string, any>),
    };
  };
  return { request, subscriptionStore, deliveries, queue, accessKeys, portalLinks };
}

type Detail = { path: string; message: string };
const detailsOf = (answer: { json?: Record<string, unknown> | undefined }): Detail[] =>
  ((answer.json?.error as { details?: Detail[] } | undefined)?.details ?? []) as Detail[];

const create = { url: "https://hooks.example.com/in", event_types: ["call_*"] };

describe("routing a request", () => {
  it("answers 404 for no route, 405 with Allow for another method, and 404 for a bad percent-encoding", async () => {
    const { request } = api();
    const none = await request("GET", "/v1/nothing");
    expect(none).toMatchObject({ status: 404, route: null, errorCode: "NOT_FOUND" });
    expect(none.json).toEqual({ error: { code: "NOT_FOUND", message: "No such route.", details: [] } });
    const wrong = await request("PUT", "/v1/subscriptions");
    expect(wrong.status).toBe(405);
    expect(wrong.result.headers.allow).toBe("POST, GET");
    expect(wrong.json).toEqual({
      error: { code: "METHOD_NOT_ALLOWED", message: "Use one of: POST, GET.", details: [] },
    });
    expect((await request("GET", "/v1/subscriptions/%E0%A4%A")).json).toEqual({
      error: { code: "NOT_FOUND", message: "No such route.", details: [] },
    });
    // No method at all is no route's method.
    expect((await request("GET", "/v1/subscriptions", { event: { requestContext: {} } })).status).toBe(405);
    // A body on a route that takes none is not read.
    const ignored = await request("GET", "/v1/subscriptions", {
      headers: { "content-type": "text/plain" },
      event: { body: "x" },
    });
    expect(ignored.status).toBe(200);
    // A query parameter API Gateway passes without a value is absent.
    expect(
      (await request("GET", "/v1/subscriptions", { event: { queryStringParameters: { limit: undefined } } }))
        .status,
    ).toBe(200);
    // An empty path parameter is no parameter.
    expect((await request("GET", "/v1/subscriptions//secret")).status).toBe(404);
    // Lower-case methods are methods; a stage prefix is not part of the route.
    expect((await request("get", "/prod/v1/subscriptions", { stage: "prod" })).status).toBe(200);
    expect((await request("GET", "/v1/subscriptions/")).status).toBe(200);
  });

  it("answers each authorizer verdict with its status, and 500 when no authorizer ran", async () => {
    const { request } = api();
    expect(await request("GET", "/v1/subscriptions", { authError: "AUTHENTICATION_REQUIRED" })).toMatchObject(
      {
        status: 401,
        errorCode: "AUTHENTICATION_REQUIRED",
        customerId: null,
      },
    );
    expect((await request("GET", "/v1/subscriptions", { authError: "INVALID_CREDENTIALS" })).status).toBe(
      401,
    );
    expect((await request("GET", "/v1/subscriptions", { authError: "AUTHORIZER_THROTTLED" })).status).toBe(
      429,
    );
    expect((await request("GET", "/v1/subscriptions", { authError: "AUTHORIZER_FAILED" })).status).toBe(500);
    const unknown = await request("GET", "/v1/subscriptions", { authError: "SOMETHING_ELSE" });
    expect(unknown.status).toBe(500);
    expect((unknown.error as Error).name).toBe("MissingAuthorizerContextError");
    expect(unknown.error).toMatchObject({
      code: "AUTHORIZER_CONTEXT_MISSING",
      message:
        "API route reached without the authorizer's context; check the API Gateway authorizer configuration",
    });
    const nullContext = await request("GET", "/v1/subscriptions", {
      event: { requestContext: { http: { method: "GET" }, authorizer: { lambda: null } } },
    });
    expect((nullContext.error as Error).name).toBe("MissingAuthorizerContextError");
    // A caller without a key id (an older authorizer) is still the customer.
    const noKey = await request("GET", "/v1/subscriptions", {
      event: {
        requestContext: {
          http: { method: "GET" },
          authorizer: { lambda: { customer_id: CUSTOMER, key_id: 7 } },
        },
      },
    });
    expect(noKey).toMatchObject({ status: 200, customerId: CUSTOMER, keyId: "" });
    // A 4xx carries no error for the log; a refused public request has no caller.
    const notFound = await request("GET", "/v1/nothing");
    expect("error" in notFound).toBe(false);
    const badSession = await request("POST", "/v1/portal/sessions", { body: {}, customerId: null });
    expect(badSession).toMatchObject({ status: 400, customerId: null, keyId: null });
    const missing = await request("GET", "/v1/subscriptions", { customerId: null });
    expect(missing).toMatchObject({
      status: 500,
      errorCode: "INTERNAL_ERROR",
      route: "GET /v1/subscriptions",
    });
    expect((missing.error as Error).name).toBe("MissingAuthorizerContextError");
    expect((await request("GET", "/v1/subscriptions", { customerId: "not-a-uuid" })).status).toBe(500);
    // The public routes need no caller.
    expect(await request("GET", "/openapi.json", { customerId: null })).toMatchObject({
      status: 200,
      json: { openapi: "3.1.0" },
      customerId: null,
      keyId: null,
    });
  });
});

describe("validating a request", () => {
  it("names every problem of the path, the query and the body in one answer", async () => {
    const { request } = api();
    const refused = await request("PATCH", "/v1/subscriptions/nope", {
      body: { url: "ftp://x", event_types: [], surprise: 1 },
      query: { extra: "1" },
    });
    expect(refused.status).toBe(400);
    const paths = detailsOf(refused).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(["id", "surprise", "event_types"]));
    expect(refused.json?.error.details).toContainEqual({ path: "surprise", message: "is not a known field" });
    const query = await request("GET", "/v1/subscriptions", {
      query: { limit: "0", extra: "1", accesskey: "vb_x" },
    });
    expect(query.json?.error.details).toContainEqual({
      path: "extra",
      message: "is not a known query parameter",
    });
    expect(query.json?.error.details.map((d: { path: string }) => d.path)).toEqual(["limit", "extra"]);
  });

  it("requires a JSON body where a route takes one, and lists a URL's form problem beside the schema's", async () => {
    const { request } = api();
    const bodyless = await request("POST", "/v1/subscriptions");
    expect(bodyless.json?.error.details).toEqual([{ path: "body", message: "a JSON body is required" }]);
    const nullBody = await request("POST", "/v1/subscriptions", { body: "null" });
    expect(nullBody.status).toBe(400);
    const notObject = await request("POST", "/v1/subscriptions", { body: [1] });
    expect(notObject.json?.error.details[0].path).toBe("body");
    const both = await request("POST", "/v1/subscriptions", {
      body: { url: "https://127.0.0.1/x", event_types: ["no_such_type"] },
    });
    expect(both.json?.error.details).toEqual(
      expect.arrayContaining([
        { path: "url", message: "host is or resolves to a blocked address" },
        expect.objectContaining({ path: "event_types.0" }),
      ]),
    );
    // A URL the schema already refused is reported once.
    const once = await request("POST", "/v1/subscriptions", {
      body: { url: "x".repeat(3000), event_types: ["*"] },
    });
    expect(once.json?.error.details.filter((d: { path: string }) => d.path === "url")).toHaveLength(1);
    const text = await request("POST", "/v1/subscriptions", {
      body: "{}",
      headers: { "content-type": "text/plain" },
    });
    expect(text.status).toBe(415);
    const big = await request("POST", "/v1/subscriptions", { body: `"${"x".repeat(70_000)}"` });
    expect(big.status).toBe(413);
  });

  it("explains a record key that breaks its own rule, not just that a key is invalid", async () => {
    const { request } = api();
    const refused = await request("POST", "/v1/subscriptions", {
      body: { ...create, headers: { "bad header": "x" } },
    });
    expect(refused.status).toBe(400);
    const detail = detailsOf(refused)[0];
    expect(detail?.path).toBe("headers.bad header");
    expect(detail?.message).not.toBe("Invalid key in record");
  });
});

describe("the subscription routes", () => {
  it("create (201, with the secret), read, list with a cursor, change, rotate, read the secret and delete (204)", async () => {
    const { request } = api();
    const created = await request("POST", "/v1/subscriptions", { body: create });
    expect(created).toMatchObject({
      status: 201,
      route: "POST /v1/subscriptions",
      customerId: CUSTOMER,
      errorCode: null,
    });
    expect(created.keyId).toBe("0190a000-0000-7000-8000-00000000bee1");
    const id = created.json?.id as string;
    expect(created.json).toMatchObject({
      url: create.url,
      event_types: ["call_*"],
      failing: null,
      secret: expect.stringMatching(/^whsec_/),
    });
    const read = await request("GET", `/v1/subscriptions/${id}`);
    expect(read.status).toBe(200);
    expect(read.json).toEqual({ ...created.json, secret: undefined });
    expect("secret" in (read.json ?? {})).toBe(false);
    expect((await request("GET", `/v1/subscriptions/${id}`, { customerId: OTHER })).status).toBe(404);

    await request("POST", "/v1/subscriptions", { body: create });
    const first = await request("GET", "/v1/subscriptions", { query: { limit: "1" } });
    expect(first.json?.items).toHaveLength(1);
    expect(typeof first.json?.next_cursor).toBe("string");
    const second = await request("GET", "/v1/subscriptions", {
      query: { limit: "1", cursor: first.json?.next_cursor },
    });
    expect(second.json?.items).toHaveLength(1);
    expect(second.json?.next_cursor).toBeNull();
    // A cursor is the customer's own.
    expect(
      (
        await request("GET", "/v1/subscriptions", {
          customerId: OTHER,
          query: { cursor: first.json?.next_cursor },
        })
      ).status,
    ).toBe(400);

    const changed = await request("PATCH", `/v1/subscriptions/${id}`, { body: { description: "calls" } });
    expect(changed.json).toMatchObject({ id, description: "calls" });
    const secret = (await request("GET", `/v1/subscriptions/${id}/secret`)).json?.secret;
    expect(secret).toBe(created.json?.secret);
    const rotated = await request("POST", `/v1/subscriptions/${id}/secret/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.json?.secret).toMatch(/^whsec_/);
    expect(rotated.json?.secret).not.toBe(secret);
    expect((await request("GET", `/v1/subscriptions/${id}/secret`)).json?.secret).toBe(rotated.json?.secret);
    const deleted = await request("DELETE", `/v1/subscriptions/${id}`);
    expect(deleted.status).toBe(204);
    expect(deleted.result.body).toBeUndefined();
    expect((await request("DELETE", `/v1/subscriptions/${id}`)).status).toBe(404);
  });

  it("shows a failing streak with when auto-disable ends it", async () => {
    const { request, subscriptionStore } = api();
    const s = newSubscription({
      customer_id: CUSTOMER,
      url: "https://hooks.example.com/",
      failing_since: "2026-12-01T09:00:00.000Z",
    });
    subscriptionStore.items.set(`${CUSTOMER}/${s.id}`, s);
    expect((await request("GET", `/v1/subscriptions/${s.id}`)).json?.failing).toEqual({
      since: "2026-12-01T09:00:00.000Z",
      auto_disable_at: "2026-12-02T09:00:00.000Z",
    });
  });

  it("lists the customer's activeflow destinations with the id their deliveries carry", async () => {
    const { request } = api();
    const listed = await request("GET", "/v1/activeflow-destinations");
    expect(listed.json?.items).toEqual([
      expect.objectContaining({
        kind: "activeflow",
        activeflow_id: "0190a000-0000-7000-8000-0000000000f1",
        url: "https://flow.example.com/a",
        method: "POST",
        managed: true,
        managed_by: "voipbin.flow-manager",
        updated_at: NOW.toISOString(),
        expires_at: "2026-12-02T10:00:00.000Z",
      }),
      expect.objectContaining({ activeflow_id: "0190a000-0000-7000-8000-0000000000f2", method: "PUT" }),
    ]);
    expect(listed.json?.items[0].id).toBe(activeflowDestinationId("0190a000-0000-7000-8000-0000000000f1"));
    expect(listed.json?.next_cursor).toBeNull();
    const first = await request("GET", "/v1/activeflow-destinations", { query: { limit: "1" } });
    expect(first.json?.items.map((d: { activeflow_id: string }) => d.activeflow_id)).toEqual([
      "0190a000-0000-7000-8000-0000000000f1",
    ]);
    const second = await request("GET", "/v1/activeflow-destinations", {
      query: { limit: "1", cursor: first.json?.next_cursor },
    });
    expect(second.json?.items.map((d: { activeflow_id: string }) => d.activeflow_id)).toEqual([
      "0190a000-0000-7000-8000-0000000000f2",
    ]);
    expect(second.json?.next_cursor).toBeNull();
  });
});

describe("the delivery routes", () => {
  it("send a test event (202), list it, read it, retry it and find it by its event", async () => {
    const { request, queue, deliveries } = api();
    const id = (await request("POST", "/v1/subscriptions", { body: create })).json?.id as string;
    const sent = await request("POST", `/v1/subscriptions/${id}/test`);
    expect(sent.status).toBe(202);
    const deliveryId = sent.json?.delivery_id as string;
    expect(queue.jobs[0]?.delivery_id).toBe(deliveryId);
    const sample = await request("POST", `/v1/subscriptions/${id}/test`, {
      body: { event_type: "call_hangup" },
    });
    expect(sample.status).toBe(202);
    expect(queue.jobs[1]?.event_type).toBe("call_hangup");
    const unknownType = await request("POST", `/v1/subscriptions/${id}/test`, {
      body: { event_type: "call_nothing" },
    });
    expect(unknownType.status).toBe(400);
    expect(unknownType.json?.error.details).toContainEqual({
      path: "event_type",
      message: '"call_nothing" is not an event type with an example (GET /v1/event-types lists them)',
    });

    const listed = await request("GET", `/v1/subscriptions/${id}/deliveries`, { query: { limit: "1" } });
    expect(listed.json?.items).toHaveLength(1);
    expect(listed.json?.items[0]).toMatchObject({ subscription_id: id, status: "pending" });
    const next = await request("GET", `/v1/subscriptions/${id}/deliveries`, {
      query: { cursor: listed.json?.next_cursor },
    });
    expect(next.json?.items).toHaveLength(1);
    expect(next.json?.next_cursor).toBeNull();
    const record = deliveries.records.get(deliveryId);
    const read = await request("GET", `/v1/deliveries/${deliveryId}`);
    expect(read.json).toMatchObject({
      id: deliveryId,
      subscription_id: id,
      status: "pending",
      dead_reason: null,
      body: record?.payload,
    });
    expect("customer_id" in (read.json ?? {})).toBe(false);
    expect((await request("GET", `/v1/deliveries/${deliveryId}`, { customerId: OTHER })).status).toBe(404);

    const retried = await request("POST", `/v1/deliveries/${deliveryId}/retry`);
    expect(retried).toMatchObject({ status: 202, json: { delivery_id: deliveryId } });

    const eventId = record?.event_id as string;
    // As the router's stored body would say (a test event stores none: found by a routed event only).
    deliveries.eventTimes.set(`${CUSTOMER}|${eventId}`, new Date(record?.created_at as string));
    const byEvent = await request("GET", `/v1/events/${eventId}/deliveries`);
    expect(byEvent.status).toBe(200);
    expect(byEvent.json?.next_cursor).toBeNull();
    expect(byEvent.json?.items.map((d: { id: string }) => d.id)).toContain(deliveryId);
  });

  it("recover (202) within the request's time budget, and stats over a window", async () => {
    const { request, deliveries } = api();
    const id = (await request("POST", "/v1/subscriptions", { body: create })).json?.id as string;
    const created = new Date(NOW.getTime() - 60_000);
    const eventId = uuidv7(created.getTime());
    const ids = deriveDeliveryIds(eventId, id, created);
    deliveries.put({
      id: ids.deliveryId,
      subscription_id: id,
      customer_id: CUSTOMER,
      event_id: eventId,
      event_type: "call_hangup",
      webhook_id: ids.webhookId,
      status: "dead",
      dead_reason: "attempts_exhausted",
      attempts: [
        {
          at: created.toISOString(),
          status_code: 500,
          error: null,
          latency_ms: 12,
          response_body: "no",
          request: { method: "POST", url: "https://hooks.example.com/in", headers: { a: "b" } },
        },
      ],
      next_attempt_at: null,
      created_at: created.toISOString(),
      updated_at: created.toISOString(),
      succeeded_at: null,
      chain_attempts: 8,
      live_job: "msg:1",
      payload: "{}",
    });
    const read = await request("GET", `/v1/deliveries/${ids.deliveryId}`);
    expect(read.json).toMatchObject({
      dead_reason: "attempts_exhausted",
      attempts: [
        {
          status_code: 500,
          request: { method: "POST", url: "https://hooks.example.com/in", headers: { a: "b" } },
        },
      ],
    });
    const stats = await request("GET", `/v1/subscriptions/${id}/stats`, { query: { window: "24h" } });
    expect(stats.json).toMatchObject({ window: "24h", attempts: 1, failed: 1, complete: true });
    expect(stats.json?.buckets).toHaveLength(25);
    expect((await request("GET", `/v1/subscriptions/${id}/stats`, { query: { window: "1y" } })).status).toBe(
      400,
    );

    const since = new Date(NOW.getTime() - 3600_000).toISOString();
    // Lambda's time nearly spent (less than the 3 s kept to answer): nothing is requeued.
    const late = await request("POST", `/v1/subscriptions/${id}/recover`, {
      body: { since },
      remainingTimeMs: 1000,
    });
    expect(late.status).toBe(202);
    expect(late.json).toMatchObject({ count: 0, complete: false });
    // Time enough: the budget, not Lambda's remaining time, bounds it.
    const recovered = await request("POST", `/v1/subscriptions/${id}/recover`, {
      body: { since },
      remainingTimeMs: 900_000,
    });
    expect(recovered).toMatchObject({ status: 202 });
    expect(recovered.json).toMatchObject({ count: 1, complete: true });
  });
});

describe("the catalogue and portal routes", () => {
  it("list the event types and answer one or 404", async () => {
    const { request } = api();
    const list = await request("GET", "/v1/event-types");
    expect(list.json?.items.length).toBeGreaterThan(10);
    expect(list.json?.items).toContainEqual(
      expect.objectContaining({ type: "call_hangup", resource: "call" }),
    );
    const one = await request("GET", "/v1/event-types/call_hangup");
    expect(one.json).toMatchObject({ type: "call_hangup", resource: "call" });
    expect(one.json?.description.length).toBeGreaterThan(0);
    expect(one.json?.schema).toEqual(expect.objectContaining({ type: "object" }));
    expect(one.json?.example).toEqual(expect.objectContaining({ id: expect.any(String) }));
    const missing = await request("GET", "/v1/event-types/call_nothing");
    expect(missing).toMatchObject({
      status: 404,
      json: { error: { code: "NOT_FOUND", message: "No such event type." } },
    });
  });

  it("exchange a portal link for a session key once, without a caller", async () => {
    const { request, portalLinks, accessKeys } = api();
    const link = await mintPortalLink({ customerId: CUSTOMER }, { portalLinks, accessKeys, now: () => NOW });
    const session = await request("POST", "/v1/portal/sessions", {
      body: { token: link.token },
      customerId: null,
    });
    expect(session).toMatchObject({
      status: 201,
      json: {
        customer_id: CUSTOMER,
        expires_at: "2026-12-01T11:00:00.000Z",
        access_key: expect.stringMatching(/^vb_/),
      },
    });
    const again = await request("POST", "/v1/portal/sessions", {
      body: { token: link.token },
      customerId: null,
    });
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.json?.error.code).toBe("PORTAL_LINK_USED");
  });
});
