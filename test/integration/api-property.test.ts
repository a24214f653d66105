/**
 * Property-based tests of PRODUCT §5's promise "a request the API cannot parse gets a 4xx, never a
 * 5xx": random bodies, paths, query strings and headers, sent as API Gateway HTTP API (payload 2.0)
 * events through the real authorizer and API handlers over dynalite and the local SQS. Whatever comes in,
 * the answer is below 500, and every 4xx is in the §5 error shape with a code of its status.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "#shared/api/errors.ts";
import { MAX_BODY_BYTES } from "#shared/api/http.ts";
import { ROUTES } from "#shared/api/routes.ts";
import type { ApiGatewaySimulator, ApiResponse, HttpRequest } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";

let bed: ApiTestbed;
let api: ApiGatewaySimulator;
let key: string;
let subscriptionId: string;
let deliveryId: string;

beforeAll(async () => {
  bed = await createApiTestbed();
  api = bed.gateway;
  key = (await bed.mintKey()).key;
  await createSubscription();
  const test = await api.post(`/v1/subscriptions/${subscriptionId}/test`, undefined, { key });
  expect(test.status).toBe(202);
  deliveryId = (test.json as { delivery_id: string }).delivery_id;
});

/**
 * The subscription random requests aim at. The properties' own creates may have used up the customer's
 * limit by the time it must be made again (after a random DELETE): then one of those makes room.
 */
async function createSubscription(): Promise<void> {
  const body = { url: "https://hooks.example.com/property", event_types: ["*"] };
  let created = await api.post("/v1/subscriptions", body, { key });
  if (created.status === 409) {
    const { items } = (await api.get("/v1/subscriptions", { key, query: { limit: "1" } })).json as {
      items: { id: string }[];
    };
    expect((await api.delete(`/v1/subscriptions/${items[0]?.id}`, { key })).status).toBe(204);
    created = await api.post("/v1/subscriptions", body, { key });
  }
  expect(created.status).toBe(201);
  subscriptionId = (created.json as { id: string }).id;
}

afterAll(() => bed?.close());

// A fixed seed per run would hide new cases; fast-check prints the seed and path of any failure.
const RUNS = { numRuns: 100 } as const;

/** The property: never a 5xx; every 4xx is `{"error": {code, message, details}}` with a code of its status. */
function assertSection5Answer(request: HttpRequest, response: ApiResponse): void {
  const where = `${request.method} ${request.path} → ${response.status} ${response.raw?.slice(0, 300)}`;
  expect(response.status, where).toBeGreaterThanOrEqual(200);
  expect(response.status, where).toBeLessThan(500);
  if (response.status === 204) {
    expect(response.raw, where).toBeUndefined();
    return;
  }
  expect(response.headers["content-type"], where).toBe("application/json");
  if (response.status < 400) return;
  const body = response.json as { error?: Record<string, unknown> };
  expect(Object.keys(body), where).toEqual(["error"]);
  const error = body.error as { code: unknown; message: unknown; details: unknown };
  expect(Object.keys(error).sort(), where).toEqual(["code", "details", "message"]);
  const codes = ERROR_CODES[response.status as keyof typeof ERROR_CODES] as readonly string[] | undefined;
  expect(codes, where).toBeDefined();
  expect(codes, where).toContain(error.code);
  expect(typeof error.message === "string" && error.message.length > 0, where).toBe(true);
  expect(Array.isArray(error.details), where).toBe(true);
  for (const detail of error.details as unknown[]) {
    expect(detail, where).toEqual({ path: expect.any(String), message: expect.any(String) });
  }
  if (response.status === 401) expect(response.headers["www-authenticate"], where).toMatch(/^Bearer /);
  if (response.status === 405) expect(response.headers.allow, where).toMatch(/^[A-Z, ]+$/);
}

async function send(request: HttpRequest): Promise<void> {
  const response = await api.request(request);
  assertSection5Answer(request, response);
  // A random DELETE may hit the shared subscription: make a new one so later cases reach it again.
  if (response.status === 204 && request.path.includes(subscriptionId)) await createSubscription();
}

