/**
 * The OpenAPI 3.1 document, generated (zod-openapi) from the route table and the very schemas the API
 * validates with. Served at GET /openapi.json and committed as docs/openapi.json (`npm run openapi`;
 * `npm run openapi:check` fails when the committed copy is stale).
 */
import type * as z from "zod/mini";
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from "zod-openapi";
import { defaultQuotaRules } from "../config.ts";
import { describeQuota, QUOTA_ACTION_NOUNS, type QuotaAction } from "../domain/quotas/quota.ts";
import { SERVICE_VERSION } from "../domain/version.ts";
import type { ErrorStatus } from "./errors.ts";
import { MAX_BODY_BYTES } from "./http.ts";
import * as responseSchemas from "./response-schemas.ts";
import { ROUTE_DOCS, type RouteDoc } from "./route-docs.ts";
import { type ResponseName, ROUTES, type Route } from "./routes.ts";

const ERROR_RESPONSES: Record<ErrorStatus, { id: string; description: string; example: object }> = {
  400: {
    id: "BadRequest",
    description: "`VALIDATION_FAILED` (details name each invalid field) or `MALFORMED_JSON`.",
    example: {
      error: {
        code: "VALIDATION_FAILED",
        message: "The request is not valid; see details.",
        details: [
          {
            path: "event_types.0",
            message:
              "is not a catalogue event type, a `<resource>_*` wildcard of a catalogue resource, or `*`",
          },
        ],
      },
    },
  },
  401: {
    id: "Unauthorized",
    description:
      "`AUTHENTICATION_REQUIRED` (no key sent) or `INVALID_CREDENTIALS` (unknown, expired or revoked key).",
    example: {
      error: {
        code: "INVALID_CREDENTIALS",
        message: "The access key is not valid, has expired or was revoked.",
        details: [],
      },
    },
  },
  404: {
    id: "NotFound",
    description:
      "`NOT_FOUND`: no such resource for this customer (another customer's resources do not exist for you).",
    example: { error: { code: "NOT_FOUND", message: "No such subscription.", details: [] } },
  },
  405: {
    id: "MethodNotAllowed",
    description: "`METHOD_NOT_ALLOWED`: the path exists, the method does not (see the `Allow` header).",
    example: {
      error: { code: "METHOD_NOT_ALLOWED", message: "Use one of: GET, PATCH, DELETE.", details: [] },
    },
  },
  409: {
    id: "Conflict",
    description: "The resource's state does not allow the request.",
    example: {
      error: {
        code: "SUBSCRIPTION_DISABLED",
        message: "The subscription is disabled; enable it first (PATCH status=enabled).",
        details: [],
      },
    },
  },
  413: {
    id: "PayloadTooLarge",
    description: `\`PAYLOAD_TOO_LARGE\`: the body is over ${MAX_BODY_BYTES} bytes (64 KiB).`,
    example: {
      error: {
        code: "PAYLOAD_TOO_LARGE",
        message: "The request body is larger than 65536 bytes (64 KiB).",
        details: [],
      },
    },
  },
  415: {
    id: "UnsupportedMediaType",
    description: "`UNSUPPORTED_MEDIA_TYPE`: a body that is not `application/json` (UTF-8).",
    example: {
      error: {
        code: "UNSUPPORTED_MEDIA_TYPE",
        message: "Send the body as JSON with `Content-Type: application/json` (UTF-8).",
        details: [],
      },
    },
  },
  429: {
    id: "TooManyRequests",
    description: "`RATE_LIMITED`: slow down and retry after the `Retry-After` seconds.",
    example: {
      error: {
        code: "RATE_LIMITED",
        message: "Too many requests right now; retry after a moment.",
        details: [],
      },
    },
  },
  500: {
    id: "InternalError",
    description: "`INTERNAL_ERROR`: our fault; retry later. Never carries internals.",
    example: {
      error: {
        code: "INTERNAL_ERROR",
        message: "An internal error occurred. Try again later; if it persists, contact support.",
        details: [],
      },
    },
  },
};

/** The answers' schemas by export name, as the routes name them (`success.response`). */
const RESPONSE_SCHEMAS: Readonly<Record<ResponseName, z.ZodMiniType>> = responseSchemas;

function errorResponse(status: ErrorStatus, description?: string) {
  const spec = ERROR_RESPONSES[status];
  return {
    description: description ?? spec.description,
    ...(status === 429
      ? {
          headers: {
            "Retry-After": {
              description: "Whole seconds to wait before trying again.",
              schema: { type: "integer" as const, minimum: 1 },
            },
          },
        }
      : {}),
    content: { "application/json": { schema: responseSchemas.errorSchema, example: spec.example } },
  };
}

