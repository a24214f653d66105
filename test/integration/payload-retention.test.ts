/**
 * PAYLOAD_RETENTION_DAYS (issue 24, docs/security.md): a deployment keeps event bodies for fewer days
 * than the delivery records. Checked on the items DynamoDB holds (their TTL) and on what reading the
 * delivery answers once the body's time is over but TTL has not removed it yet.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveryRepository } from "#shared/adapters/dynamodb/deliveries.ts";
import { keys } from "#shared/adapters/dynamodb/table.ts";
import { loadConfig } from "#shared/config.ts";
import { ConfigError } from "#shared/domain/errors.ts";
import { deriveDeliveryIds } from "#shared/domain/ids.ts";
import { resolveSettings } from "../../infra/settings.ts";
import { createTestEnvironment, deliveryTablesOf, type TestEnvironment } from "../support/aws-env.ts";

let env: TestEnvironment;
let doc: DynamoDBDocumentClient;

beforeAll(async () => {
  env = await createTestEnvironment();
  doc = DynamoDBDocumentClient.from(env.dynamodb);
});

afterAll(() => env?.close());

const DAY = 86_400;

describe("payload retention shorter than the records'", () => {
  it("gives the body a TTL of PAYLOAD_RETENTION_DAYS and the record its own; a body past it reads as gone", async () => {
    const deliveries = new DeliveryRepository(doc, deliveryTablesOf(env, doc), 2);
    const customerId = randomUUID();
    const subscriptionId = randomUUID();
    const eventId = randomUUID();
    const now = new Date();
    const { deliveryId, webhookId } = deriveDeliveryIds(eventId, subscriptionId, now);
    const payload = '{"type":"message_created","data":{"id":"m1","text":"my PIN is 1234"}}';
    await deliveries.createPending(
      {
        delivery_id: deliveryId,
        webhook_id: webhookId,
        subscription_id: subscriptionId,
        customer_id: customerId,
        event_id: eventId,
        event_type: "message_created",
        payload,
      },
      now,
      30,
      randomUUID(),
    );
    const nowS = Math.floor(now.getTime() / 1000);
    const body = await doc.send(
      new GetCommand({ TableName: env.deliveriesTableName, Key: keys.eventPayload(customerId, eventId) }),
    );
    expect(body.Item?.expires_at).toBe(nowS + 2 * DAY);
    const head = await doc.send(
      new GetCommand({ TableName: env.deliveriesTableName, Key: keys.deliveryHead(customerId, deliveryId) }),
    );
    expect(head.Item?.expires_at).toBe(nowS + 30 * DAY);

    expect((await deliveries.get(customerId, deliveryId, now))?.payload).toBe(payload);
    // Three days on: the record is there, its body is not (TTL may not have removed the item yet).
    const later = new Date(now.getTime() + 3 * DAY * 1000);
    const record = await deliveries.get(customerId, deliveryId, later);
    expect(record?.id).toBe(deliveryId);
    expect(record?.payload).toBeNull();
  });

  it("keeps a body a day longer than its records when the setting is unset", async () => {
    const deliveries = new DeliveryRepository(doc, deliveryTablesOf(env, doc));
    const customerId = randomUUID();
    const eventId = randomUUID();
    const now = new Date();
    await deliveries.putPayload(customerId, eventId, "{}", now, 30, now);
    const body = await doc.send(
      new GetCommand({ TableName: env.deliveriesTableName, Key: keys.eventPayload(customerId, eventId) }),
    );
    expect(body.Item?.expires_at).toBe(Math.floor(now.getTime() / 1000) + 31 * DAY);
  });

  it("refuses a payload retention longer than the records', in the config and in the deployment settings", () => {
    expect(() =>
      loadConfig({ ...env.env, PAYLOAD_RETENTION_DAYS: "40", DELIVERY_RETENTION_DAYS: "30" }),
    ).toThrow(ConfigError);
    expect(() =>
      loadConfig({ ...env.env, PAYLOAD_RETENTION_DAYS: "40", DELIVERY_RETENTION_DAYS: "30" }),
    ).toThrow(/PAYLOAD_RETENTION_DAYS: must be at most DELIVERY_RETENTION_DAYS \(30\)/);
    expect(loadConfig({ ...env.env, PAYLOAD_RETENTION_DAYS: "7" }).PAYLOAD_RETENTION_DAYS).toBe(7);
    expect(() => resolveSettings({ payloadRetentionDays: 40, deliveryRetentionDays: 30 })).toThrow(
      /payloadRetentionDays: must be at most deliveryRetentionDays/,
    );
  });
});
