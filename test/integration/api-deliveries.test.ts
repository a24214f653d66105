import { randomUUID } from "node:crypto";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveryQueue } from "#shared/adapters/delivery-queue.ts";
import { DeliveryRepository } from "#shared/adapters/dynamodb/deliveries.ts";
import { QuotaCounterRepository } from "#shared/adapters/dynamodb/quotas.ts";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { keys } from "#shared/adapters/dynamodb/table.ts";
import { loadConfig, quotaRulesFor } from "#shared/config.ts";
import type { DeliveryStatus } from "#shared/domain/delivery/delivery.ts";
import { deriveDeliveryIds, deriveLegacyDeliveryIds, subscriptionTagOf } from "#shared/domain/ids.ts";
import { DeliveryLogService, TEST_EVENT_MESSAGE } from "#shared/services/delivery-log.ts";
import { QuotaService } from "#shared/services/quotas.ts";
import { SqsEventSource } from "../../local/sqs-event-source.ts";
import { type ApiGatewaySimulator, type ApiResponse, errorCode } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";
import { deliveryTablesOf } from "../support/aws-env.ts";
import { startEventBridgeCapture } from "../support/eventbridge-capture.ts";
import { waitForQueueEmpty } from "../support/pipeline.ts";
import { type Receiver, type Responder, startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

let bed: ApiTestbed;
let api: ApiGatewaySimulator;
let capture: Awaited<ReturnType<typeof startEventBridgeCapture>>;
let source: SqsEventSource;
let deliveries: DeliveryRepository;
let subscriptions: SubscriptionRepository;
let key: string;
let customerId: string;
const receivers: Receiver[] = [];

const OVERLAP_SECONDS = 2;

async function receiver(respond?: Responder): Promise<Receiver> {
  const started = await startReceiver(respond);
  receivers.push(started);
  return started;
}

beforeAll(async () => {
  capture = await startEventBridgeCapture();
  bed = await createApiTestbed({
    retrySchedule: [1],
    env: {
      EVENTBRIDGE_ENDPOINT: capture.endpoint,
      RETRY_JITTER: "0",
      DELIVERY_TIMEOUT_MS: "1000",
      SUBSCRIPTION_CACHE_TTL_MS: "0",
      SECRET_ROTATION_OVERLAP_SECONDS: String(OVERLAP_SECONDS),
      // This suite exercises what the routes do, many times per customer; quotas have their own suite.
      QUOTA_TEST_EVENTS_PER_MINUTE: "1000",
      QUOTA_RETRIES_PER_MINUTE: "1000",
      QUOTA_RECOVERS_PER_HOUR: "1000",
    },
  });
  api = bed.gateway;
  const doc = DynamoDBDocumentClient.from(bed.env.dynamodb);
  deliveries = new DeliveryRepository(doc, deliveryTablesOf(bed.env, doc));
  subscriptions = new SubscriptionRepository(doc, bed.env.tableName);
  source = await bed.startDeliveries();
  const minted = await bed.mintKey();
  key = minted.key;
  customerId = minted.accessKey.customer_id;
});

afterAll(async () => {
  await source?.stop();
  await Promise.all(receivers.map((r) => r.close()));
  await capture?.close();
  bed?.close();
});

interface Created {
  id: string;
  secret: string;
}

interface DeliveryJson {
  id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  webhook_id: string;
  status: DeliveryStatus;
  attempts: {
    at: string;
    status_code: number | null;
    error: string | null;
    latency_ms: number;
    response_body: string | null;
  }[];
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
}

async function subscribe(url: string, withKey = key, eventTypes = ["*"]): Promise<Created> {
  const response = await api.post("/v1/subscriptions", { url, event_types: eventTypes }, { key: withKey });
  expect(response.status, JSON.stringify(response.json)).toBe(201);
  return response.json as Created;
}

async function sendTest(subscriptionId: string): Promise<string> {
  const response = await api.post(`/v1/subscriptions/${subscriptionId}/test`, undefined, { key });
  expect(response.status, JSON.stringify(response.json)).toBe(202);
  return (response.json as { delivery_id: string }).delivery_id;
}

async function getDelivery(id: string): Promise<DeliveryJson> {
  const response = await api.get(`/v1/deliveries/${id}`, { key });
  expect(response.status).toBe(200);
  return response.json as DeliveryJson;
}

async function waitForStatus(id: string, status: DeliveryStatus, timeoutMs = 10_000): Promise<DeliveryJson> {
  await waitFor(async () => (await deliveries.get(customerId, id))?.status === status, {
    timeoutMs,
    intervalMs: 50,
    description: `delivery ${id} ${status}`,
  });
  return getDelivery(id);
}

/**
 * Seeds `count` deliveries one millisecond apart through the delivery repository, as attempts
 * record them: with today's ids (layout 3, the head in the subscription's log partition), with ids
 * of jobs queued before the upgrade (layout 2, the log in GSI1), or alternating, as a subscription's
 * log reads during the 30 days after an in-place upgrade.
 */
async function seed(
  subscriptionId: string,
  count: number,
  statusOf: (i: number) => DeliveryStatus,
  layout: "layout 3" | "layout 2" | "mixed" = "layout 3",
  options: { base?: number; retentionDays?: number } = {},
) {
  const base = options.base ?? Date.now() - 60_000;
  const retentionDays = options.retentionDays ?? 30;
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const status = statusOf(i);
    const eventId = randomUUID();
    const legacy = layout === "layout 2" || (layout === "mixed" && i % 2 === 0);
    const id = legacy
      ? deriveLegacyDeliveryIds(eventId, subscriptionId).deliveryId
      : deriveDeliveryIds(eventId, subscriptionId, new Date(base + i)).deliveryId;
    const payload = '{"type":"call_hangup","data":{}}';
    await deliveries.putPayload(
      customerId,
      eventId,
      payload,
      new Date(base + i),
      retentionDays,
      new Date(base + i),
    );
    await deliveries.recordAttempt({
      delivery: {
        delivery_id: id,
        subscription_id: subscriptionId,
        customer_id: customerId,
        event_id: eventId,
        event_type: "call_hangup",
        webhook_id: `msg_${randomUUID().replaceAll("-", "")}`,
      },
      liveJob: `msg:${id}`,
      attempt: {
        at: new Date(base + i).toISOString(),
        status_code: status === "succeeded" ? 200 : 500,
        error: null,
        latency_ms: 3,
        response_body: status === "succeeded" ? "ok" : "no",
        request: null,
      },
      status: status === "pending" ? "failed" : status,
      deadReason: status === "dead" ? "attempts_exhausted" : null,
      nextAttemptAt: null,
      now: new Date(base + i),
      redeliverAfter: undefined,
      retentionDays,
      existing: undefined,
    });
    ids.push(id);
  }
  return ids;
}