// ------------------------------------------------------------------ arbitraries

/** Strings that tend to break things: odd Unicode (lone surrogates, RTL, NUL, emoji), escapes, long runs. */
const oddString = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme" }),
  fc.constantFrom(
    "\ud800",
    "\udfff",
    "a\u0000b",
    "\u202etxt.exe",
    "💥🧨",
    "e\u0301",
    "%",
    "%zz",
    "%E0%A4%A",
    "..",
    "../..",
    "__proto__",
    "constructor",
    "null",
    "true",
    "1e999",
    "-0",
    " ",
    "\t\n",
    "'; DROP TABLE x; --",
    "{{7*7}}",
  ),
  fc.nat({ max: 5000 }).map((n) => "x".repeat(n)),
);

const uuid = fc.uuid();

/** URLs a customer might send, from plausible to absurd. */
const urlish = fc.oneof(
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.constantFrom(
    "https://hooks.example.com/x",
    "http://127.0.0.1:9/x",
    "https://blocked.test/x",
    "https://nxdomain.test/x",
    "https://metadata.test/",
    "https://user:pass@example.com/",
    "https://[::1]/",
    "https://0x7f.1/",
    "ftp://example.com/",
    "https://",
    "https://exa mple.com/",
    "https://xn--nxasmq6b.example/",
    "https://例え.テスト/",
    `https://example.com/${"a".repeat(2100)}`,
  ),
  oddString,
);

const eventTypes = fc.oneof(
  fc.array(fc.constantFrom("*", "call_*", "call_hangup", "message_created", "nope_*", "", "CALL_HANGUP")),
  fc.array(oddString, { maxLength: 3 }),
  fc.anything(),
);

const headersField = fc.oneof(
  fc.dictionary(oddString, oddString, { maxKeys: 12 }),
  fc.dictionary(fc.constantFrom("x-token", "X-Token", "webhook-id", "Host", "authorization"), fc.string()),
  fc.anything(),
);

/** Subscription bodies: every field present or not, right type or not. */
const subscriptionish = fc.record(
  {
    url: urlish,
    method: fc.oneof(fc.constantFrom("POST", "PUT", "GET", "DELETE", "post", "PATCH", ""), fc.anything()),
    event_types: eventTypes,
    activeflow_id: fc.oneof(uuid, fc.constant(null), oddString, fc.integer()),
    description: fc.oneof(fc.constant(null), oddString, fc.integer(), fc.array(fc.string())),
    headers: headersField,
    status: fc.oneof(fc.constantFrom("enabled", "disabled", "paused"), fc.anything()),
    since: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      oddString,
    ),
    unknown_field: fc.anything(),
  },
  { requiredKeys: [] },
);

/** Bodies that pass validation or nearly do, so that the service and DynamoDB see odd values too. */
const nearlyValid = fc.record(
  {
    url: fc.oneof(
      fc.constantFrom("https://hooks.example.com/x", "http://127.0.0.1:9/x"),
      fc.webUrl(),
      oddString.map((tail) => `https://hooks.example.com/${tail}`),
    ),
    method: fc.constantFrom("POST", "PUT", "GET", "DELETE"),
    event_types: fc.array(fc.constantFrom("*", "call_*", "call_hangup", "message_created"), { minLength: 1 }),
    activeflow_id: fc.oneof(uuid, fc.constant(null)),
    description: fc.oneof(
      fc.constant(null),
      oddString.map((text) => text.slice(0, 256)),
    ),
    headers: fc.oneof(
      fc.constant(null),
      fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), fc.stringMatching(/^[ -~]{0,40}$/), {
        maxKeys: 10,
      }),
    ),
    status: fc.constantFrom("enabled", "disabled"),
    since: fc
      .date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) })
      .map((d) => d.toISOString()),
  },
  { requiredKeys: ["url", "event_types"] },
);

