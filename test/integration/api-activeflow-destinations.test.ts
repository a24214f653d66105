/**
 * Activeflow destinations over the API (PRODUCT §11, issue 21), as the customer meets them: listed
 * read-only with their activeflow id and URL, never a secret, gone once the activeflow is deleted,
 * paginated by cursor, and invisible to another customer. The destinations are stored exactly as the
 * router stores them from the flow-manager's events (parseActiveflowVersion + apply).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveryQueue } from "#shared/adapters/delivery-queue.ts";
import { ActiveflowDestinationRepository } from "#shared/adapters/dynamodb/activeflow-destinations.ts";
import { DeliveryRepository } from "#shared/adapters/dynamodb/deliveries.ts";
import { ManagedSubscriptionRepository } from "#shared/adapters/dynamodb/managed-subscriptions.ts";
import { activeflowDestinationId, parseActiveflowVersion } from "#shared/domain/subscriptions/activeflow.ts";
import { parseCustomerVersion } from "#shared/domain/subscriptions/managed.ts";
import { buildDeliveryJobs } from "#shared/services/route-event.ts";
import { errorCode } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";
import { deliveryTablesOf } from "../support/aws-env.ts";
import { startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

let bed: ApiTestbed;
let activeflows: ActiveflowDestinationRepository;

beforeAll(async () => {
  bed = await createApiTestbed();
  activeflows = new ActiveflowDestinationRepository(
    DynamoDBDocumentClient.from(bed.env.dynamodb),
    bed.env.tableName,
  );
});

afterAll(() => bed?.close());

/** What the router does with a flow-manager event (shared/services/route-event.ts). */
async function flowManagerEvent(
  type: "activeflow_created" | "activeflow_updated" | "activeflow_deleted",
  customerId: string,
  data: Record<string, unknown>,
): Promise<void> {
  const version = parseActiveflowVersion(type, { customer_id: customerId, status: "running", ...data });
  if (version === null) throw new Error(`not an activeflow event: ${JSON.stringify(data)}`);
  await activeflows.apply(customerId, version, new Date());
}

interface Page {
  items: Record<string, unknown>[];
  next_cursor: string | null;
}

describe("GET /v1/activeflow-destinations", () => {
  it("lists a destination from activeflow_created read-only with its activeflow id and url, no secret; gone after activeflow_deleted; another customer sees nothing", async () => {
    const customerId = randomUUID();
    const { key } = await bed.mintKey({ customerId });
    const other = await bed.mintKey({ customerId: randomUUID() });
    const flow = randomUUID();
    const silent = randomUUID();
    await flowManagerEvent("activeflow_created", customerId, {
      id: flow,
      webhook_uri: "https://flows.example.com/callback?flow=1",
      webhook_method: "PUT",
      tm_create: "2026-10-01T00:00:00.000001Z",
    });
    // An activeflow created without a webhook_uri has no destination.
    await flowManagerEvent("activeflow_created", customerId, {
      id: silent,
      webhook_uri: "",
      tm_create: "2026-10-01T00:00:00.000001Z",
    });

    const list = await bed.gateway.get("/v1/activeflow-destinations", { key });
    expect(list.status, JSON.stringify(list.json)).toBe(200);
    const page = list.json as Page;
    expect(page.next_cursor).toBeNull();
    expect(page.items).toEqual([
      {
        id: activeflowDestinationId(flow),
        kind: "activeflow",
        activeflow_id: flow,
        url: "https://flows.example.com/callback?flow=1",
        method: "PUT",
        managed: true,
        managed_by: "voipbin.flow-manager",
        updated_at: expect.any(String),
        expires_at: expect.any(String),
      },
    ]);
    expect(JSON.stringify(page)).not.toMatch(/secret|whsec_/);
    const item = page.items[0] as { updated_at: string; expires_at: string };
    // The destination lives 24 hours past its activeflow's last news (ACTIVEFLOW_DESTINATION_IDLE_SECONDS).
    expect(Date.parse(item.expires_at) - Date.parse(item.updated_at)).toBeGreaterThan(23 * 3600_000);

    const others = await bed.gateway.get("/v1/activeflow-destinations", { key: other.key });
    expect(others.status).toBe(200);
    expect((others.json as Page).items).toEqual([]);

    await flowManagerEvent("activeflow_deleted", customerId, {
      id: flow,
      webhook_uri: "https://flows.example.com/callback?flow=1",
      tm_update: "2026-10-01T00:05:00Z",
      tm_delete: "2026-10-01T00:05:00Z",
    });
    const after = await bed.gateway.get("/v1/activeflow-destinations", { key });
    expect((after.json as Page).items).toEqual([]);
  });

  it("pages by cursor past deleted activeflows, and refuses a cursor of another list or customer", async () => {
    const customerId = randomUUID();
    const { key } = await bed.mintKey({ customerId });
    const ids = Array.from({ length: 5 }, () => randomUUID()).sort();
    for (const [i, id] of ids.entries()) {
      await flowManagerEvent("activeflow_created", customerId, {
        id,
        webhook_uri: `https://flows.example.com/${i}`,
        tm_create: "2026-10-01T00:00:00Z",
      });
    }
    // Tombstones between live ones must not cut pages short of `limit` when more are stored.
    for (const id of [ids[1], ids[2]]) {
      await flowManagerEvent("activeflow_deleted", customerId, {
        id,
        tm_update: "2026-10-01T00:05:00Z",
        tm_delete: "2026-10-01T00:05:00Z",
      });
    }
    const first = await bed.gateway.get("/v1/activeflow-destinations", { key, query: { limit: "2" } });
    expect(first.status, JSON.stringify(first.json)).toBe(200);
    const firstPage = first.json as Page;
    expect(firstPage.items.map((i) => i.activeflow_id)).toEqual([ids[0], ids[3]]);
    expect(firstPage.next_cursor).not.toBeNull();
    const second = await bed.gateway.get("/v1/activeflow-destinations", {
      key,
      query: { limit: "2", cursor: firstPage.next_cursor as string },
    });
    expect((second.json as Page).items.map((i) => i.activeflow_id)).toEqual([ids[4]]);
    expect((second.json as Page).next_cursor).toBeNull();

    const stranger = await bed.mintKey({ customerId: randomUUID() });
    const foreign = await bed.gateway.get("/v1/activeflow-destinations", {
      key: stranger.key,
      query: { cursor: firstPage.next_cursor as string },
    });
    expect(foreign.status).toBe(400);
    expect(errorCode(foreign)).toBe("VALIDATION_FAILED");
    const subscriptionsCursor = Buffer.from(
      JSON.stringify({ v: 1, c: customerId, after: ids[0] }),
      "utf8",
    ).toString("base64url");
    const mixed = await bed.gateway.get("/v1/activeflow-destinations", {
      key,
      query: { cursor: subscriptionsCursor },
    });
    expect(mixed.status).toBe(400);
  });
});

