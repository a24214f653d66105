import { randomUUID } from "node:crypto";
import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COUNTER_REPAIR_AFTER_MS, SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { keys } from "#shared/adapters/dynamodb/table.ts";
import type { ApiGatewaySimulator, ApiResponse } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";

/**
 * Quotas on what makes the service send requests (PRODUCT §5) and the exact subscription limit,
 * over the API with the real authorizer, handler and table: the counters are shared DynamoDB items,
 * so separate API instances (gateways) over the same table see the same counts.
 */

let bed: ApiTestbed;
let repository: SubscriptionRepository;
let doc: DynamoDBDocumentClient;
const URL_OK = "https://hooks.example.com/voipbin";

interface ErrorJson {
  error: { code: string; message: string; details: unknown[] };
}

beforeAll(async () => {
  bed = await createApiTestbed();
  doc = DynamoDBDocumentClient.from(bed.env.dynamodb);
  repository = new SubscriptionRepository(doc, bed.env.tableName);
});

afterAll(() => bed?.close());

async function subscribe(api: ApiGatewaySimulator, key: string): Promise<string> {
  const response = await api.post("/v1/subscriptions", { url: URL_OK, event_types: ["*"] }, { key });
  expect(response.status, JSON.stringify(response.json)).toBe(201);
  return (response.json as { id: string }).id;
}

function expectQuotaExceeded(response: ApiResponse, maxRetryAfter: number): void {
  expect(response.status).toBe(429);
  const body = response.json as ErrorJson;
  expect(body.error.code).toBe("QUOTA_EXCEEDED");
  expect(body.error.details).toEqual([]);
  expect(body.error.message).toMatch(/^Quota exceeded: at most \d+ /);
  const retryAfter = Number(response.headers["retry-after"]);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxRetryAfter);
}

describe("quotas", () => {
  it("answers the 11th test event of a minute with 429, Retry-After and the error body; other customers are not affected", async () => {
    const api = bed.gateway;
    const hostile = await bed.mintKey();
    const healthy = await bed.mintKey();
    const hostileSub = await subscribe(api, hostile.key);
    const healthySub = await subscribe(api, healthy.key);
    // Pinned to the start of a minute, so the ten all fall in one window whatever the wall clock.
    const minute = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 1000);
    const pinned = bed.gatewayWith({}, { now: () => minute });
    const answers = await Promise.all(
      Array.from({ length: 25 }, () =>
        pinned.post(`/v1/subscriptions/${hostileSub}/test`, undefined, { key: hostile.key }),
      ),
    );
    expect(answers.filter((r) => r.status === 202)).toHaveLength(10);
    const refused = answers.filter((r) => r.status !== 202);
    expect(refused).toHaveLength(15);
    for (const response of refused) expectQuotaExceeded(response, 59);
    expect(refused[0]?.headers["retry-after"]).toBe("59");
    // Another customer has its own quota.
    expect(
      (await pinned.post(`/v1/subscriptions/${healthySub}/test`, undefined, { key: healthy.key })).status,
    ).toBe(202);
    // The next window admits again.
    const nextMinute = bed.gatewayWith({}, { now: () => new Date(minute.getTime() + 60_000) });
    expect(
      (await nextMinute.post(`/v1/subscriptions/${hostileSub}/test`, undefined, { key: hostile.key })).status,
    ).toBe(202);
  });

  it("counts recover calls per hour and manual retries per minute, across API instances", async () => {
    const owner = await bed.mintKey();
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 + 5000);
    const env = { QUOTA_RECOVERS_PER_HOUR: "2", QUOTA_RETRIES_PER_MINUTE: "3" };
    const first = bed.gatewayWith(env, { now: () => hour });
    const second = bed.gatewayWith(env, { now: () => hour });
    const subscription = await subscribe(first, owner.key);
    const since = new Date(hour.getTime() - 60_000).toISOString();
    const recover = (api: ApiGatewaySimulator) =>
      api.post(`/v1/subscriptions/${subscription}/recover`, { since }, { key: owner.key });
    expect((await recover(first)).status).toBe(202);
    expect((await recover(second)).status).toBe(202);
    const third = await recover(first);
    expectQuotaExceeded(third, 3600);
    expect(third.headers["retry-after"]).toBe("3595");
    expect((third.json as ErrorJson).error.message).toContain("2 recover calls per hour");

    const test = await first.post(`/v1/subscriptions/${subscription}/test`, undefined, { key: owner.key });
    const deliveryId = (test.json as { delivery_id: string }).delivery_id;
    const retries = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 === 0 ? first : second).post(`/v1/deliveries/${deliveryId}/retry`, undefined, {
          key: owner.key,
        }),
      ),
    );
    expect(retries.filter((r) => r.status === 202)).toHaveLength(3);
    for (const response of retries.filter((r) => r.status !== 202)) expectQuotaExceeded(response, 60);
  });

  it("keeps a used-up recover quota for the rest of the hour, not for a minute, and admits again in the next hour", async () => {
    const owner = await bed.mintKey();
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const env = { QUOTA_RECOVERS_PER_HOUR: "1" };
    const at = (offsetMs: number) => bed.gatewayWith(env, { now: () => new Date(hour + offsetMs) });
    const subscription = await subscribe(at(1000), owner.key);
    const since = new Date(hour - 60_000).toISOString();
    const recover = (api: ApiGatewaySimulator) =>
      api.post(`/v1/subscriptions/${subscription}/recover`, { since }, { key: owner.key });
    expect((await recover(at(1000))).status).toBe(202);
    // Two minutes later (a per-minute window would have opened twice since) and half an hour later.
    const twoMinutes = await recover(at(2 * 60_000 + 1000));
    expectQuotaExceeded(twoMinutes, 3600);
    expect(twoMinutes.headers["retry-after"]).toBe(String(3600 - 121));
    const halfAnHour = await recover(at(30 * 60_000));
    expectQuotaExceeded(halfAnHour, 3600);
    expect(halfAnHour.headers["retry-after"]).toBe("1800");
    expect((await recover(at(3_600_000 + 1000))).status).toBe(202);
  });

  it("does not spend quota on requests that are refused for another reason", async () => {
    const owner = await bed.mintKey();
    const limited = bed.gatewayWith({ QUOTA_TEST_EVENTS_PER_MINUTE: "1" });
    for (let i = 0; i < 3; i++) {
      expect(
        (await limited.post(`/v1/subscriptions/${randomUUID()}/test`, undefined, { key: owner.key })).status,
      ).toBe(404);
    }
    const subscription = await subscribe(limited, owner.key);
    const accepted = await limited.post(`/v1/subscriptions/${subscription}/test`, undefined, {
      key: owner.key,
    });
    // Unless the minute turned between the two calls, the second is over the quota of one.
    expect(accepted.status).toBe(202);
  });
});

