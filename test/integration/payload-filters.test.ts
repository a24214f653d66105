import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiGatewaySimulator, errorCode } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";
import { type FixtureEntry, fixtureEvent } from "../support/fixtures.ts";
import {
  eventFor,
  type PipelineHarness,
  startPipelineHarness,
  waitForQueueEmpty,
} from "../support/pipeline.ts";
import { seedSubscription } from "../support/subscriptions.ts";

const URL_OK = "https://hooks.example.com/voipbin";
const callHangup = fixtureEvent("call_hangup");

/** The call_hangup sample with some of its data fields changed. */
function hangupWith(fields: Record<string, unknown>): FixtureEntry {
  const detail = JSON.parse(callHangup.Detail) as { data: Record<string, unknown> };
  return { ...callHangup, Detail: JSON.stringify({ ...detail, data: { ...detail.data, ...fields } }) };
}

describe("payload filters over the API", () => {
  let bed: ApiTestbed;
  let api: ApiGatewaySimulator;
  let key: string;

  beforeAll(async () => {
    bed = await createApiTestbed();
    api = bed.gateway;
    key = (await bed.mintKey()).key;
  });
  afterAll(() => bed?.close());

  it("stores a filter on create, shows it on GET and list, replaces it on PATCH and removes it with null", async () => {
    const filter = { "source.target": { $startsWith: "+1555" }, hangup_reason: { $in: ["normal", "busy"] } };
    const created = await api.post(
      "/v1/subscriptions",
      { url: URL_OK, event_types: ["call_hangup"], filter },
      { key },
    );
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const id = (created.json as { id: string; filter: unknown }).id;
    expect((created.json as { filter: unknown }).filter).toEqual(filter);
    expect(((await api.get(`/v1/subscriptions/${id}`, { key })).json as { filter: unknown }).filter).toEqual(
      filter,
    );
    const listed = (await api.get("/v1/subscriptions", { key })).json as {
      items: { id: string; filter: unknown }[];
    };
    expect(listed.items.find((item) => item.id === id)?.filter).toEqual(filter);

    const replaced = { $or: [{ direction: "incoming" }, { $not: { hangup_by: "local" } }] };
    const patched = await api.patch(`/v1/subscriptions/${id}`, { filter: replaced }, { key });
    expect(patched.status).toBe(200);
    expect((patched.json as { filter: unknown }).filter).toEqual(replaced);
    expect(((await api.get(`/v1/subscriptions/${id}`, { key })).json as { filter: unknown }).filter).toEqual(
      replaced,
    );

    const removed = await api.patch(`/v1/subscriptions/${id}`, { filter: null }, { key });
    expect((removed.json as { filter: unknown }).filter).toBeNull();
    expect(
      ((await api.get(`/v1/subscriptions/${id}`, { key })).json as { filter: unknown }).filter,
    ).toBeNull();

    const plain = await api.post("/v1/subscriptions", { url: URL_OK, event_types: ["call_hangup"] }, { key });
    expect((plain.json as { filter: unknown }).filter).toBeNull();
  });

  it("keeps field names that are prototype names or dotted, byte for byte", async () => {
    const filter = { constructor: { $exist: true }, "a.b.c": 1, toString: [1, { x: null }] };
    const created = await api.post("/v1/subscriptions", { url: URL_OK, event_types: ["*"], filter }, { key });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const id = (created.json as { id: string }).id;
    expect(((await api.get(`/v1/subscriptions/${id}`, { key })).json as { filter: unknown }).filter).toEqual(
      filter,
    );
  });

  it("answers 400 listing every problem of the filter with its path, on create and on PATCH", async () => {
    const bad = {
      status: { $like: "h%" },
      duration: { $gt: true },
      $and: [{ x: 1 }, 5],
      tags: { $in: [] },
    };
    const response = await api.post(
      "/v1/subscriptions",
      { url: URL_OK, event_types: ["call_hangup"], filter: bad },
      { key },
    );
    expect(response.status).toBe(400);
    expect(errorCode(response)).toBe("VALIDATION_FAILED");
    const details = (response.json as { error: { details: { path: string; message: string }[] } }).error
      .details;
    expect(details.map((d) => d.path).sort()).toEqual([
      "filter.$and.1",
      "filter.duration.$gt",
      "filter.status.$like",
      "filter.tags.$in",
    ]);
    expect(details.find((d) => d.path === "filter.status.$like")?.message).toContain("unknown operator");

    const created = await api.post(
      "/v1/subscriptions",
      { url: URL_OK, event_types: ["call_hangup"] },
      { key },
    );
    const id = (created.json as { id: string }).id;
    const patched = await api.patch(
      `/v1/subscriptions/${id}`,
      { filter: { a: { $exist: 1 } }, url: "x y" },
      { key },
    );
    expect(patched.status).toBe(400);
    const patchDetails = (patched.json as { error: { details: { path: string }[] } }).error.details;
    expect(patchDetails.map((d) => d.path).sort()).toEqual(["filter.a.$exist", "url"]);
    const tooDeep = { $not: { $not: { $not: { $not: { $not: { a: 1 } } } } } };
    const deep = await api.patch(`/v1/subscriptions/${id}`, { filter: tooDeep }, { key });
    expect(deep.status).toBe(400);
    expect(JSON.stringify(deep.json)).toContain("6 levels deep; at most 5");
    expect(
      ((await api.get(`/v1/subscriptions/${id}`, { key })).json as { filter: unknown }).filter,
    ).toBeNull();
  });
});

describe("payload filters in the router", () => {
  let harness: PipelineHarness;

  beforeAll(async () => {
    harness = await startPipelineHarness({ deliverySource: true });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("delivers to a filtered subscription only the events whose data matches", async () => {
    const customer = randomUUID();
    const [filtered, unfiltered] = await Promise.all([harness.receiver(), harness.receiver()]);
    if (!filtered || !unfiltered) throw new Error("receivers");
    const withFilter = await seedSubscription(harness.repos.subscriptions, {
      customer_id: customer,
      url: filtered.url,
      event_types: ["call_hangup"],
      filter: { "source.target": { $startsWith: "+1555" }, hangup_reason: { $in: ["normal", "busy"] } },
    });
    await seedSubscription(harness.repos.subscriptions, {
      customer_id: customer,
      url: unfiltered.url,
      event_types: ["call_hangup"],
    });

    const matching = eventFor(hangupWith({ hangup_reason: "busy" }), customer);
    const other = eventFor(hangupWith({ hangup_reason: "failed" }), customer);
    expect(await harness.route(other)).toMatchObject({ kind: "routed", subscriptions: 2, matched: 1 });
    expect(await harness.route(matching)).toMatchObject({ kind: "routed", subscriptions: 2, matched: 2 });

    await unfiltered.waitForRequests(2, 10_000);
    await filtered.waitForRequests(1, 10_000);
    await waitForQueueEmpty(harness.env, harness.env.queues.deliveryQueueUrl);
    expect(filtered.requests).toHaveLength(1);
    const body = JSON.parse(filtered.requests[0]?.body ?? "{}") as {
      data: { hangup_reason: string; id: string };
    };
    expect(body.data.hangup_reason).toBe("busy");
    expect(unfiltered.requests).toHaveLength(2);
    // The stored filter is what the router read: the subscription as the API would show it.
    expect((await harness.repos.subscriptions.get(customer, withFilter.id))?.filter).toEqual(
      withFilter.filter,
    );
  });
});