/** The 429 answer of a route that takes a unit of a customer quota. */
function quotaDescription(action: QuotaAction): string {
  return `\`RATE_LIMITED\` (slow down), or \`QUOTA_EXCEEDED\`: the customer has used up its quota of ${QUOTA_ACTION_NOUNS[action]} (by default ${describeQuota(action, DEFAULT_QUOTA_RULES[action])}, configurable per deployment); \`Retry-After\` says when the window ends.`;
}

const DEFAULT_QUOTA_RULES = defaultQuotaRules();

/** What the document says of a route (shared/api/route-docs.ts); every route has an entry. */
function docOf(route: Route): RouteDoc {
  const doc = ROUTE_DOCS[route.operationId];
  if (doc === undefined) throw new Error(`shared/api/route-docs.ts has no entry for ${route.operationId}`);
  return doc;
}

/** The error answers a route can give, each documented with its codes. */
export function errorStatusesOf(route: Route): ErrorStatus[] {
  const doc = docOf(route);
  const statuses: ErrorStatus[] = [];
  if (route.params !== undefined || route.query !== undefined || route.body !== undefined) statuses.push(400);
  if (route.auth || doc.unauthorized !== undefined) statuses.push(401);
  if (route.notFound) statuses.push(404);
  if (doc.conflict !== undefined) statuses.push(409);
  statuses.push(413);
  if (route.body !== undefined) statuses.push(415);
  if (route.auth) statuses.push(429);
  statuses.push(500);
  return statuses;
}

function operationOf(route: Route): ZodOpenApiOperationObject {
  const doc = docOf(route);
  const responses: ZodOpenApiOperationObject["responses"] = {
    [route.success.status]: {
      description: doc.success,
      ...(route.success.response !== undefined
        ? { content: { "application/json": { schema: RESPONSE_SCHEMAS[route.success.response] } } }
        : {}),
    },
  };
  for (const status of errorStatusesOf(route)) {
    const description =
      status === 409
        ? doc.conflict
        : status === 429 && route.quota !== undefined
          ? quotaDescription(route.quota)
          : status === 401
            ? doc.unauthorized
            : undefined;
    responses[`${status}`] = errorResponse(status, description);
  }
  const requestParams: NonNullable<ZodOpenApiOperationObject["requestParams"]> = {};
  if (route.params !== undefined) requestParams.path = route.params as NonNullable<typeof requestParams.path>;
  if (route.query !== undefined) requestParams.query = route.query as NonNullable<typeof requestParams.query>;
  return {
    operationId: route.operationId,
    summary: doc.summary,
    description: doc.description,
    tags: [route.tag],
    ...(route.auth ? {} : { security: [] }),
    ...(Object.keys(requestParams).length > 0 ? { requestParams } : {}),
    ...(route.body !== undefined
      ? {
          requestBody: {
            required: route.optionalBody !== true,
            content: { "application/json": { schema: route.body } },
          },
        }
      : {}),
    responses,
  };
}

const DESCRIPTION = `Manage webhook subscriptions of VoIPBIN events, their signing secrets, and the delivery log.

Authenticate with an access key: \`Authorization: Bearer vb_…\` (preferred) or \`?accesskey=vb_…\`.
Lists are \`{"items": [...], "next_cursor": "…" | null}\`; errors are \`{"error": {"code", "message", "details"}}\`.
Request bodies are JSON (\`Content-Type: application/json\`), at most 64 KiB, and unknown fields are refused.
Verifying deliveries: Standard Webhooks (\`webhook-id\`, \`webhook-timestamp\`, \`webhook-signature\`); see docs/api.md.`;

export function buildOpenApiDocument(routes: readonly Route[] = ROUTES): Record<string, unknown> {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    const item = paths[route.path] ?? {};
    paths[route.path] = item;
    (item as Record<string, ZodOpenApiOperationObject>)[route.method.toLowerCase()] = operationOf(route);
  }
  const document = createDocument({
    openapi: "3.1.0",
    info: {
      title: "voipbin-webhooks API",
      version: SERVICE_VERSION,
      description: DESCRIPTION,
    },
    tags: [
      { name: "Event types", description: "The catalogue of event types." },
      { name: "Subscriptions", description: "Where and what to deliver, and the signing secrets." },
      { name: "Deliveries", description: "The delivery log, test events, retries and recoveries." },
      { name: "Portal", description: "What the customer portal needs beyond the routes above." },
      { name: "Meta", description: "This document." },
    ],
    security: [{ bearerAuth: [] }, { accessKeyQuery: [] }],
    components: {
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description:
            "An access key (`vb_` + 32 base64url characters) minted by an operator (`npm run keys -- create`).",
        },
        accessKeyQuery: {
          type: "apiKey",
          in: "query",
          name: "accesskey",
          description:
            "The same key as a query parameter, as VoIPBIN accepts it today. Prefer the header: URLs end up in logs.",
        },
      },
    },
    paths,
  });
  return document as unknown as Record<string, unknown>;
}

/** docs/openapi.json's exact text. */
export function renderOpenApiDocument(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}
