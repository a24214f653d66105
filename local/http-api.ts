import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  APIGatewayRequestAuthorizerEventV2,
  Context,
} from "aws-lambda";
import { CodedError } from "#shared/domain/errors.ts";
import { loggedError } from "#shared/domain/ports/logger.ts";
import { invokeLambda, type LambdaFunctionSpec, LOCAL_ACCOUNT_ID } from "./lambda-runtime.ts";

/**
 * A local API Gateway HTTP API: turns each HTTP request into the payload-format-2.0 event API
 * Gateway builds, runs the route's Lambda REQUEST authorizer as API Gateway does (simple responses),
 * invokes the integration and writes its result back. What API Gateway itself answers is mirrored
 * body for body: 404 {"message":"Not Found"} for no route, 401 {"message":"Unauthorized"} when an
 * identity source is missing, 403 {"message":"Forbidden"} on `isAuthorized: false`, 500
 * {"message":"Internal Server Error"} when a function fails or answers something unusable, 503
 * {"message":"Service Unavailable"} past the 30 s integration timeout, 413 past the size limits.
 */

/** HTTP API quotas that a client can run into. */
export const HTTP_API_LIMITS = {
  /** Total combined size of the request line and header values. */
  requestLineAndHeaderBytes: 10_240,
  payloadBytes: 10 * 1024 * 1024,
  integrationTimeoutMs: 30_000,
  authorizerTimeoutMs: 10_000,
} as const;

/** Node's own limit on the header block, above API Gateway's so that API Gateway's answer is the one given. */
export const HTTP_API_MAX_HEADER_BYTES = 64 * 1024;

const ROUTE_KEY = /^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\/[^\s]*)$/;
const TEXT_CONTENT_TYPE =
  /^(text\/|application\/(json|xml|javascript)\b|application\/[\w.+-]+\+(json|xml)\b)/i;

export class InvalidRouteError extends CodedError {
  override readonly name = "InvalidRouteError";
  readonly code = "ROUTE_INVALID";
}

export type LambdaHandler<TEvent, TResult> = (event: TEvent, context: Context) => Promise<TResult>;

export interface HttpApiRoute {
  /** `METHOD /path/{param}/{greedy+}` or `$default`, as in the API definition. */
  readonly routeKey: string;
  /** Whether the route uses the API's Lambda authorizer. */
  readonly authorized: boolean;
}

export interface HttpApiAuthorizer {
  readonly spec: LambdaFunctionSpec;
  readonly handler: LambdaHandler<APIGatewayRequestAuthorizerEventV2, unknown>;
  /** e.g. `$request.header.Authorization`; when any is absent API Gateway answers 401 without invoking. */
  readonly identitySources: readonly string[];
  /** Results cached per identity (needs identity sources), default 0: every request is authorized afresh. */
  readonly resultsCacheTtlSeconds?: number;
}

export interface HttpApiOptions {
  readonly routes: readonly HttpApiRoute[];
  readonly integration: {
    readonly spec: LambdaFunctionSpec;
    readonly handler: LambdaHandler<APIGatewayProxyEventV2, unknown>;
  };
  readonly authorizer?: HttpApiAuthorizer;
  readonly region: string;
  readonly apiId?: string;
  /** One line per request (API Gateway's access log); errors of the functions themselves too. */
  readonly log?: (level: "info" | "warn" | "error", message: string, extra: Record<string, unknown>) => void;
}

interface CompiledRoute {
  readonly route: HttpApiRoute;
  readonly method: string;
  readonly segments: readonly Segment[];
}

type Segment =
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "param"; readonly name: string }
  | { readonly kind: "greedy"; readonly name: string };

interface RouteMatch {
  readonly route: HttpApiRoute;
  readonly pathParameters: Record<string, string>;
}

/** Why API Gateway answered by itself; the body is its own `{"message": …}`. */
class GatewayResponse extends Error {
  override readonly name = "GatewayResponse";
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const NOT_FOUND = () => new GatewayResponse(404, "Not Found");
const UNAUTHORIZED = () => new GatewayResponse(401, "Unauthorized");
const FORBIDDEN = () => new GatewayResponse(403, "Forbidden");
const INTERNAL = () => new GatewayResponse(500, "Internal Server Error");
const UNAVAILABLE = () => new GatewayResponse(503, "Service Unavailable");
const TOO_LARGE = () => new GatewayResponse(413, "Request Entity Too Large");

export class LocalHttpApi {
  private readonly routes: readonly CompiledRoute[];
  private readonly defaultRoute: HttpApiRoute | undefined;
  private readonly apiId: string;
  private readonly authCache = new Map<string, { expiresAt: number; context: unknown }>();

