import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqsEventSource } from "../../local/sqs-event-source.ts";
import type { ApiGatewaySimulator } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";
import { waitForQueueEmpty } from "../support/pipeline.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

/**
 * PRODUCT §4: a delivery has at most one live job. A manual retry or a recovery replaces a scheduled
 * retry; it never adds a second chain. Counted where it shows: the requests a receiver gets.
 */

// Three attempts, three seconds apart: long enough that a retry or recover lands while the first
// chain's next attempt is scheduled.
const SCHEDULE = [3, 3];
const ATTEMPTS_PER_CHAIN = SCHEDULE.length + 1;

let bed: ApiTestbed;
let api: ApiGatewaySimulator;
let source: SqsEventSource;
let key: string;
const receivers: Receiver[] = [];

beforeAll(async () => {
  bed = await createApiTestbed({
    retrySchedule: SCHEDULE,
    env: { RETRY_JITTER: "0", DELIVERY_TIMEOUT_MS: "1000" },
  });
  api = bed.gateway;
  source = await bed.startDeliveries();
  key = (await bed.mintKey()).key;
});

afterAll(async () => {
  await source?.stop();
  await Promise.all(receivers.map((r) => r.close()));
  bed?.close();
});

async function failingSubscription(): Promise<{ id: string; receiver: Receiver }> {
  const receiver = await startReceiver(() => ({ status: 500, body: "down" }));
  receivers.push(receiver);
  const response = await api.post("/v1/subscriptions", { url: receiver.url, event_types: ["*"] }, { key });
  expect(response.status).toBe(201);
  return { id: (response.json as { id: string }).id, receiver };
}

async function sendTest(subscriptionId: string): Promise<string> {
  const response = await api.post(`/v1/subscriptions/${subscriptionId}/test`, undefined, { key });
  expect(response.status).toBe(202);
  return (response.json as { delivery_id: string }).delivery_id;
}

async function delivery(
  id: string,
): Promise<{ status: string; attempts: unknown[]; dead_reason: string | null }> {
  return (await api.get(`/v1/deliveries/${id}`, { key })).json as {
    status: string;
    attempts: unknown[];
    dead_reason: string | null;
  };
}

async function waitUntilDead(id: string): Promise<void> {
  await waitFor(async () => (await delivery(id)).status === "dead", {
    timeoutMs: 30_000,
    intervalMs: 100,
    description: `delivery ${id} dead`,
  });
}

describe("every live delivery has at most one job", () => {
  it("a manual retry replaces the scheduled retry: the first chain stops, the new one runs its schedule", async () => {
    const { id: subscriptionId, receiver } = await failingSubscription();
    const deliveryId = await sendTest(subscriptionId);
    await receiver.waitForRequests(1, 10_000);
    // The first chain's next attempt is scheduled 3 s out; retry now.
    expect((await api.post(`/v1/deliveries/${deliveryId}/retry`, undefined, { key })).status).toBe(202);
    await waitUntilDead(deliveryId);
    await waitForQueueEmpty(bed.env, bed.env.queues.deliveryQueueUrl, 20_000);
    // One attempt of the first chain, then the retry's whole chain; two chains would have sent six.
    expect(receiver.requests).toHaveLength(1 + ATTEMPTS_PER_CHAIN);
    const record = await delivery(deliveryId);
    expect(record.attempts).toHaveLength(1 + ATTEMPTS_PER_CHAIN);
    expect(record.dead_reason).toBe("attempts_exhausted");
    const dead = await bed.env.receiveAll(bed.env.queues.deliveryDlqUrl);
    expect(dead.map((m) => JSON.parse(m.Body ?? "{}").delivery_id)).toEqual([deliveryId]);
  });

  it("recover re-sends each delivery once per call, a second recover adds nothing, and the count says so", async () => {
    const { id: subscriptionId, receiver } = await failingSubscription();
    const since = new Date(Date.now() - 1000).toISOString();
    const ids = [
      await sendTest(subscriptionId),
      await sendTest(subscriptionId),
      await sendTest(subscriptionId),
    ];
    await receiver.waitForRequests(ids.length, 10_000);
    await waitFor(async () => (await Promise.all(ids.map(delivery))).every((d) => d.status === "failed"), {
      timeoutMs: 10_000,
      description: "every first attempt recorded",
    });
    const path = `/v1/subscriptions/${subscriptionId}/recover`;
    const first = await api.post(path, { since }, { key });
    expect(first.json).toMatchObject({ count: ids.length, complete: true });
    const second = await api.post(path, { since }, { key });
    expect(second.json).toMatchObject({ count: 0, complete: true });
    for (const id of ids) await waitUntilDead(id);
    await waitForQueueEmpty(bed.env, bed.env.queues.deliveryQueueUrl, 20_000);
    expect(receiver.requests).toHaveLength(ids.length * (1 + ATTEMPTS_PER_CHAIN));
    const perDelivery = new Map<string, number>();
    for (const request of receiver.requests) {
      const webhookId = request.headers["webhook-id"] ?? "";
      perDelivery.set(webhookId, (perDelivery.get(webhookId) ?? 0) + 1);
    }
    expect([...perDelivery.values()]).toEqual(ids.map(() => 1 + ATTEMPTS_PER_CHAIN));
    await bed.env.receiveAll(bed.env.queues.deliveryDlqUrl);
  });
});
