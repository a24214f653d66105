import { randomUUID } from "node:crypto";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { isWellFormedSecret } from "#shared/domain/signing.ts";
import { type ApiGatewaySimulator, type ApiResponse, errorCode } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";

let bed: ApiTestbed;
let api: ApiGatewaySimulator;
let key: string;
let customerId: string;
let repository: SubscriptionRepository;

const URL_OK = "https://hooks.example.com/voipbin";

interface SubscriptionJson {
  id: string;
  customer_id: string;
  url: string;
  method: string;
  event_types: string[];
  activeflow_id: string | null;
  description: string | null;
  headers: Record<string, string>;
  status: string;
  disabled_reason: string | null;
  created_at: string;
  updated_at: string;
  secret?: string;
}

interface ErrorJson {
  error: { code: string; message: string; details: { path: string; message: string }[] };
}

const asError = (response: ApiResponse) => response.json as ErrorJson;

beforeAll(async () => {
  bed = await createApiTestbed({
    env: { MAX_SUBSCRIPTIONS_PER_CUSTOMER: "40", SECRET_ROTATION_OVERLAP_SECONDS: "3600" },
  });
  api = bed.gateway;
  const minted = await bed.mintKey();
  key = minted.key;
  customerId = minted.accessKey.customer_id;
  repository = new SubscriptionRepository(DynamoDBDocumentClient.from(bed.env.dynamodb), bed.env.tableName);
});

afterAll(() => bed?.close());

async function create(body: Record<string, unknown>, withKey = key): Promise<SubscriptionJson> {
  const response = await api.post("/v1/subscriptions", body, { key: withKey });
  expect(response.status, JSON.stringify(response.json)).toBe(201);
  return response.json as SubscriptionJson;
}

