import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordAttemptInput } from "#shared/adapters/dynamodb/deliveries.ts";
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

function identity(): DeliveryIdentity {
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
    payload: '{"type":"call_hangup","data":{}}',
  };
}

function attempt(
  delivery: DeliveryIdentity,
  status: RecordAttemptInput["status"],
  statusCode: number,
  extra: Partial<RecordAttemptInput> = {},
): RecordAttemptInput {
  return {
    delivery,
    attempt: {
      at: new Date().toISOString(),
      status_code: statusCode,
      error: null,
      latency_ms: 3,
      response_body: "",
    },
    status,
    nextAttemptAt: status === "failed" ? new Date(Date.now() + 5000).toISOString() : null,
    now: new Date(),
    redeliverAfter: undefined,
    retentionDays: 30,
    ...extra,
  };
}

describe("delivery records", () => {
  it("creates the record on the first attempt and appends later ones", async () => {
    const delivery = identity();
    expect(
      await repos.deliveries.recordAttempt(attempt(delivery, "failed", 500, { recordAbsent: true })),
    ).toBe("recorded");
    expect(await repos.deliveries.recordAttempt(attempt(delivery, "succeeded", 200))).toBe("recorded");
    const record = await repos.deliveries.get(delivery.delivery_id);
    expect(record?.attempts.map((a) => a.status_code)).toEqual([500, 200]);
    expect(record?.status).toBe("succeeded");
    expect(record?.payload).toBe(delivery.payload);
    expect(record?.succeeded_at).not.toBeNull();
  });

  it("falls back to an update when a duplicate created the record after it was read", async () => {
    const delivery = identity();
    // Both copies saw no record; the second one's create finds it and appends instead.
    await repos.deliveries.recordAttempt(attempt(delivery, "failed", 503, { recordAbsent: true }));
    await repos.deliveries.recordAttempt(attempt(delivery, "failed", 502, { recordAbsent: true }));
    const record = await repos.deliveries.get(delivery.delivery_id);
    expect(record?.attempts.map((a) => a.status_code)).toEqual([503, 502]);
  });

  it("never lets a late failure overwrite a success, except for a manual retry", async () => {
    const delivery = identity();
    await repos.deliveries.recordAttempt(attempt(delivery, "succeeded", 200, { recordAbsent: true }));
    expect(
      await repos.deliveries.recordAttempt(attempt(delivery, "failed", 500, { recordAbsent: true })),
    ).toBe("superseded");
    expect((await repos.deliveries.get(delivery.delivery_id))?.status).toBe("succeeded");
    const retryRequestedAt = new Date(Date.now() + 1000).toISOString();
    expect(
      await repos.deliveries.recordAttempt(
        attempt(delivery, "failed", 500, { redeliverAfter: retryRequestedAt }),
      ),
    ).toBe("recorded");
    const record = await repos.deliveries.get(delivery.delivery_id);
    expect(record?.status).toBe("failed");
    expect(record?.attempts.map((a) => a.status_code)).toEqual([200, 500]);
  });
});
