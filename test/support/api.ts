import { randomUUID } from "node:crypto";
import type { APIGatewayRequestAuthorizerEventV2, Context } from "aws-lambda";
import type { AuthorizerResponse } from "#shared/api/auth-context.ts";
import type { ApiEvent, ApiResult } from "#shared/api/http.ts";
import type { AddressResolver } from "#shared/domain/subscriptions/destination-policy.ts";
import { lambdaContext } from "./pipeline.ts";

/** One HTTP request as a client sends it to API Gateway. */
export interface HttpRequest {
  method: string;
  /** Path without the query string, e.g. /v1/subscriptions. */
  path: string;
  /** Repeated values join with "," in queryStringParameters, as API Gateway does. */
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON with content-type application/json. */
  body?: unknown;
  isBase64Encoded?: boolean;
  /** Shortcut for `Authorization: Bearer <key>`. */
  key?: string;
}

function rawQueryOf(query: Record<string, string | string[]> = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const one of Array.isArray(value) ? value : [value]) params.append(name, one);
  }
  return params.toString();
}

function queryParametersOf(
  query: Record<string, string | string[]> = {},
): Record<string, string> | undefined {
  const entries = Object.entries(query);
  if (entries.length === 0) return undefined;
  return Object.fromEntries(
    entries.map(([name, value]) => [name, Array.isArray(value) ? value.join(",") : value]),
  );
}

function headersOf(request: HttpRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
  if (request.key !== undefined) headers.authorization = `Bearer ${request.key}`;
  if (
    request.body !== undefined &&
    typeof request.body !== "string" &&
    headers["content-type"] === undefined
  ) {
    headers["content-type"] = "application/json";
  }
  return headers;
}

function bodyOf(request: HttpRequest): string | undefined {
  if (request.body === undefined) return undefined;
  return typeof request.body === "string" ? request.body : JSON.stringify(request.body);
}

function requestContext(request: HttpRequest, requestId: string) {
  const now = Date.now();
  return {
    accountId: "123456789012",
    apiId: "testapi",
    domainName: "testapi.execute-api.us-east-1.amazonaws.com",
    domainPrefix: "testapi",
    http: {
      method: request.method,
      path: request.path,
      protocol: "HTTP/1.1",
      sourceIp: "203.0.113.9",
      userAgent: "vitest",
    },
    requestId,
    routeKey: "$default",
    stage: "$default",
    time: new Date(now).toUTCString(),
    timeEpoch: now,
  };
}

/** The payload 2.0 event API Gateway hands the REQUEST authorizer. */
export function authorizerEvent(
  request: HttpRequest,
  requestId = randomUUID(),
): APIGatewayRequestAuthorizerEventV2 {
  const query = queryParametersOf(request.query);
  return {
    version: "2.0",
    type: "REQUEST",
    routeArn: `arn:aws:execute-api:us-east-1:123456789012:testapi/$default/${request.method}${request.path}`,
    identitySource: [],
    routeKey: "$default",
    rawPath: request.path,
    rawQueryString: rawQueryOf(request.query),
    cookies: [],
    headers: headersOf(request),
    ...(query ? { queryStringParameters: query } : {}),
    requestContext: requestContext(request, requestId),
  };
}

/** The payload 2.0 event API Gateway hands the API function, with the authorizer's context when one ran. */
export function apiEvent(
  request: HttpRequest,
  authorizerContext?: Record<string, unknown>,
  requestId = randomUUID(),
): ApiEvent {
  const query = queryParametersOf(request.query);
  const body = bodyOf(request);
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: request.path,
    rawQueryString: rawQueryOf(request.query),
    headers: headersOf(request),
    ...(query ? { queryStringParameters: query } : {}),
    requestContext: {
      ...requestContext(request, requestId),
      ...(authorizerContext ? { authorizer: { lambda: authorizerContext } } : {}),
    },
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: request.isBase64Encoded ?? false,
  };
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON body; undefined when there is none. */
  json: unknown;
  raw: string | undefined;
}

type AuthorizerHandler = (
  event: APIGatewayRequestAuthorizerEventV2,
  context: Context,
) => Promise<AuthorizerResponse>;
type ApiHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;

/**
 * API Gateway as the API sees it: runs the authorizer on every request (no caching, no identity
 * sources), copies its context into the API event, invokes the API function, returns the answer.
 */
export class ApiGatewaySimulator {
  constructor(
    private readonly authorizer: AuthorizerHandler,
    private readonly api: ApiHandler,
    /** The API function's timeout as its Context reports it. */
    private readonly functionTimeoutMs = 29_000,
  ) {}

  /** The same API, invoked as a function with another timeout (to exercise time budgets). */
  withFunctionTimeout(timeoutMs: number): ApiGatewaySimulator {
    return new ApiGatewaySimulator(this.authorizer, this.api, timeoutMs);
  }

  async request(request: HttpRequest): Promise<ApiResponse> {
    const requestId = randomUUID();
    const authorized = await this.authorizer(
      authorizerEvent(request, requestId),
      lambdaContext("authorizer"),
    );
    if (!authorized.isAuthorized) throw new Error("the authorizer is expected to allow every request");
    const result = await this.api(
      apiEvent(request, authorized.context as Record<string, unknown>, requestId),
      lambdaContext("api", this.functionTimeoutMs),
    );
    const raw = result.body;
    return {
      status: result.statusCode,
      headers: result.headers,
      json:
        raw === undefined || raw === "" || !(result.headers["content-type"] ?? "").includes("json")
          ? undefined
          : JSON.parse(raw),
      raw,
    };
  }

  get = (path: string, options: Omit<HttpRequest, "method" | "path"> = {}) =>
    this.request({ method: "GET", path, ...options });
  post = (path: string, body?: unknown, options: Omit<HttpRequest, "method" | "path" | "body"> = {}) =>
    this.request({ method: "POST", path, ...(body !== undefined ? { body } : {}), ...options });
  patch = (path: string, body: unknown, options: Omit<HttpRequest, "method" | "path" | "body"> = {}) =>
    this.request({ method: "PATCH", path, body, ...options });
  delete = (path: string, options: Omit<HttpRequest, "method" | "path"> = {}) =>
    this.request({ method: "DELETE", path, ...options });
}

/** The error code of a §5 error body. */
export function errorCode(response: ApiResponse): string | undefined {
  return (response.json as { error?: { code?: string } } | undefined)?.error?.code;
}

export const PUBLIC_TEST_ADDRESS = "93.184.215.14";

/**
 * DNS for tests, so that create/update-time checks never leave the machine: names under
 * `blocked.test` resolve to a private address, `nxdomain.test` does not resolve, anything else
 * resolves to one public address.
 */
export const testResolver: AddressResolver = async (hostname) => {
  const name = hostname.toLowerCase();
  if (name === "blocked.test" || name.endsWith(".blocked.test")) return [{ address: "10.1.2.3", family: 4 }];
  if (name === "metadata.test") return [{ address: "169.254.169.254", family: 4 }];
  if (name === "nxdomain.test" || name.endsWith(".nxdomain.test")) {
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
  }
  return [{ address: PUBLIC_TEST_ADDRESS, family: 4 }];
};