describe("subscriptions: create, get, list, patch, delete", () => {
  it("creates with defaults and returns the secret once", async () => {
    const response = await api.post(
      "/v1/subscriptions",
      { url: URL_OK, event_types: ["call_hangup", "message_*", "call_hangup"] },
      { key },
    );
    expect(response.status).toBe(201);
    expect(response.headers["content-type"]).toBe("application/json");
    expect(response.headers["cache-control"]).toBe("no-store");
    const created = response.json as SubscriptionJson;
    expect(created).toMatchObject({
      customer_id: customerId,
      url: URL_OK,
      method: "POST",
      event_types: ["call_hangup", "message_*"],
      activeflow_id: null,
      description: null,
      headers: {},
      status: "enabled",
      disabled_reason: null,
    });
    expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(created.created_at).toBe(created.updated_at);
    expect(isWellFormedSecret(created.secret ?? "")).toBe(true);
    expect(Buffer.from((created.secret ?? "").slice(6), "base64")).toHaveLength(32);
    expect(Object.keys(created)).not.toContain("failing_since");

    const got = await api.get(`/v1/subscriptions/${created.id}`, { key });
    expect(got.status).toBe(200);
    const { secret: _secret, ...withoutSecret } = created;
    expect(got.json).toEqual(withoutSecret);
    expect(got.raw).not.toContain(created.secret);

    const secret = await api.get(`/v1/subscriptions/${created.id}/secret`, { key });
    expect(secret.status).toBe(200);
    expect(secret.json).toEqual({ secret: created.secret });
  });

  it("stores every optional field, lower-casing header names and ids", async () => {
    const created = await create({
      url: URL_OK,
      method: "PUT",
      event_types: ["*"],
      activeflow_id: "C9D8E7F6-1111-4222-8333-444455556666",
      description: "Production call events",
      headers: { "X-Customer-Token": "t0ken value", Authorization: "Basic abc" },
    });
    expect(created).toMatchObject({
      method: "PUT",
      event_types: ["*"],
      activeflow_id: "c9d8e7f6-1111-4222-8333-444455556666",
      description: "Production call events",
      headers: { "x-customer-token": "t0ken value", authorization: "Basic abc" },
    });
    const stored = await repository.get(customerId, created.id);
    expect(stored?.headers).toEqual({ "x-customer-token": "t0ken value", authorization: "Basic abc" });
  });

  it("creates a disabled subscription with reason manual", async () => {
    const created = await create({ url: URL_OK, event_types: ["*"], status: "disabled" });
    expect(created).toMatchObject({ status: "disabled", disabled_reason: "manual" });
  });

  it("patches only the fields sent, clears with null, and re-validates", async () => {
    const created = await create({
      url: URL_OK,
      event_types: ["call_*"],
      description: "before",
      activeflow_id: randomUUID(),
      headers: { "x-a": "1" },
    });
    const patched = await api.patch(
      `/v1/subscriptions/${created.id}`,
      {
        description: null,
        activeflow_id: null,
        headers: null,
        method: "GET",
        event_types: ["message_created"],
      },
      { key },
    );
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({
      id: created.id,
      url: URL_OK,
      method: "GET",
      event_types: ["message_created"],
      description: null,
      activeflow_id: null,
      headers: {},
      status: "enabled",
      created_at: created.created_at,
    });
    expect((patched.json as SubscriptionJson).updated_at >= created.updated_at).toBe(true);
    // The secret is untouched by a patch.
    expect((await api.get(`/v1/subscriptions/${created.id}/secret`, { key })).json).toEqual({
      secret: created.secret,
    });

    const blocked = await api.patch(
      `/v1/subscriptions/${created.id}`,
      { url: "https://blocked.test/x" },
      { key },
    );
    expect(blocked.status).toBe(400);
    expect(asError(blocked).error.details).toEqual([
      { path: "url", message: "host is or resolves to a blocked address" },
    ]);
    const badType = await api.patch(`/v1/subscriptions/${created.id}`, { event_types: ["nope"] }, { key });
    expect(badType.status).toBe(400);
    expect(asError(badType).error.details[0]?.path).toBe("event_types.0");
    const empty = await api.patch(`/v1/subscriptions/${created.id}`, {}, { key });
    expect(empty.status).toBe(400);
    expect(asError(empty).error.details[0]?.message).toBe("must change at least one field");
    const unknown = await api.patch(`/v1/subscriptions/${created.id}`, { secret: "whsec_x" }, { key });
    expect(unknown.status).toBe(400);
    expect(asError(unknown).error.details).toContainEqual({
      path: "secret",
      message: "is not a known field",
    });
  });

  it("disables (manual) and re-enables, clearing the reason and the failing clock", async () => {
    const created = await create({ url: URL_OK, event_types: ["*"] });
    await repository.markFailing(customerId, created.id, new Date(Date.now() - 86_400_000).toISOString());
    const disabled = await api.patch(`/v1/subscriptions/${created.id}`, { status: "disabled" }, { key });
    expect(disabled.json).toMatchObject({ status: "disabled", disabled_reason: "manual" });
    const enabled = await api.patch(`/v1/subscriptions/${created.id}`, { status: "enabled" }, { key });
    expect(enabled.json).toMatchObject({ status: "enabled", disabled_reason: null });
    expect((await repository.get(customerId, created.id))?.failing_since).toBeNull();

    // Disabling what the system disabled keeps the system's reason.
    await repository.disable(customerId, created.id, "endpoint_gone", new Date());
    const again = await api.patch(`/v1/subscriptions/${created.id}`, { status: "disabled" }, { key });
    expect(again.json).toMatchObject({ status: "disabled", disabled_reason: "endpoint_gone" });
  });

  it("deletes with 204 and no body; then it is gone", async () => {
    const created = await create({ url: URL_OK, event_types: ["*"] });
    const deleted = await api.delete(`/v1/subscriptions/${created.id}`, { key });
    expect(deleted.status).toBe(204);
    expect(deleted.raw).toBeUndefined();
    for (const response of [
      await api.get(`/v1/subscriptions/${created.id}`, { key }),
      await api.delete(`/v1/subscriptions/${created.id}`, { key }),
      await api.get(`/v1/subscriptions/${created.id}/secret`, { key }),
      await api.patch(`/v1/subscriptions/${created.id}`, { description: "x" }, { key }),
    ]) {
      expect(response.status).toBe(404);
      expect(response.json).toEqual({
        error: { code: "NOT_FOUND", message: "No such subscription.", details: [] },
      });
    }
  });

  it("answers 404 for an unknown id and 400 for an id that is not a UUID", async () => {
    expect((await api.get(`/v1/subscriptions/${randomUUID()}`, { key })).status).toBe(404);
    const bad = await api.get("/v1/subscriptions/not-a-uuid", { key });
    expect(bad.status).toBe(400);
    expect(asError(bad).error).toMatchObject({ code: "VALIDATION_FAILED", details: [{ path: "id" }] });
  });
});