describe("test event", () => {
  it("goes through the real queue and delivery function to that subscription only, signed", async () => {
    const target = await receiver();
    const bystander = await receiver();
    const subscription = await subscribe(`${target.url}/hook`);
    await subscribe(bystander.url);
    const before = Date.now();
    const deliveryId = await sendTest(subscription.id);

    // Visible at once, before the first attempt.
    const pending = (await api.get(`/v1/deliveries/${deliveryId}`, { key })).json as DeliveryJson;
    expect(["pending", "succeeded"]).toContain(pending.status);

    const [request] = await target.waitForRequests(1, 10_000);
    if (!request) throw new Error("no request");
    const body = new Webhook(subscription.secret).verify(request.body, request.headers) as {
      type: string;
      data: { subscription_id: string; message: string; created_at: string };
    };
    expect(body.type).toBe("webhook_test");
    expect(body.data).toEqual({
      subscription_id: subscription.id,
      message: TEST_EVENT_MESSAGE,
      created_at: expect.any(String),
    });
    expect(Date.parse(body.data.created_at)).toBeGreaterThanOrEqual(before - 1000);
    expect(request.body.startsWith('{"type":"webhook_test","data":{')).toBe(true);

    const done = await waitForStatus(deliveryId, "succeeded");
    expect(done).toMatchObject({
      id: deliveryId,
      subscription_id: subscription.id,
      event_type: "webhook_test",
      webhook_id: request.headers["webhook-id"],
      next_attempt_at: null,
    });
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]).toMatchObject({ status_code: 200, error: null, response_body: "ok" });
    // The request sent, as the receiver saw it (PRODUCT §4: `request` on each attempt).
    const sent = (
      done.attempts[0] as unknown as {
        request: { method: string; url: string; headers: Record<string, string> };
      }
    ).request;
    expect(sent.method).toBe("POST");
    expect(sent.url).toBe(`${target.url}/hook`);
    for (const name of [
      "webhook-id",
      "webhook-timestamp",
      "webhook-signature",
      "x-voipbin-signature",
      "content-type",
      "user-agent",
    ]) {
      expect(sent.headers[name], name).toBe(request.headers[name]);
    }
    // The body sent, exactly: what the receiver got.
    expect((done as DeliveryJson & { body?: string }).body).toBe(request.body);
    expect(Object.keys(done).sort()).toEqual(
      [
        "attempts",
        "body",
        "created_at",
        "dead_reason",
        "event_id",
        "event_type",
        "id",
        "next_attempt_at",
        "status",
        "subscription_id",
        "timing",
        "updated_at",
        "webhook_id",
      ].sort(),
    );
    await waitForQueueEmpty(bed.env, bed.env.queues.deliveryQueueUrl);
    expect(bystander.requests).toHaveLength(0);
  });

  it("is listed by GET /v1/events/{event_id}/deliveries like a routed event's delivery, to its customer only", async () => {
    const target = await receiver();
    const subscription = await subscribe(target.url);
    const deliveryId = await sendTest(subscription.id);
    const [request] = await target.waitForRequests(1, 10_000);
    if (!request) throw new Error("no request");
    const { event_id: eventId } = await waitForStatus(deliveryId, "succeeded");

    const response = await api.get(`/v1/events/${eventId}/deliveries`, { key });
    expect(response.status, JSON.stringify(response.json)).toBe(200);
    const page = response.json as {
      items: (DeliveryJson & { body: string })[];
      next_cursor: null;
    };
    expect(page.next_cursor).toBeNull();
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({
      id: deliveryId,
      event_id: eventId,
      event_type: "webhook_test",
      subscription_id: subscription.id,
      webhook_id: request.headers["webhook-id"],
      status: "succeeded",
      body: request.body,
    });
    expect(page.items[0]?.attempts).toHaveLength(1);
    expect(page.items[0]?.attempts[0]).toMatchObject({ status_code: 200, error: null });

    // Another customer asking for the same event id learns nothing of it.
    const other = await bed.mintKey();
    const theirs = await api.get(`/v1/events/${eventId}/deliveries`, { key: other.key });
    expect(theirs.status).toBe(200);
    expect((theirs.json as { items: unknown[] }).items).toEqual([]);
  });

  it("keeps exactly the first 4 KiB of a 10 KB answer in response_body, as the API shows it", async () => {
    // Distinct bytes at every position, so a cut one byte early or late, or a wrong slice, shows.
    const answer = Array.from({ length: 10_240 }, (_, i) => String.fromCharCode(33 + (i % 94))).join("");
    const target = await receiver(() => ({ status: 200, body: answer }));
    const subscription = await subscribe(target.url);
    const done = await waitForStatus(await sendTest(subscription.id), "succeeded");
    const kept = done.attempts[0]?.response_body;
    expect(Buffer.byteLength(kept ?? "", "utf8")).toBe(4096);
    expect(kept).toBe(answer.slice(0, 4096));
  });

  it("sends a catalogue type's example, verified by a standardwebhooks receiver and marked x-voipbin-test, retries too", async () => {
    const target = await receiver();
    const subscription = await subscribe(target.url, key, ["call_*"]);
    const catalogue = await api.get("/v1/event-types/call_hangup", { key });
    const example = (catalogue.json as { example: Record<string, unknown> }).example;

    const response = await api.post(
      `/v1/subscriptions/${subscription.id}/test`,
      { event_type: "call_hangup" },
      { key },
    );
    expect(response.status, JSON.stringify(response.json)).toBe(202);
    const deliveryId = (response.json as { delivery_id: string }).delivery_id;
    const [request] = await target.waitForRequests(1, 10_000);
    if (!request) throw new Error("no request");
    // Signed like any delivery; the body is VoIPBIN's envelope of the example, byte for byte.
    expect(new Webhook(subscription.secret).verify(request.body, request.headers)).toEqual({
      type: "call_hangup",
      data: example,
    });
    expect(request.body).toBe(`{"type":"call_hangup","data":${JSON.stringify(example)}}`);
    expect(request.headers["x-voipbin-test"]).toBe("true");
    const done = await waitForStatus(deliveryId, "succeeded");
    expect(done.event_type).toBe("call_hangup");

    // A retry of the test delivery is still marked as a test.
    expect((await api.post(`/v1/deliveries/${deliveryId}/retry`, undefined, { key })).status).toBe(202);
    const [, again] = await target.waitForRequests(2, 10_000);
    expect(again?.headers["x-voipbin-test"]).toBe("true");
    expect(again?.body).toBe(request.body);

    // Without a body: webhook_test, marked too.
    await sendTest(subscription.id);
    const [, , plain] = await target.waitForRequests(3, 10_000);
    expect(JSON.parse(plain?.body ?? "{}").type).toBe("webhook_test");
    expect(plain?.headers["x-voipbin-test"]).toBe("true");
  });

  it("400 lists every problem of a typed test request: unknown type, not selected, extra fields", async () => {
    const target = await receiver();
    const { id } = await subscribe(target.url, key, ["call_*"]);
    const problems = async (body: unknown) => {
      const response = await api.post(`/v1/subscriptions/${id}/test`, body, { key });
      expect(response.status).toBe(400);
      expect(errorCode(response)).toBe("VALIDATION_FAILED");
      return (response.json as { error: { details: { path: string; message: string }[] } }).error.details;
    };
    expect(await problems({ event_type: "call_exploded", colour: "red" })).toEqual([
      expect.objectContaining({ path: "colour" }),
      {
        path: "event_type",
        message: '"call_exploded" is not an event type with an example (GET /v1/event-types lists them)',
      },
    ]);
    expect(await problems({ event_type: "message_created" })).toEqual([
      {
        path: "event_type",
        message:
          'the subscription does not select "message_created" (its event_types: call_*); send a type it selects',
      },
    ]);
    expect(await problems({ event_type: 7 })).toEqual([expect.objectContaining({ path: "event_type" })]);
    await waitForQueueEmpty(bed.env, bed.env.queues.deliveryQueueUrl);
    expect(target.requests).toHaveLength(0);
  });

  it("409 for a disabled subscription, 404 for an unknown one", async () => {
    const target = await receiver();
    const subscription = await subscribe(target.url);
    await api.patch(`/v1/subscriptions/${subscription.id}`, { status: "disabled" }, { key });
    const response = await api.post(`/v1/subscriptions/${subscription.id}/test`, undefined, { key });
    expect(response.status).toBe(409);
    expect(errorCode(response)).toBe("SUBSCRIPTION_DISABLED");
    expect(errorCode(await api.post(`/v1/subscriptions/${randomUUID()}/test`, undefined, { key }))).toBe(
      "NOT_FOUND",
    );
  });
});

