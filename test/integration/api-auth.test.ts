import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DeliveryRepository } from "#shared/adapters/dynamodb/deliveries.ts";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { loadConfig } from "#shared/config.ts";
import {
  createApiDependencies,
  createAuthorizerDependencies,
  createTableClient,
} from "#shared/dependencies.ts";
import { hashAccessKey } from "#shared/domain/access-keys/access-key.ts";
import { revokeAccessKey } from "#shared/services/access-keys.ts";
import {
  ApiGatewaySimulator,
  type ApiResponse,
  apiEvent,
  authorizerEvent,
  errorCode,
  type HttpRequest,
  testResolver,
} from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";
import { deliveryTablesOf } from "../support/aws-env.ts";
import { captureOutput } from "../support/output.ts";
import { lambdaContext } from "../support/pipeline.ts";

let bed: ApiTestbed;
let api: ApiGatewaySimulator;

beforeAll(async () => {
  bed = await createApiTestbed();
  api = bed.gateway;
});

afterAll(() => bed?.close());
afterEach(() => vi.restoreAllMocks());

const AUTHENTICATED_ROUTES: [string, string, unknown?][] = [
  ["GET", "/v1/event-types"],
  ["POST", "/v1/subscriptions", { url: "https://hooks.example.com/x", event_types: ["*"] }],
  ["GET", "/v1/subscriptions"],
  ["GET", "/v1/subscriptions/{sid}"],
  ["PATCH", "/v1/subscriptions/{sid}", { description: "x" }],
  ["DELETE", "/v1/subscriptions/{sid}"],
  ["GET", "/v1/subscriptions/{sid}/secret"],
  ["POST", "/v1/subscriptions/{sid}/secret/rotate"],
  ["POST", "/v1/subscriptions/{sid}/test"],
  ["GET", "/v1/subscriptions/{sid}/deliveries"],
  ["POST", "/v1/subscriptions/{sid}/recover", { since: "2026-01-01T00:00:00Z" }],
  ["GET", "/v1/deliveries/{did}"],
  ["POST", "/v1/deliveries/{did}/retry"],
];

function requestFor(
  [method, template, body]: [string, string, unknown?],
  ids: { sid: string; did: string },
  extra: Partial<HttpRequest> = {},
): HttpRequest {
  return {
    method,
    path: template.replace("{sid}", ids.sid).replace("{did}", ids.did),
    ...(body !== undefined ? { body } : {}),
    ...extra,
  };
}

function expect401(response: ApiResponse, code: "AUTHENTICATION_REQUIRED" | "INVALID_CREDENTIALS") {
  expect(response.status).toBe(401);
  expect(response.headers["www-authenticate"]).toMatch(/^Bearer /);
  const body = response.json as { error: { code: string; message: string; details: unknown[] } };
  expect(body.error.code).toBe(code);
  expect(body.error.details).toEqual([]);
  expect(body.error.message.length).toBeGreaterThan(0);
}

