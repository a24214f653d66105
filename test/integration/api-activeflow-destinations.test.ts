/**
 * Activeflow destinations over the API (PRODUCT §11, issue 21), as the customer meets them: listed
 * read-only with their activeflow id and URL, never a secret, gone once the activeflow is deleted,
 * paginated by cursor, and invisible to another customer. The destinations are stored exactly as the
 * router stores them from the flow-manager's events (parseActiveflowVersion + apply).
 */
import { randomUUID } from "node:crypto";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActiveflowDestinationRepository } from "#shared/adapters/dynamodb/activeflow-destinations.ts";
import { activeflowDestinationId, parseActiveflowVersion } from "#shared/domain/subscriptions/activeflow.ts";
import { errorCode } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";

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