/** A request body as bytes on the wire: JSON of any shape, or not JSON at all. */
const body: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  subscriptionish.map((value) => JSON.stringify(value)),
  nearlyValid.map((value) => JSON.stringify(value)),
  nearlyValid.map((value) => JSON.stringify(value)),
  fc.json({ maxDepth: 4 }),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  oddString,
  fc.constantFrom(
    "",
    "{",
    "[]",
    "null",
    '{"__proto__": {"polluted": true}}',
    '{"url": "https://hooks.example.com/x", "event_types": ["*"], "url": 5}',
    "\ufeff{}",
    `{"description": "${"\\ud800"}"}`,
  ),
  fc
    .integer({ min: MAX_BODY_BYTES - 8, max: MAX_BODY_BYTES * 2 })
    .map((size) => JSON.stringify({ description: "d".repeat(size) })),
);

const contentType = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    'Application/JSON; charset="UTF-8"',
    "application/json; charset=latin1",
    "application/merge-patch+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
    ";",
    "application/json;;;",
  ),
  oddString,
);

/** A path segment as a client puts it on the wire: UTF-8, percent-encoded (lone surrogates become U+FFFD). */
function percentEncode(segment: string): string {
  return [...Buffer.from(segment, "utf8")]
    .map((byte) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).padStart(2, "0").toUpperCase()}`,
    )
    .join("");
}

/** Route templates with their ids filled in: the real ones, unknown ones, or junk. */
const idSegment = fc.oneof(
  fc.constant("{subscription}"),
  fc.constant("{delivery}"),
  uuid,
  uuid.map((id) => id.toUpperCase()),
  oddString.map(percentEncode),
  fc.constantFrom("%zz", "%E0%A4%A", "", "%2F", "..", "%00"),
);

const knownPath = fc
  .tuple(fc.constantFrom(...ROUTES.map((route) => route.path)), idSegment)
  .map(([template, id]) => template.replace("{id}", id));

const randomPath = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        "v1",
        "subscriptions",
        "deliveries",
        "secret",
        "rotate",
        "test",
        "retry",
        "openapi.json",
      ),
      idSegment,
    ),
    { maxLength: 6 },
  )
  .map((segments) => `/${segments.join("/")}`)
  .chain((path) => fc.constantFrom(path, `${path}/`, `//${path}`, `${path}//`));

const path = fc.oneof(knownPath, knownPath, randomPath);

const method = fc.oneof(
  fc.constantFrom("GET", "POST", "PATCH", "DELETE"),
  fc.constantFrom("PUT", "HEAD", "OPTIONS", "get", "TRACE", "FOO"),
);

const queryValue = fc.oneof(
  oddString,
  fc.constantFrom("0", "1", "100", "101", "-1", "1.5", "1e2", "NaN", "", "succeeded", "dead", "ok"),
  fc.array(fc.string(), { minLength: 2, maxLength: 3 }),
);

const query = fc.dictionary(
  fc.oneof(fc.constantFrom("limit", "cursor", "status", "since", "accesskey"), oddString),
  queryValue,
  { maxKeys: 4 },
);

/** How the caller authenticates: properly, not at all, or wrongly. */
const auth = fc.oneof(
  { weight: 4, arbitrary: fc.constant<"key" | "none" | "query" | "garbage">("key") },
  fc.constantFrom<"key" | "none" | "query" | "garbage">("none", "query", "garbage"),
);

function resolve(pathTemplate: string): string {
  return pathTemplate.replaceAll("{subscription}", subscriptionId).replaceAll("{delivery}", deliveryId);
}

function withAuth(
  request: HttpRequest,
  how: "key" | "none" | "query" | "garbage",
  junk: string,
): HttpRequest {
  if (how === "key") return { ...request, key };
  if (how === "query") return { ...request, query: { ...request.query, accesskey: key } };
  if (how === "garbage") return { ...request, headers: { ...request.headers, authorization: junk } };
  return request;
}

// ------------------------------------------------------------------ properties