describe("secret rotation seen by a receiver", () => {
  it("signs with both secrets during the overlap, then with the new one only", async () => {
    const target = await receiver();
    const subscription = await subscribe(target.url);
    const rotated = await api.post(`/v1/subscriptions/${subscription.id}/secret/rotate`, undefined, { key });
    const newSecret = (rotated.json as { secret: string }).secret;
    const rotatedAt = Date.now();

    await sendTest(subscription.id);
    const [during] = await target.waitForRequests(1, 10_000);
    if (!during) throw new Error("no request");
    expect(during.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(() => new Webhook(newSecret).verify(during.body, during.headers)).not.toThrow();
    expect(() => new Webhook(subscription.secret).verify(during.body, during.headers)).not.toThrow();
    const legacyKey = Buffer.from(newSecret.slice(6), "base64");
    const { createHmac } = await import("node:crypto");
    expect(during.headers["x-voipbin-signature"]).toBe(
      `sha256=${createHmac("sha256", legacyKey).update(during.body).digest("hex")}`,
    );

    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, rotatedAt + OVERLAP_SECONDS * 1000 + 200 - Date.now())),
    );
    await sendTest(subscription.id);
    const [, after] = await target.waitForRequests(2, 10_000);
    if (!after) throw new Error("no request");
    expect(after.headers["webhook-signature"]?.split(" ")).toHaveLength(1);
    expect(() => new Webhook(newSecret).verify(after.body, after.headers)).not.toThrow();
    expect(() => new Webhook(subscription.secret).verify(after.body, after.headers)).toThrow();
  });
});

