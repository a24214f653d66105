/**
 * `customer_deleted` (PRODUCT §11) erases the customer's data after the grace period (issue 24,
 * docs/security.md): the router records the request, the delivery function's scheduled pass erases.
 * Checked on the table itself, item by item, for the deleted customer and for one who stays.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scheduledEvent } from "#handlers/delivery.ts";
import { ErasureRepository } from "#shared/adapters/dynamodb/erasure.ts";
import { managedSubscriptionId } from "#shared/domain/subscriptions/managed.ts";
import { erasePendingCustomers } from "#shared/services/erasure.ts";
import { deliveryTablesOf } from "../support/aws-env.ts";
import { eventBridgeEvent, fixtureEvent } from "../support/fixtures.ts";
import {
  deliveryIdOf,
  eventFor,
  lambdaContext,
  type PipelineHarness,
  startPipelineHarness,
} from "../support/pipeline.ts";
import { itemsMentioning as itemsOfTable } from "../support/table-items.ts";
import { waitFor } from "../support/wait.ts";

const callHangup = fixtureEvent("call_hangup");
let harness: PipelineHarness;
let doc: DynamoDBDocumentClient;

beforeAll(async () => {
  // No grace: the scheduled pass right after the deletion erases (the default, 14 days, is checked below).
  harness = await startPipelineHarness({ deliverySource: true, env: { CUSTOMER_ERASURE_GRACE_DAYS: "0" } });
  doc = DynamoDBDocumentClient.from(harness.env.dynamodb);
});

afterAll(async () => {
  await harness?.close();
});

function controlEvent(type: string, id: string, fields: Record<string, unknown>) {
  const data = {
    id,
    webhook_method: "POST",
    webhook_uri: "",
    webhook_secret: "",
    tm_update: "2026-01-01T00:00:00.000000Z",
    tm_delete: null,
    ...fields,
  };
  return eventBridgeEvent(
    {
      Source: "voipbin.customer-manager",
      DetailType: type,
      Detail: JSON.stringify({ customer_id: id, data }),
    },
    { id: randomUUID() },
  );
}

/** Both tables: the delivery records are in the deliveries one (docs/data-model.md). */
const itemsMentioning = async (text: string) => [
  ...(await itemsOfTable(doc, harness.env.tableName, text)),
  ...(await itemsOfTable(doc, harness.env.deliveriesTableName, text)),
];