describe("whatever a client sends, the API answers below 500, in the §5 shape", () => {
  it("subscription bodies that are valid or nearly so, odd Unicode included", {
    timeout: 60_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("POST /v1/subscriptions", "PATCH /v1/subscriptions/{subscription}"),
        nearlyValid,
        async (route, value) => {
          const [verb = "POST", template = ""] = route.split(" ");
          const { since: _since, ...fields } = value;
          await send({ method: verb, path: resolve(template), key, body: fields });
        },
      ),
      { numRuns: 100 },
    );
  });

  it("random bodies on the routes that take one", { timeout: 60_000 }, async () => {
    const bodyRoutes = ROUTES.filter((route) => route.body !== undefined);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bodyRoutes),
        body,
        fc.oneof(fc.constant("application/json"), contentType),
        fc.boolean(),
        async (route, payload, type, base64) => {
          const headers: Record<string, string> = type === undefined ? {} : { "content-type": type };
          await send({
            method: route.method,
            path: resolve(route.path.replace("{id}", "{subscription}")),
            headers,
            key,
            ...(payload !== undefined
              ? {
                  body: base64 ? Buffer.from(payload, "utf8").toString("base64") : payload,
                  isBase64Encoded: base64,
                }
              : {}),
          });
        },
      ),
      RUNS,
    );
  });

  it("random methods, paths and query strings", { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        method,
        path,
        query,
        auth,
        oddString,
        async (verb, template, parameters, how, junk) => {
          await send(withAuth({ method: verb, path: resolve(template), query: parameters }, how, junk));
        },
      ),
      RUNS,
    );
  });

  it("random headers, content types and bodies on any route", { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        method,
        path,
        fc.dictionary(
          fc.oneof(
            fc.constantFrom("content-type", "content-length", "accept", "x-forwarded-for"),
            fc.string(),
          ),
          oddString,
          { maxKeys: 4 },
        ),
        contentType,
        body,
        auth,
        oddString,
        async (verb, template, extraHeaders, type, payload, how, junk) => {
          const headers: Record<string, string> = { ...extraHeaders };
          if (type !== undefined) headers["content-type"] = type;
          await send(
            withAuth(
              {
                method: verb,
                path: resolve(template),
                headers,
                ...(payload !== undefined ? { body: payload } : {}),
              },
              how,
              junk,
            ),
          );
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("odd Unicode, case by case", () => {
  it("refuses lone surrogates anywhere in a body with 400, and keeps real non-ASCII text intact", async () => {
    for (const raw of [
      '{"url": "https://hooks.example.com/x", "event_types": ["*"], "description": "\\ud800"}',
      '{"url": "https://hooks.example.com/x", "event_types": ["*"], "headers": {"x-a\\udfff": "v"}}',
      '{"since": "\\udbff2026-01-01T00:00:00Z"}',
    ]) {
      const route = raw.includes("since")
        ? `/v1/subscriptions/${subscriptionId}/recover`
        : "/v1/subscriptions";
      const response = await api.post(route, raw, { key, headers: { "content-type": "application/json" } });
      expect(response.status, raw).toBe(400);
      expect(response.json).toEqual({
        error: {
          code: "VALIDATION_FAILED",
          message: "The request is not valid; see details.",
          details: [{ path: "body", message: expect.stringContaining("lone surrogates") }],
        },
      });
    }
    const text = "Appels 📞 — 통화 — مكالمات — e\u0301";
    // A customer of its own: the properties above may have used up the first one's subscription limit.
    const own = (await bed.mintKey()).key;
    const created = await api.post(
      "/v1/subscriptions",
      { url: "https://hooks.example.com/unicode", event_types: ["*"], description: text },
      { key: own },
    );
    expect(created.status).toBe(201);
    const id = (created.json as { id: string }).id;
    expect(
      ((await api.get(`/v1/subscriptions/${id}`, { key: own })).json as { description: string }).description,
    ).toBe(text);
  });
});

/** Names an object's prototype chain owns: as map keys they trip code that reads `obj[name]`. */
const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype);

describe("header names that collide with prototype keys", () => {
  it("are stored and read back as plain data, or refused with 400, on create and PATCH (never a 5xx)", {
    timeout: 60_000,
  }, async () => {
    const own = (await bed.mintKey()).key;
    const casings = (name: string) => [name, name.toUpperCase(), name[0]?.toUpperCase() + name.slice(1)];
    const names = fc.oneof(
      fc.constantFrom(...PROTOTYPE_KEYS.flatMap(casings)),
      fc.constantFrom(...PROTOTYPE_KEYS).map((name) => `${name}-x`),
    );
    let created = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(names, { minLength: 1, maxLength: 3 }), async (headerNames) => {
        // Built as JSON text so that `__proto__` is an own key of the body, as a client would send it.
        const headers = `{${headerNames.map((name) => `${JSON.stringify(name)}: "v-${name}"`).join(", ")}}`;
        const raw = `{"url": "https://hooks.example.com/proto", "event_types": ["*"], "headers": ${headers}}`;
        const options = { key: own, headers: { "content-type": "application/json" } };
        const response = await api.post("/v1/subscriptions", raw, options);
        assertSection5Answer({ method: "POST", path: "/v1/subscriptions" }, response);
        const lower = new Set(headerNames.map((name) => name.toLowerCase()));
        // Names must start with a letter or digit (so `__proto__`, `__defineGetter__` … are refused).
        if (headerNames.some((name) => !/^[A-Za-z0-9]/.test(name)) || lower.size < headerNames.length) {
          expect(response.status, raw).toBe(400);
          return;
        }
        expect(response.status, raw).toBe(201);
        created++;
        const { id } = response.json as { id: string };
        const expected = Object.fromEntries(headerNames.map((name) => [name.toLowerCase(), `v-${name}`]));
        const read = await api.get(`/v1/subscriptions/${id}`, { key: own });
        expect((read.json as { headers: unknown }).headers).toEqual(expected);
        const patch = `{"headers": ${headers}}`;
        const patched = await api.patch(`/v1/subscriptions/${id}`, patch, options);
        assertSection5Answer({ method: "PATCH", path: "/v1/subscriptions/{id}" }, patched);
        expect(patched.status, patch).toBe(200);
        expect((await api.delete(`/v1/subscriptions/${id}`, { key: own })).status).toBe(204);
      }),
      { numRuns: 40 },
    );
    expect(created).toBeGreaterThan(0);
  });

  it("refuses __proto__ as a header name with 400 and a reason", async () => {
    const raw =
      '{"url": "https://hooks.example.com/proto", "event_types": ["*"], "headers": {"__proto__": "x"}}';
    const response = await api.post("/v1/subscriptions", raw, {
      key,
      headers: { "content-type": "application/json" },
    });
    expect(response.status).toBe(400);
    expect((response.json as { error: { details: unknown } }).error.details).toEqual([
      { path: "body", message: "must not contain the key __proto__" },
    ]);
  });
});

