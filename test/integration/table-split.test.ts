import { randomUUID } from "node:crypto";
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveryQueue } from "#shared/adapters/delivery-queue.ts";
import { DeliveryRepository } from "#shared/adapters/dynamodb/deliveries.ts";
import { keys } from "#shared/adapters/dynamodb/table.ts";
import type { DeliveryStatus } from "#shared/domain/delivery/delivery.ts";
import { deriveDeliveryIds } from "#shared/domain/ids.ts";
import type { SqsEventSource } from "../../local/sqs-event-source.ts";
import { splitStatus } from "../../scripts/ops/split-status.ts";
import type { ApiGatewaySimulator } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";
import { deliveryTablesOf } from "../support/aws-env.ts";
import { waitForQueueEmpty } from "../support/pipeline.ts";
import { type Receiver, type Responder, startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

/**
 * The table split (docs/data-model.md, "Splitting the delivery records out"): delivery records in the
 * deliveries table, subscriptions and keys in the main one; and a deployment's upgrade, whose
 * delivery records of before the split are in the main table: found, retried, recovered, and moved
 * by their first write so that their live state is never in two tables.
 */
let bed: ApiTestbed;
let api: ApiGatewaySimulator;
let source: SqsEventSource;
let doc: DynamoDBDocumentClient;
/** What the code before the split used: one table for everything. */
let beforeSplit: DeliveryRepository;
let deliveries: DeliveryRepository;
let key: string;
let customerId: string;
const receivers: Receiver[] = [];

async function receiver(respond?: Responder): Promise<Receiver> {
  const started = await startReceiver(respond);
  receivers.push(started);
  return started;
}

beforeAll(async () => {
  bed = await createApiTestbed({
    retrySchedule: [1],
    env: { RETRY_JITTER: "0", DELIVERY_TIMEOUT_MS: "1000", SUBSCRIPTION_CACHE_TTL_MS: "0" },
  });
  api = bed.gateway;
  doc = DynamoDBDocumentClient.from(bed.env.dynamodb);
  beforeSplit = new DeliveryRepository(doc, bed.env.tableName);
  deliveries = new DeliveryRepository(doc, deliveryTablesOf(bed.env, doc));
  source = await bed.startDeliveries();
  const minted = await bed.mintKey();
  key = minted.key;
  customerId = minted.accessKey.customer_id;
});

afterAll(async () => {
  await source?.stop();
  await Promise.all(receivers.map((r) => r.close()));
  bed?.close();
});

async function subscribe(url: string): Promise<string> {
  const response = await api.post("/v1/subscriptions", { url, event_types: ["*"] }, { key });
  expect(response.status, JSON.stringify(response.json)).toBe(201);
  return (response.json as { id: string }).id;
}

interface DeliveryJson {
  status: DeliveryStatus;
  attempts: { status_code: number | null }[];
  webhook_id: string;
}

async function getDelivery(id: string): Promise<DeliveryJson> {
  const response = await api.get(`/v1/deliveries/${id}`, { key });
  expect(response.status, JSON.stringify(response.json)).toBe(200);
  return response.json as DeliveryJson;
}

async function waitForStatus(id: string, status: DeliveryStatus): Promise<DeliveryJson> {
  await waitFor(async () => (await deliveries.get(customerId, id))?.status === status, {
    timeoutMs: 15_000,
    intervalMs: 50,
    description: `delivery ${id} ${status}`,
  });
  return getDelivery(id);
}

/** Every item of a table that mentions the customer (a test table: a Scan is fine). */
async function itemsOf(table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items.filter((item) => JSON.stringify(item).includes(customerId));
}

const kindOf = (item: Record<string, unknown>): string => String(item.PK).split("#")[0] ?? "";

/**
 * A delivery as the code before the split wrote it, in the main table: its event's body, a failed
 * first attempt two days ago (before the deliveries table existed, so before the split), and the
 * job that is its live one (`token`).
 */
async function preSplitDelivery(subscriptionId: string, status: "failed" | "dead") {
  const eventId = randomUUID();
  const at = new Date(Date.now() - 2 * 86_400_000);
  const deliveryId = deriveDeliveryIds(eventId, subscriptionId, at).deliveryId;
  const payload = JSON.stringify({ type: "call_hangup", data: { id: eventId } });
  const token = `tok-${randomUUID()}`;
  await beforeSplit.putPayload(customerId, eventId, payload, at, 30, at);
  const identity = {
    delivery_id: deliveryId,
    subscription_id: subscriptionId,
    customer_id: customerId,
    event_id: eventId,
    event_type: "call_hangup",
    webhook_id: `msg_${randomUUID().replaceAll("-", "")}`,
  };
  expect(
    await beforeSplit.recordAttempt({
      delivery: identity,
      liveJob: token,
      attempt: {
        at: at.toISOString(),
        status_code: 500,
        error: null,
        latency_ms: 3,
        response_body: "no",
        request: null,
      },
      status,
      deadReason: status === "dead" ? "attempts_exhausted" : null,
      nextAttemptAt: status === "failed" ? new Date().toISOString() : null,
      now: at,
      redeliverAfter: undefined,
      retentionDays: 30,
      existing: undefined,
    }),
  ).toBe("recorded");
  return { ...identity, payload, token };
}

async function headIn(table: string, deliveryId: string) {
  const { Item } = await doc.send(
    new GetCommand({
      TableName: table,
      Key: keys.deliveryHead(customerId, deliveryId),
      ConsistentRead: true,
    }),
  );
  return Item;
}

describe("the table split", () => {
  it("keeps a delivery's records in the deliveries table and the subscription and key in the main one", async () => {
    const target = await receiver();
    const subscriptionId = await subscribe(target.url);
    const sent = await api.post(`/v1/subscriptions/${subscriptionId}/test`, undefined, { key });
    expect(sent.status).toBe(202);
    const deliveryId = (sent.json as { delivery_id: string }).delivery_id;
    const record = await waitForStatus(deliveryId, "succeeded");
    expect(record.attempts).toHaveLength(1);

    const main = await itemsOf(bed.env.tableName);
    const split = await itemsOf(bed.env.deliveriesTableName);
    // The subscription (and its counter) are the customer's items in the main table; the key is
    // stored under its hash, found by its customer attribute.
    expect(main.some((item) => item.SK === `SUBSCRIPTION#${subscriptionId}`)).toBe(true);
    expect(main.some((item) => String(item.PK).startsWith("ACCESSKEY"))).toBe(true);
    expect(main.filter((item) => ["LOG", "DELIVERY", "EVENT", "SHADOW"].includes(kindOf(item)))).toEqual([]);
    // The delivery's head and its event's body are in the deliveries table, nothing else of the customer.
    expect(split.some((item) => kindOf(item) === "LOG" && item.id === deliveryId)).toBe(true);
    expect(split.some((item) => kindOf(item) === "EVENT")).toBe(true);
    expect(split.filter((item) => !["LOG", "DELIVERY", "EVENT", "SHADOW"].includes(kindOf(item)))).toEqual(
      [],
    );
  });

  it("attempts a delivery of before the split when its scheduled retry comes, and moves it on that first write", async () => {
    const target = await receiver();
    const subscriptionId = await subscribe(target.url);
    const old = await preSplitDelivery(subscriptionId, "failed");
    // Found where the code before the split left it.
    const before = await getDelivery(old.delivery_id);
    expect(before.status).toBe("failed");
    expect(before.attempts).toHaveLength(1);
    expect((await deliveries.get(customerId, old.delivery_id))?.payload).toBe(old.payload);
    expect(await headIn(bed.env.deliveriesTableName, old.delivery_id)).toBeUndefined();

    // Its scheduled retry, queued before the upgrade, runs after it.
    await new DeliveryQueue(bed.env.sqs, bed.env.queues.deliveryQueueUrl).enqueue([
      {
        v: 1,
        delivery_id: old.delivery_id,
        webhook_id: old.webhook_id,
        subscription_id: subscriptionId,
        customer_id: customerId,
        event_id: old.event_id,
        event_type: old.event_type,
        payload: old.payload,
        token: old.token,
      },
    ]);
    const after = await waitForStatus(old.delivery_id, "succeeded");
    await waitForQueueEmpty(bed.env, bed.env.queues.deliveryQueueUrl);
    // One request, the second attempt of the same chain; both attempts shown.
    expect(target.requests).toHaveLength(1);
    expect(target.requests[0]?.headers["webhook-id"]).toBe(old.webhook_id);
    // The body its job carries, as before the upgrade.
    expect(target.requests[0]?.body).toBe(old.payload);
    expect(after.attempts.map((a) => a.status_code)).toEqual([500, 200]);
    // Its live state is in the deliveries table alone; the main table's copy stays as it was moved.
    expect((await headIn(bed.env.deliveriesTableName, old.delivery_id))?.status).toBe("succeeded");
    expect((await headIn(bed.env.tableName, old.delivery_id))?.status).toBe("failed");
    // The log lists it once, as it is now.
    const log = await api.get(`/v1/subscriptions/${subscriptionId}/deliveries`, { key });
    expect(log.status, JSON.stringify(log.json)).toBe(200);
    const listed = (log.json as { items: { id: string; status: string }[] }).items.filter(
      (d) => d.id === old.delivery_id,
    );
    expect(listed).toEqual([expect.objectContaining({ id: old.delivery_id, status: "succeeded" })]);
  });

  it("retries a dead delivery of before the split from the API", async () => {
    const target = await receiver();
    const subscriptionId = await subscribe(target.url);
    const old = await preSplitDelivery(subscriptionId, "dead");
    expect((await getDelivery(old.delivery_id)).status).toBe("dead");
    expect((await api.post(`/v1/deliveries/${old.delivery_id}/retry`, undefined, { key })).status).toBe(202);
    const after = await waitForStatus(old.delivery_id, "succeeded");
    expect(after.attempts.map((a) => a.status_code)).toEqual([500, 200]);
    expect(target.requests).toHaveLength(1);
    expect((await headIn(bed.env.deliveriesTableName, old.delivery_id))?.status).toBe("succeeded");
  });

  it("recovers the dead deliveries of before the split, found in the main table's log", async () => {
    const target = await receiver();
    const subscriptionId = await subscribe(target.url);
    const olds = [
      await preSplitDelivery(subscriptionId, "dead"),
      await preSplitDelivery(subscriptionId, "dead"),
    ];
    const since = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const recovered = await api.post(`/v1/subscriptions/${subscriptionId}/recover`, { since }, { key });
    expect(recovered.status).toBe(202);
    expect(recovered.json).toMatchObject({ count: 2, complete: true });
    for (const old of olds) await waitForStatus(old.delivery_id, "succeeded");
    await waitForQueueEmpty(bed.env, bed.env.queues.deliveryQueueUrl);
    expect(target.requests.map((r) => r.headers["webhook-id"]).sort()).toEqual(
      olds.map((o) => o.webhook_id).sort(),
    );
    // Recovered once: a second recovery finds nothing left, in either table.
    const again = await api.post(`/v1/subscriptions/${subscriptionId}/recover`, { since }, { key });
    expect(again.json).toMatchObject({ count: 0, complete: true });
  });

  it("tells the operator when the fallback can go (npm run ops -- split-status)", async () => {
    const subscriptionId = await subscribe((await receiver()).url);
    await preSplitDelivery(subscriptionId, "failed");
    const tables = { main: bed.env.tableName, deliveries: bed.env.deliveriesTableName };
    const now = await splitStatus(doc, tables, 30);
    // The split is when the deliveries table was created: this test file's environment, moments ago.
    expect(Date.now() - Date.parse(now.split_at)).toBeLessThan(10 * 60_000);
    expect(now.fallback_open).toBe(true);
    expect(now.records_in_main_table).toBeGreaterThan(0);
    expect(now.safe_to_remove).toBe(false);
    // Once the fallback has closed, every record of before the split has expired.
    const later = await splitStatus(doc, tables, 30, new Date(Date.parse(now.fallback_closes_at) + 1));
    expect(later).toMatchObject({ fallback_open: false, records_in_main_table: 0, safe_to_remove: true });
  });
});