describe("rotation reaches signing at once", () => {
  it("signs an attempt that starts right after rotate returned with the new secret, even on a warm function", async () => {
    const target = await receiver();
    const subscription = await subscribe(target.url);
    // Warm the delivery function on this subscription first: a cache of it would now be stale.
    await sendTest(subscription.id);
    await target.waitForRequests(1, 10_000);
    const rotated = await api.post(`/v1/subscriptions/${subscription.id}/secret/rotate`, undefined, { key });
    const newSecret = (rotated.json as { secret: string }).secret;
    await sendTest(subscription.id);
    const [, next] = await target.waitForRequests(2, 10_000);
    if (!next) throw new Error("no request");
    expect(() => new Webhook(newSecret).verify(next.body, next.headers)).not.toThrow();
    const legacyKey = Buffer.from(newSecret.slice(6), "base64");
    const { createHmac } = await import("node:crypto");
    expect(next.headers["x-voipbin-signature"]).toBe(
      `sha256=${createHmac("sha256", legacyKey).update(next.body).digest("hex")}`,
    );
  });
});

describe("manual retry", () => {
  it("re-sends a dead delivery with the same webhook-id, and a succeeded one too", async () => {
    let failing = true;
    const target = await receiver(() =>
      failing ? { status: 500, body: "down" } : { status: 200, body: "ok" },
    );
    const subscription = await subscribe(target.url);
    const deliveryId = await sendTest(subscription.id);
    const dead = await waitForStatus(deliveryId, "dead");
    expect(dead.attempts.map((a) => a.status_code)).toEqual([500, 500]);
    expect(dead.next_attempt_at).toBeNull();
    await waitForQueueEmpty(bed.env, bed.env.queues.deliveryQueueUrl);

    failing = false;
    const retried = await api.post(`/v1/deliveries/${deliveryId}/retry`, undefined, { key });
    expect(retried.status).toBe(202);
    expect(retried.json).toEqual({ delivery_id: deliveryId });
    const requests = await target.waitForRequests(3, 10_000);
    const third = requests[2];
    if (!third) throw new Error("no request");
    expect(third.headers["webhook-id"]).toBe(dead.webhook_id);
    expect(third.body).toBe(requests[0]?.body);
    expect(() => new Webhook(subscription.secret).verify(third.body, third.headers)).not.toThrow();
    const succeeded = await waitForStatus(deliveryId, "succeeded");
    expect(succeeded.attempts.map((a) => a.status_code)).toEqual([500, 500, 200]);

    // A delivery that already succeeded is sent again on an explicit retry.
    expect((await api.post(`/v1/deliveries/${deliveryId}/retry`, undefined, { key })).status).toBe(202);
    const four = await target.waitForRequests(4, 10_000);
    expect(four[3]?.headers["webhook-id"]).toBe(dead.webhook_id);
    await waitFor(async () => (await deliveries.get(customerId, deliveryId))?.attempts.length === 4);
    expect((await getDelivery(deliveryId)).status).toBe("succeeded");
  });

  it("409 when the subscription is disabled or deleted; 404 for unknown or malformed ids", async () => {
    const target = await receiver();
    const subscription = await subscribe(target.url);
    const deliveryId = await sendTest(subscription.id);
    await waitForStatus(deliveryId, "succeeded");
    await api.patch(`/v1/subscriptions/${subscription.id}`, { status: "disabled" }, { key });
    expect(errorCode(await api.post(`/v1/deliveries/${deliveryId}/retry`, undefined, { key }))).toBe(
      "SUBSCRIPTION_DISABLED",
    );
    await api.delete(`/v1/subscriptions/${subscription.id}`, { key });
    expect(errorCode(await api.post(`/v1/deliveries/${deliveryId}/retry`, undefined, { key }))).toBe(
      "SUBSCRIPTION_DELETED",
    );
    // The log of a deleted subscription stays readable by id.
    expect((await api.get(`/v1/deliveries/${deliveryId}`, { key })).status).toBe(200);
    expect(errorCode(await api.post(`/v1/deliveries/${randomUUID()}/retry`, undefined, { key }))).toBe(
      "NOT_FOUND",
    );
    expect(errorCode(await api.get(`/v1/deliveries/${randomUUID()}`, { key }))).toBe("NOT_FOUND");
    expect((await api.get("/v1/deliveries/42", { key })).status).toBe(400);
  });
});