describe("subscriptions: every validation rule of create", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["missing url", { event_types: ["*"] }, "url"],
    ["url not a string", { url: 42, event_types: ["*"] }, "url"],
    ["empty url", { url: "", event_types: ["*"] }, "url"],
    ["relative url", { url: "/hooks", event_types: ["*"] }, "url"],
    ["ftp url", { url: "ftp://hooks.example.com/x", event_types: ["*"] }, "url"],
    ["url with user-info", { url: "https://user:pw@hooks.example.com/x", event_types: ["*"] }, "url"],
    ["url with whitespace", { url: "https://hooks.example.com/a b", event_types: ["*"] }, "url"],
    [
      "url over 2048 chars",
      { url: `https://hooks.example.com/${"a".repeat(2030)}`, event_types: ["*"] },
      "url",
    ],
    ["private IP literal", { url: "https://10.0.0.1/x", event_types: ["*"] }, "url"],
    ["metadata IP literal", { url: "https://169.254.169.254/latest", event_types: ["*"] }, "url"],
    ["IPv6 unique local", { url: "https://[fd00::1]/x", event_types: ["*"] }, "url"],
    ["IPv4-mapped private", { url: "https://[::ffff:192.168.0.1]/x", event_types: ["*"] }, "url"],
    ["NAT64", { url: "https://[64:ff9b::a00:1]/x", event_types: ["*"] }, "url"],
    ["host resolving to a private address", { url: "https://blocked.test/x", event_types: ["*"] }, "url"],
    ["host resolving to the metadata address", { url: "https://metadata.test/x", event_types: ["*"] }, "url"],
    ["host that does not resolve", { url: "https://hooks.nxdomain.test/x", event_types: ["*"] }, "url"],
    ["unknown method", { url: URL_OK, method: "PATCH", event_types: ["*"] }, "method"],
    ["lower-case method", { url: URL_OK, method: "post", event_types: ["*"] }, "method"],
    ["missing event types", { url: URL_OK }, "event_types"],
    ["empty event types", { url: URL_OK, event_types: [] }, "event_types"],
    ["unknown event type", { url: URL_OK, event_types: ["call_exploded"] }, "event_types.0"],
    ["unknown resource wildcard", { url: URL_OK, event_types: ["calls_*"] }, "event_types.0"],
    ["bare prefix pattern", { url: URL_OK, event_types: ["call*"] }, "event_types.0"],
    ["event type not a string", { url: URL_OK, event_types: [1] }, "event_types.0"],
    ["event types not a list", { url: URL_OK, event_types: "call_*" }, "event_types"],
    [
      "activeflow_id not a UUID",
      { url: URL_OK, event_types: ["*"], activeflow_id: "flow-1" },
      "activeflow_id",
    ],
    [
      "description too long",
      { url: URL_OK, event_types: ["*"], description: "d".repeat(257) },
      "description",
    ],
    [
      "too many headers",
      {
        url: URL_OK,
        event_types: ["*"],
        headers: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`x-h${i}`, "v"])),
      },
      "headers",
    ],
    [
      "reserved webhook-* header",
      { url: URL_OK, event_types: ["*"], headers: { "Webhook-Id": "x" } },
      "headers.Webhook-Id",
    ],
    [
      "reserved x-voipbin-* header",
      { url: URL_OK, event_types: ["*"], headers: { "X-VoIPBIN-Signature": "x" } },
      "headers.X-VoIPBIN-Signature",
    ],
    [
      "reserved content-type",
      { url: URL_OK, event_types: ["*"], headers: { "Content-Type": "text/plain" } },
      "headers.Content-Type",
    ],
    ["reserved host", { url: URL_OK, event_types: ["*"], headers: { host: "evil" } }, "headers.host"],
    [
      "reserved content-length",
      { url: URL_OK, event_types: ["*"], headers: { "content-length": "1" } },
      "headers.content-length",
    ],
    [
      "reserved user-agent",
      { url: URL_OK, event_types: ["*"], headers: { "User-Agent": "x" } },
      "headers.User-Agent",
    ],
    [
      "reserved transfer-encoding",
      { url: URL_OK, event_types: ["*"], headers: { "transfer-encoding": "chunked" } },
      "headers.transfer-encoding",
    ],
    [
      "header name with a space",
      { url: URL_OK, event_types: ["*"], headers: { "x bad": "v" } },
      "headers.x bad",
    ],
    [
      "header name __proto__",
      { url: URL_OK, event_types: ["*"], headers: JSON.parse('{"__proto__": "v"}') },
      "body",
    ],
    [
      "header value with a line break",
      { url: URL_OK, event_types: ["*"], headers: { "x-a": "v\r\nx-b: injected" } },
      "headers.x-a",
    ],
    ["header value not a string", { url: URL_OK, event_types: ["*"], headers: { "x-a": 1 } }, "headers.x-a"],
    [
      "header given twice",
      { url: URL_OK, event_types: ["*"], headers: { "X-A": "1", "x-a": "2" } },
      "headers.x-a",
    ],
    ["unknown status", { url: URL_OK, event_types: ["*"], status: "paused" }, "status"],
    ["unknown field", { url: URL_OK, event_types: ["*"], secret: "whsec_mine" }, "secret"],
    ["body is a list", [] as unknown as Record<string, unknown>, "body"],
  ];

  it.each(cases)("%s → 400 VALIDATION_FAILED at %s", async (_name, body, path) => {
    const response = await api.post("/v1/subscriptions", body, { key });
    expect(response.status, JSON.stringify(response.json)).toBe(400);
    const { error } = asError(response);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.details.map((detail) => detail.path)).toContain(path);
    for (const detail of error.details) expect(detail.message.length).toBeGreaterThan(0);
  });

  it("names every invalid field in one answer, with a reason for a reserved header", async () => {
    const response = await api.post(
      "/v1/subscriptions",
      { url: "ftp://x", event_types: ["nope"], headers: { Host: "evil", "x-ok": "1" }, colour: "red" },
      { key },
    );
    expect(response.status).toBe(400);
    expect(asError(response).error.details).toEqual(
      expect.arrayContaining([
        // This API allows http:// (as the local stack does), and says so.
        { path: "url", message: "scheme ftp: is not supported; use https:// or http://" },
        { path: "event_types.0", message: expect.stringContaining("is not a catalogue event type") },
        { path: "headers.Host", message: "is a reserved header name" },
        { path: "colour", message: "is not a known field" },
      ]),
    );
    expect(asError(response).error.details).toHaveLength(4);
    // The path, the query and the body together, on PATCH.
    const patch = await api.patch(
      "/v1/subscriptions/not-a-uuid",
      { url: "https://user:pw@hooks.example.com/", status: "paused" },
      { key },
    );
    expect(
      asError(patch)
        .error.details.map((detail) => detail.path)
        .sort(),
    ).toEqual(["id", "status", "url"]);
  });

  it("refuses http:// and loopback where the deployment does not allow them", async () => {
    const strict = bed.gatewayWith({ ALLOW_HTTP_URLS: "false", ALLOWED_CIDRS: "" });
    const http = await strict.post(
      "/v1/subscriptions",
      { url: "http://hooks.example.com/x", event_types: ["*"] },
      { key },
    );
    expect(asError(http).error.details).toEqual([
      { path: "url", message: "only https:// URLs are accepted" },
    ]);
    const ftp = await strict.post(
      "/v1/subscriptions",
      { url: "ftp://hooks.example.com/x", event_types: ["*"] },
      { key },
    );
    expect(asError(ftp).error.details).toEqual([
      { path: "url", message: "scheme ftp: is not supported; use https://" },
    ]);
    for (const url of ["https://127.0.0.1:8443/x", "https://[::1]/x", "https://localhost/x"]) {
      const response = await strict.post("/v1/subscriptions", { url, event_types: ["*"] }, { key });
      expect(response.status, url).toBe(400);
    }
    // Where they are allowed (the local stack), loopback works.
    const local = await api.post(
      "/v1/subscriptions",
      { url: "http://127.0.0.1:9/x", event_types: ["*"] },
      { key },
    );
    expect(local.status).toBe(201);
  });
});

