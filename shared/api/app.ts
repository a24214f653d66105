/**
 * The API request pipeline, in the order a request is judged: route (404/405), caller (401), body
 * size (413), media type and JSON (415/400), path/query/body schemas (400), then the route's one
 * domain call, whose named errors the one mapper turns into the §5 error shape.
 */
import type * as z from "zod/mini";
import { ACCESS_KEY_QUERY_PARAMETER } from "../domain/access-keys/credentials.ts";
import { CodedError } from "../domain/errors.ts";
import { isCanonicalUuid } from "../domain/ids.ts";
import { AUTH_ERROR_CODES, type AuthErrorCode } from "./auth-context.ts";
import {
  ApiError,
  authenticationRequired,
  type ErrorDetail,
  internalError,
  invalidCredentials,
  rateLimited,
  toApiError,
  validationFailed,
} from "./errors.ts";
import {
  type ApiEvent,
  type ApiResult,
  assertBodySize,
  bodyBytes,
  errorResult,
  jsonResult,
  pathSegments,
  readJsonBody,
} from "./http.ts";
import { type ApiServices, type HttpMethod, ROUTES, type Route } from "./routes.ts";

export interface ApiSettings {
  /** How long one request may spend on long work (recovery) before answering. */
  readonly recoverTimeBudgetMs: number;
}

export interface ApiRequestOptions {
  /** Lambda's remaining time; the deadline keeps a margin below it to answer. */
  readonly remainingTimeMs?: () => number;
  /**
   * GET /openapi.json's answer. The functions read the document shipped beside their bundle instead of
   * generating it: the generator (zod-openapi) pulls classic zod into the bundle (docs/decisions.md).
   */
  readonly openApiDocument: () => Record<string, unknown>;
}

/** What happened, for the handler's log line and metrics; `error` only for 5xx. */
export interface ApiOutcome {
  readonly result: ApiResult;
  readonly route: string | null;
  readonly customerId: string | null;
  readonly keyId: string | null;
  readonly errorCode: string | null;
  readonly error?: unknown;
}

// Time left to write the answer after the recovery's deadline.
const RESPONSE_MARGIN_MS = 3000;

/** Thrown when an API route is reached without the authorizer having run: a deployment mistake. */
export class MissingAuthorizerContextError extends CodedError {
  override readonly name = "MissingAuthorizerContextError";
  readonly code = "AUTHORIZER_CONTEXT_MISSING";
  constructor() {
    super(
      "API route reached without the authorizer's context; check the API Gateway authorizer configuration",
    );
  }
}

interface CompiledRoute {
  readonly route: Route;
  readonly segments: readonly string[];
}

const COMPILED: readonly CompiledRoute[] = ROUTES.map((route) => ({
  route,
  segments: route.path.split("/").slice(1),
}));

function matches(template: readonly string[], segments: readonly string[]): Record<string, string> | null {
  if (template.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const expected = template[i] as string;
    const actual = segments[i] as string;
    if (expected.startsWith("{") && expected.endsWith("}")) {
      if (actual === "") return null;
      params[expected.slice(1, -1)] = actual;
    } else if (expected !== actual) {
      return null;
    }
  }
  return params;
}

function findRoute(
  method: string,
  segments: readonly string[],
): { route: Route; params: Record<string, string> } {
  const allowed: HttpMethod[] = [];
  for (const { route, segments: template } of COMPILED) {
    const params = matches(template, segments);
    if (params === null) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  if (allowed.length === 0) throw new ApiError(404, "NOT_FOUND", "No such route.");
  throw new ApiError(405, "METHOD_NOT_ALLOWED", `Use one of: ${allowed.join(", ")}.`, [], {
    allow: allowed.join(", "),
  });
}

function callerOf(event: ApiEvent): { customerId: string; keyId: string } {
  const context = event.requestContext?.authorizer?.lambda;
  if (context === undefined || context === null) throw new MissingAuthorizerContextError();
  const { customer_id: customerId, key_id: keyId, auth_error: authError } = context;
  if (typeof customerId === "string" && isCanonicalUuid(customerId)) {
    return { customerId, keyId: typeof keyId === "string" ? keyId : "" };
  }
  if (typeof authError === "string" && (AUTH_ERROR_CODES as readonly string[]).includes(authError)) {
    const code = authError as AuthErrorCode;
    if (code === "AUTHENTICATION_REQUIRED") throw authenticationRequired();
    if (code === "INVALID_CREDENTIALS") throw invalidCredentials();
    if (code === "AUTHORIZER_THROTTLED") throw rateLimited();
    throw internalError();
  }
  throw new MissingAuthorizerContextError();
}

/** Zod issues as §5 details: one per problem, unknown keys one each, paths dotted. */
function detailsOf(error: z.core.$ZodError, section: "path" | "query" | "body"): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        details.push({
          path: [...base, key].join("."),
          message: section === "query" ? "is not a known query parameter" : "is not a known field",
        });
      }
      continue;
    }
    const path = base.join(".");
    // A record key that failed its own rules: zod says only "Invalid key in record"; the reason is inside.
    const message =
      issue.code === "invalid_key" && issue.issues.length > 0
        ? issue.issues.map((inner) => inner.message).join("; ")
        : issue.message;
    details.push({ path: path === "" ? section : path, message });
  }
  return details;
}