describe("recover", () => {
  it("re-sends exactly the failed and dead deliveries since the given time, once", async () => {
    let failing = true;
    const target = await receiver(() => (failing ? { status: 503 } : { status: 200 }));
    const subscription = await subscribe(target.url);
    const before = await sendTest(subscription.id);
    await waitForStatus(before, "dead");
    await new Promise((resolve) => setTimeout(resolve, 20));
    const since = new Date().toISOString();
    const failedOnes = [await sendTest(subscription.id), await sendTest(subscription.id)];
    for (const id of failedOnes) await waitForStatus(id, "dead");
    failing = false;
    const fine = await sendTest(subscription.id);
    await waitForStatus(fine, "succeeded");
    await waitForQueueEmpty(bed.env, bed.env.queues.deliveryQueueUrl);
    const seenBefore = target.requests.length;

    const recovered = await api.post(`/v1/subscriptions/${subscription.id}/recover`, { since }, { key });
    expect(recovered.status).toBe(202);
    expect(recovered.json).toEqual({ count: 2, complete: true, next_since: null });
    // A second recovery right away finds nothing left to send.
    const again = await api.post(`/v1/subscriptions/${subscription.id}/recover`, { since }, { key });
    expect(again.json).toMatchObject({ count: 0, complete: true });

    for (const id of failedOnes) await waitForStatus(id, "succeeded");
    await waitForQueueEmpty(bed.env, bed.env.queues.deliveryQueueUrl);
    const resent = target.requests.slice(seenBefore).map((request) => request.headers["webhook-id"]);
    const expected = await Promise.all(failedOnes.map(async (id) => (await getDelivery(id)).webhook_id));
    expect(resent.sort()).toEqual(expected.sort());
    expect((await getDelivery(before)).status).toBe("dead");
    expect((await getDelivery(fine)).attempts).toHaveLength(1);
  });

  it("two concurrent recoveries send each delivery once between them", async () => {
    let failing = true;
    const target = await receiver(() => (failing ? { status: 500 } : { status: 200 }));
    const subscription = await subscribe(target.url);
    const since = new Date(Date.now() - 1000).toISOString();
    const ids = await Promise.all(Array.from({ length: 6 }, () => sendTest(subscription.id)));
    for (const id of ids) await waitForStatus(id, "dead");
    await waitForQueueEmpty(bed.env, bed.env.queues.deliveryQueueUrl);
    failing = false;
    const seenBefore = target.requests.length;
    const [first, second] = await Promise.all([
      api.post(`/v1/subscriptions/${subscription.id}/recover`, { since }, { key }),
      api.post(`/v1/subscriptions/${subscription.id}/recover`, { since }, { key }),
    ]);
    const [firstCount, secondCount] = [first, second].map((r) => (r.json as { count: number }).count);
    expect((firstCount ?? 0) + (secondCount ?? 0)).toBe(6);
    for (const id of ids) await waitForStatus(id, "succeeded");
    await waitForQueueEmpty(bed.env, bed.env.queues.deliveryQueueUrl);
    const resent = target.requests.slice(seenBefore).map((request) => request.headers["webhook-id"]);
    expect(new Set(resent).size).toBe(6);
    expect(resent).toHaveLength(6);
  });

  it("stops at the time budget with complete: false and where to continue", async () => {
    let failing = true;
    const target = await receiver(() => (failing ? { status: 500 } : { status: 200 }));
    const subscription = await subscribe(target.url);
    const since = new Date(Date.now() - 1000).toISOString();
    const ids = [await sendTest(subscription.id), await sendTest(subscription.id)];
    for (const id of ids) await waitForStatus(id, "dead");
    failing = false;
    // A function with 3 s left has no time to spare beyond answering.
    const hurried = await api
      .withFunctionTimeout(3000)
      .post(`/v1/subscriptions/${subscription.id}/recover`, { since }, { key });
    expect(hurried.status).toBe(202);
    const partial = hurried.json as { count: number; complete: boolean; next_since: string };
    expect(partial).toMatchObject({ count: 0, complete: false });
    expect(partial.next_since).toBe((await getDelivery(ids[0] as string)).created_at);
    const rest = await api.post(
      `/v1/subscriptions/${subscription.id}/recover`,
      { since: partial.next_since },
      { key },
    );
    expect(rest.json).toEqual({ count: 2, complete: true, next_since: null });
    for (const id of ids) await waitForStatus(id, "succeeded");
  });

  it("validates the body and the subscription", async () => {
    const target = await receiver();
    const subscription = await subscribe(target.url);
    const path = `/v1/subscriptions/${subscription.id}/recover`;
    const cases: [unknown, string][] = [
      [{}, "since"],
      [{ since: "yesterday" }, "since"],
      [{ since: "2026-11-20T10:00:00" }, "since"],
      [{ since: new Date(Date.now() + 3_600_000).toISOString() }, "since"],
      [{ since: "2026-11-20T10:00:00Z", until: "x" }, "until"],
    ];
    for (const [body, field] of cases) {
      const response = await api.post(path, body, { key });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(
        (response.json as { error: { details: { path: string }[] } }).error.details.map((d) => d.path),
      ).toContain(field);
    }
    expect((await api.post(path, undefined, { key })).status).toBe(400);
    const zoned = await api.post(path, { since: "2026-11-20T10:00:00+09:00" }, { key });
    expect(zoned.json).toEqual({ count: 0, complete: true, next_since: null });
    await api.patch(`/v1/subscriptions/${subscription.id}`, { status: "disabled" }, { key });
    expect(errorCode(await api.post(path, { since: "2026-11-20T10:00:00Z" }, { key }))).toBe(
      "SUBSCRIPTION_DISABLED",
    );
  });
});