describe("subscriptions: per-customer limit", () => {
  it("refuses the subscription over the limit with 409, and frees a slot on delete", async () => {
    const limited = bed.gatewayWith({ MAX_SUBSCRIPTIONS_PER_CUSTOMER: "3" });
    const { key: ownKey } = await bed.mintKey();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await limited.post(
        "/v1/subscriptions",
        { url: URL_OK, event_types: ["*"] },
        { key: ownKey },
      );
      expect(response.status).toBe(201);
      ids.push((response.json as SubscriptionJson).id);
    }
    const over = await limited.post(
      "/v1/subscriptions",
      { url: URL_OK, event_types: ["*"] },
      { key: ownKey },
    );
    expect(over.status).toBe(409);
    expect(asError(over).error.code).toBe("SUBSCRIPTION_LIMIT_REACHED");
    expect((await limited.delete(`/v1/subscriptions/${ids[0]}`, { key: ownKey })).status).toBe(204);
    expect(
      (await limited.post("/v1/subscriptions", { url: URL_OK, event_types: ["*"] }, { key: ownKey })).status,
    ).toBe(201);
  });

  it("admits exactly the limit under concurrent creates", async () => {
    const limited = bed.gatewayWith({ MAX_SUBSCRIPTIONS_PER_CUSTOMER: "3" });
    const minted = await bed.mintKey();
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        limited.post("/v1/subscriptions", { url: URL_OK, event_types: ["*"] }, { key: minted.key }),
      ),
    );
    for (const response of responses) expect([201, 409]).toContain(response.status);
    expect(responses.filter((r) => r.status === 201).length).toBe(3);
    expect(await repository.countForCustomer(minted.accessKey.customer_id)).toBe(3);
  });
});

