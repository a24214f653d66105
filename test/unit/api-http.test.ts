import { describe, expect, it } from "vitest";
import { AUTH_ERROR_CODES, authorizerContextFor } from "#shared/api/auth-context.ts";
import { ApiError } from "#shared/api/errors.ts";
import {
  assertBodySize,
  bodyBytes,
  errorResult,
  headerOf,
  jsonResult,
  MAX_BODY_BYTES,
  pathSegments,
  readJsonBody,
} from "#shared/api/http.ts";

/** The API's HTTP edge: what a client's request bytes become, and the status, headers and body it gets back. */

const json = { "content-type": "application/json" };

function refusal(read: () => unknown): { status: number; code: string; message: string; details: unknown } {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    const e = error as ApiError;
    return { status: e.status, code: e.code, message: e.message, details: e.details };
  }
  throw new Error("expected a refusal");
}

const body = (text: string) => Buffer.from(text, "utf8");

describe("the response", () => {
  it("is JSON that no cache keeps and no browser sniffs, with the route's own headers added", () => {
    expect(jsonResult(201, { id: "x" }, { location: "/v1/x" })).toEqual({
      statusCode: 201,
      headers: {
        "content-type": "application/json",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        location: "/v1/x",
      },
      body: '{"id":"x"}',
    });
  });

  it("has no body and no content type when there is nothing to say (204)", () => {
    expect(jsonResult(204, undefined)).toEqual({
      statusCode: 204,
      headers: { "cache-control": "no-store", "x-content-type-options": "nosniff" },
    });
    expect(jsonResult(204, undefined, { "x-a": "1" }).headers).toEqual({
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "x-a": "1",
    });
    // null is a body.
    expect(jsonResult(200, null).body).toBe("null");
  });

  it("writes an error as the §5 body with its status and headers", () => {
    const error = new ApiError(429, "QUOTA_EXCEEDED", "slow down", [{ path: "x", message: "y" }], {
      "retry-after": "5",
    });
    const result = errorResult(error);
    expect(result.statusCode).toBe(429);
    expect(result.headers["retry-after"]).toBe("5");
    expect(result.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(result.body as string)).toEqual({
      error: { code: "QUOTA_EXCEEDED", message: "slow down", details: [{ path: "x", message: "y" }] },
    });
  });
});

describe("reading the request", () => {
  it("finds a header whatever its case, the exact name first", () => {
    expect(headerOf({ headers: { "content-type": "a" } }, "content-type")).toBe("a");
    expect(headerOf({ headers: { "Content-Type": "b" } }, "content-type")).toBe("b");
    expect(headerOf({ headers: { "X-Other": "c" } }, "content-type")).toBeUndefined();
    expect(
      headerOf({ headers: undefined as unknown as Record<string, string> }, "content-type"),
    ).toBeUndefined();
  });

  it("splits the path without the stage, a trailing slash or percent-encoding, and refuses bad encoding", () => {
    const ctx = (stage?: string) => ({ stage }) as never;
    expect(pathSegments({ rawPath: "/v1/subscriptions/", requestContext: ctx("$default") })).toEqual([
      "v1",
      "subscriptions",
    ]);
    expect(pathSegments({ rawPath: "/prod/v1/subscriptions", requestContext: ctx("prod") })).toEqual([
      "v1",
      "subscriptions",
    ]);
    expect(pathSegments({ rawPath: "/x/v1/subscriptions", requestContext: ctx("x") })).toEqual([
      "v1",
      "subscriptions",
    ]);
    // A path that only starts like the stage keeps it.
    expect(pathSegments({ rawPath: "/production/v1", requestContext: ctx("prod") })).toEqual([
      "production",
      "v1",
    ]);
    expect(pathSegments({ rawPath: "/$default/v1", requestContext: ctx("$default") })).toEqual([
      "$default",
      "v1",
    ]);
    expect(pathSegments({ rawPath: "/v1/a%20b", requestContext: ctx() })).toEqual(["v1", "a b"]);
    expect(pathSegments({ rawPath: "/", requestContext: ctx() })).toEqual([""]);
    expect(
      pathSegments({ rawPath: undefined as unknown as string, requestContext: undefined as never }),
    ).toEqual([""]);
    expect(pathSegments({ rawPath: "/v1/%E0%A4%A", requestContext: ctx() })).toBeNull();
  });

  it("reads the body's bytes, base64 or text, and treats an empty one as none", () => {
    expect(bodyBytes({ body: undefined, isBase64Encoded: false })).toBeNull();
    expect(bodyBytes({ body: null as unknown as string, isBase64Encoded: false })).toBeNull();
    expect(bodyBytes({ body: "", isBase64Encoded: false })).toBeNull();
    expect(bodyBytes({ body: "===", isBase64Encoded: true })).toBeNull();
    expect(bodyBytes({ body: "é", isBase64Encoded: false })).toEqual(Buffer.from([0xc3, 0xa9]));
    expect(bodyBytes({ body: Buffer.from("{}").toString("base64"), isBase64Encoded: true })?.toString()).toBe(
      "{}",
    );
  });

  it("refuses a body over 64 KiB with 413 and admits one of exactly 64 KiB", () => {
    expect(() => assertBodySize(Buffer.alloc(MAX_BODY_BYTES))).not.toThrow();
    expect(() => assertBodySize(null)).not.toThrow();
    expect(refusal(() => assertBodySize(Buffer.alloc(MAX_BODY_BYTES + 1)))).toEqual({
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
      message: "The request body is larger than 65536 bytes (64 KiB).",
      details: [],
    });
  });
});