describe("delivery log", () => {
  async function pageThrough(subscriptionId: string, query: Record<string, string>): Promise<string[][]> {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const response: ApiResponse = await api.get(`/v1/subscriptions/${subscriptionId}/deliveries`, {
        key,
        query: { ...query, ...(cursor ? { cursor } : {}) },
      });
      expect(response.status, JSON.stringify(response.json)).toBe(200);
      const page = response.json as { items: DeliveryJson[]; next_cursor: string | null };
      pages.push(page.items.map((item) => item.id));
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined && pages.length < 50);
    return pages;
  }

  it.each(["layout 3", "layout 2", "mixed"] as const)(
    "pages newest first without duplicates or gaps, with and without a status filter (%s)",
    async (layout) => {
      const subscription = await subscribe("https://hooks.example.com/log");
      const statuses: DeliveryStatus[] = ["succeeded", "failed", "dead"];
      const ids = await seed(subscription.id, 25, (i) => statuses[i % 3] as DeliveryStatus, layout);
      const newestFirst = [...ids].reverse();

      const pages = await pageThrough(subscription.id, { limit: "7" });
      expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 4]);
      expect(pages.flat()).toEqual(newestFirst);

      const dead = await pageThrough(subscription.id, { limit: "3", status: "dead" });
      const expectedDead = newestFirst.filter(
        (_, i) => ids.length - 1 - i >= 0 && (ids.length - 1 - i) % 3 === 2,
      );
      expect(dead.flat()).toEqual(expectedDead);
      for (const page of dead) expect(page.length).toBeLessThanOrEqual(3);

      const one = await pageThrough(subscription.id, { limit: "1", status: "failed" });
      expect(one.flat()).toEqual(newestFirst.filter((_, i) => (ids.length - 1 - i) % 3 === 1));
      expect(await pageThrough(subscription.id, { status: "pending" })).toEqual([[]]);
    },
  );

  it("finds a delivery of before the upgrade (layout 2) by id, and re-sends it on retry", async () => {
    const target = await receiver();
    const subscription = await subscribe(target.url);
    const [id] = await seed(subscription.id, 1, () => "failed", "layout 2");
    if (id === undefined) throw new Error("nothing seeded");
    const old = await getDelivery(id);
    expect(old).toMatchObject({ id, status: "failed", attempts: [{ status_code: 500 }] });
    expect((await api.post(`/v1/deliveries/${id}/retry`, undefined, { key })).status).toBe(202);
    const [sent] = await target.waitForRequests(1, 10_000);
    expect(sent?.headers["webhook-id"]).toBe(old.webhook_id);
    const retried = await waitForStatus(id, "succeeded");
    expect(retried.attempts.map((a) => a.status_code)).toEqual([500, 200]);
  });

  it("refuses bad filters and cursors of another subscription; 404 for another subscription", async () => {
    const first = await subscribe("https://hooks.example.com/a");
    const second = await subscribe("https://hooks.example.com/b");
    await seed(first.id, 3, () => "succeeded");
    const page = await api.get(`/v1/subscriptions/${first.id}/deliveries`, { key, query: { limit: "1" } });
    const cursor = (page.json as { next_cursor: string }).next_cursor;
    expect(typeof cursor).toBe("string");
    const cases: [string, Record<string, string>, string][] = [
      [second.id, { cursor }, "cursor"],
      [first.id, { status: "delivered" }, "status"],
      [first.id, { limit: "1000" }, "limit"],
      [first.id, { cursor: "garbage!" }, "cursor"],
      [first.id, { since: "2026-01-01T00:00:00Z" }, "since"],
    ];
    for (const [id, query, field] of cases) {
      const response = await api.get(`/v1/subscriptions/${id}/deliveries`, { key, query });
      expect(response.status, JSON.stringify(query)).toBe(400);
      expect(
        (response.json as { error: { details: { path: string }[] } }).error.details.map((d) => d.path),
      ).toContain(field);
    }
    expect(errorCode(await api.get(`/v1/subscriptions/${randomUUID()}/deliveries`, { key }))).toBe(
      "NOT_FOUND",
    );
  });

  it("cuts a page short when its deliveries are large, and the cursor resumes right after", async () => {
    const subscription = await subscribe("https://hooks.example.com/big");
    const ids = (await seed(subscription.id, 5, () => "failed")).reverse();
    const service = new DeliveryLogService({
      subscriptions,
      deliveries,
      queue: new DeliveryQueue(bed.env.sqs, bed.env.queues.deliveryQueueUrl),
      quotas: new QuotaService({
        counters: new QuotaCounterRepository(
          DynamoDBDocumentClient.from(bed.env.dynamodb),
          bed.env.tableName,
        ),
        rules: quotaRulesFor(loadConfig(bed.env.env)),
      }),
      settings: { retentionDays: 30, maxPageBytes: 1200 },
    });
    const seen: string[] = [];
    let after: Parameters<typeof service.list>[2]["after"];
    for (let i = 0; i < 10; i++) {
      const page = await service.list(customerId, subscription.id, { limit: 5, after });
      expect(page.items.length).toBeGreaterThanOrEqual(1);
      expect(page.items.length).toBeLessThan(5);
      seen.push(...page.items.map((item) => item.id));
      if (page.next === null) break;
      after = page.next;
    }
    expect(seen).toEqual(ids);
  });
});

