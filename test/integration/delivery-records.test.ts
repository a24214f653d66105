import { randomBytes, randomUUID } from "node:crypto";
import { PutItemCommand, QueryCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordAttemptInput } from "#shared/adapters/dynamodb/deliveries.ts";
import { encodePayload } from "#shared/adapters/dynamodb/payload-codec.ts";
import type { DeliveryIdentity } from "#shared/domain/delivery/delivery.ts";
import { deriveDeliveryIds } from "#shared/domain/ids.ts";
import { createTestEnvironment, type TestEnvironment } from "../support/aws-env.ts";
import { repositoriesFor } from "../support/pipeline.ts";

let env: TestEnvironment;
let repos: ReturnType<typeof repositoriesFor>;

beforeAll(async () => {
  env = await createTestEnvironment();
  repos = repositoriesFor(env);
});

afterAll(() => env?.close());

function identity(payload = '{"type":"call_hangup","data":{}}'): DeliveryIdentity {
  const eventId = randomUUID();
  const subscriptionId = randomUUID();
  const ids = deriveDeliveryIds(eventId, subscriptionId);
  return {
    delivery_id: ids.deliveryId,
    webhook_id: ids.webhookId,
    subscription_id: subscriptionId,
    customer_id: randomUUID(),
    event_id: eventId,
    event_type: "call_hangup",
    payload,
  };
}

let tick = Date.now();

function attempt(
  delivery: DeliveryIdentity,
  status: RecordAttemptInput["status"],
  statusCode: number,
  extra: Partial<RecordAttemptInput> = {},
): RecordAttemptInput {
  const at = new Date(++tick);
  return {
    delivery,
    liveJob: "msg:first",
    attempt: {
      at: at.toISOString(),
      status_code: statusCode,
      error: null,
      latency_ms: 3,
      response_body: "",
      request: {
        method: "POST",
        url: "https://hooks.example.com/",
        headers: { "webhook-id": delivery.webhook_id },
      },
    },
    status,
    deadReason: status === "dead" ? "attempts_exhausted" : null,
    nextAttemptAt: status === "failed" ? new Date(Date.now() + 5000).toISOString() : null,
    now: at,
    redeliverAfter: undefined,
    retentionDays: 30,
    existing: {
      status: "failed",
      dead_reason: null,
      succeeded_at: null,
      next_attempt_at: null,
      chain_attempts: 1,
      live_job: "msg:first",
      dead_lettered_at: null,
    },
    ...extra,
  };
}

const FIRST = { existing: undefined } as const;