describe("authentication", () => {
  const ids = { sid: randomUUID(), did: randomUUID() };

  it("401 AUTHENTICATION_REQUIRED on every route when no key is sent", async () => {
    for (const route of AUTHENTICATED_ROUTES) {
      expect401(await api.request(requestFor(route, ids)), "AUTHENTICATION_REQUIRED");
    }
    for (const headers of [
      { authorization: "" },
      { authorization: "Bearer" },
      { authorization: "Bearer   " },
    ]) {
      expect401(await api.get("/v1/subscriptions", { headers }), "AUTHENTICATION_REQUIRED");
    }
    expect401(await api.get("/v1/subscriptions", { query: { accesskey: "" } }), "AUTHENTICATION_REQUIRED");
  });

  it("401 INVALID_CREDENTIALS on every route for an unknown key", async () => {
    const unknown = `vb_${"A".repeat(32)}`;
    for (const route of AUTHENTICATED_ROUTES) {
      expect401(await api.request(requestFor(route, ids, { key: unknown })), "INVALID_CREDENTIALS");
    }
  });

  it("401 INVALID_CREDENTIALS for malformed keys and other schemes", async () => {
    const { key } = await bed.mintKey();
    const attempts: HttpRequest[] = [
      { method: "GET", path: "/v1/subscriptions", key: "vb_short" },
      { method: "GET", path: "/v1/subscriptions", key: `${key}x` },
      { method: "GET", path: "/v1/subscriptions", key: key.replace("vb_", "xx_") },
      { method: "GET", path: "/v1/subscriptions", key: `vb_${"!".repeat(32)}` },
      { method: "GET", path: "/v1/subscriptions", headers: { authorization: `Basic ${key}` } },
      // Another scheme counts as a wrong key even beside a valid ?accesskey= (docs/api.md).
      {
        method: "GET",
        path: "/v1/subscriptions",
        headers: { authorization: "Basic dXNlcjpwdw==" },
        query: { accesskey: key },
      },
      { method: "GET", path: "/v1/subscriptions", headers: { authorization: key } },
      { method: "GET", path: "/v1/subscriptions", query: { accesskey: "nope" } },
      { method: "GET", path: "/v1/subscriptions", query: { accesskey: [key, key] } },
    ];
    for (const request of attempts) expect401(await api.request(request), "INVALID_CREDENTIALS");
  });

  it("401 INVALID_CREDENTIALS for an expired key", async () => {
    const minted = await bed.mintKey({ expiresInDays: 1, now: new Date(Date.now() - 2 * 86_400_000) });
    expect(minted.accessKey.expires_at).not.toBeNull();
    expect401(await api.get("/v1/subscriptions", { key: minted.key }), "INVALID_CREDENTIALS");
    const fresh = await bed.mintKey({ expiresInDays: 1 });
    expect((await api.get("/v1/subscriptions", { key: fresh.key })).status).toBe(200);
  });

  it("401 INVALID_CREDENTIALS once a key is revoked", async () => {
    const minted = await bed.mintKey();
    expect((await api.get("/v1/subscriptions", { key: minted.key })).status).toBe(200);
    const revoked = await revokeAccessKey(minted.accessKey.key_id, bed.authorizerDependencies);
    expect(revoked.kind).toBe("revoked");
    expect401(await api.get("/v1/subscriptions", { key: minted.key }), "INVALID_CREDENTIALS");
    expect((await revokeAccessKey(minted.accessKey.key_id, bed.authorizerDependencies)).kind).toBe(
      "already_revoked",
    );
  });

  it("accepts the key as a Bearer header (any case) or as ?accesskey=, the header winning", async () => {
    const { key } = await bed.mintKey();
    expect((await api.get("/v1/subscriptions", { headers: { Authorization: `Bearer ${key}` } })).status).toBe(
      200,
    );
    expect((await api.get("/v1/subscriptions", { headers: { authorization: `bearer ${key}` } })).status).toBe(
      200,
    );
    const viaQuery = await api.get("/v1/subscriptions", { query: { accesskey: key, limit: "5" } });
    expect(viaQuery.status).toBe(200);
    const both = await api.get("/v1/subscriptions", {
      key: `vb_${"B".repeat(32)}`,
      query: { accesskey: key },
    });
    expect401(both, "INVALID_CREDENTIALS");
  });

  it("serves /openapi.json without credentials", async () => {
    const response = await api.get("/openapi.json");
    expect(response.status).toBe(200);
    expect((response.json as { openapi: string }).openapi).toBe("3.1.0");
  });

  it("the authorizer's contract: always allowed, the verdict in the context", async () => {
    const { createAuthorizerHandler } = await import("#handlers/authorizer.ts");
    const authorize = createAuthorizerHandler(bed.authorizerDependencies);
    const minted = await bed.mintKey();
    const ok = await authorize(
      authorizerEvent({ method: "GET", path: "/v1/subscriptions", key: minted.key }),
    );
    expect(ok).toEqual({
      isAuthorized: true,
      context: { customer_id: minted.accessKey.customer_id, key_id: minted.accessKey.key_id },
    });
    expect(await authorize(authorizerEvent({ method: "GET", path: "/v1/subscriptions" }))).toEqual({
      isAuthorized: true,
      context: { auth_error: "AUTHENTICATION_REQUIRED" },
    });
    expect(await authorize(authorizerEvent({ method: "GET", path: "/x", key: "vb_nope" }))).toEqual({
      isAuthorized: true,
      context: { auth_error: "INVALID_CREDENTIALS" },
    });
  });

  it("a failing key lookup is a 500 in the §5 shape, not a 401", async () => {
    const { createAuthorizerHandler } = await import("#handlers/authorizer.ts");
    const { createApiHandler } = await import("#handlers/api.ts");
    const unreachable = createTableClient({
      AWS_REGION: "us-east-1",
      DYNAMODB_ENDPOINT: "http://127.0.0.1:1",
    });
    const broken = new ApiGatewaySimulator(
      createAuthorizerHandler(
        createAuthorizerDependencies({ ...loadConfig(bed.env.env) }, { doc: unreachable }),
      ),
      createApiHandler(createApiDependencies(loadConfig(bed.env.env), { resolver: testResolver })),
    );
    const { key } = await bed.mintKey();
    const response = await broken.get("/v1/subscriptions", { key });
    expect(response.status).toBe(500);
    expect(response.json).toEqual({
      error: {
        code: "INTERNAL_ERROR",
        message: "An internal error occurred. Try again later; if it persists, contact support.",
        details: [],
      },
    });
    unreachable.destroy();
  });

  it("fails closed when an API route is reached without the authorizer's context", async () => {
    const { createApiHandler } = await import("#handlers/api.ts");
    const handler = createApiHandler(
      createApiDependencies(loadConfig(bed.env.env), { resolver: testResolver }),
    );
    const result = await handler(
      apiEvent({ method: "GET", path: "/v1/subscriptions" }),
      lambdaContext("api"),
    );
    expect(result.statusCode).toBe(500);
    const forged = await handler(
      apiEvent({ method: "GET", path: "/v1/subscriptions" }, { customer_id: "not-a-uuid" }),
      lambdaContext("api"),
    );
    expect(forged.statusCode).toBe(500);
    // The public route needs no context at all.
    const doc = await handler(apiEvent({ method: "GET", path: "/openapi.json" }), lambdaContext("api"));
    expect(doc.statusCode).toBe(200);
  });

  it("never logs an access key or its hash, whichever way it is sent", async () => {
    const { createAuthorizerHandler } = await import("#handlers/authorizer.ts");
    const { createApiHandler } = await import("#handlers/api.ts");
    const logger = new Logger({ serviceName: "test", logLevel: "DEBUG" });
    const verbose = new ApiGatewaySimulator(
      createAuthorizerHandler(bed.authorizerDependencies, logger),
      createApiHandler(createApiDependencies(loadConfig(bed.env.env), { resolver: testResolver }), logger),
    );
    const minted = await bed.mintKey();
    const revoked = await bed.mintKey();
    await revokeAccessKey(revoked.accessKey.key_id, bed.authorizerDependencies);
    const stopCapture = captureOutput();
    await verbose.get("/v1/subscriptions", { key: minted.key });
    await verbose.get("/v1/subscriptions", { query: { accesskey: minted.key } });
    await verbose.get("/v1/subscriptions", { key: revoked.key });
    await verbose.get("/v1/subscriptions", { key: `${minted.key}zz` });
    const output = stopCapture();
    expect(output).toContain(minted.accessKey.key_id);
    for (const secret of [minted.key, revoked.key, hashAccessKey(minted.key), hashAccessKey(revoked.key)]) {
      expect(output).not.toContain(secret);
      expect(output).not.toContain(secret.slice(3, 20));
    }
  });
});

