import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2, APIGatewayRequestAuthorizerEventV2 } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type HttpApiAuthorizer, LocalHttpApi } from "../../../local/http-api.ts";

const region = "us-east-1";
const spec = (functionName: string) => ({ functionName, awsRegion: region, timeoutMs: 2_000 });

type Integration = (event: APIGatewayProxyEventV2) => Promise<unknown>;
type Authorizer = (event: APIGatewayRequestAuthorizerEventV2) => Promise<unknown>;

const seen: { integration: APIGatewayProxyEventV2[]; authorizer: APIGatewayRequestAuthorizerEventV2[] } = {
  integration: [],
  authorizer: [],
};
let integration: Integration;
let authorize: Authorizer;
const echo: Integration = async (event) => ({
  statusCode: 200,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ routeKey: event.routeKey }),
});
const allow: Authorizer = async () => ({
  isAuthorized: true,
  context: { customer_id: "c-1", key_id: "k-1" },
});

const servers: Server[] = [];

async function startApi(authorizer: Partial<HttpApiAuthorizer> = {}): Promise<string> {
  const api = new LocalHttpApi({
    region,
    routes: [
      { routeKey: "GET /v1/subscriptions", authorized: true },
      { routeKey: "POST /v1/subscriptions", authorized: true },
      { routeKey: "GET /v1/subscriptions/{id}", authorized: true },
      { routeKey: "GET /v1/subscriptions/latest", authorized: true },
      { routeKey: "ANY /v1/files/{path+}", authorized: true },
      { routeKey: "GET /openapi.json", authorized: false },
      { routeKey: "$default", authorized: true },
    ],
    integration: {
      spec: spec("api"),
      handler: async (event) => {
        seen.integration.push(event);
        return integration(event);
      },
    },
    authorizer: {
      spec: spec("authorizer"),
      handler: async (event) => {
        seen.authorizer.push(event);
        return authorize(event);
      },
      identitySources: [],
      ...authorizer,
    },
  });
  const server = api.createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let base: string;

beforeAll(async () => {
  base = await startApi();
});

afterAll(async () => {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ),
  );
});

beforeEach(() => {
  integration = echo;
  authorize = allow;
  seen.integration.length = 0;
  seen.authorizer.length = 0;
});