describe("delete", () => {
  it("drops the subscription's queued jobs instead of delivering them", async () => {
    const quiet = await createApiTestbed({ env: { SUBSCRIPTION_CACHE_TTL_MS: "0" } });
    try {
      const target = await receiver();
      const { key: ownKey } = await quiet.mintKey();
      const created = await quiet.gateway.post(
        "/v1/subscriptions",
        { url: target.url, event_types: ["*"] },
        { key: ownKey },
      );
      const subscription = created.json as Created;
      for (let i = 0; i < 3; i++) {
        expect(
          (await quiet.gateway.post(`/v1/subscriptions/${subscription.id}/test`, undefined, { key: ownKey }))
            .status,
        ).toBe(202);
      }
      const queued = await quiet.env.inspectQueue(quiet.env.queues.deliveryQueueUrl);
      expect(queued.ready).toHaveLength(3);
      expect(
        (await quiet.gateway.delete(`/v1/subscriptions/${subscription.id}`, { key: ownKey })).status,
      ).toBe(204);

      const { createDeliveryHandler } = await import("#handlers/delivery.ts");
      const { createDeliveryDependencies } = await import("#shared/dependencies.ts");
      const { loadConfig } = await import("#shared/config.ts");
      const { createLogger } = await import("#shared/adapters/observability.ts");
      const quietSource = new SqsEventSource({
        sqs: quiet.env.sqs,
        queueUrl: quiet.env.queues.deliveryQueueUrl,
        handler: createDeliveryHandler(
          createDeliveryDependencies(loadConfig(quiet.env.env), createLogger("delivery")),
        ),
        waitTimeSeconds: 1,
      });
      quietSource.start();
      try {
        await waitForQueueEmpty(quiet.env, quiet.env.queues.deliveryQueueUrl);
      } finally {
        await quietSource.stop();
      }
      expect(target.requests).toHaveLength(0);
      const dlq = await quiet.env.inspectQueue(quiet.env.queues.deliveryDlqUrl);
      expect(dlq.ready).toHaveLength(0);
    } finally {
      quiet.close();
    }
  });
});