describe("tenant isolation: another customer's resources do not exist", () => {
  it("answers 404 on every route that names a resource, and changes nothing", async () => {
    const owner = await bed.mintKey();
    const intruder = await bed.mintKey();
    const created = await api.post(
      "/v1/subscriptions",
      { url: "https://hooks.example.com/owned", event_types: ["*"] },
      { key: owner.key },
    );
    expect(created.status).toBe(201);
    const subscription = created.json as { id: string; secret: string };
    // A delivery of the owner's, through the test route (nothing consumes the queue here).
    const test = await api.post(`/v1/subscriptions/${subscription.id}/test`, undefined, { key: owner.key });
    expect(test.status).toBe(202);
    const deliveryId = (test.json as { delivery_id: string }).delivery_id;
    const ids = { sid: subscription.id, did: deliveryId };

    for (const route of AUTHENTICATED_ROUTES.filter(([, path]) => path.includes("{"))) {
      const response = await api.request(requestFor(route, ids, { key: intruder.key }));
      expect(response.status, `${route[0]} ${route[1]}`).toBe(404);
      expect(errorCode(response)).toBe("NOT_FOUND");
      expect(response.raw).not.toContain(subscription.secret);
    }
    // Lists are the caller's own.
    const list = await api.get("/v1/subscriptions", { key: intruder.key });
    expect((list.json as { items: unknown[] }).items).toEqual([]);

    // Nothing changed for the owner.
    const doc = DynamoDBDocumentClient.from(bed.env.dynamodb);
    const stored = await new SubscriptionRepository(doc, bed.env.tableName).get(
      owner.accessKey.customer_id,
      subscription.id,
    );
    expect(stored).toMatchObject({ secret: subscription.secret, description: null, previous_secret: null });
    const delivery = await new DeliveryRepository(doc, deliveryTablesOf(bed.env, doc)).get(
      owner.accessKey.customer_id,
      deliveryId,
    );
    expect(delivery?.status).toBe("pending");
    expect((await api.get(`/v1/deliveries/${deliveryId}`, { key: owner.key })).status).toBe(200);
  });
});

describe("the exported handlers (module-level cold start from the environment)", () => {
  it("serve a request end to end", async () => {
    const { handler: authorizer } = await import("#functions/authorizer.ts");
    const { handler: apiHandler } = await import("#functions/api.ts");
    const gateway = new ApiGatewaySimulator(
      (event, context) => authorizer(event, context),
      (event, context) => apiHandler(event, context),
    );
    const { key } = await bed.mintKey();
    const created = await gateway.post(
      "/v1/subscriptions",
      { url: "http://127.0.0.1:9/hook", event_types: ["*"] },
      { key },
    );
    expect(created.status).toBe(201);
    expect((await gateway.get("/v1/subscriptions", { key })).status).toBe(200);
  });
});

// Last in the file: every call the tests above made through the API and the authorizer.
describe("IAM (AWS's rule, which the local stack does not enforce: docs/security.md)", () => {
  it("the API's and authorizer's roles allow every DynamoDB and SQS call these tests made", () => {
    expect(bed.ungrantedCalls()).toEqual([]);
  });
});