/**
 * Validates one section, adding its problems to `problems` rather than throwing, so that one answer
 * names every invalid field of the path, the query and the body at once.
 */
function validate(
  schema: z.ZodMiniType | undefined,
  value: unknown,
  section: "path" | "query" | "body",
  problems: ErrorDetail[],
): unknown {
  if (schema === undefined) return undefined;
  if (section === "body" && value === undefined) {
    problems.push({ path: "body", message: "a JSON body is required" });
    return undefined;
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    problems.push(...detailsOf(result.error, section));
    return undefined;
  }
  return result.data;
}

/** The route's checks beyond its schema (the URL's form), on fields the schema itself found no fault with. */
async function extraBodyProblems(
  route: Route,
  body: unknown,
  services: ApiServices,
  schemaProblems: readonly ErrorDetail[],
): Promise<ErrorDetail[]> {
  if (route.bodyChecks === undefined || typeof body !== "object" || body === null) return [];
  const flagged = new Set(schemaProblems.map((problem) => problem.path.split(".")[0]));
  return (await route.bodyChecks(body as Record<string, unknown>, services)).filter(
    (problem) => !flagged.has(problem.path.split(".")[0]),
  );
}

function queryOf(event: ApiEvent): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    // The access key was the authorizer's business; it is not a parameter of any route.
    if (name !== ACCESS_KEY_QUERY_PARAMETER && value !== undefined) query[name] = value;
  }
  return query;
}

/**
 * Answers one API Gateway request. Never throws: every failure is an ApiOutcome whose result is in
 * the §5 error shape, 4xx for anything the request got wrong and 500 (without internals) for ours.
 */
export async function handleApiRequest(
  event: ApiEvent,
  services: ApiServices,
  settings: ApiSettings,
  options: ApiRequestOptions,
): Promise<ApiOutcome> {
  const started = Date.now();
  let routeName: string | null = null;
  let caller: { customerId: string; keyId: string } | null = null;
  try {
    const segments = pathSegments(event);
    if (segments === null) throw new ApiError(404, "NOT_FOUND", "No such route.");
    const method = (event.requestContext?.http?.method ?? "").toUpperCase();
    const { route, params } = findRoute(method, segments);
    routeName = `${route.method} ${route.path}`;
    if (route.auth) caller = callerOf(event);
    const bytes = bodyBytes(event);
    assertBodySize(bytes);
    const body = route.body === undefined ? undefined : readJsonBody(event, bytes);
    const problems: ErrorDetail[] = [];
    const validParams = validate(route.params, params, "path", problems);
    const validQuery = validate(route.query, queryOf(event), "query", problems);
    const validBody =
      route.optionalBody === true && body === undefined
        ? undefined
        : validate(route.body, body, "body", problems);
    problems.push(...(await extraBodyProblems(route, body, services, problems)));
    if (problems.length > 0) throw validationFailed(problems);
    const input = {
      params: validParams,
      query: validQuery,
      body: validBody,
      customerId: caller?.customerId ?? "",
      deadline: deadlineOf(started, settings, options),
      services,
      openApiDocument: options.openApiDocument,
    };
    const answer = await route.handle(input);
    return {
      result: jsonResult(route.success.status, route.success.status === 204 ? undefined : answer),
      route: routeName,
      customerId: caller?.customerId ?? null,
      keyId: caller?.keyId ?? null,
      errorCode: null,
    };
  } catch (error) {
    const apiError = toApiError(error);
    return {
      result: errorResult(apiError),
      route: routeName,
      customerId: caller?.customerId ?? null,
      keyId: caller?.keyId ?? null,
      errorCode: apiError.code,
      ...(apiError.status >= 500 ? { error } : {}),
    };
  }
}

function deadlineOf(started: number, settings: ApiSettings, options: ApiRequestOptions): number {
  const budget = settings.recoverTimeBudgetMs;
  const remaining = options.remainingTimeMs?.();
  const allowed = remaining === undefined ? budget : Math.min(budget, remaining - RESPONSE_MARGIN_MS);
  return started + Math.max(0, allowed);
}