describe("delivery records (layout 2)", () => {
  it("creates the record on the first attempt and adds later ones, with the request each sent", async () => {
    const delivery = identity();
    await repos.deliveries.putPayload(
      delivery.customer_id,
      delivery.event_id,
      delivery.payload,
      new Date(),
      30,
    );
    expect(await repos.deliveries.recordAttempt(attempt(delivery, "failed", 500, FIRST))).toBe("recorded");
    expect(await repos.deliveries.recordAttempt(attempt(delivery, "succeeded", 200))).toBe("recorded");
    const record = await repos.deliveries.get(delivery.delivery_id);
    expect(record?.attempts.map((a) => a.status_code)).toEqual([500, 200]);
    expect(record?.attempts[0]?.request).toEqual({
      method: "POST",
      url: "https://hooks.example.com/",
      headers: { "webhook-id": delivery.webhook_id },
    });
    expect(record?.status).toBe("succeeded");
    expect(record?.payload).toBe(delivery.payload);
    expect(record?.succeeded_at).not.toBeNull();
    expect(record?.chain_attempts).toBe(2);
  });

  it("falls back to an update when a duplicate created the record after it was read", async () => {
    const delivery = identity();
    await repos.deliveries.recordAttempt(attempt(delivery, "failed", 503, FIRST));
    await repos.deliveries.recordAttempt(attempt(delivery, "failed", 502, FIRST));
    const record = await repos.deliveries.get(delivery.delivery_id);
    expect(record?.attempts.map((a) => a.status_code)).toEqual([503, 502]);
  });

  it("never lets a late failure overwrite a success, except for a manual retry", async () => {
    const delivery = identity();
    await repos.deliveries.recordAttempt(attempt(delivery, "succeeded", 200, FIRST));
    expect(await repos.deliveries.recordAttempt(attempt(delivery, "failed", 500, FIRST))).toBe("superseded");
    expect((await repos.deliveries.get(delivery.delivery_id))?.status).toBe("succeeded");
    const retryRequestedAt = new Date(Date.now() + 1000).toISOString();
    expect(
      await repos.deliveries.recordAttempt(
        attempt(delivery, "failed", 500, { redeliverAfter: retryRequestedAt }),
      ),
    ).toBe("recorded");
    const record = await repos.deliveries.get(delivery.delivery_id);
    expect(record?.status).toBe("failed");
    // The superseded attempt was sent, so it is recorded too; the status is not its.
    expect(record?.attempts.map((a) => a.status_code)).toEqual([200, 500, 500]);
  });

  it("answers stale, and keeps the status, when another job became the live one", async () => {
    const delivery = identity();
    await repos.deliveries.recordAttempt(attempt(delivery, "failed", 500, FIRST));
    const requeued = await repos.deliveries.requeue(delivery.delivery_id, {
      from: ["failed"],
      token: "retry-token",
      now: new Date(),
    });
    expect(requeued.kind).toBe("requeued");
    expect(await repos.deliveries.recordAttempt(attempt(delivery, "failed", 502))).toBe("stale");
    const record = await repos.deliveries.get(delivery.delivery_id);
    expect(record?.status).toBe("pending");
    expect(record?.live_job).toBe("retry-token");
    expect(record?.chain_attempts).toBe(0);
  });

  it("refuses no write for a 256 KB payload and 70 attempts with 4 KiB bodies, and stores the payload once", async () => {
    // Random text: the worst case for compression.
    const payload = JSON.stringify({
      type: "call_hangup",
      data: { blob: randomBytes(190_000).toString("base64") },
    });
    expect(Buffer.byteLength(payload)).toBeGreaterThan(250_000);
    const delivery = identity(payload);
    await repos.deliveries.putPayload(delivery.customer_id, delivery.event_id, payload, new Date(), 30);
    const body = randomBytes(3072).toString("base64"); // 4 KiB of incompressible text
    for (let i = 0; i < 70; i++) {
      const input = attempt(delivery, "failed", 503, i === 0 ? FIRST : {});
      expect(
        await repos.deliveries.recordAttempt({
          ...input,
          attempt: { ...input.attempt, response_body: body },
        }),
      ).toBe("recorded");
    }
    const record = await repos.deliveries.get(delivery.delivery_id);
    expect(record?.attempts).toHaveLength(70);
    expect(record?.attempts.every((a) => a.response_body === body)).toBe(true);
    expect(record?.payload).toBe(payload);
    const partition = await env.dynamodb.send(
      new QueryCommand({
        TableName: env.tableName,
        KeyConditionExpression: "PK = :pk",
        ExpressionAttributeValues: { ":pk": { S: `DELIVERY#${delivery.delivery_id}` } },
      }),
    );
    // The head and one item per attempt after the first; none holds the payload.
    expect(partition.Items).toHaveLength(71);
    expect(partition.Items?.some((item) => "payload_z" in item || "payload" in item)).toBe(false);
  });

  it("reads a record of the old layout, and converts it on its next attempt", async () => {
    const delivery = identity();
    const now = new Date(tick - 60_000).toISOString();
    await env.dynamodb.send(
      new PutItemCommand({
        TableName: env.tableName,
        Item: marshall({
          PK: `DELIVERY#${delivery.delivery_id}`,
          SK: "DELIVERY",
          entity: "delivery",
          id: delivery.delivery_id,
          subscription_id: delivery.subscription_id,
          customer_id: delivery.customer_id,
          event_id: delivery.event_id,
          event_type: delivery.event_type,
          webhook_id: delivery.webhook_id,
          payload_z: encodePayload(delivery.payload),
          status: "failed",
          attempts: [{ at: now, status_code: 500, error: null, latency_ms: 4, response_body: "no" }],
          attempt_count: 1,
          next_attempt_at: now,
          created_at: now,
          updated_at: now,
          GSI1PK: `SUBSCRIPTION#${delivery.subscription_id}`,
          GSI1SK: `${now}#${delivery.delivery_id}`,
          expires_at: Math.floor(Date.now() / 1000) + 86_400,
        }),
      }),
    );
    const old = await repos.deliveries.get(delivery.delivery_id);
    expect(old).toMatchObject({
      status: "failed",
      chain_attempts: 1,
      live_job: null,
      payload: delivery.payload,
    });
    expect(old?.attempts).toEqual([
      { at: now, status_code: 500, error: null, latency_ms: 4, response_body: "no", request: null },
    ]);
    const page = await repos.deliveries.queryLog({
      subscriptionId: delivery.subscription_id,
      order: "newest_first",
      limit: 10,
    });
    expect(page.records.map((r) => r.id)).toEqual([delivery.delivery_id]);

    expect(
      await repos.deliveries.recordAttempt(attempt(delivery, "succeeded", 200, { existing: undefined })),
    ).toBe("recorded");
    const converted = await repos.deliveries.get(delivery.delivery_id);
    expect(converted?.attempts.map((a) => a.status_code)).toEqual([500, 200]);
    expect(converted).toMatchObject({ status: "succeeded", chain_attempts: 2, live_job: "msg:first" });
  });
});