  constructor(private readonly options: HttpApiOptions) {
    this.routes = options.routes.filter((route) => route.routeKey !== "$default").map(compileRoute);
    this.defaultRoute = options.routes.find((route) => route.routeKey === "$default");
    this.apiId = options.apiId ?? "local";
    if (options.routes.some((route) => route.authorized) && options.authorizer === undefined) {
      throw new InvalidRouteError("a route needs the authorizer, but the API has none");
    }
  }

  /** The most specific route for the request, as API Gateway chooses it. */
  match(method: string, path: string): RouteMatch | undefined {
    const parts = path.split("/").slice(1);
    let best: { match: RouteMatch; score: number[] } | undefined;
    for (const compiled of this.routes) {
      if (compiled.method !== "ANY" && compiled.method !== method) continue;
      const pathParameters = matchSegments(compiled.segments, parts);
      if (pathParameters === undefined) continue;
      const score = [
        ...compiled.segments.map((segment) =>
          segment.kind === "literal" ? 2 : segment.kind === "param" ? 1 : 0,
        ),
        compiled.method === "ANY" ? 0 : 1,
      ];
      if (best === undefined || compareScores(score, best.score) > 0) {
        best = { match: { route: compiled.route, pathParameters }, score };
      }
    }
    if (best) return best.match;
    return this.defaultRoute ? { route: this.defaultRoute, pathParameters: {} } : undefined;
  }

  createServer(): Server {
    // Header limits are API Gateway's (checked per request), not Node's 16 KiB default.
    const server = createServer({ maxHeaderSize: HTTP_API_MAX_HEADER_BYTES }, this.requestListener);
    server.on("clientError", answerClientError);
    return server;
  }

  /** The HTTP request handler, for a server created elsewhere (with maxHeaderSize ≥ HTTP_API_MAX_HEADER_BYTES). */
  readonly requestListener = (req: IncomingMessage, res: ServerResponse): void => {
    const startedAt = Date.now();
    const requestId = randomBytes(10).toString("base64");
    this.handle(req, requestId)
      .then((response) => {
        writeResponse(res, response, requestId);
        this.options.log?.("info", "api request", {
          method: req.method,
          path: req.url?.split("?")[0],
          status: response.statusCode,
          latency_ms: Date.now() - startedAt,
          request_id: requestId,
        });
      })
      .catch((error: unknown) => {
        this.options.log?.("error", "api gateway emulator failed", { error: loggedError(error) });
        if (!res.headersSent) writeResponse(res, gatewayResult(INTERNAL()), requestId);
        else res.destroy();
      });
  };

  private async handle(req: IncomingMessage, requestId: string): Promise<APIGatewayProxyStructuredResultV2> {
    try {
      return await this.route(req, requestId);
    } catch (error) {
      if (error instanceof GatewayResponse) {
        if (error.statusCode === 413) req.resume();
        return gatewayResult(error);
      }
      throw error;
    }
  }