describe("subscriptions: list pagination", () => {
  it("pages through every subscription once, in creation order, and only the caller's", async () => {
    const minted = await bed.mintKey();
    const created: string[] = [];
    for (let i = 0; i < 23; i++) {
      created.push((await create({ url: `${URL_OK}/${i}`, event_types: ["*"] }, minted.key)).id);
    }
    await create({ url: URL_OK, event_types: ["*"] }); // another customer's

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const response = await api.get("/v1/subscriptions", {
        key: minted.key,
        query: { limit: "5", ...(cursor ? { cursor } : {}) },
      });
      expect(response.status).toBe(200);
      const page = response.json as { items: SubscriptionJson[]; next_cursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(5);
      for (const item of page.items) expect(item).not.toHaveProperty("secret");
      seen.push(...page.items.map((item) => item.id));
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor !== undefined && pages < 20);
    expect(pages).toBe(5);
    expect(seen).toEqual(created);

    const all = await api.get("/v1/subscriptions", { key: minted.key, query: { limit: "100" } });
    expect((all.json as { next_cursor: unknown }).next_cursor).toBeNull();
    const defaults = await api.get("/v1/subscriptions", { key: minted.key });
    expect((defaults.json as { items: unknown[] }).items).toHaveLength(20);
  });

  it("refuses bad limits, garbage cursors and another customer's cursor; unknown parameters too", async () => {
    const other = await bed.mintKey();
    for (let i = 0; i < 2; i++) await create({ url: URL_OK, event_types: ["*"] }, other.key);
    const first = await api.get("/v1/subscriptions", { key: other.key, query: { limit: "1" } });
    const otherCursor = (first.json as { next_cursor: string }).next_cursor;
    expect(typeof otherCursor).toBe("string");

    const bad: [Record<string, string | string[]>, string][] = [
      [{ limit: "0" }, "limit"],
      [{ limit: "101" }, "limit"],
      [{ limit: "ten" }, "limit"],
      [{ limit: "2.5" }, "limit"],
      [{ limit: ["1", "2"] }, "limit"],
      [{ cursor: "!!!" }, "cursor"],
      [{ cursor: "eyJ2IjoxfQ" }, "cursor"],
      [{ cursor: Buffer.from("not json").toString("base64url") }, "cursor"],
      [{ cursor: "a".repeat(600) }, "cursor"],
      [{ cursor: otherCursor }, "cursor"],
      [{ sort: "desc" }, "sort"],
    ];
    for (const [query, path] of bad) {
      const response = await api.get("/v1/subscriptions", { key, query });
      expect(response.status, JSON.stringify(query)).toBe(400);
      expect(asError(response).error.details.map((d) => d.path)).toContain(path);
    }
    // A well-formed cursor edited to another position only moves within the caller's own list.
    const forged = Buffer.from(JSON.stringify({ v: 1, c: customerId, after: randomUUID() })).toString(
      "base64url",
    );
    const moved = await api.get("/v1/subscriptions", { key, query: { cursor: forged } });
    expect(moved.status).toBe(200);
    for (const item of (moved.json as { items: SubscriptionJson[] }).items)
      expect(item.customer_id).toBe(customerId);
  });
});

