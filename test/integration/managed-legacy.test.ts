/**
 * Managed legacy subscriptions (PRODUCT §11, issue 20) where a customer meets them: VoIPBIN's control
 * events keep the customer's webhook in step, and the customer's server, written against VoIPBIN's
 * own rules, accepts every delivery unchanged.
 */
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { legacySecretToWhsec, managedSubscriptionId } from "#shared/domain/subscriptions/managed.ts";
import { SqsEventSource } from "../../local/sqs-event-source.ts";
import { eventBridgeEvent, fixtureEvent } from "../support/fixtures.ts";
import {
  deliveryIdOf,
  eventFor,
  type PipelineHarness,
  startPipelineHarness,
  waitForQueueEmpty,
} from "../support/pipeline.ts";
import type { RecordedRequest } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

const callHangup = fixtureEvent("call_hangup");

let harness: PipelineHarness;
let source: SqsEventSource;

beforeAll(async () => {
  harness = await startPipelineHarness();
  source = new SqsEventSource({
    sqs: harness.env.sqs,
    queueUrl: harness.env.queues.deliveryQueueUrl,
    handler: harness.delivery.handler,
    waitTimeSeconds: 1,
    concurrency: 2,
  });
  source.start();
});

afterAll(async () => {
  await source?.stop();
  await harness?.close();
});

/** A VoIPBIN customer object as the customer-manager publishes it. */
function customer(id: string, fields: Record<string, unknown>) {
  return {
    id,
    name: "Acme",
    webhook_method: "POST",
    webhook_uri: "",
    webhook_secret: "",
    status: "active",
    tm_create: "2026-01-01T00:00:00.000000Z",
    tm_update: "2026-01-01T00:00:00.000000Z",
    tm_delete: null,
    ...fields,
  };
}

function controlEvent(type: string, data: Record<string, unknown>) {
  return eventBridgeEvent(
    {
      Source: "voipbin.customer-manager",
      DetailType: type,
      Detail: JSON.stringify({ customer_id: data.id, data }),
    },
    { id: randomUUID() },
  );
}

/** VoIPBIN's sender's signature: hex HMAC-SHA256 of the body keyed by the secret's ASCII bytes. */
function voipbinAccepts(request: RecordedRequest, webhookSecret: string): boolean {
  const expected = `sha256=${createHmac("sha256", Buffer.from(webhookSecret, "ascii")).update(request.body).digest("hex")}`;
  return request.headers["x-voipbin-signature"] === expected;
}

const base64urlSecret = () => randomBytes(24).toString("base64url"); // 32 characters
const hexSecret = () => randomBytes(32).toString("hex"); // 64 characters