describe("subscription limit", () => {
  it("admits exactly the limit when 100 creates race, and frees a slot on delete", async () => {
    const limited = bed.gatewayWith({ MAX_SUBSCRIPTIONS_PER_CUSTOMER: "50" });
    const other = bed.gatewayWith({ MAX_SUBSCRIPTIONS_PER_CUSTOMER: "50" });
    const owner = await bed.mintKey();
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        (i % 2 === 0 ? limited : other).post(
          "/v1/subscriptions",
          { url: URL_OK, event_types: ["*"] },
          { key: owner.key },
        ),
      ),
    );
    expect(responses.filter((r) => r.status === 201)).toHaveLength(50);
    const refused = responses.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(50);
    for (const response of refused) {
      expect(response.status).toBe(409);
      expect((response.json as ErrorJson).error.code).toBe("SUBSCRIPTION_LIMIT_REACHED");
    }
    expect(await repository.countForCustomer(owner.accessKey.customer_id)).toBe(50);

    const id = (responses.find((r) => r.status === 201)?.json as { id?: string } | undefined)?.id;
    expect((await limited.delete(`/v1/subscriptions/${id}`, { key: owner.key })).status).toBe(204);
    const again = await Promise.all(
      Array.from({ length: 5 }, () =>
        limited.post("/v1/subscriptions", { url: URL_OK, event_types: ["*"] }, { key: owner.key }),
      ),
    );
    expect(again.filter((r) => r.status === 201)).toHaveLength(1);
    expect(await repository.countForCustomer(owner.accessKey.customer_id)).toBe(50);
  });

  it("starts the counter from the stored subscriptions, and repairs a counter left high only once it is stale", async () => {
    const limited = bed.gatewayWith({ MAX_SUBSCRIPTIONS_PER_CUSTOMER: "3" });
    const create = (api: ApiGatewaySimulator, key: string) =>
      api.post("/v1/subscriptions", { url: URL_OK, event_types: ["*"] }, { key });

    // A customer whose two subscriptions predate the counter: it starts at 2.
    const legacy = await bed.mintKey();
    const seeded = await subscribe(limited, legacy.key);
    const stored = await repository.get(legacy.accessKey.customer_id, seeded);
    await repository.create({ ...(stored as NonNullable<typeof stored>), id: randomUUID() });
    await doc.send(
      new DeleteCommand({
        TableName: bed.env.tableName,
        Key: keys.subscriptionCounter(legacy.accessKey.customer_id),
      }),
    );
    expect((await create(limited, legacy.key)).status).toBe(201);
    expect((await create(limited, legacy.key)).status).toBe(409);

    // A counter left at the limit by a crash (two stored, counter 3).
    const owner = await bed.mintKey();
    const customerId = owner.accessKey.customer_id;
    await subscribe(limited, owner.key);
    await subscribe(limited, owner.key);
    await doc.send(
      new PutCommand({
        TableName: bed.env.tableName,
        Item: { ...keys.subscriptionCounter(customerId), count: 3, updated_at: new Date().toISOString() },
      }),
    );
    // Changed just now, it may be a create in flight: not repaired.
    expect((await create(limited, owner.key)).status).toBe(409);
    // Untouched for longer than any request lives: corrected from the two stored.
    const later = bed.gatewayWith(
      { MAX_SUBSCRIPTIONS_PER_CUSTOMER: "3" },
      { now: () => new Date(Date.now() + COUNTER_REPAIR_AFTER_MS + 1000) },
    );
    expect((await create(later, owner.key)).status).toBe(201);
    expect((await create(later, owner.key)).status).toBe(409);
    expect(await repository.countForCustomer(customerId)).toBe(3);
  });
});

// Last in the file: every call the tests above made through the API and the authorizer.
describe("IAM (AWS's rule, which the local stack does not enforce: docs/security.md)", () => {
  it("the API's and authorizer's roles allow every DynamoDB and SQS call these tests made", () => {
    expect(bed.ungrantedCalls()).toEqual([]);
  });
});
