/**
 * A managed legacy subscription (PRODUCT §11) over the API, as the customer meets it: listed and
 * readable (its secret in the `whsec_` form of the VoIPBIN secret), never changed, rotated or deleted
 * (409 MANAGED_SUBSCRIPTION), and outside the subscription limit.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagedSubscriptionRepository } from "#shared/adapters/dynamodb/managed-subscriptions.ts";
import {
  legacySecretToWhsec,
  managedSubscriptionId,
  parseCustomerVersion,
} from "#shared/domain/subscriptions/managed.ts";
import { errorCode } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";
import { startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

let bed: ApiTestbed;
let managed: ManagedSubscriptionRepository;

beforeAll(async () => {
  bed = await createApiTestbed({ env: { MAX_SUBSCRIPTIONS_PER_CUSTOMER: "2" } });
  managed = new ManagedSubscriptionRepository(
    DynamoDBDocumentClient.from(bed.env.dynamodb),
    bed.env.tableName,
  );
});

afterAll(() => bed?.close());

describe("a managed legacy subscription over the API", () => {
  it("is listed read-only with managed: true and delivery_profile legacy; PATCH, DELETE and rotate answer 409 MANAGED_SUBSCRIPTION", async () => {
    const customerId = randomUUID();
    const { key } = await bed.mintKey({ customerId });
    const secret = randomBytes(32).toString("hex");
    await managed.apply(
      parseCustomerVersion("customer_created", {
        id: customerId,
        webhook_uri: "http://legacy.example.com/hook",
        webhook_method: "",
        webhook_secret: secret,
        tm_update: "2026-05-01T00:00:00Z",
      }),
      new Date(),
    );
    const id = managedSubscriptionId(customerId);
    const list = await bed.gateway.get("/v1/subscriptions", { key });
    expect(list.status).toBe(200);
    expect((list.json as { items: unknown[] }).items).toEqual([
      expect.objectContaining({
        id,
        url: "http://legacy.example.com/hook",
        method: "GET",
        event_types: ["*"],
        status: "enabled",
        managed: true,
        managed_by: "voipbin.customer-manager",
        delivery_profile: "legacy",
      }),
    ]);
    expect((await bed.gateway.get(`/v1/subscriptions/${id}/secret`, { key })).json).toEqual({
      secret: legacySecretToWhsec(secret),
    });

    for (const response of [
      await bed.gateway.patch(`/v1/subscriptions/${id}`, { description: "mine now" }, { key }),
      await bed.gateway.patch(`/v1/subscriptions/${id}`, { status: "disabled" }, { key }),
      await bed.gateway.delete(`/v1/subscriptions/${id}`, { key }),
      await bed.gateway.post(`/v1/subscriptions/${id}/secret/rotate`, undefined, { key }),
    ]) {
      expect(response.status, JSON.stringify(response.json)).toBe(409);
      expect(errorCode(response)).toBe("MANAGED_SUBSCRIPTION");
    }
    const after = await bed.gateway.get(`/v1/subscriptions/${id}`, { key });
    expect(after.json).toMatchObject({
      status: "enabled",
      description: null,
      url: "http://legacy.example.com/hook",
    });
    expect((await bed.gateway.get(`/v1/subscriptions/${id}/secret`, { key })).json).toEqual({
      secret: legacySecretToWhsec(secret),
    });

    // Not counted toward the limit (2 here): the customer still creates two of its own.
    for (const n of [1, 2]) {
      const created = await bed.gateway.post(
        "/v1/subscriptions",
        { url: `https://hooks.example.com/${n}`, event_types: ["*"] },
        { key },
      );
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      expect(created.json).toMatchObject({ managed: false, managed_by: null, delivery_profile: "standard" });
    }
    const third = await bed.gateway.post(
      "/v1/subscriptions",
      { url: "https://hooks.example.com/3", event_types: ["*"] },
      { key },
    );
    expect(errorCode(third)).toBe("SUBSCRIPTION_LIMIT_REACHED");
    // Another customer's managed subscription does not exist for this one.
    const other = await bed.mintKey();
    expect((await bed.gateway.get(`/v1/subscriptions/${id}`, { key: other.key })).status).toBe(404);
    expect((await bed.gateway.delete(`/v1/subscriptions/${id}`, { key: other.key })).status).toBe(404);
  });
});

describe("a managed subscription's closed delivery", () => {
  it("a final status (endpoint_rejected) is still sent again by POST /v1/deliveries/{id}/retry", async () => {
    const receiver = await startReceiver((_request, n) => (n === 1 ? { status: 404 } : { status: 200 }));
    const deliveries = await bed.startDeliveries();
    try {
      const customerId = randomUUID();
      const { key } = await bed.mintKey({ customerId });
      await managed.apply(
        parseCustomerVersion("customer_created", {
          id: customerId,
          webhook_uri: receiver.url,
          webhook_secret: randomBytes(24).toString("base64url"),
          tm_update: "2026-05-01T00:00:00Z",
        }),
        new Date(),
      );
      const id = managedSubscriptionId(customerId);
      const test = await bed.gateway.post(`/v1/subscriptions/${id}/test`, undefined, { key });
      expect(test.status, JSON.stringify(test.json)).toBe(202);
      const deliveryId = (test.json as { delivery_id: string }).delivery_id;
      const statusOf = async () =>
        (await bed.gateway.get(`/v1/deliveries/${deliveryId}`, { key })).json as {
          status: string;
          dead_reason?: string;
        };
      await waitFor(async () => (await statusOf()).status === "dead", {
        timeoutMs: 15_000,
        description: "closed",
      });
      expect(await statusOf()).toMatchObject({ status: "dead", dead_reason: "endpoint_rejected" });
      expect((await bed.gateway.post(`/v1/deliveries/${deliveryId}/retry`, undefined, { key })).status).toBe(
        202,
      );
      await waitFor(async () => (await statusOf()).status === "succeeded", {
        timeoutMs: 15_000,
        description: "resent",
      });
      expect(receiver.requests).toHaveLength(2);
    } finally {
      await deliveries.stop();
      await receiver.close();
    }
  });
});

// Last in the file: every call the tests above made through the API and the authorizer.
describe("IAM (AWS's rule, which the local stack does not enforce: docs/security.md)", () => {
  it("the API's and authorizer's roles allow every DynamoDB and SQS call these tests made", () => {
    expect(bed.ungrantedCalls()).toEqual([]);
  });
});
