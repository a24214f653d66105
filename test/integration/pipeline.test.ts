import { createHmac, randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookBody } from "#shared/domain/events/schemas.ts";
import { deriveDeliveryIds } from "#shared/domain/ids.ts";
import { generateSecret } from "#shared/domain/signing.ts";
import { fixtureEvent } from "../support/fixtures.ts";
import {
  customerOf,
  deliveryIdOf,
  eventFor,
  type PipelineHarness,
  startPipelineHarness,
  waitForQueueEmpty,
} from "../support/pipeline.ts";
import { seedSubscription } from "../support/subscriptions.ts";
import { waitFor } from "../support/wait.ts";

const callHangup = fixtureEvent("call_hangup");
const ACTIVEFLOW = "c9d8e7f6-1111-4222-8333-444455556666";

let harness: PipelineHarness;
// Shorthands for the harness's parts, used by every test.
let env: PipelineHarness["env"];
let capture: PipelineHarness["capture"];
let repos: PipelineHarness["repos"];
let route: PipelineHarness["route"];
let receiver: PipelineHarness["receiver"];

beforeAll(async () => {
  harness = await startPipelineHarness({ deliverySource: true });
  ({ env, capture, repos, route } = harness);
  receiver = (...args) => harness.receiver(...args);
});

afterAll(async () => {
  await harness?.close();
});