  private async route(req: IncomingMessage, requestId: string): Promise<APIGatewayProxyStructuredResultV2> {
    const method = (req.method ?? "GET").toUpperCase();
    const rawUrl = req.url ?? "/";
    const queryAt = rawUrl.indexOf("?");
    const rawPath = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    const rawQueryString = queryAt === -1 ? "" : rawUrl.slice(queryAt + 1);

    if (requestLineAndHeaderBytes(req) > HTTP_API_LIMITS.requestLineAndHeaderBytes) throw TOO_LARGE();
    const declaredLength = Number(req.headers["content-length"] ?? 0);
    if (declaredLength > HTTP_API_LIMITS.payloadBytes) throw TOO_LARGE();

    const matched = this.match(method, rawPath);
    if (matched === undefined) throw NOT_FOUND();
    const body = await readBody(req, HTTP_API_LIMITS.payloadBytes);

    const now = new Date();
    const { headers, cookies } = gatewayHeaders(req);
    const queryStringParameters = queryParameters(rawQueryString);
    const routeKey = matched.route.routeKey;
    const requestContext: APIGatewayProxyEventV2["requestContext"] = {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: this.apiId,
      domainName: (headers.host ?? "127.0.0.1").replace(/:\d+$/, ""),
      domainPrefix: (headers.host ?? "127").split(".")[0]?.replace(/:\d+$/, "") ?? "",
      http: {
        method,
        path: safeDecode(rawPath),
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId,
      routeKey,
      stage: "$default",
      time: clfTime(now),
      timeEpoch: now.getTime(),
    };
    const common = {
      routeKey,
      rawPath,
      rawQueryString,
      ...(cookies.length > 0 ? { cookies } : {}),
      headers,
      ...(queryStringParameters ? { queryStringParameters } : {}),
      ...(Object.keys(matched.pathParameters).length > 0 ? { pathParameters: matched.pathParameters } : {}),
    };

    let authorizerContext: unknown;
    if (matched.route.authorized && this.options.authorizer) {
      authorizerContext = await this.authorize(this.options.authorizer, {
        version: "2.0",
        type: "REQUEST",
        routeArn: `arn:aws:execute-api:${this.options.region}:${LOCAL_ACCOUNT_ID}:${this.apiId}/$default/${method}${rawPath}`,
        identitySource: [],
        ...common,
        cookies: cookies,
        requestContext,
      });
    }

    // Bytes that are not UTF-8 travel base64-encoded, as API Gateway passes binary bodies, so that the
    // function sees them as they came (and answers 400 MALFORMED_JSON) instead of U+FFFD replacements.
    const isText =
      body.length === 0 || (TEXT_CONTENT_TYPE.test(headers["content-type"] ?? "") && isWellFormedUtf8(body));
    const event = {
      version: "2.0",
      ...common,
      requestContext:
        authorizerContext === undefined
          ? requestContext
          : { ...requestContext, authorizer: { lambda: authorizerContext } },
      ...(body.length > 0 ? { body: isText ? body.toString("utf8") : body.toString("base64") } : {}),
      isBase64Encoded: !isText,
    } as APIGatewayProxyEventV2;

    const result = await this.call(
      this.options.integration.spec,
      this.options.integration.handler,
      event,
      HTTP_API_LIMITS.integrationTimeoutMs,
      "integration",
    );
    return integrationResult(result);
  }

  /** Runs the authorizer; resolves to the context to pass on, or throws API Gateway's own answer. */
  private async authorize(
    authorizer: HttpApiAuthorizer,
    event: APIGatewayRequestAuthorizerEventV2,
  ): Promise<unknown> {
    const identity = authorizer.identitySources.map((source) => identityValue(source, event));
    if (identity.some((value) => value === undefined || value === "")) throw UNAUTHORIZED();
    event.identitySource = identity as string[];

    const ttlMs = (authorizer.resultsCacheTtlSeconds ?? 0) * 1000;
    const cacheKey = identity.join("\u0000");
    if (ttlMs > 0 && identity.length > 0) {
      const cached = this.authCache.get(cacheKey);
      if (cached && cached.expiresAt > Date.now()) {
        if (cached.context === null) throw FORBIDDEN();
        return cached.context;
      }
    }

    const response = await this.call(
      authorizer.spec,
      authorizer.handler,
      event,
      HTTP_API_LIMITS.authorizerTimeoutMs,
      "authorizer",
    );
    const isAuthorized =
      typeof response === "object" && response !== null
        ? (response as { isAuthorized?: unknown }).isAuthorized
        : undefined;
    if (typeof isAuthorized !== "boolean") {
      this.options.log?.("error", "authorizer returned no boolean isAuthorized", {});
      throw INTERNAL();
    }
    const context = isAuthorized ? ((response as { context?: unknown }).context ?? {}) : null;
    if (ttlMs > 0 && identity.length > 0)
      this.authCache.set(cacheKey, { expiresAt: Date.now() + ttlMs, context });
    if (context === null) throw FORBIDDEN();
    return context;
  }

  private async call<TEvent>(
    spec: LambdaFunctionSpec,
    handler: LambdaHandler<TEvent, unknown>,
    event: TEvent,
    gatewayTimeoutMs: number,
    role: "authorizer" | "integration",
  ): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const gatewayTimeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(UNAVAILABLE()), gatewayTimeoutMs);
    });
    try {
      return await Promise.race([invokeLambda(spec, handler, event), gatewayTimeout]);
    } catch (error) {
      if (error instanceof GatewayResponse) {
        this.options.log?.("error", `${role} did not answer within ${gatewayTimeoutMs} ms`, {});
        throw role === "authorizer" ? INTERNAL() : error;
      }
      this.options.log?.("error", `${role} function failed`, {
        function_name: spec.functionName,
        error: loggedError(error),
      });
      throw INTERNAL();
    } finally {
      clearTimeout(timer);
    }
  }
}

function compileRoute(route: HttpApiRoute): CompiledRoute {
  const parsed = ROUTE_KEY.exec(route.routeKey);
  if (!parsed) throw new InvalidRouteError(`not a route key: ${route.routeKey}`);
  const [, method = "", path = ""] = parsed;
  const segments: Segment[] = path
    .split("/")
    .slice(1)
    .map((part, i, all) => {
      const variable = /^\{([A-Za-z0-9_.-]+)(\+)?\}$/.exec(part);
      if (!variable) return { kind: "literal", value: part };
      if (variable[2] === "+") {
        if (i !== all.length - 1)
          throw new InvalidRouteError(`greedy variable not last in ${route.routeKey}`);
        return { kind: "greedy", name: `${variable[1]}+` };
      }
      return { kind: "param", name: variable[1] ?? "" };
    });
  return { route, method, segments };
}