describe("the local API Gateway HTTP API", () => {
  it("builds the payload 2.0 event API Gateway sends, with the authorizer's context", async () => {
    const response = await fetch(
      `${base}/v1/subscriptions/0190c0de-0000-7000-8000-000000000001?limit=5&tag=a&tag=b`,
      {
        headers: {
          authorization: "Bearer vb_x",
          "x-multi": "1",
          cookie: "a=1; b=2",
          "user-agent": "test-agent",
        },
      },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("apigw-requestid")).toBeTruthy();
    expect(await response.json()).toEqual({ routeKey: "GET /v1/subscriptions/{id}" });

    const [event] = seen.integration;
    expect(event).toMatchObject({
      version: "2.0",
      routeKey: "GET /v1/subscriptions/{id}",
      rawPath: "/v1/subscriptions/0190c0de-0000-7000-8000-000000000001",
      rawQueryString: "limit=5&tag=a&tag=b",
      cookies: ["a=1", "b=2"],
      queryStringParameters: { limit: "5", tag: "a,b" },
      pathParameters: { id: "0190c0de-0000-7000-8000-000000000001" },
      isBase64Encoded: false,
      requestContext: {
        accountId: "000000000000",
        http: {
          method: "GET",
          path: "/v1/subscriptions/0190c0de-0000-7000-8000-000000000001",
          protocol: "HTTP/1.1",
          sourceIp: "127.0.0.1",
          userAgent: "test-agent",
        },
        routeKey: "GET /v1/subscriptions/{id}",
        stage: "$default",
        authorizer: { lambda: { customer_id: "c-1", key_id: "k-1" } },
      },
    });
    expect(event?.headers).toMatchObject({ authorization: "Bearer vb_x", "x-multi": "1" });
    expect(event?.headers.cookie).toBeUndefined();
    expect(event?.body).toBeUndefined();
    expect(event?.requestContext.requestId).toBe(response.headers.get("apigw-requestid"));

    const [authorizerEvent] = seen.authorizer;
    expect(authorizerEvent).toMatchObject({
      version: "2.0",
      type: "REQUEST",
      routeArn: expect.stringMatching(
        /^arn:aws:execute-api:us-east-1:000000000000:.+\/\$default\/GET\/v1\/subscriptions\//,
      ),
      routeKey: "GET /v1/subscriptions/{id}",
      queryStringParameters: { limit: "5", tag: "a,b" },
      headers: expect.objectContaining({ authorization: "Bearer vb_x" }),
    });
    expect(authorizerEvent).not.toHaveProperty("body");
  });

  it("passes JSON bodies as text and other bodies base64-encoded", async () => {
    await fetch(`${base}/v1/subscriptions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"url":"http://127.0.0.1:9/x"}',
    });
    await fetch(`${base}/v1/subscriptions`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: new Uint8Array([0, 1, 255]),
    });
    expect(seen.integration.map((e) => [e.body, e.isBase64Encoded])).toEqual([
      ['{"url":"http://127.0.0.1:9/x"}', false],
      [Buffer.from([0, 1, 255]).toString("base64"), true],
    ]);
  });

  it("chooses the most specific route, and sends the rest to $default", async () => {
    const routeOf = async (method: string, path: string) => {
      const response = await fetch(`${base}${path}`, { method });
      return ((await response.json()) as { routeKey: string }).routeKey;
    };
    expect(await routeOf("GET", "/v1/subscriptions/latest")).toBe("GET /v1/subscriptions/latest");
    expect(await routeOf("GET", "/v1/subscriptions/other")).toBe("GET /v1/subscriptions/{id}");
    expect(await routeOf("DELETE", "/v1/files/a/b/c")).toBe("ANY /v1/files/{path+}");
    expect(seen.integration.at(-1)?.pathParameters).toEqual({ path: "a/b/c" });
    expect(await routeOf("PUT", "/v1/subscriptions")).toBe("$default");
    expect(await routeOf("GET", "/nope")).toBe("$default");
  });

  it("does not run the authorizer on a route without one", async () => {
    authorize = async () => ({ isAuthorized: false });
    const response = await fetch(`${base}/openapi.json`);
    expect(response.status).toBe(200);
    expect(seen.authorizer).toHaveLength(0);
    expect(seen.integration[0]?.requestContext).not.toHaveProperty("authorizer");
  });

  it("answers 403 Forbidden on isAuthorized false, and 500 when the authorizer fails or answers nonsense", async () => {
    authorize = async () => ({ isAuthorized: false });
    const denied = await fetch(`${base}/v1/subscriptions`);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({ message: "Forbidden" });

    authorize = async () => {
      throw new Error("boom");
    };
    const failed = await fetch(`${base}/v1/subscriptions`);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ message: "Internal Server Error" });

    authorize = async () => ({ allow: true });
    expect((await fetch(`${base}/v1/subscriptions`)).status).toBe(500);
    expect(seen.integration).toHaveLength(0);
  });

  it("answers 401 without invoking the authorizer when a configured identity source is missing", async () => {
    const guarded = await startApi({ identitySources: ["$request.header.Authorization"] });
    const missing = await fetch(`${guarded}/v1/subscriptions`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ message: "Unauthorized" });
    expect(seen.authorizer).toHaveLength(0);

    const present = await fetch(`${guarded}/v1/subscriptions`, { headers: { authorization: "Bearer k" } });
    expect(present.status).toBe(200);
    expect(seen.authorizer[0]?.identitySource).toEqual(["Bearer k"]);
  });

  it("maps the integration's result as API Gateway does", async () => {
    integration = async () => ({
      statusCode: 201,
      headers: { "content-type": "application/json", "x-custom": 7 },
      cookies: ["s=1; HttpOnly"],
      body: '{"ok":true}',
    });
    const created = await fetch(`${base}/v1/subscriptions`, { method: "POST" });
    expect(created.status).toBe(201);
    expect(created.headers.get("x-custom")).toBe("7");
    expect(created.headers.get("set-cookie")).toBe("s=1; HttpOnly");
    expect(await created.text()).toBe('{"ok":true}');

    integration = async () => ({
      statusCode: 200,
      body: Buffer.from("bin").toString("base64"),
      isBase64Encoded: true,
    });
    expect(await (await fetch(`${base}/v1/subscriptions`)).text()).toBe("bin");

    integration = async () => ({ hello: "world" });
    const inferred = await fetch(`${base}/v1/subscriptions`);
    expect(inferred.status).toBe(200);
    expect(inferred.headers.get("content-type")).toBe("application/json");
    expect(await inferred.json()).toEqual({ hello: "world" });

    integration = async () => ({ statusCode: 204 });
    const empty = await fetch(`${base}/v1/subscriptions`);
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe("");

    integration = async () => {
      throw new Error("bug");
    };
    const failed = await fetch(`${base}/v1/subscriptions`);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ message: "Internal Server Error" });

    integration = async () => ({ statusCode: "200" });
    expect((await fetch(`${base}/v1/subscriptions`)).status).toBe(500);
  });

  it("enforces the 10 MB payload and the 10240-byte request line and headers", async () => {
    const tooBig = await fetch(`${base}/v1/subscriptions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "x".repeat(10 * 1024 * 1024 + 1),
    });
    expect(tooBig.status).toBe(413);
    expect(await tooBig.json()).toEqual({ message: "Request Entity Too Large" });

    const bigHeaders = await fetch(`${base}/v1/subscriptions`, { headers: { "x-big": "y".repeat(10_300) } });
    expect(bigHeaders.status).toBe(413);
    const fits = await fetch(`${base}/v1/subscriptions`, { headers: { "x-big": "y".repeat(9_000) } });
    expect(fits.status).toBe(200);
    expect(seen.integration).toHaveLength(1);
  });
});
