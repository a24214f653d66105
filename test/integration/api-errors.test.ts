/**
 * PRODUCT §5's error statuses one by one, at the edge where a request is read: unknown routes and
 * methods, 413 (body over 64 KiB), 415 (not JSON), 400 (not parseable), and 429 when DynamoDB
 * throttles. Every answer is in the §5 shape; validation (400) and auth (401) have their own files.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAwsClients } from "#shared/adapters/clients.ts";
import { MAX_BODY_BYTES } from "#shared/api/http.ts";
import { loadConfig } from "#shared/config.ts";
import { createApiDependencies, createAuthorizerDependencies } from "#shared/dependencies.ts";
import { ApiGatewaySimulator, type ApiResponse, errorCode, testResolver } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";

let bed: ApiTestbed;
let api: ApiGatewaySimulator;
let key: string;
let subscriptionId: string;

beforeAll(async () => {
  bed = await createApiTestbed();
  api = bed.gateway;
  key = (await bed.mintKey()).key;
  const created = await api.post(
    "/v1/subscriptions",
    { url: "https://hooks.example.com/errors", event_types: ["*"] },
    { key },
  );
  expect(created.status).toBe(201);
  subscriptionId = (created.json as { id: string }).id;
});

afterAll(() => bed?.close());

function expectError(response: ApiResponse, status: number, code: string): { message: string } {
  expect(response.status, response.raw).toBe(status);
  expect(response.headers["content-type"]).toBe("application/json");
  const body = response.json as { error: { code: string; message: string; details: unknown[] } };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(Array.isArray(body.error.details)).toBe(true);
  return body.error;
}

const json = { "content-type": "application/json" };

describe("routes and methods", () => {
  it("404 NOT_FOUND for a path that is no route, with or without a key", async () => {
    for (const path of ["/", "/v1", "/v2/subscriptions", "/v1/subscription", "/v1/subscriptions/x/y/z"]) {
      expectError(await api.get(path, { key }), 404, "NOT_FOUND");
      expectError(await api.get(path), 404, "NOT_FOUND");
    }
  });

  it("405 METHOD_NOT_ALLOWED with an Allow header for a route's path under another method", async () => {
    const put = await api.request({ method: "PUT", path: `/v1/subscriptions/${subscriptionId}`, key });
    expectError(put, 405, "METHOD_NOT_ALLOWED");
    expect(put.headers.allow).toBe("GET, PATCH, DELETE");
    const deleteAll = await api.delete("/v1/subscriptions", { key });
    expectError(deleteAll, 405, "METHOD_NOT_ALLOWED");
    expect(deleteAll.headers.allow).toBe("POST, GET");
  });

  it("a trailing slash is the same route", async () => {
    expect((await api.get("/v1/subscriptions/", { key })).status).toBe(200);
  });
});

describe("413: bodies over 64 KiB", () => {
  const padded = (bytes: number) => {
    const skeleton = JSON.stringify({ description: "" });
    return JSON.stringify({ description: "d".repeat(bytes - skeleton.length) });
  };

  it("refuses one byte over 64 KiB on every route, before reading it", async () => {
    const over = padded(MAX_BODY_BYTES + 1);
    expect(Buffer.byteLength(over)).toBe(MAX_BODY_BYTES + 1);
    const error = expectError(
      await api.patch(`/v1/subscriptions/${subscriptionId}`, over, { key, headers: json }),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    expect(error.message).toContain("64 KiB");
    // Not even the media type is judged first, and routes without a body refuse it too.
    expectError(
      await api.post("/v1/subscriptions", over, { key, headers: { "content-type": "text/plain" } }),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    expectError(
      await api.post(`/v1/subscriptions/${subscriptionId}/test`, over, { key }),
      413,
      "PAYLOAD_TOO_LARGE",
    );
  });

  it("reads exactly 64 KiB (then judges its content), and counts decoded bytes of a base64 body", async () => {
    const exact = padded(MAX_BODY_BYTES);
    const atLimit = await api.patch(`/v1/subscriptions/${subscriptionId}`, exact, { key, headers: json });
    expectError(atLimit, 400, "VALIDATION_FAILED");
    // API Gateway base64-encodes bodies it does not consider text: 64 KiB of JSON is ~87 KiB of base64.
    const encoded = Buffer.from(exact, "utf8").toString("base64");
    expect(encoded.length).toBeGreaterThan(MAX_BODY_BYTES);
    const base64 = await api.request({
      method: "PATCH",
      path: `/v1/subscriptions/${subscriptionId}`,
      key,
      headers: json,
      body: encoded,
      isBase64Encoded: true,
    });
    expectError(base64, 400, "VALIDATION_FAILED");
  });
});

describe("415 and 400: bodies that are not JSON", () => {
  const valid = JSON.stringify({ description: "edge" });

  it("415 UNSUPPORTED_MEDIA_TYPE unless the body says it is UTF-8 JSON", async () => {
    const refused: Record<string, string>[] = [
      {},
      { "content-type": "text/plain" },
      { "content-type": "application/x-www-form-urlencoded" },
      { "content-type": "application/json; charset=iso-8859-1" },
      { "content-type": "application/jsonp" },
    ];
    for (const headers of refused) {
      const response = await api.patch(`/v1/subscriptions/${subscriptionId}`, valid, { key, headers });
      expectError(response, 415, "UNSUPPORTED_MEDIA_TYPE");
    }
    for (const type of [
      "application/json",
      "Application/JSON; charset=UTF-8",
      "application/merge-patch+json",
    ]) {
      const response = await api.patch(`/v1/subscriptions/${subscriptionId}`, valid, {
        key,
        headers: { "content-type": type },
      });
      expect(response.status, type).toBe(200);
    }
  });

  it("400 MALFORMED_JSON for bytes that are not JSON or not UTF-8, without echoing them", async () => {
    for (const body of ['{"description": "s3cr3t-value', "{description: 1}", "[1,]", "\u0000"]) {
      const response = await api.patch(`/v1/subscriptions/${subscriptionId}`, body, { key, headers: json });
      expectError(response, 400, "MALFORMED_JSON");
      expect(response.raw).not.toContain("s3cr3t");
    }
    const latin1 = await api.request({
      method: "PATCH",
      path: `/v1/subscriptions/${subscriptionId}`,
      key,
      headers: json,
      body: Buffer.from('{"description": "caf\xe9"}', "latin1").toString("base64"),
      isBase64Encoded: true,
    });
    expect(errorCode(latin1)).toBe("MALFORMED_JSON");
  });

  it("400 VALIDATION_FAILED when a route that needs a body gets none", async () => {
    const response = await api.request({ method: "POST", path: "/v1/subscriptions", key, headers: json });
    const error = expectError(response, 400, "VALIDATION_FAILED") as { details?: unknown };
    expect(error.details).toEqual([{ path: "body", message: "a JSON body is required" }]);
  });
});

describe("429: throttled by DynamoDB", () => {
  // A DynamoDB endpoint that answers every call the way DynamoDB answers when throttling.
  const throttling = fakeDynamoDb(
    400,
    "ProvisionedThroughputExceededException",
    "The level of configured provisioned throughput for the table was exceeded.",
  );
  const throttledDynamoDb = () => throttling.client();

  it("answers 429 RATE_LIMITED with Retry-After, in the §5 shape", async () => {
    const { gateway: throttled, dynamodb } = throttling.api();
    for (const response of [
      await throttled.get("/v1/subscriptions", { key }),
      await throttled.get(`/v1/subscriptions/${subscriptionId}`, { key }),
      await throttled.post(
        "/v1/subscriptions",
        { url: "https://hooks.example.com/t", event_types: ["*"] },
        { key },
      ),
    ]) {
      const error = expectError(response, 429, "RATE_LIMITED");
      expect(response.headers["retry-after"]).toBe("1");
      expect(error.message).not.toMatch(/Provisioned|dynamo/i);
    }
    dynamodb.destroy();
  });

  it("answers 429, not 401 or 500, when the authorizer's key lookup is throttled", async () => {
    const { createAuthorizerHandler } = await import("#handlers/authorizer.ts");
    const { createApiHandler } = await import("#handlers/api.ts");
    const dynamodb = throttledDynamoDb();
    const gateway = new ApiGatewaySimulator(
      createAuthorizerHandler(
        createAuthorizerDependencies(loadConfig(bed.env.env), { doc: DynamoDBDocumentClient.from(dynamodb) }),
      ),
      createApiHandler(createApiDependencies(loadConfig(bed.env.env), { resolver: testResolver })),
    );
    const response = await gateway.get("/v1/subscriptions", { key });
    expectError(response, 429, "RATE_LIMITED");
    expect(response.headers["retry-after"]).toBe("1");
    // No key at all needs no lookup: still a 401.
    expectError(await gateway.get("/v1/subscriptions"), 401, "AUTHENTICATION_REQUIRED");
    dynamodb.destroy();
  });
});

describe("500: our own failure", () => {
  const MARKER = "table-internals-4f1c";
  // A DynamoDB endpoint that fails every call with a 500 whose message would give internals away.
  const failing = fakeDynamoDb(500, "InternalServerError", `Internal server error (${MARKER})`);

  it("answers exactly the generic body: no error name, message or stack", async () => {
    const { gateway: broken, dynamodb } = failing.api();
    const generic = JSON.stringify({
      error: {
        code: "INTERNAL_ERROR",
        message: "An internal error occurred. Try again later; if it persists, contact support.",
        details: [],
      },
    });
    for (const response of [
      await broken.get("/v1/subscriptions", { key }),
      await broken.get(`/v1/subscriptions/${subscriptionId}`, { key }),
      await broken.get(`/v1/subscriptions/${subscriptionId}/deliveries`, { key }),
      await broken.delete(`/v1/subscriptions/${subscriptionId}`, { key }),
    ]) {
      expect(response.status, response.raw).toBe(500);
      expect(response.headers["content-type"]).toBe("application/json");
      expect(response.raw).toBe(generic);
    }
    dynamodb.destroy();
  });
});

/**
 * A DynamoDB endpoint for the enclosing describe that answers every call with `status` and the
 * error `type` (DynamoDB's JSON error shape), and a client of it that makes one attempt per call
 * (the SDK's own retries would only make the test slower, the outcome being the same).
 */
function fakeDynamoDb(status: number, type: string, message: string) {
  let server: Server;
  beforeAll(async () => {
    server = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        response.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
        response.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const client = () =>
    new DynamoDBClient({
      region: "us-east-1",
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: 1,
    });
  return {
    client,
    /** The API (with the real authorizer) on this DynamoDB; destroy `dynamodb` when done. */
    api: () => {
      const dynamodb = client();
      const clients = {
        ...createAwsClients(loadConfig(bed.env.env)),
        dynamodb,
        doc: DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
      };
      return { gateway: bed.gatewayWith({}, { clients }), dynamodb };
    },
  };
}
