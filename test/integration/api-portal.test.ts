/**
 * What the portal adds to the API (PRODUCT §9): a subscription's statistics, an event's deliveries,
 * the portal-link exchange, and the portal's own files — through the real authorizer and handler.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccessKeyRepository } from "#shared/adapters/dynamodb/access-keys.ts";
import { DeliveryRepository } from "#shared/adapters/dynamodb/deliveries.ts";
import { PortalLinkRepository } from "#shared/adapters/dynamodb/portal-links.ts";
import { keys } from "#shared/adapters/dynamodb/table.ts";
import type { DeliveryAttempt } from "#shared/domain/delivery/delivery.ts";
import { deriveDeliveryIds, deriveLegacyDeliveryIds } from "#shared/domain/ids.ts";
import { mintPortalLink, type PortalSessionDependencies } from "#shared/services/portal-sessions.ts";
import { materializePortal } from "../../portal/build.ts";
import { type ApiGatewaySimulator, errorCode } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";
import { deliveryTablesOf } from "../support/aws-env.ts";

let bed: ApiTestbed;
let api: ApiGatewaySimulator;
let deliveries: DeliveryRepository;
let linkDeps: PortalSessionDependencies;

/** 10 h between attempts, so the stats read deliveries created up to 12 h (10 h + 20 % jitter) before the window. */
const RETRY_SCHEDULE = [36_000];