describe("guards a mutation run found untested (issue 23)", () => {
  it("answers 404 on every route when another customer asks for a pre-upgrade (layout 2) delivery", async () => {
    const target = await receiver();
    const subscription = await subscribe(target.url);
    const [id] = await seed(subscription.id, 1, () => "failed", "layout 2");
    if (id === undefined) throw new Error("nothing seeded");
    const mine = await getDelivery(id);
    // Layout 2 keys a delivery by its id alone: the customer check is its only guard.
    const other = await bed.mintKey();
    const asOther = { key: other.key };
    expect(errorCode(await api.get(`/v1/deliveries/${id}`, asOther))).toBe("NOT_FOUND");
    expect((await api.get(`/v1/deliveries/${id}`, asOther)).status).toBe(404);
    const retry = await api.post(`/v1/deliveries/${id}/retry`, undefined, asOther);
    expect(retry.status).toBe(404);
    expect(errorCode(retry)).toBe("NOT_FOUND");
    const byEvent = await api.get(`/v1/events/${mine.event_id}/deliveries`, asOther);
    expect(JSON.stringify(byEvent.json)).not.toContain(id);
    expect((await api.get(`/v1/subscriptions/${subscription.id}/deliveries`, asOther)).status).toBe(404);
    // Nothing was sent or changed on the owner's behalf.
    await waitForQueueEmpty(bed.env, bed.env.queues.deliveryQueueUrl);
    expect(target.requests).toHaveLength(0);
    // Unchanged, but older: a delivery not over ages until now ("why was it late").
    const { timing: _then, ...before } = mine as DeliveryJson & { timing?: unknown };
    const { timing: _now, ...after } = (await getDelivery(id)) as DeliveryJson & { timing?: unknown };
    expect(after).toEqual(before);
  });

  it("answers 404 for a delivery past its retention that TTL has not removed yet (layout 3)", async () => {
    const target = await receiver();
    const subscription = await subscribe(target.url);
    const day = 86_400_000;
    const [expired] = await seed(subscription.id, 1, () => "failed", "layout 3", {
      base: Date.now() - 3 * day,
      retentionDays: 2,
    });
    const [kept] = await seed(subscription.id, 1, () => "failed", "layout 3", {
      base: Date.now() - 3 * day,
      retentionDays: 4,
    });
    if (expired === undefined || kept === undefined) throw new Error("nothing seeded");
    // Still in the table (DynamoDB's TTL deletes within days; dynalite never does).
    const head = await DynamoDBDocumentClient.from(bed.env.dynamodb).send(
      new GetCommand({ TableName: bed.env.deliveriesTableName, Key: keys.deliveryHead(customerId, expired) }),
    );
    expect(head.Item?.expires_at).toBeLessThan(Date.now() / 1000);
    expect((await api.get(`/v1/deliveries/${expired}`, { key })).status).toBe(404);
    expect((await api.post(`/v1/deliveries/${expired}/retry`, undefined, { key })).status).toBe(404);
    const log = await api.get(`/v1/subscriptions/${subscription.id}/deliveries`, { key });
    expect((log.json as { items: DeliveryJson[] }).items.map((item) => item.id)).toEqual([kept]);
    expect((await api.get(`/v1/deliveries/${kept}`, { key })).status).toBe(200);
    expect(target.requests).toHaveLength(0);
  });

  it("recovers a delivery whose created_at equals `since` (the bound is inclusive)", async () => {
    const target = await receiver();
    const subscription = await subscribe(target.url);
    const [id] = await seed(subscription.id, 1, () => "dead");
    if (id === undefined) throw new Error("nothing seeded");
    const { created_at: createdAt, webhook_id: webhookId } = await getDelivery(id);
    const path = `/v1/subscriptions/${subscription.id}/recover`;
    const later = new Date(Date.parse(createdAt) + 1).toISOString();
    expect((await api.post(path, { since: later }, { key })).json).toMatchObject({ count: 0 });
    expect((await api.post(path, { since: createdAt }, { key })).json).toEqual({
      count: 1,
      complete: true,
      next_since: null,
    });
    const [sent] = await target.waitForRequests(1, 10_000);
    expect(sent?.headers["webhook-id"]).toBe(webhookId);
    await waitForStatus(id, "succeeded");
  });

  it("shows two subscriptions whose log tags collide only their own deliveries", async () => {
    const first = await subscribe("https://hooks.example.com/tag-a");
    // A second subscription of the same customer whose 16-bit log tag is the first's: both logs
    // share their partitions, and only the records' subscription tells them apart.
    const tag = subscriptionTagOf(first.id);
    let secondId = randomUUID();
    while (subscriptionTagOf(secondId) !== tag) secondId = randomUUID();
    const stored = await subscriptions.get(customerId, first.id);
    if (stored === null) throw new Error("first subscription not stored");
    await subscriptions.create({ ...stored, id: secondId, url: "https://hooks.example.com/tag-b" });
    expect(keys.deliveryLogPartition(customerId, secondId, 0)).toEqual(
      keys.deliveryLogPartition(customerId, first.id, 0),
    );
    const firstIds = await seed(first.id, 4, () => "succeeded");
    const secondIds = await seed(secondId, 3, () => "failed");
    const logOf = async (subscriptionId: string) => {
      const response = await api.get(`/v1/subscriptions/${subscriptionId}/deliveries`, {
        key,
        query: { limit: "100" },
      });
      expect(response.status).toBe(200);
      return (response.json as { items: DeliveryJson[] }).items.map((item) => item.id).sort();
    };
    expect(await logOf(first.id)).toEqual([...firstIds].sort());
    expect(await logOf(secondId)).toEqual([...secondIds].sort());
    const statsOf = async (subscriptionId: string) =>
      (await api.get(`/v1/subscriptions/${subscriptionId}/stats`, { key, query: { window: "24h" } }))
        .json as { attempts: number; succeeded: number; failed: number };
    expect(await statsOf(first.id)).toMatchObject({ attempts: 4, succeeded: 4, failed: 0 });
    expect(await statsOf(secondId)).toMatchObject({ attempts: 3, succeeded: 0, failed: 3 });
  });
});

// Last in the file: every call the tests above made through the API and the authorizer.
describe("IAM (AWS's rule, which the local stack does not enforce: docs/security.md)", () => {
  it("the API's and authorizer's roles allow every DynamoDB and SQS call these tests made", () => {
    expect(bed.ungrantedCalls()).toEqual([]);
  });
});