describe("managed legacy subscriptions from VoIPBIN's control events", () => {
  it.each([
    ["32 base64url characters", base64urlSecret()],
    ["64 hex characters", hexSecret()],
  ])(
    "a customer_created with a secret of %s: every delivery verifies with VoIPBIN's rule and with standardwebhooks",
    async (_form, secret) => {
      const id = randomUUID();
      const receiver = await harness.receiver();
      const outcome = await harness.route(
        controlEvent(
          "customer_created",
          customer(id, { webhook_uri: `${receiver.url}/hook`, webhook_secret: secret }),
        ),
      );
      expect(outcome).toMatchObject({ kind: "control", change: "created" });
      const events = [eventFor(callHangup, id), eventFor(callHangup, id), eventFor(callHangup, id)];
      for (const event of events) await harness.route(event);
      const requests = await receiver.waitForRequests(3);
      const verifier = new Webhook(legacySecretToWhsec(secret));
      for (const request of requests) {
        expect(request.method).toBe("POST");
        expect(voipbinAccepts(request, secret)).toBe(true);
        expect(() => verifier.verify(request.body, request.headers)).not.toThrow();
      }
      // The control event itself is never delivered.
      expect(requests.map((r) => JSON.parse(r.body).type)).toEqual([
        "call_hangup",
        "call_hangup",
        "call_hangup",
      ]);
    },
  );

  it("an empty webhook_method arrives as GET with the body, and `*` leaves out the system's own webhook_* types", async () => {
    const id = randomUUID();
    const receiver = await harness.receiver();
    const secret = base64urlSecret();
    await harness.route(
      controlEvent(
        "customer_created",
        customer(id, { webhook_uri: receiver.url, webhook_method: "", webhook_secret: secret }),
      ),
    );
    const own = await harness.route(
      eventBridgeEvent({
        Source: "voipbin.webhooks",
        DetailType: "webhook_subscription_disabled",
        Detail: JSON.stringify({ customer_id: id, data: { id: randomUUID(), reason: "failing" } }),
      }),
    );
    expect(own).toMatchObject({ kind: "routed", subscriptions: 1, matched: 0 });
    const event = eventFor(callHangup, id);
    await harness.route(event);
    const [request] = await receiver.waitForRequests(1);
    expect(request?.method).toBe("GET");
    expect(JSON.parse(request?.body ?? "{}").type).toBe("call_hangup");
    expect(voipbinAccepts(request as RecordedRequest, secret)).toBe(true);
  });

  it("applies updates in tm_update order: an older update arriving late changes nothing", async () => {
    const id = randomUUID();
    const [first, second] = [await harness.receiver(), await harness.receiver()];
    const secret = hexSecret();
    const newer = customer(id, {
      webhook_uri: second.url,
      webhook_secret: secret,
      tm_update: "2026-03-01T10:00:00.000000200Z",
    });
    const older = customer(id, {
      webhook_uri: first.url,
      webhook_secret: secret,
      tm_update: "2026-03-01T10:00:00.000000100Z",
    });
    expect(await harness.route(controlEvent("customer_updated", newer))).toMatchObject({ change: "created" });
    expect(await harness.route(controlEvent("customer_updated", older))).toMatchObject({
      change: "ignored_older",
    });
    // The same version again (a retried router): idempotent.
    expect(await harness.route(controlEvent("customer_updated", newer))).toMatchObject({
      change: "unchanged",
    });
    await harness.route(eventFor(callHangup, id));
    await second.waitForRequests(1);
    expect(first.requests).toHaveLength(0);
    const stored = await harness.repos.subscriptions.get(id, managedSubscriptionId(id));
    expect(stored).toMatchObject({
      url: second.url,
      managed_by: "voipbin.customer-manager",
      delivery_profile: "legacy",
    });
  });

  it("deletion (customer_deleted, or webhook_uri emptied) stops deliveries, and an older update does not bring it back", async () => {
    const id = randomUUID();
    const receiver = await harness.receiver();
    const secret = base64urlSecret();
    const at = (n: number) => `2026-04-01 10:00:0${n}.000000`; // VoIPBIN's DATETIME(6) text form
    await harness.route(
      controlEvent(
        "customer_created",
        customer(id, { webhook_uri: receiver.url, webhook_secret: secret, tm_update: at(1) }),
      ),
    );
    await harness.route(eventFor(callHangup, id));
    await receiver.waitForRequests(1);

    expect(
      await harness.route(
        controlEvent("customer_updated", customer(id, { webhook_uri: "", tm_update: at(2) })),
      ),
    ).toMatchObject({ change: "removed" });
    expect(await harness.repos.subscriptions.get(id, managedSubscriptionId(id))).toBeNull();
    await harness.route(
      controlEvent(
        "customer_updated",
        customer(id, { webhook_uri: receiver.url, webhook_secret: secret, tm_update: at(1) }),
      ),
    );
    expect(await harness.repos.subscriptions.get(id, managedSubscriptionId(id))).toBeNull();

    // Back with a newer version, then deleted.
    await harness.route(
      controlEvent(
        "customer_updated",
        customer(id, { webhook_uri: receiver.url, webhook_secret: secret, tm_update: at(3) }),
      ),
    );
    expect(await harness.repos.subscriptions.get(id, managedSubscriptionId(id))).not.toBeNull();
    expect(
      await harness.route(
        controlEvent(
          "customer_deleted",
          customer(id, { webhook_uri: receiver.url, webhook_secret: secret, tm_update: at(4) }),
        ),
      ),
    ).toMatchObject({ change: "removed" });
    const routed = await harness.route(eventFor(callHangup, id));
    expect(routed).toMatchObject({ kind: "routed", matched: 0 });
    expect(receiver.requests).toHaveLength(1);
  });

  it("parks a malformed control event as unroutable, listing every problem, and never logs the secret", async () => {
    const id = randomUUID();
    const bad = controlEvent(
      "customer_updated",
      customer(id, {
        webhook_uri: "ftp://example.com/hook",
        webhook_method: "PATCH",
        webhook_secret: "too-short-secret-value",
        tm_update: "yesterday",
      }),
    );
    expect(await harness.route(bad)).toMatchObject({ kind: "unroutable", reason: "invalid_control_event" });
    const messages = await harness.env.receiveAll(harness.env.queues.unroutableQueueUrl, { waitMs: 2000 });
    const parked = messages.map((m) => JSON.parse(m.Body ?? "{}")).find((b) => b.event?.id === bad.id);
    expect(parked?.reason).toBe("invalid_control_event");
    expect(parked?.details).toEqual([
      expect.stringContaining("data.tm_update"),
      expect.stringContaining("data.webhook_uri"),
      expect.stringContaining("data.webhook_method"),
      expect.stringContaining("data.webhook_secret"),
    ]);
    expect(parked?.details.join(" ")).not.toContain("too-short-secret-value");
    await waitFor(
      async () => (await harness.repos.subscriptions.get(id, managedSubscriptionId(id))) === null,
      {
        timeoutMs: 1000,
        description: "no managed subscription",
      },
    );
  });
});