describe("the properties can fail", () => {
  it("a 5xx or an error body out of shape is caught", () => {
    const request: HttpRequest = { method: "GET", path: "/v1/subscriptions" };
    const json = (status: number, payload: unknown): ApiResponse => ({
      status,
      headers: { "content-type": "application/json" },
      json: payload,
      raw: JSON.stringify(payload),
    });
    const internal = { error: { code: "INTERNAL_ERROR", message: "x", details: [] } };
    expect(() => assertSection5Answer(request, json(500, internal))).toThrow();
    expect(() => assertSection5Answer(request, json(400, { message: "Bad Request" }))).toThrow();
    expect(() =>
      assertSection5Answer(
        request,
        json(404, { error: { code: "VALIDATION_FAILED", message: "x", details: [] } }),
      ),
    ).toThrow();
    expect(() =>
      assertSection5Answer(
        request,
        json(400, { error: { code: "VALIDATION_FAILED", message: "", details: [] } }),
      ),
    ).toThrow();
    expect(() =>
      assertSection5Answer(
        request,
        json(400, { error: { code: "VALIDATION_FAILED", message: "x", details: [{ path: 1 }] } }),
      ),
    ).toThrow();
    expect(() =>
      assertSection5Answer(
        request,
        json(400, { error: { code: "VALIDATION_FAILED", message: "x", details: [] } }),
      ),
    ).not.toThrow();
  });
});