describe("a destination's delivery", () => {
  it("is retried by POST /v1/deliveries/{id}/retry to the destination's URL and method, like the managed subscription's own", async () => {
    const receiver = await startReceiver((_request, n) => (n === 1 ? { status: 404 } : { status: 200 }));
    const deliveries = await bed.startDeliveries();
    try {
      const customerId = randomUUID();
      const { key } = await bed.mintKey({ customerId });
      await new ManagedSubscriptionRepository(
        DynamoDBDocumentClient.from(bed.env.dynamodb),
        bed.env.tableName,
      ).apply(
        parseCustomerVersion("customer_created", {
          id: customerId,
          webhook_uri: "http://legacy.example.invalid/own",
          webhook_secret: randomBytes(24).toString("base64url"),
          tm_update: "2026-05-01T00:00:00Z",
        }),
        new Date(),
      );
      const flow = randomUUID();
      // The job the router makes for the activeflow's destination (shared/services/route-event.ts).
      const event = {
        id: randomUUID(),
        type: "call_hangup",
        source: "voipbin.call-manager",
        time: new Date().toISOString(),
        customerId,
        data: { id: randomUUID(), customer_id: customerId, activeflow_id: flow },
        shadow: false,
      };
      const jobs = buildDeliveryJobs(event, [], undefined, {
        activeflowId: flow,
        target: { url: `${receiver.url}/flow`, method: "PUT" },
      });
      expect(jobs).toHaveLength(1);
      const job = jobs[0] as (typeof jobs)[number];
      // As the router does: the event's body once, then the jobs.
      await new DeliveryRepository(
        DynamoDBDocumentClient.from(bed.env.dynamodb),
        deliveryTablesOf(bed.env, DynamoDBDocumentClient.from(bed.env.dynamodb)),
      ).putPayload(customerId, event.id, job.payload, new Date(), 7, new Date(event.time));
      await new DeliveryQueue(bed.env.sqs, bed.env.queues.deliveryQueueUrl).enqueue(jobs);
      const statusOf = async () =>
        (await bed.gateway.get(`/v1/deliveries/${job.delivery_id}`, { key })).json as { status: string };
      // The legacy profile (the managed subscription's): a 404 is final.
      await waitFor(async () => (await statusOf()).status === "dead", {
        timeoutMs: 15_000,
        description: "closed",
      });
      const retry = await bed.gateway.post(`/v1/deliveries/${job.delivery_id}/retry`, undefined, { key });
      expect(retry.status, JSON.stringify(retry.json)).toBe(202);
      await waitFor(async () => (await statusOf()).status === "succeeded", {
        timeoutMs: 15_000,
        description: "resent",
      });
      expect(receiver.requests.map((r) => [r.method, r.url])).toEqual([
        ["PUT", "/flow"],
        ["PUT", "/flow"],
      ]);
      expect(receiver.requests[1]?.headers["webhook-id"]).toBe(receiver.requests[0]?.headers["webhook-id"]);
      expect(job.subscription_id).toBe(activeflowDestinationId(flow));
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