/** A managed subscription for a new customer, delivering to `url`; answers the customer id and secret. */
async function managedCustomer(url: string, method = "POST"): Promise<{ id: string; secret: string }> {
  const id = randomUUID();
  const secret = base64urlSecret();
  const outcome = await harness.route(
    controlEvent(
      "customer_created",
      customer(id, { webhook_uri: url, webhook_method: method, webhook_secret: secret }),
    ),
  );
  expect(outcome).toMatchObject({ kind: "control", change: "created" });
  return { id, secret };
}

describe("the legacy delivery profile: VoIPBIN's outcome rules, our durability", () => {
  it.each([404, 410, 400])(
    "a %i gets one request and no retry: dead, endpoint_rejected, not dead-lettered",
    async (status) => {
      const receiver = await harness.receiver(() => ({ status, body: "no" }));
      const { id } = await managedCustomer(receiver.url);
      const event = eventFor(callHangup, id);
      await harness.route(event);
      const deliveryId = deliveryIdOf(event, managedSubscriptionId(id));
      await waitFor(async () => (await harness.repos.deliveries.get(id, deliveryId))?.status === "dead", {
        timeoutMs: 10_000,
        description: "the delivery closed",
      });
      const record = await harness.repos.deliveries.get(id, deliveryId);
      expect(record).toMatchObject({ status: "dead", dead_reason: "endpoint_rejected" });
      expect(record?.attempts.map((a) => a.status_code)).toEqual([status]);
      // The job is gone from the queue (no retry can come), after one request; nothing dead-lettered.
      await waitForQueueEmpty(harness.env, harness.env.queues.deliveryQueueUrl);
      expect(receiver.requests).toHaveLength(1);
      const dead = await harness.env.receiveAll(harness.env.queues.deliveryDlqUrl, { waitMs: 300 });
      expect(dead.filter((m) => m.Body?.includes(deliveryId))).toEqual([]);
      // 410 is not special here: the managed subscription stays enabled.
      expect(await harness.repos.subscriptions.get(id, managedSubscriptionId(id))).toMatchObject({
        status: "enabled",
      });
    },
  );

  it("a 500 gets retries on the schedule, and the delivery succeeds when the endpoint recovers", async () => {
    const receiver = await harness.receiver((_request, n) => (n < 3 ? { status: 500 } : { status: 200 }));
    const { id, secret } = await managedCustomer(receiver.url);
    await harness.route(eventFor(callHangup, id));
    const requests = await receiver.waitForRequests(3, 15_000);
    expect(requests.every((request) => voipbinAccepts(request, secret))).toBe(true);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
  });

  it("a 307 to another receiver delivers the same POST body there, signed as VoIPBIN signs it", async () => {
    const target = await harness.receiver();
    const redirecting = await harness.receiver(() => ({
      status: 307,
      headers: { location: `${target.url}/moved` },
    }));
    const { id, secret } = await managedCustomer(`${redirecting.url}/hook`);
    const event = eventFor(callHangup, id);
    await harness.route(event);
    const [arrived] = await target.waitForRequests(1);
    expect(arrived).toMatchObject({ method: "POST", url: "/moved" });
    expect(arrived?.body).toBe(redirecting.requests[0]?.body);
    expect(voipbinAccepts(arrived as RecordedRequest, secret)).toBe(true);
    const deliveryId = deliveryIdOf(event, managedSubscriptionId(id));
    await waitFor(async () => (await harness.repos.deliveries.get(id, deliveryId))?.status === "succeeded", {
      timeoutMs: 10_000,
      description: "the delivery succeeded",
    });
  });

  it("a redirect to a blocked address is not followed (retried as VoIPBIN retries a refused dial)", async () => {
    const redirecting = await harness.receiver(() => ({
      status: 302,
      headers: { location: "http://169.254.169.254/latest/meta-data/" },
    }));
    const { id } = await managedCustomer(redirecting.url);
    const event = eventFor(callHangup, id);
    await harness.route(event);
    const deliveryId = deliveryIdOf(event, managedSubscriptionId(id));
    await waitFor(
      async () => ((await harness.repos.deliveries.get(id, deliveryId))?.attempts.length ?? 0) >= 1,
      { timeoutMs: 10_000, description: "an attempt recorded" },
    );
    const record = await harness.repos.deliveries.get(id, deliveryId);
    expect(record?.attempts[0]).toMatchObject({ status_code: null });
    expect(record?.attempts[0]?.error).toMatch(/^blocked_destination/);
    expect(record?.status).not.toBe("succeeded");
  });
});
