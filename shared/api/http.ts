/**
 * The HTTP edge of the API: reading an API Gateway HTTP API (payload 2.0) event — path, query, body
 * — and writing its result. Every way a request can be unreadable ends in an ApiError (4xx).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { ApiError, type ErrorBody, validationFailed } from "./errors.ts";

/** A payload 2.0 event, with the authorizer context where a Lambda authorizer ran. */
export type ApiEvent = APIGatewayProxyEventV2 & {
  requestContext: APIGatewayProxyEventV2["requestContext"] & {
    authorizer?: { lambda?: Record<string, unknown> | null } | null;
  };
};

export type ApiResult = APIGatewayProxyStructuredResultV2 & {
  statusCode: number;
  headers: Record<string, string>;
};

/** PRODUCT §5: bodies over 64 KiB are refused with 413. */
export const MAX_BODY_BYTES = 65_536;

const BASE_HEADERS = {
  "content-type": "application/json",
  // Responses carry secrets and tenant data: no shared or browser cache may keep them.
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
} as const;

export function jsonResult(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): ApiResult {
  if (body === undefined) {
    const { "content-type": _json, ...rest } = BASE_HEADERS;
    return { statusCode: status, headers: { ...rest, ...headers } };
  }
  return { statusCode: status, headers: { ...BASE_HEADERS, ...headers }, body: JSON.stringify(body) };
}

export function errorResult(error: ApiError): ApiResult {
  const body: ErrorBody = error.toBody();
  return jsonResult(error.status, body, error.headers);
}

export function headerOf(event: Pick<ApiEvent, "headers">, name: string): string | undefined {
  const headers = event.headers ?? {};
  const direct = headers[name];
  if (direct !== undefined) return direct;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

/**
 * The request path relative to the API: without the stage prefix API Gateway keeps in `rawPath` for a
 * named stage, and without a trailing slash. Null when a segment is not valid percent-encoding.
 */
export function pathSegments(event: Pick<ApiEvent, "rawPath" | "requestContext">): string[] | null {
  let path = event.rawPath ?? "/";
  const stage = event.requestContext?.stage;
  if (stage && stage !== "$default" && path.startsWith(`/${stage}/`)) path = path.slice(stage.length + 1);
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  const segments = path.split("/").slice(1);
  try {
    return segments.map((segment) => decodeURIComponent(segment));
  } catch {
    return null;
  }
}

/** The request body's bytes (API Gateway base64-encodes bodies of non-text types), or null when empty. */
export function bodyBytes(event: Pick<ApiEvent, "body" | "isBase64Encoded">): Buffer | null {
  if (event.body === undefined || event.body === null || event.body === "") return null;
  const bytes = event.isBase64Encoded ? Buffer.from(event.body, "base64") : Buffer.from(event.body, "utf8");
  return bytes.length === 0 ? null : bytes;
}

export function assertBodySize(bytes: Buffer | null): void {
  if (bytes !== null && bytes.length > MAX_BODY_BYTES) {
    throw new ApiError(
      413,
      "PAYLOAD_TOO_LARGE",
      `The request body is larger than ${MAX_BODY_BYTES} bytes (64 KiB).`,
    );
  }
}

const JSON_MEDIA_TYPE = /^application\/(?:json|[a-z0-9!#$&^_.+-]+\+json)$/;

function isJsonContentType(contentType: string): boolean {
  const [mediaType = "", ...parameters] = contentType.split(";");
  if (!JSON_MEDIA_TYPE.test(mediaType.trim().toLowerCase())) return false;
  return parameters.every((parameter) => {
    const [name = "", value = ""] = parameter.split("=", 2).map((part) => part.trim().toLowerCase());
    return name !== "charset" || value.replace(/^"|"$/g, "") === "utf-8";
  });
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * The JSON body of a route that takes one: undefined when there is none (the route's schema then
 * says it is required), 415 for a body that does not say it is UTF-8 JSON, 400 for bytes that are not.
 */
export function readJsonBody(event: Pick<ApiEvent, "headers">, bytes: Buffer | null): unknown {
  if (bytes === null) return undefined;
  const contentType = headerOf(event, "content-type");
  if (contentType === undefined || !isJsonContentType(contentType)) {
    throw new ApiError(
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      "Send the body as JSON with `Content-Type: application/json` (UTF-8).",
    );
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new ApiError(400, "MALFORMED_JSON", "The request body is not valid UTF-8.");
  }
  let pollutes = false;
  let illFormed = false;
  let json: unknown;
  try {
    json = JSON.parse(text, (name, value) => {
      if (name === "__proto__") pollutes = true;
      // `"\ud800"` is valid JSON but not a Unicode string: it cannot be stored (DynamoDB), put on the
      // bus (EventBridge) or sent as UTF-8 without being altered, so it is refused here, once.
      if (!name.isWellFormed() || (typeof value === "string" && !value.isWellFormed())) illFormed = true;
      return value;
    });
  } catch {
    // The parser's message quotes the body, which may hold a custom header's secret value: not echoed.
    throw new ApiError(400, "MALFORMED_JSON", "The request body is not valid JSON.");
  }
  // Valid JSON, but a key that code copying objects could turn into a prototype change: refused outright.
  if (pollutes) throw validationFailed([{ path: "body", message: "must not contain the key __proto__" }]);
  if (illFormed) {
    throw validationFailed([
      { path: "body", message: "must not contain lone surrogates (\\ud800-\\udfff escapes outside a pair)" },
    ]);
  }
  return json;
}