function matchSegments(
  segments: readonly Segment[],
  parts: readonly string[],
): Record<string, string> | undefined {
  const parameters: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const part = parts[i];
    if (segment === undefined || part === undefined) return undefined;
    if (segment.kind === "greedy") {
      const rest = parts.slice(i).join("/");
      if (rest === "") return undefined;
      parameters[segment.name.slice(0, -1)] = safeDecode(rest);
      return parameters;
    }
    if (segment.kind === "literal") {
      if (segment.value !== part) return undefined;
    } else {
      if (part === "") return undefined;
      parameters[segment.name] = safeDecode(part);
    }
  }
  return parts.length === segments.length ? parameters : undefined;
}

function compareScores(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? -1) - (b[i] ?? -1);
    if (diff !== 0) return diff;
  }
  return 0;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function requestLineAndHeaderBytes(req: IncomingMessage): number {
  let size = Buffer.byteLength(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
  for (let i = 1; i < req.rawHeaders.length; i += 2) size += Buffer.byteLength(req.rawHeaders[i] ?? "");
  return size;
}

/** Lower-case names, repeated headers joined with commas; cookies moved to their own list. */
function gatewayHeaders(req: IncomingMessage): { headers: Record<string, string>; cookies: string[] } {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? "").toLowerCase();
    const value = req.rawHeaders[i + 1] ?? "";
    if (name === "cookie") {
      cookies.push(
        ...value
          .split(";")
          .map((cookie) => cookie.trim())
          .filter((cookie) => cookie !== ""),
      );
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const sourceIp = req.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1";
  headers["x-forwarded-for"] = headers["x-forwarded-for"]
    ? `${headers["x-forwarded-for"]}, ${sourceIp}`
    : sourceIp;
  headers["x-forwarded-port"] = String(req.socket.localPort ?? "");
  headers["x-forwarded-proto"] = "http";
  return { headers, cookies };
}

function queryParameters(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === "") return undefined;
  const parameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    parameters[name] = parameters[name] === undefined ? value : `${parameters[name]},${value}`;
  }
  return Object.keys(parameters).length > 0 ? parameters : undefined;
}

/** `$request.header.X`, `$request.querystring.x`, `$context.x`; undefined when absent. */
function identityValue(source: string, event: APIGatewayRequestAuthorizerEventV2): string | undefined {
  const header = /^\$request\.header\.(.+)$/.exec(source);
  if (header?.[1]) return event.headers?.[header[1].toLowerCase()];
  const query = /^\$request\.querystring\.(.+)$/.exec(source);
  if (query?.[1]) return event.queryStringParameters?.[query[1]];
  throw new InvalidRouteError(`identity source not supported locally: ${source}`);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw TOO_LARGE();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** `12/Mar/2020:19:03:58 +0000`, API Gateway's requestContext.time. */
function clfTime(date: Date): string {
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

function gatewayResult(response: GatewayResponse): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: response.statusCode,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: response.message }),
  };
}

/**
 * API Gateway's reading of a 2.0 response: an object with statusCode is used as given; anything
 * else is taken as a 200 JSON body. A statusCode that is not a valid HTTP status is a 500.
 */
function integrationResult(result: unknown): APIGatewayProxyStructuredResultV2 & { cookies?: string[] } {
  if (typeof result === "object" && result !== null && "statusCode" in result) {
    const structured = result as APIGatewayProxyStructuredResultV2 & { cookies?: unknown };
    const status = structured.statusCode;
    if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 599)
      throw INTERNAL();
    if (structured.body !== undefined && typeof structured.body !== "string") throw INTERNAL();
    const cookies = Array.isArray(structured.cookies) ? structured.cookies.map(String) : undefined;
    return { ...structured, ...(cookies ? { cookies } : {}) };
  }
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: typeof result === "string" ? result : JSON.stringify(result ?? null),
  };
}

function writeResponse(
  res: ServerResponse,
  result: APIGatewayProxyStructuredResultV2 & { cookies?: string[] },
  requestId: string,
): void {
  const body =
    result.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8");
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  if (result.cookies && result.cookies.length > 0) headers["set-cookie"] = result.cookies;
  headers["content-length"] = String(body.length);
  headers["apigw-requestid"] = requestId;
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(body);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function isWellFormedUtf8(bytes: Buffer): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * A request Node's HTTP parser refuses (bytes outside ASCII in the request line, a broken header)
 * gets API Gateway's JSON body rather than Node's empty 400, so a client sees a readable answer.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || (error as { code?: string }).code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  const body = '{"message":"Bad Request"}';
  socket.end(
    `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  );
}