describe("a JSON body", () => {
  it("is parsed when it says it is UTF-8 JSON, in any of JSON's media types", () => {
    expect(readJsonBody({ headers: json }, body('{"a":[1,"é"]}'))).toEqual({ a: [1, "é"] });
    for (const contentType of [
      "application/json; charset=utf-8",
      'APPLICATION/JSON; CHARSET="UTF-8"',
      "application/merge-patch+json",
      "application/json;foo=bar",
      " application/json ; charset=utf-8",
    ]) {
      expect(readJsonBody({ headers: { "Content-Type": contentType } }, body("1"))).toBe(1);
    }
    expect(readJsonBody({ headers: {} }, null)).toBeUndefined();
  });

  it("refuses another media type or charset with 415", () => {
    for (const contentType of [
      undefined,
      "text/plain",
      "application/json; charset=latin1",
      'application/json; charset=utf"-8',
      "application/jsonx",
      "xapplication/json",
    ]) {
      const headers: Record<string, string> =
        contentType === undefined ? {} : { "content-type": contentType };
      expect(refusal(() => readJsonBody({ headers }, body("{}")))).toEqual({
        status: 415,
        code: "UNSUPPORTED_MEDIA_TYPE",
        message: "Send the body as JSON with `Content-Type: application/json` (UTF-8).",
        details: [],
      });
    }
  });

  it("refuses bytes that are not UTF-8 or not JSON with 400, never echoing the body", () => {
    expect(refusal(() => readJsonBody({ headers: json }, Buffer.from([0x7b, 0xff, 0x7d])))).toEqual({
      status: 400,
      code: "MALFORMED_JSON",
      message: "The request body is not valid UTF-8.",
      details: [],
    });
    const secret = '{"headers":{"x-token":"s3cr3t"';
    const refused = refusal(() => readJsonBody({ headers: json }, body(secret)));
    expect(refused).toEqual({
      status: 400,
      code: "MALFORMED_JSON",
      message: "The request body is not valid JSON.",
      details: [],
    });
  });

  it("refuses a __proto__ key and a lone surrogate in a key or a value, as validation failures", () => {
    expect(refusal(() => readJsonBody({ headers: json }, body('{"a":{"__proto__":{"x":1}}}')))).toEqual({
      status: 400,
      code: "VALIDATION_FAILED",
      message: "The request is not valid; see details.",
      details: [{ path: "body", message: "must not contain the key __proto__" }],
    });
    const surrogate = {
      status: 400,
      code: "VALIDATION_FAILED",
      message: "The request is not valid; see details.",
      details: [
        {
          path: "body",
          message: "must not contain lone surrogates (\\ud800-\\udfff escapes outside a pair)",
        },
      ],
    };
    expect(refusal(() => readJsonBody({ headers: json }, body('{"a":"\\ud800"}')))).toEqual(surrogate);
    expect(refusal(() => readJsonBody({ headers: json }, body('{"\\udc00":1}')))).toEqual(surrogate);
    // A pair is a character.
    expect(readJsonBody({ headers: json }, body('{"a":"\\ud83d\\ude00"}'))).toEqual({ a: "😀" });
  });
});

describe("the authorizer's verdict as the API reads it", () => {
  it("names the caller, or why there is none: 401 for a missing or bad key, 429 or 500 when it could not judge", () => {
    expect(authorizerContextFor({ kind: "authenticated", customerId: "c", keyId: "k" })).toEqual({
      customer_id: "c",
      key_id: "k",
    });
    expect(authorizerContextFor({ kind: "refused", reason: "missing" })).toEqual({
      auth_error: "AUTHENTICATION_REQUIRED",
    });
    for (const reason of ["malformed", "unknown", "expired", "revoked"] as const) {
      expect(authorizerContextFor({ kind: "refused", reason })).toEqual({
        auth_error: "INVALID_CREDENTIALS",
      });
    }
    expect(authorizerContextFor({ kind: "failed", throttled: true })).toEqual({
      auth_error: "AUTHORIZER_THROTTLED",
    });
    expect(authorizerContextFor({ kind: "failed", throttled: false })).toEqual({
      auth_error: "AUTHORIZER_FAILED",
    });
    expect(AUTH_ERROR_CODES).toEqual([
      "AUTHENTICATION_REQUIRED",
      "INVALID_CREDENTIALS",
      "AUTHORIZER_FAILED",
      "AUTHORIZER_THROTTLED",
    ]);
  });
});