describe("customer_deleted erases the customer's data after the grace period", () => {
  it("the router records the erasure; the scheduled pass removes records, attempts and bodies, not another customer's", async () => {
    // Each delivery's first attempt fails (so it has an attempt item), its retry succeeds.
    const seen = new Set<string>();
    const receiver = await harness.receiver((request) => {
      const id = String(request.headers["webhook-id"]);
      if (seen.has(id)) return { status: 200 };
      seen.add(id);
      return { status: 500 };
    });
    const [gone, stays] = [randomUUID(), randomUUID()];
    const secret = "q3Jx-9_Zt0aVbM2kLp8sWn4eYc1HfR6u";
    const events: Record<string, ReturnType<typeof eventFor>[]> = { [gone]: [], [stays]: [] };
    for (const id of [gone, stays]) {
      const created = await harness.route(
        controlEvent("customer_created", id, {
          webhook_uri: `${receiver.url}/${id}`,
          webhook_secret: secret,
        }),
      );
      expect(created).toMatchObject({ kind: "control", change: "created" });
      for (let i = 0; i < 2; i++) {
        const event = eventFor(callHangup, id);
        events[id]?.push(event);
        await harness.route(event);
      }
    }
    const deliveryOf = (id: string, event: ReturnType<typeof eventFor>) =>
      harness.repos.deliveries.get(id, deliveryIdOf(event, managedSubscriptionId(id)));
    await waitFor(
      async () => {
        for (const id of [gone, stays]) {
          for (const event of events[id] ?? []) {
            if ((await deliveryOf(id, event))?.status !== "succeeded") return false;
          }
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 200, description: "every delivery succeeded after a retry" },
    );
    const goneDeliveryIds = (events[gone] ?? []).map((event) =>
      deliveryIdOf(event, managedSubscriptionId(gone)),
    );
    for (const id of goneDeliveryIds) expect((await itemsMentioning(id)).length).toBeGreaterThan(1);

    const deleted = await harness.route(
      controlEvent("customer_deleted", gone, {
        tm_update: "2026-02-01T00:00:00.000000Z",
        tm_delete: "2026-02-01T00:00:00.000000Z",
      }),
    );
    expect(deleted).toMatchObject({ kind: "control" });
    const pending = await doc.send(
      new GetCommand({ TableName: harness.env.tableName, Key: { PK: "ERASURE", SK: `CUSTOMER#${gone}` } }),
    );
    expect(pending.Item?.due_at).toBeDefined();

    // EventBridge's schedule invokes the delivery function: the backstop pass, then the erasure.
    await harness.delivery.handler(
      scheduledEvent(new Date(), "us-east-1") as never,
      lambdaContext("delivery"),
    );

    // Nothing of the deleted customer is left but the version of its last control event.
    const left = await itemsMentioning(gone);
    expect(left.map((item) => `${item.PK}/${item.SK}`)).toEqual([`CUSTOMER#${gone}/MANAGED#LEGACY`]);
    expect(left[0]).not.toHaveProperty("secret");
    expect(left[0]).not.toHaveProperty("url");
    for (const id of goneDeliveryIds) expect(await itemsMentioning(id)).toEqual([]);
    for (const event of events[gone] ?? []) expect(await deliveryOf(gone, event)).toBeNull();
    // The customer who stays keeps every delivery, with its body.
    for (const event of events[stays] ?? []) {
      const record = await deliveryOf(stays, event);
      expect(record?.status).toBe("succeeded");
      expect(record?.payload).toContain('"call_hangup"');
    }
    // A late, older customer_updated does not bring the managed subscription back.
    const late = await harness.route(
      controlEvent("customer_updated", gone, { webhook_uri: `${receiver.url}/late`, webhook_secret: secret }),
    );
    expect(late).toMatchObject({ kind: "control", change: "ignored_older" });
  }, 120_000);

  it("a customer created again by a version newer than its deletion keeps its new subscription and its deliveries", async () => {
    const receiver = await harness.receiver(() => ({ status: 200 }));
    const customerId = randomUUID();
    const secret = "q3Jx-9_Zt0aVbM2kLp8sWn4eYc1HfR6u";
    const pendingItem = () =>
      doc.send(
        new GetCommand({
          TableName: harness.env.tableName,
          Key: { PK: "ERASURE", SK: `CUSTOMER#${customerId}` },
        }),
      );
    await harness.route(
      controlEvent("customer_created", customerId, {
        webhook_uri: `${receiver.url}/a`,
        webhook_secret: secret,
      }),
    );
    await harness.route(
      controlEvent("customer_deleted", customerId, {
        tm_update: "2026-02-01T00:00:00.000000Z",
        tm_delete: "2026-02-01T00:00:00.000000Z",
      }),
    );
    expect((await pendingItem()).Item?.due_at).toBeDefined();
    // An older creation arriving late changes nothing: the erasure stands.
    const late = await harness.route(
      controlEvent("customer_created", customerId, {
        webhook_uri: `${receiver.url}/late`,
        webhook_secret: secret,
      }),
    );
    expect(late).toMatchObject({ change: "ignored_older" });
    expect((await pendingItem()).Item).toBeDefined();
    const again = await harness.route(
      controlEvent("customer_created", customerId, {
        webhook_uri: `${receiver.url}/again`,
        webhook_secret: secret,
        tm_update: "2026-03-01T00:00:00.000000Z",
      }),
    );
    expect(again).toMatchObject({ kind: "control", change: "created" });
    expect((await pendingItem()).Item).toBeUndefined();

    // The scheduled pass (grace 0 here) leaves the customer alone, and its events are delivered.
    await harness.delivery.handler(
      scheduledEvent(new Date(), "us-east-1") as never,
      lambdaContext("delivery"),
    );
    const event = eventFor(callHangup, customerId);
    await harness.route(event);
    await waitFor(
      async () =>
        (
          await harness.repos.deliveries.get(
            customerId,
            deliveryIdOf(event, managedSubscriptionId(customerId)),
          )
        )?.status === "succeeded",
      { timeoutMs: 30_000, intervalMs: 200, description: "the re-created customer's event delivered" },
    );
    expect(receiver.requests.map((request) => request.url)).toEqual(["/again"]);
  }, 60_000);

  it("a pass under way stops when the request is withdrawn, neither erased nor left to resume", async () => {
    const store = new ErasureRepository(doc, deliveryTablesOf(harness.env, doc));
    const customerId = randomUUID();
    const now = new Date("2026-03-01T00:00:00.000Z");
    await store.request(customerId, now, now);
    expect(await store.saveCursor(customerId, "page-2")).toBe(true);
    await store.cancel(customerId);
    expect(await store.saveCursor(customerId, "page-3")).toBe(false);
    expect((await store.due(now)).map((pending) => pending.customerId)).not.toContain(customerId);
  });

  it("waits for the grace period, and a pass out of time resumes where it stopped", async () => {
    const store = new ErasureRepository(doc, deliveryTablesOf(harness.env, doc));
    const customerId = randomUUID();
    const requested = new Date("2026-03-01T00:00:00.000Z");
    await store.request(customerId, new Date(requested.getTime() + 14 * 86_400_000), requested);
    // A second request (a redelivered customer_deleted) does not move the date.
    await store.request(customerId, new Date(requested.getTime() + 20 * 86_400_000), requested);
    const item = { PK: `CUSTOMER#${customerId}`, SK: "COUNTER#SUBSCRIPTIONS" };
    await doc.send(new PutCommand({ TableName: harness.env.tableName, Item: { ...item, count: 1 } }));

    const dayBefore = new Date(requested.getTime() + 13 * 86_400_000);
    const early = await erasePendingCustomers({
      store,
      requests: store,
      now: dayBefore,
      deadlineMs: Date.now() + 30_000,
    });
    expect(early.erased).not.toContain(customerId);
    expect(await itemsMentioning(customerId)).toHaveLength(2);

    const after = new Date(requested.getTime() + 14 * 86_400_000);
    const outOfTime = await erasePendingCustomers({
      store,
      requests: store,
      now: after,
      deadlineMs: Date.now() - 1,
    });
    expect(outOfTime.resumable).toContain(customerId);
    const done = await erasePendingCustomers({
      store,
      requests: store,
      now: after,
      deadlineMs: Date.now() + 30_000,
    });
    expect(done.erased).toContain(customerId);
    expect(await itemsMentioning(customerId)).toEqual([]);
  });
});

// Last in the file: every call the tests above made through the router and the delivery function.
describe("IAM (AWS's rule, which the local stack does not enforce: docs/security.md)", () => {
  it("the router's and the delivery function's roles allow every DynamoDB, SQS and EventBridge call these tests made", () => {
    expect(harness.ungrantedCalls()).toEqual([]);
  });
});