describe("delivery pipeline (router → SQS → delivery → HTTP)", () => {
  it("fans one event out to the matching subscriptions only, signed and byte-identical", async () => {
    const customer = randomUUID();
    const other = randomUUID();
    const [rWildcard, rFlow, rOtherFlow, rMessages, rDisabled, rOtherCustomer] = await Promise.all(
      Array.from({ length: 6 }, () => receiver()),
    );
    if (!rWildcard || !rFlow || !rOtherFlow || !rMessages || !rDisabled || !rOtherCustomer)
      throw new Error("receivers");
    const previousSecret = generateSecret();
    const wildcard = await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: rWildcard.url,
      event_types: ["call_*"],
    });
    const flow = await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: `${rFlow.url}/hooks?src=voipbin`,
      event_types: ["call_hangup"],
      activeflow_id: ACTIVEFLOW,
      method: "PUT",
      headers: { "x-customer-token": "t0ken" },
      previous_secret: previousSecret,
      previous_secret_expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: rOtherFlow.url,
      event_types: ["call_hangup"],
      activeflow_id: "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6",
    });
    await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: rMessages.url,
      event_types: ["message_*"],
    });
    await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: rDisabled.url,
      status: "disabled",
      disabled_reason: "manual",
    });
    await seedSubscription(repos.subscriptions, { customer_id: other, url: rOtherCustomer.url });

    const event = eventFor(callHangup, customer);
    await route(event);
    const [toWildcard] = await rWildcard.waitForRequests(1, 10_000);
    const [toFlow] = await rFlow.waitForRequests(1, 10_000);
    await waitForQueueEmpty(env, env.queues.deliveryQueueUrl);
    for (const r of [rOtherFlow, rMessages, rDisabled, rOtherCustomer]) expect(r.requests).toHaveLength(0);
    expect(rWildcard.requests).toHaveLength(1);
    expect(rFlow.requests).toHaveLength(1);
    if (!toWildcard || !toFlow) throw new Error("requests");

    const expectedBody = webhookBody("call_hangup", (event.detail as { data: unknown }).data);
    expect(expectedBody.startsWith('{"type":"call_hangup","data":{"id":')).toBe(true);
    for (const request of [toWildcard, toFlow]) {
      expect(request.body).toBe(expectedBody);
      expect(request.headers["content-type"]).toBe("application/json");
      expect(request.headers["user-agent"]).toMatch(/^voipbin-webhooks\/\d+\.\d+\.\d+$/);
      expect(Number(request.headers["webhook-timestamp"])).toBeCloseTo(Date.now() / 1000, -2);
    }
    expect(toWildcard.method).toBe("POST");
    expect(toFlow.method).toBe("PUT");
    expect(toFlow.url).toBe("/hooks?src=voipbin");
    expect(toFlow.headers["x-customer-token"]).toBe("t0ken");

    // An independent verifier: the standardwebhooks library, as a customer would use it.
    expect(new Webhook(wildcard.secret).verify(toWildcard.body, toWildcard.headers)).toEqual(
      JSON.parse(expectedBody),
    );
    expect(() => new Webhook(flow.secret).verify(toWildcard.body, toWildcard.headers)).toThrow();
    // During rotation both secrets sign, and each verifies on its own.
    expect(toFlow.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(() => new Webhook(flow.secret).verify(toFlow.body, toFlow.headers)).not.toThrow();
    expect(() => new Webhook(previousSecret).verify(toFlow.body, toFlow.headers)).not.toThrow();
    // The legacy header: HMAC-SHA256 of the body with the current secret's key bytes.
    const key = Buffer.from(wildcard.secret.slice("whsec_".length), "base64");
    expect(toWildcard.headers["x-voipbin-signature"]).toBe(
      `sha256=${createHmac("sha256", key).update(toWildcard.body).digest("hex")}`,
    );

    expect(toWildcard.headers["webhook-id"]).toBe(
      deriveDeliveryIds(event.id, wildcard.id, new Date(event.time)).webhookId,
    );
    expect(toFlow.headers["webhook-id"]).toBe(
      deriveDeliveryIds(event.id, flow.id, new Date(event.time)).webhookId,
    );
    expect(toWildcard.headers["webhook-id"]).not.toBe(toFlow.headers["webhook-id"]);

    await waitFor(
      async () =>
        (await repos.deliveries.get(customerOf(event), deliveryIdOf(event, wildcard.id)))?.status ===
        "succeeded",
    );
    const record = await repos.deliveries.get(customerOf(event), deliveryIdOf(event, wildcard.id));
    expect(record).toMatchObject({
      subscription_id: wildcard.id,
      customer_id: customer,
      event_id: event.id,
      event_type: "call_hangup",
      webhook_id: toWildcard.headers["webhook-id"],
      status: "succeeded",
      next_attempt_at: null,
    });
    expect(record?.attempts).toHaveLength(1);
    expect(record?.attempts[0]).toMatchObject({ status_code: 200, error: null, response_body: "ok" });
    expect(JSON.stringify(record)).not.toContain(wildcard.secret.slice(6));
  });

  it("counts only the event's own customer's subscriptions in the router's outcome", async () => {
    const customer = randomUUID();
    const other = randomUUID();
    const [rMatching, rOtherType, rDisabled, ...rOthers] = await Promise.all(
      Array.from({ length: 6 }, () => receiver()),
    );
    if (!rMatching || !rOtherType || !rDisabled) throw new Error("receivers");
    // The other customer: three subscriptions that would all match the event.
    for (const r of rOthers) await seedSubscription(repos.subscriptions, { customer_id: other, url: r.url });
    // The event's customer: one matching, one for another type, one disabled.
    const own = [
      [rMatching, { event_types: ["call_hangup"] }],
      [rOtherType, { event_types: ["message_*"] }],
      [rDisabled, { status: "disabled", disabled_reason: "manual" }],
    ] as const;
    for (const [r, fields] of own) {
      await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url, ...fields });
    }

    const outcome = await route(eventFor(callHangup, customer));
    expect(outcome).toEqual({
      kind: "routed",
      eventId: expect.any(String),
      type: "call_hangup",
      customerId: customer,
      subscriptions: 3,
      matched: 1,
    });
    await rMatching.waitForRequests(1, 10_000);
    await waitForQueueEmpty(env, env.queues.deliveryQueueUrl);
    for (const r of [rOtherType, rDisabled, ...rOthers]) expect(r.requests).toHaveLength(0);
    // A customer with no subscription of its own sees none of the others'.
    expect(await route(eventFor(callHangup, randomUUID()))).toMatchObject({ subscriptions: 0, matched: 0 });
  });

  it("retries a failing endpoint on the schedule with the same webhook-id, then records the success", async () => {
    const customer = randomUUID();
    const flaky = await receiver((_req, n) =>
      n <= 2 ? { status: 500, body: `boom ${n}` } : { status: 204 },
    );
    const subscription = await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: flaky.url,
    });
    const event = eventFor(callHangup, customer);
    await route(event);
    const requests = await flaky.waitForRequests(3, 15_000);
    const ids = new Set(requests.map((r) => r.headers["webhook-id"]));
    expect(ids.size).toBe(1);
    // Schedule [1, 1] with ±20 % jitter: each retry comes at least 0.8 s after the previous attempt.
    for (let i = 1; i < 3; i++) {
      expect((requests[i]?.receivedAt ?? 0) - (requests[i - 1]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(750);
    }
    const deliveryId = deliveryIdOf(event, subscription.id);
    await waitFor(
      async () => (await repos.deliveries.get(customerOf(event), deliveryId))?.status === "succeeded",
      {
        timeoutMs: 5000,
      },
    );
    const record = await repos.deliveries.get(customerOf(event), deliveryId);
    expect(record?.attempts.map((a) => a.status_code)).toEqual([500, 500, 204]);
    expect(record?.attempts[0]?.response_body).toBe("boom 1");
    expect(record?.next_attempt_at).toBeNull();
    // The failing clock started with the first failure and the success reset it.
    expect((await repos.subscriptions.get(customer, subscription.id))?.failing_since).toBeNull();
    await waitForQueueEmpty(env, env.queues.deliveryQueueUrl);
    expect(flaky.requests).toHaveLength(3);
  });

  it("dead-letters an endpoint that always fails, after the last attempt", async () => {
    const customer = randomUUID();
    const broken = await receiver(() => ({ status: 503, body: "down" }));
    const subscription = await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: broken.url,
    });
    const event = eventFor(callHangup, customer);
    await route(event);
    await broken.waitForRequests(3, 15_000);
    const deliveryId = deliveryIdOf(event, subscription.id);
    await waitFor(
      async () => (await repos.deliveries.get(customerOf(event), deliveryId))?.status === "dead",
      {
        timeoutMs: 5000,
      },
    );
    await waitFor(
      async () =>
        (await env.inspectQueue(env.queues.deliveryDlqUrl)).ready.some((m) => m.body.includes(deliveryId)),
      { timeoutMs: 10_000, description: "job in the DLQ" },
    );
    const record = await repos.deliveries.get(customerOf(event), deliveryId);
    expect(record?.attempts.map((a) => a.status_code)).toEqual([503, 503, 503]);
    expect(record?.next_attempt_at).toBeNull();
    expect(broken.requests).toHaveLength(3);
    const stored = await repos.subscriptions.get(customer, subscription.id);
    expect(stored?.status).toBe("enabled");
    expect(stored?.failing_since).not.toBeNull();
  });

  it("disables the subscription on 410 Gone and announces it on the bus", async () => {
    const customer = randomUUID();
    const gone = await receiver(() => ({ status: 410 }));
    const subscription = await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: gone.url,
      headers: { authorization: "Bearer customer-credential" },
    });
    const event = eventFor(callHangup, customer);
    await route(event);
    await gone.waitForRequests(1, 10_000);
    await waitFor(
      async () => (await repos.subscriptions.get(customer, subscription.id))?.status === "disabled",
    );
    const stored = await repos.subscriptions.get(customer, subscription.id);
    expect(stored?.disabled_reason).toBe("endpoint_gone");
    await waitFor(() => capture.entries.some((e) => e.Detail.includes(subscription.id)));
    const announced = capture.entries.find((e) => e.Detail.includes(subscription.id));
    expect(announced).toMatchObject({
      Source: "voipbin.webhooks",
      DetailType: "webhook_subscription_disabled",
      EventBusName: env.env.EVENT_BUS_NAME,
    });
    const detail = JSON.parse(announced?.Detail ?? "{}");
    expect(detail.customer_id).toBe(customer);
    expect(detail.data).toMatchObject({
      id: subscription.id,
      status: "disabled",
      disabled_reason: "endpoint_gone",
      reason: "endpoint_gone",
    });
    expect(announced?.Detail).not.toContain(subscription.secret);
    expect(announced?.Detail).not.toContain("customer-credential");
    await waitForQueueEmpty(env, env.queues.deliveryQueueUrl);
    const record = await repos.deliveries.get(customerOf(event), deliveryIdOf(event, subscription.id));
    expect(record?.status).toBe("dead");
    expect(record?.attempts.map((a) => a.status_code)).toEqual([410]);
    expect(gone.requests).toHaveLength(1);
    // A disabled subscription gets nothing more.
    await route(eventFor(callHangup, customer));
    await waitForQueueEmpty(env, env.queues.deliveryQueueUrl);
    expect(gone.requests).toHaveLength(1);
  });

  it("auto-disables a subscription that has failed for longer than the window", async () => {
    const customer = randomUUID();
    const failing = await receiver(() => ({ status: 500 }));
    const subscription = await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: failing.url,
      failing_since: new Date(Date.now() - 6 * 86_400_000).toISOString(),
    });
    const event = eventFor(callHangup, customer);
    await route(event);
    await failing.waitForRequests(1, 10_000);
    await waitFor(
      async () => (await repos.subscriptions.get(customer, subscription.id))?.status === "disabled",
    );
    expect((await repos.subscriptions.get(customer, subscription.id))?.disabled_reason).toBe("failing");
    await waitFor(() =>
      capture.entries.some(
        (e) => e.Detail.includes(subscription.id) && e.Detail.includes('"reason":"failing"'),
      ),
    );
    await waitForQueueEmpty(env, env.queues.deliveryQueueUrl);
    expect(
      (await repos.deliveries.get(customerOf(event), deliveryIdOf(event, subscription.id)))?.status,
    ).toBe("dead");
    expect(failing.requests).toHaveLength(1);
  });

  it("times out a slow endpoint and retries it", async () => {
    const customer = randomUUID();
    const slow = await receiver((_req, n) => (n === 1 ? { status: 200, delayMs: 3000 } : { status: 200 }));
    const subscription = await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: slow.url,
    });
    const event = eventFor(callHangup, customer);
    await route(event);
    const deliveryId = deliveryIdOf(event, subscription.id);
    await waitFor(
      async () => (await repos.deliveries.get(customerOf(event), deliveryId))?.status === "succeeded",
      {
        timeoutMs: 15_000,
      },
    );
    const record = await repos.deliveries.get(customerOf(event), deliveryId);
    expect(record?.attempts).toHaveLength(2);
    expect(record?.attempts[0]?.status_code).toBeNull();
    expect(record?.attempts[0]?.error).toMatch(/^timeout/);
    expect(record?.attempts[0]?.latency_ms).toBeGreaterThanOrEqual(900);
    expect(record?.attempts[0]?.latency_ms).toBeLessThan(2500);
  });

  it("does not follow a redirect", async () => {
    const customer = randomUUID();
    const target = await receiver();
    const redirecting = await receiver((_req, n) =>
      n === 1 ? { status: 302, headers: { location: `${target.url}/elsewhere` } } : { status: 200 },
    );
    const subscription = await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: redirecting.url,
    });
    const event = eventFor(callHangup, customer);
    await route(event);
    const deliveryId = deliveryIdOf(event, subscription.id);
    await waitFor(
      async () => (await repos.deliveries.get(customerOf(event), deliveryId))?.status === "succeeded",
      {
        timeoutMs: 10_000,
      },
    );
    expect(
      (await repos.deliveries.get(customerOf(event), deliveryId))?.attempts.map((a) => a.status_code),
    ).toEqual([302, 200]);
    expect(target.requests).toHaveLength(0);
  });

  it("parks an invalid event on the unroutable queue with the reason, without failing the invocation", async () => {
    const event = eventFor(callHangup, randomUUID());
    const bad = { ...event, "detail-type": "call_teleported" };
    await expect(route(bad)).resolves.toMatchObject({ kind: "unroutable", reason: "unknown_event_type" });
    const badCustomer = { ...event, id: randomUUID(), detail: { customer_id: "not-a-uuid", data: {} } };
    await expect(route(badCustomer)).resolves.toMatchObject({
      kind: "unroutable",
      reason: "invalid_customer_id",
    });
    const messages = await env.receiveAll(env.queues.unroutableQueueUrl, { waitMs: 2000 });
    const bodies = messages.map((m) => JSON.parse(m.Body ?? "{}"));
    expect(bodies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: "unknown_event_type", event: bad }),
        expect.objectContaining({ reason: "invalid_customer_id", event: badCustomer }),
      ]),
    );
  });
});

// Last in the file: every call the tests above made through the router and the delivery function.
describe("IAM (AWS's rule, which the local stack does not enforce: docs/security.md)", () => {
  it("the router's and the delivery function's roles allow every DynamoDB, SQS and EventBridge call these tests made", () => {
    expect(harness.ungrantedCalls()).toEqual([]);
  });
});