beforeAll(async () => {
  bed = await createApiTestbed({
    retrySchedule: RETRY_SCHEDULE,
    overrides: { portalAssetsDir: materializePortal() },
  });
  api = bed.gateway;
  const doc = DynamoDBDocumentClient.from(bed.env.dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  deliveries = new DeliveryRepository(doc, deliveryTablesOf(bed.env, doc));
  linkDeps = {
    portalLinks: new PortalLinkRepository(doc, bed.env.tableName),
    accessKeys: new AccessKeyRepository(doc, bed.env.tableName),
  };
});

afterAll(() => bed?.close());

async function customer(): Promise<{ key: string; customerId: string }> {
  const minted = await bed.mintKey();
  return { key: minted.key, customerId: minted.accessKey.customer_id };
}

async function subscribe(key: string): Promise<string> {
  const response = await api.post(
    "/v1/subscriptions",
    { url: "https://example.com/hook", event_types: ["*"] },
    { key },
  );
  expect(response.status, JSON.stringify(response.json)).toBe(201);
  return (response.json as { id: string }).id;
}

const HOUR = 3_600_000;
const ago = (ms: number) => new Date(Date.now() - ms);

/**
 * Writes a delivery the way the router and the delivery function do: the event's body once, then
 * each attempt (the first creates the record) from the same live job.
 */
async function recordDelivery(
  ids: { eventId: string; subscriptionId: string; customerId: string },
  attempts: { at: Date; status: number | null; latency: number }[],
  layout: "layout 3" | "layout 2" = "layout 3",
): Promise<string> {
  const first = attempts[0]?.at ?? new Date();
  const { deliveryId, webhookId } =
    layout === "layout 3"
      ? deriveDeliveryIds(ids.eventId, ids.subscriptionId, first)
      : deriveLegacyDeliveryIds(ids.eventId, ids.subscriptionId);
  await deliveries.putPayload(
    ids.customerId,
    ids.eventId,
    '{"type":"call_hangup","data":{}}',
    first,
    30,
    first,
  );
  if (layout === "layout 2") {
    // The router of before the upgrade stored no event time with the body.
    await DynamoDBDocumentClient.from(bed.env.dynamodb).send(
      new UpdateCommand({
        TableName: bed.env.deliveriesTableName,
        Key: keys.eventPayload(ids.customerId, ids.eventId),
        UpdateExpression: "REMOVE event_ms",
      }),
    );
  }
  const delivery = {
    delivery_id: deliveryId,
    webhook_id: webhookId,
    subscription_id: ids.subscriptionId,
    customer_id: ids.customerId,
    event_id: ids.eventId,
    event_type: "call_hangup",
  };
  for (const [index, attempt] of attempts.entries()) {
    const record: DeliveryAttempt = {
      at: attempt.at.toISOString(),
      status_code: attempt.status,
      error: attempt.status === null ? "connection refused" : null,
      latency_ms: attempt.latency,
      response_body: null,
      request: {
        method: "POST",
        url: "https://example.com/hook",
        headers: { "content-type": "application/json" },
      },
    };
    const ok = attempt.status !== null && attempt.status < 300;
    const last = index === attempts.length - 1;
    await deliveries.recordAttempt({
      delivery,
      liveJob: `msg:${deliveryId}`,
      attempt: record,
      status: ok ? "succeeded" : last ? "dead" : "failed",
      deadReason: ok || !last ? null : "attempts_exhausted",
      nextAttemptAt: null,
      now: attempt.at,
      redeliverAfter: undefined,
      retentionDays: 30,
      // Unknown to the caller: the first attempt creates the record, later ones find it there.
      existing: undefined,
    });
  }
  return deliveryId;
}

interface StatsJson {
  window: string;
  attempts: number;
  succeeded: number;
  failed: number;
  success_rate: number | null;
  latency_ms: { p50: number | null; p95: number | null };
  buckets: { start: string; attempts: number; succeeded: number; failed: number }[];
  complete: boolean;
}

describe("GET /v1/subscriptions/{id}/stats", () => {
  it("counts the attempts of the window, per hour, with the success rate and latency percentiles", async () => {
    const { key, customerId } = await customer();
    const subscriptionId = await subscribe(key);
    const ids = { subscriptionId, customerId };
    // A delivery that failed, then succeeded an hour later.
    await recordDelivery({ ...ids, eventId: randomUUID() }, [
      { at: ago(2 * HOUR + 60_000), status: 503, latency: 100 },
      { at: ago(HOUR + 60_000), status: 200, latency: 300 },
    ]);
    // Created 30 h ago (before the window), attempted again 23 h ago (inside it): that attempt counts.
    await recordDelivery({ ...ids, eventId: randomUUID() }, [
      { at: ago(30 * HOUR), status: null, latency: 15 },
      { at: ago(23 * HOUR), status: 204, latency: 50 },
    ]);
    // Wholly before the window.
    await recordDelivery({ ...ids, eventId: randomUUID() }, [
      { at: ago(25 * HOUR), status: 500, latency: 9 },
    ]);

    const response = await api.get(`/v1/subscriptions/${subscriptionId}/stats`, { key });
    expect(response.status, JSON.stringify(response.json)).toBe(200);
    const stats = response.json as StatsJson;
    expect(stats).toMatchObject({
      window: "24h",
      attempts: 3,
      succeeded: 2,
      failed: 1,
      complete: true,
      latency_ms: { p50: 100, p95: 300 },
    });
    expect(stats.success_rate).toBeCloseTo(2 / 3);
    expect(stats.buckets).toHaveLength(25);
    expect(stats.buckets.reduce((sum, bucket) => sum + bucket.attempts, 0)).toBe(3);
    const hourOf = (date: Date) => new Date(Math.floor(date.getTime() / HOUR) * HOUR).toISOString();
    expect(stats.buckets.find((b) => b.start === hourOf(ago(HOUR + 60_000)))).toMatchObject({
      attempts: 1,
      succeeded: 1,
      failed: 0,
    });
    expect(stats.buckets.find((b) => b.start === hourOf(ago(2 * HOUR + 60_000)))).toMatchObject({
      failed: 1,
    });

    const week = (
      await api.get(`/v1/subscriptions/${subscriptionId}/stats`, { key, query: { window: "7d" } })
    ).json as StatsJson;
    expect(week).toMatchObject({ window: "7d", attempts: 5, succeeded: 2, failed: 3 });
    expect(week.buckets).toHaveLength(169);
  });

  it("answers zeros and nulls for a subscription without attempts", async () => {
    const { key } = await customer();
    const subscriptionId = await subscribe(key);
    const stats = (await api.get(`/v1/subscriptions/${subscriptionId}/stats`, { key })).json as StatsJson;
    expect(stats).toMatchObject({ attempts: 0, success_rate: null, latency_ms: { p50: null, p95: null } });
  });

  it("refuses an unknown window, and another customer's subscription does not exist", async () => {
    const { key } = await customer();
    const other = await customer();
    const subscriptionId = await subscribe(key);
    const bad = await api.get(`/v1/subscriptions/${subscriptionId}/stats`, { key, query: { window: "30d" } });
    expect(bad.status).toBe(400);
    expect((bad.json as { error: { details: { path: string }[] } }).error.details[0]?.path).toBe("window");
    const foreign = await api.get(`/v1/subscriptions/${subscriptionId}/stats`, { key: other.key });
    expect(foreign.status).toBe(404);
    expect((await api.get(`/v1/subscriptions/${subscriptionId}/stats`)).status).toBe(401);
  });
});

describe("GET /v1/events/{event_id}/deliveries", () => {
  it("lists the deliveries of the event to the caller's subscriptions only, with their attempts and body", async () => {
    const mine = await customer();
    const theirs = await customer();
    const [first, second, unreached] = [
      await subscribe(mine.key),
      await subscribe(mine.key),
      await subscribe(mine.key),
    ];
    const foreign = await subscribe(theirs.key);
    const eventId = randomUUID();
    const at = ago(60_000);
    const a = await recordDelivery({ eventId, subscriptionId: first, customerId: mine.customerId }, [
      { at, status: 200, latency: 12 },
    ]);
    const b = await recordDelivery({ eventId, subscriptionId: second, customerId: mine.customerId }, [
      { at, status: 500, latency: 40 },
    ]);
    const c = await recordDelivery({ eventId, subscriptionId: foreign, customerId: theirs.customerId }, [
      { at, status: 200, latency: 5 },
    ]);

    const response = await api.get(`/v1/events/${eventId}/deliveries`, { key: mine.key });
    expect(response.status, JSON.stringify(response.json)).toBe(200);
    const page = response.json as {
      items: { id: string; subscription_id: string; status: string; attempts: unknown[]; body: string }[];
      next_cursor: null;
    };
    expect(page.next_cursor).toBeNull();
    expect(page.items.map((item) => item.id).sort()).toEqual([a, b].sort());
    expect(page.items.map((item) => item.subscription_id)).not.toContain(unreached);
    expect(page.items.find((item) => item.id === b)).toMatchObject({ status: "dead", attempts: [{}] });
    expect(page.items[0]?.body).toBe('{"type":"call_hangup","data":{}}');

    const theirsView = (await api.get(`/v1/events/${eventId}/deliveries`, { key: theirs.key })).json as {
      items: { id: string }[];
    };
    expect(theirsView.items.map((item) => item.id)).toEqual([c]);
    const none = (await api.get(`/v1/events/${randomUUID()}/deliveries`, { key: mine.key })).json as {
      items: unknown[];
    };
    expect(none.items).toEqual([]);
  });

  it("finds the deliveries of an event routed before the upgrade (ids of layout 2)", async () => {
    const mine = await customer();
    const subscription = await subscribe(mine.key);
    const eventId = randomUUID();
    const id = await recordDelivery(
      { eventId, subscriptionId: subscription, customerId: mine.customerId },
      [{ at: ago(60_000), status: 200, latency: 9 }],
      "layout 2",
    );
    const response = await api.get(`/v1/events/${eventId}/deliveries`, { key: mine.key });
    expect(response.status, JSON.stringify(response.json)).toBe(200);
    expect((response.json as { items: { id: string; status: string }[] }).items).toMatchObject([
      { id, status: "succeeded" },
    ]);
  });
});

describe("POST /v1/portal/sessions", () => {
  it("exchanges a link once for an access key of its customer that expires within the hour", async () => {
    const customerId = randomUUID();
    const link = await mintPortalLink({ customerId }, linkDeps);
    const response = await api.post("/v1/portal/sessions", { token: link.token });
    expect(response.status, JSON.stringify(response.json)).toBe(201);
    const session = response.json as { access_key: string; customer_id: string; expires_at: string };
    expect(session.customer_id).toBe(customerId);
    expect(session.access_key).toMatch(/^vb_[A-Za-z0-9_-]{32}$/);
    const expiresIn = Date.parse(session.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(55 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(3600_000);

    // The key works like any other key of that customer.
    const created = await api.post(
      "/v1/subscriptions",
      { url: "https://example.com/hook", event_types: ["call_*"] },
      { key: session.access_key },
    );
    expect(created.status).toBe(201);
    expect((created.json as { customer_id: string }).customer_id).toBe(customerId);

    const again = await api.post("/v1/portal/sessions", { token: link.token });
    expect(again.status).toBe(401);
    expect(errorCode(again)).toBe("PORTAL_LINK_USED");
  });

  it("refuses a tampered, a malformed and an expired link, each with its own code", async () => {
    const link = await mintPortalLink({ customerId: randomUUID() }, linkDeps);
    const last = link.token.at(-1) === "A" ? "B" : "A";
    const tampered = await api.post("/v1/portal/sessions", { token: `${link.token.slice(0, -1)}${last}` });
    expect([tampered.status, errorCode(tampered)]).toEqual([401, "PORTAL_LINK_INVALID"]);
    const malformed = await api.post("/v1/portal/sessions", { token: "not a token" });
    expect([malformed.status, errorCode(malformed)]).toEqual([401, "PORTAL_LINK_INVALID"]);

    const expired = await mintPortalLink(
      { customerId: randomUUID(), expiresInSeconds: 60 },
      { ...linkDeps, now: () => ago(2 * 60_000) },
    );
    const late = await api.post("/v1/portal/sessions", { token: expired.token });
    expect([late.status, errorCode(late)]).toEqual([401, "PORTAL_LINK_EXPIRED"]);
    expect((late.json as { error: { message: string } }).error.message).toMatch(/expired/);

    // The original link was not used up by the failed attempts.
    expect((await api.post("/v1/portal/sessions", { token: link.token })).status).toBe(201);
  });

  it("lets exactly one of two concurrent exchanges of a link win", async () => {
    const link = await mintPortalLink({ customerId: randomUUID() }, linkDeps);
    const answers = await Promise.all([
      api.post("/v1/portal/sessions", { token: link.token }),
      api.post("/v1/portal/sessions", { token: link.token }),
    ]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 401]);
  });

  it("validates the body like every route: unknown fields and a missing token are 400", async () => {
    const missing = await api.post("/v1/portal/sessions", {});
    expect(missing.status).toBe(400);
    const extra = await api.post("/v1/portal/sessions", { token: "x", customer_id: randomUUID() });
    expect(extra.status).toBe(400);
    expect(
      (extra.json as { error: { details: { path: string }[] } }).error.details.map((d) => d.path),
    ).toEqual(expect.arrayContaining(["customer_id"]));
  });
});

describe("the portal's files at /portal/", () => {
  it("serves index.html, its script and style sheet under a strict Content-Security-Policy", async () => {
    const redirect = await api.get("/portal");
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe("/portal/");

    const index = await api.get("/portal/");
    expect(index.status).toBe(200);
    expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
    const csp = index.headers["content-security-policy"] ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(index.headers["x-content-type-options"]).toBe("nosniff");
    expect(index.headers["referrer-policy"]).toBe("no-referrer");

    const script = /src="(app-[A-Z0-9]{8}\.js)"/.exec(index.raw ?? "")?.[1] as string;
    const js = await api.get(`/portal/${script}`);
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toContain("immutable");
    expect(js.raw).toContain("Access key");

    expect((await api.get("/portal/missing.js")).status).toBe(404);
    expect((await api.get("/portal/../openapi.json")).status).toBe(404);
    expect((await api.post("/portal/", { a: 1 })).status).toBe(405);
  });
});