describe("subscriptions: secret rotation", () => {
  it("returns a new secret, keeps the previous one for the overlap, and GET …/secret shows the new one", async () => {
    const created = await create({ url: URL_OK, event_types: ["*"] });
    const before = Date.now();
    const rotated = await api.post(`/v1/subscriptions/${created.id}/secret/rotate`, undefined, { key });
    expect(rotated.status).toBe(200);
    const { secret } = rotated.json as { secret: string };
    expect(isWellFormedSecret(secret)).toBe(true);
    expect(secret).not.toBe(created.secret);
    expect((await api.get(`/v1/subscriptions/${created.id}/secret`, { key })).json).toEqual({ secret });
    const stored = await repository.get(customerId, created.id);
    expect(stored?.previous_secret).toBe(created.secret);
    const until = Date.parse(stored?.previous_secret_expires_at ?? "");
    expect(until).toBeGreaterThanOrEqual(before + 3600_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 3600_000);

    // Rotating again within the overlap: only the last two secrets are valid.
    const again = await api.post(`/v1/subscriptions/${created.id}/secret/rotate`, undefined, { key });
    const stored2 = await repository.get(customerId, created.id);
    expect(stored2?.secret).toBe((again.json as { secret: string }).secret);
    expect(stored2?.previous_secret).toBe(secret);
  });

  it("concurrent rotations each demote a different secret", async () => {
    const created = await create({ url: URL_OK, event_types: ["*"] });
    const responses = await Promise.all(
      Array.from({ length: 4 }, () =>
        api.post(`/v1/subscriptions/${created.id}/secret/rotate`, undefined, { key }),
      ),
    );
    for (const response of responses) expect([200, 409]).toContain(response.status);
    const stored = await repository.get(customerId, created.id);
    const issued = responses
      .filter((r) => r.status === 200)
      .map((r) => (r.json as { secret: string }).secret);
    expect(issued).toContain(stored?.secret);
    expect([created.secret, ...issued]).toContain(stored?.previous_secret);
  });

  it("404 for an unknown subscription", async () => {
    expect(
      errorCode(await api.post(`/v1/subscriptions/${randomUUID()}/secret/rotate`, undefined, { key })),
    ).toBe("NOT_FOUND");
  });
});

describe("event types", () => {
  it("lists the whole catalogue, webhook types included", async () => {
    const response = await api.get("/v1/event-types", { key });
    expect(response.status).toBe(200);
    const body = response.json as {
      items: { type: string; resource: string; description: string }[];
      next_cursor: null;
    };
    expect(body.next_cursor).toBeNull();
    expect(body.items.length).toBe(100);
    expect(body.items).toContainEqual(expect.objectContaining({ type: "call_hangup", resource: "call" }));
    expect(body.items.map((item) => item.type)).toEqual(
      expect.arrayContaining(["webhook_test", "webhook_subscription_disabled"]),
    );
  });

  it("gives every type a JSON Schema of its data and an example (PRODUCT §12)", async () => {
    const response = await api.get("/v1/event-types", { key });
    const items = (response.json as { items: { type: string; schema: unknown; example: unknown }[] }).items;
    const missing = items.filter((item) => item.schema === null || item.example === null).map((i) => i.type);
    expect(missing).toEqual([]);
    const hangup = items.find((item) => item.type === "call_hangup") as {
      schema: { type: string; properties: Record<string, unknown>; required: string[] };
      example: Record<string, unknown>;
    };
    expect(hangup.schema.type).toBe("object");
    expect(hangup.schema.properties.hangup_reason).toMatchObject({ type: "string" });
    // What VoIPBIN's call projection always writes (docs/api.md "Catalogue review").
    expect(hangup.schema.required).toEqual(
      expect.arrayContaining(["id", "customer_id", "source", "destination"]),
    );
    expect(hangup.schema.required).not.toContain("hangup_reason");
    expect(hangup.example).toMatchObject({ status: "hangup", hangup_by: "remote" });
  });

  it("gives one type by GET /v1/event-types/{type}, 404 for a type outside the catalogue", async () => {
    const one = await api.get("/v1/event-types/aicall_status_progressing", { key });
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({
      type: "aicall_status_progressing",
      resource: "ai",
      schema: { type: "object" },
      example: { status: "progressing" },
    });
    const unknown = await api.get("/v1/event-types/call_exploded", { key });
    expect(unknown.status).toBe(404);
    expect(errorCode(unknown)).toBe("NOT_FOUND");
    expect((await api.get("/v1/event-types/__proto__", { key })).status).toBe(404);
  });
});

// Last in the file: every call the tests above made through the API and the authorizer.
describe("IAM (AWS's rule, which the local stack does not enforce: docs/security.md)", () => {
  it("the API's and authorizer's roles allow every DynamoDB and SQS call these tests made", () => {
    expect(bed.ungrantedCalls()).toEqual([]);
  });
});
