/**
 * One outbound webhook attempt over node:http / node:https. Everything an endpoint can do wrong
 * (refuse, reset, stall, redirect, answer from a blocked address) becomes a result, never an
 * exception, so the delivery function records it and schedules a retry.
 */
import type * as Http from "node:http";
import https from "node:https";
import type { LookupFunction, Socket } from "node:net";
import type {
  AttemptSender,
  HttpAttemptErrorKind,
  HttpAttemptRequest,
  HttpAttemptResult,
} from "../domain/ports/sender.ts";
import {
  type AddressResolver,
  BlockedDestinationError,
  type DestinationPolicy,
  InvalidDestinationError,
  ReservedDestinationError,
  UnresolvableDestinationError,
  type UrlRules,
} from "../domain/subscriptions/destination-policy.ts";
import { createGuardedLookup } from "./destination-policy.ts";

/**
 * Not `import http from "node:http"`: an ESM import builds a namespace by reading every export,
 * including node:http's lazy WebSocket/CloseEvent/MessageEvent getters, which load Node's bundled
 * undici (about 50 ms of cold start measured here; nodejs/node#57649). getBuiltinModule hands back the
 * CommonJS exports without touching them. node:https has no such getters, so it is imported normally.
 */
const http = process.getBuiltinModule("node:http");

const LEGACY_URL_RULES: UrlRules = { allowHttp: true, allowUserInfo: true };

/** Statuses Go's client follows (client.go, redirectBehavior) when a Location is given. */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Headers Go's client drops on a redirect to a host that is neither the same nor a subdomain. */
const SENSITIVE_ON_REDIRECT = ["authorization", "www-authenticate", "cookie", "cookie2"];

export interface HttpSenderOptions {
  policy: DestinationPolicy;
  /** Resolver used at connect time; the system resolver unless a test injects one. */
  resolver?: AddressResolver;
  /** Concurrent sockets per endpoint origin. */
  maxSockets?: number;
  /** Idle keep-alive sockets kept per endpoint origin; more are closed when they come free. */
  maxFreeSockets?: number;
  /** An idle pooled socket is closed after this long unused. */
  freeSocketTimeoutMs?: number;
}

/**
 * Below Node's own server default `keepAliveTimeout` (5 s), which many endpoints run with: a socket the
 * server is about to close is dropped by us first (agentkeepalive's default for the same reason).
 * Servers with longer timeouts (nginx 75 s, ALB 60 s) only cost a new handshake now and then.
 */
const DEFAULT_FREE_SOCKET_TIMEOUT_MS = 4_000;

/** A batch sends at most its size (≤ 10) to one origin at once; more idle sockets would only go stale. */
const DEFAULT_MAX_FREE_SOCKETS = 10;

/**
 * What a pooled socket the peer already closed fails with when written to: the peer's FIN or RST was
 * not read in time (typically while Lambda froze the environment between invocations).
 */
const STALE_SOCKET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

interface Exchange {
  result: HttpAttemptResult;
  /** The response's Location header, if any (redirects of the legacy profile). */
  location: string | null;
  /** A reused keep-alive socket failed before any byte of answer: the endpoint saw at most a dead socket. */
  staleReusedSocket: boolean;
}

/**
 * Bytes past the response-body limit that are still read and thrown away so that the socket can go
 * back to the keep-alive pool; a longer body costs the connection instead of the attempt's time.
 */
const DISCARD_LIMIT_BYTES = 64 * 1024;

/** Framing is ours to set: a custom header must not make the request body disagree with its length. */
const FRAMING_HEADERS = new Set(["content-length", "transfer-encoding"]);

/** Node header-validation codes whose messages can quote a header value (which may be a secret). */
const HEADER_VALIDATION_CODES = new Set([
  "ERR_INVALID_CHAR",
  "ERR_INVALID_HTTP_TOKEN",
  "ERR_HTTP_INVALID_HEADER_VALUE",
]);

const DNS_CODES = new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EAI_NODATA",
  "EAI_NONAME",
  "ENODATA",
  "ESERVFAIL",
  "ENONAME",
]);

const TLS_CODES = new Set([
  "EPROTO",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "HOSTNAME_MISMATCH",
]);

/** Marks the deadline firing, so it is told apart from the OS's own ETIMEDOUT. */
class AttemptTimeoutError extends Error {
  override readonly name: string = "AttemptTimeoutError";
  constructor(timeoutMs: number, what = "complete response") {
    super(`no ${what} within ${timeoutMs} ms`);
  }
}

interface Classified {
  error: HttpAttemptErrorKind;
  message: string;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Happy-eyeballs connects fail with an AggregateError whose members carry the real reasons. */
function innerErrors(error: unknown): unknown[] {
  return error instanceof AggregateError && error.errors.length > 0 ? error.errors : [error];
}

function kindForCode(code: string | undefined): HttpAttemptErrorKind {
  if (code === undefined) return "connection_error";
  if (code === "EBLOCKED") return "blocked_destination";
  if (DNS_CODES.has(code)) return "dns_failure";
  if (code === "ECONNREFUSED") return "connection_refused";
  if (code === "ECONNRESET" || code === "EPIPE") return "connection_reset";
  if (code === "ETIMEDOUT") return "timeout";
  if (TLS_CODES.has(code) || code.startsWith("ERR_TLS_") || code.startsWith("ERR_SSL_")) return "tls_error";
  return "connection_error";
}

function classify(error: unknown): Classified {
  if (error instanceof AttemptTimeoutError) return { error: "timeout", message: error.message };
  if (error instanceof BlockedDestinationError || error instanceof ReservedDestinationError)
    return { error: "blocked_destination", message: error.message };
  if (error instanceof InvalidDestinationError)
    return { error: "invalid_destination", message: error.message };
  if (error instanceof UnresolvableDestinationError) return { error: "dns_failure", message: error.message };
  const code = codeOf(error);
  if (code !== undefined && HEADER_VALIDATION_CODES.has(code)) {
    return { error: "invalid_destination", message: `request headers rejected before sending (${code})` };
  }
  const members = innerErrors(error);
  const kinds = members.map((member) => kindForCode(codeOf(member)));
  // A blocked or refused answer on any family says more than a generic failure on another.
  const kind = kinds.find((k) => k !== "connection_error") ?? kindForCode(code);
  const message = members
    .map((member) => (member instanceof Error ? member.message : String(member)))
    .filter((text) => text !== "")
    .join("; ");
  return { error: kind, message: (message || code || "connection failed").slice(0, 500) };
}

/** `body` null: a request without a body (a redirect Go turned into a GET), so no framing at all. */
function withOwnFraming(headers: Record<string, string>, body: Buffer | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!FRAMING_HEADERS.has(name.toLowerCase())) {
      out[name] = value;
    }
  }
  if (body !== null) out["content-length"] = String(body.length);
  return out;
}

/** One hop of an attempt: what is sent where. */
interface Hop {
  readonly url: URL;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | null;
}

/**
 * The next hop after a redirect, as Go's net/http client builds it (client.go: redirectBehavior,
 * makeHeadersCopier, refererForURL), or null when the answer is not one Go follows. 301/302/303: a
 * method other than GET/HEAD becomes GET, and the body is dropped; 307/308: same method and body. The
 * original headers are copied, except credentials and cookies on a hop to a host that is neither
 * the same nor a subdomain; `Referer` names the previous URL (without user-info; not https → http).
 */
export function nextHop(previous: Hop, statusCode: number, location: string | null): Hop | string | null {
  if (!REDIRECT_STATUSES.has(statusCode) || location === null || location === "") return null;
  let url: URL;
  try {
    url = new URL(location, previous.url);
  } catch {
    return "the redirect's Location is not a URL";
  }
  const keepsBody = statusCode === 307 || statusCode === 308;
  const method = keepsBody || previous.method === "GET" ? previous.method : "GET";
  const headers: Record<string, string> = {};
  const sameOrSubdomain =
    url.hostname === previous.url.hostname || url.hostname.endsWith(`.${previous.url.hostname}`);
  for (const [name, value] of Object.entries(previous.headers)) {
    const lower = name.toLowerCase();
    if (lower === "referer") continue;
    if (!sameOrSubdomain && SENSITIVE_ON_REDIRECT.includes(lower)) continue;
    headers[name] = value;
  }
  if (!(previous.url.protocol === "https:" && url.protocol === "http:")) {
    const referer = new URL(previous.url);
    referer.username = "";
    referer.password = "";
    headers.referer = referer.toString();
  }
  return { url, method, headers, body: keepsBody ? previous.body : null };
}

function decodeBody(chunks: readonly Buffer[], truncated: boolean): string {
  // In streaming mode the decoder holds back a trailing partial character instead of emitting U+FFFD,
  // so a cut in the middle of a multi-byte character just drops that character.
  return new TextDecoder("utf-8").decode(Buffer.concat(chunks), { stream: truncated });
}

export class HttpSender implements AttemptSender {
  readonly #policy: DestinationPolicy;
  readonly #lookup: LookupFunction;
  readonly #httpAgent: Http.Agent;
  readonly #httpsAgent: https.Agent;

  constructor(options: HttpSenderOptions) {
    this.#policy = options.policy;
    this.#lookup = createGuardedLookup(options.policy, options.resolver);
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets ?? 50,
      maxFreeSockets: options.maxFreeSockets ?? DEFAULT_MAX_FREE_SOCKETS,
      // Node's agent sets this on a socket when it goes back to the pool and destroys free sockets
      // that reach it; our own deadline governs sockets in use.
      timeout: options.freeSocketTimeoutMs ?? DEFAULT_FREE_SOCKET_TIMEOUT_MS,
      scheduling: "lifo" as const,
      lookup: this.#lookup,
    };
    this.#httpAgent = new http.Agent(agentOptions);
    this.#httpsAgent = new https.Agent(agentOptions);
  }

  /**
   * Sends one attempt. Resolves with a response or a classified error; rejects only on our own bugs.
   * The standard profile never follows a redirect; the legacy one follows up to its hop limit, the
   * whole attempt within the request's timeout.
   */
  async send(request: HttpAttemptRequest): Promise<HttpAttemptResult> {
    const startedAt = performance.now();
    const elapsed = () => Math.round(performance.now() - startedAt);
    const failure = (error: unknown): HttpAttemptResult => ({
      kind: "error",
      ...classify(error),
      latencyMs: elapsed(),
    });
    const legacy = request.legacy;
    const rules = legacy ? LEGACY_URL_RULES : {};

    let hop: Hop;
    try {
      // Node skips `lookup` for IP-literal hosts, so literals (and localhost) are judged here.
      hop = {
        url: this.#policy.checkUrl(request.url, rules),
        method: request.method,
        headers: request.headers,
        body: Buffer.from(request.body, "utf8"),
      };
    } catch (error) {
      return failure(error);
    }
    for (let redirects = 0; ; redirects++) {
      const remainingMs = request.timeoutMs - (performance.now() - startedAt);
      if (remainingMs <= 0) return failure(new AttemptTimeoutError(request.timeoutMs));
      const exchange = await this.#sendHop(hop, request, remainingMs, elapsed);
      const { result } = exchange;
      // A 3xx left after the hop limit (or one Go does not follow) is the answer.
      if (legacy === undefined || result.kind !== "response" || redirects >= legacy.maxRedirects) {
        return result;
      }
      const next = nextHop(hop, result.statusCode, exchange.location);
      if (next === null) return result;
      if (typeof next === "string") return failure(new InvalidDestinationError("invalid_url", next));
      try {
        // Every hop is judged like the first: its URL here, its dialled address at connect time.
        this.#policy.checkUrl(next.url.toString(), rules);
      } catch (error) {
        return failure(error);
      }
      hop = next;
    }
  }

  /**
   * One hop. A pooled keep-alive socket can be dead without our knowing: Lambda freezes the environment
   * between invocations, so the peer's close is read only after the thaw, when a request has already
   * been written to it (aws/aws-sdk-js-v3#1196; Node docs, `request.reusedSocket`). When a reused socket
   * fails with a reset before any byte of answer, the request is sent once more on a new socket within
   * the same deadline and the pair counts as one attempt. A failure on a new socket is the endpoint's.
   */
  async #sendHop(
    hop: Hop,
    request: HttpAttemptRequest,
    budgetMs: number,
    elapsed: () => number,
  ): Promise<Exchange> {
    const startedAt = performance.now();
    const isHttps = hop.url.protocol === "https:";
    const pool = isHttps ? this.#httpsAgent : this.#httpAgent;
    const first = await this.#exchange(hop, request, pool, budgetMs, elapsed);
    const remainingMs = budgetMs - (performance.now() - startedAt);
    if (!first.staleReusedSocket || remainingMs <= 0) return first;
    // The other idle sockets to this origin slept through the same freeze: drop them too.
    this.#dropIdleSockets(pool, hop.url);
    // `false`: a socket of its own, never one from the pool.
    return this.#exchange(hop, request, false, remainingMs, elapsed);
  }

  #dropIdleSockets(pool: Http.Agent, url: URL): void {
    // The pool's key starts with host:port: (https appends its TLS options after it).
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const prefix = `${host}:${url.port || (url.protocol === "https:" ? "443" : "80")}:`;
    for (const [name, sockets] of Object.entries(pool.freeSockets)) {
      if (name.startsWith(prefix)) for (const socket of sockets ?? []) socket.destroy();
    }
  }

  #exchange(
    hop: Hop,
    request: HttpAttemptRequest,
    agent: Http.Agent | false,
    budgetMs: number,
    elapsed: () => number,
  ): Promise<Exchange> {
    const { url, body } = hop;
    const isHttps = url.protocol === "https:";
    const headersTimeoutMs = request.legacy?.responseHeadersTimeoutMs;
    const failure = (error: unknown): HttpAttemptResult => ({
      kind: "error",
      ...classify(error),
      latencyMs: elapsed(),
    });

    return new Promise<Exchange>((resolve) => {
      let settled = false;
      let answered = false;
      let socketOf: Socket | undefined;
      let bytesReadBefore = 0;
      let location: string | null = null;
      let onDeadline: () => void = () => {};
      const timer = setTimeout(() => onDeadline(), budgetMs);
      // The legacy profile's own limit on the wait for the response headers (Go's ResponseHeaderTimeout).
      let onHeadersDeadline: () => void = () => {};
      const headersTimer =
        headersTimeoutMs !== undefined && headersTimeoutMs < budgetMs
          ? setTimeout(() => onHeadersDeadline(), headersTimeoutMs)
          : undefined;
      const finish = (result: HttpAttemptResult, staleReusedSocket = false) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          clearTimeout(headersTimer);
          resolve({ result, staleReusedSocket, location });
        }
      };

      let outgoing: Http.ClientRequest;
      try {
        // A URL with user-info makes Node send it as `Authorization: Basic` (unless the headers carry
        // one), as Go's client does; only the legacy profile admits such URLs (checkUrl).
        outgoing = (isHttps ? https : http).request(url, {
          method: hop.method,
          headers: withOwnFraming(hop.headers, body),
          agent,
          lookup: this.#lookup,
        });
      } catch (error) {
        finish(failure(error));
        return;
      }

      onDeadline = () => {
        finish(failure(new AttemptTimeoutError(request.timeoutMs)));
        outgoing.destroy();
      };
      onHeadersDeadline = () => {
        finish(failure(new AttemptTimeoutError(headersTimeoutMs ?? budgetMs, "response headers")));
        outgoing.destroy();
      };
      outgoing.on("error", (error) => {
        const stale =
          !answered &&
          outgoing.reusedSocket &&
          socketOf !== undefined &&
          socketOf.bytesRead === bytesReadBefore &&
          STALE_SOCKET_CODES.has(codeOf(error) ?? "");
        finish(failure(error), stale);
      });
      outgoing.on("socket", (socket) => {
        socketOf = socket;
        bytesReadBefore = socket.bytesRead;
        this.#guardSocket(socket, url.hostname, outgoing);
      });
      outgoing.on("response", (response) => {
        answered = true;
        clearTimeout(headersTimer);
        const rawLocation = response.headers.location;
        location = typeof rawLocation === "string" ? rawLocation : null;
        const limit = request.maxResponseBodyBytes;
        const chunks: Buffer[] = [];
        let kept = 0;
        let discarded = 0;
        let truncated = false;
        const result = (): HttpAttemptResult => {
          const retryAfter = response.headers["retry-after"];
          return {
            kind: "response",
            statusCode: response.statusCode ?? 0,
            retryAfter: retryAfter ?? null,
            responseBody: decodeBody(chunks, truncated),
            latencyMs: elapsed(),
          };
        };
        // Once the stored part is complete the deadline only stops the discarding, it is no failure.
        onDeadline = () => {
          finish(truncated ? result() : failure(new AttemptTimeoutError(request.timeoutMs)));
          outgoing.destroy();
        };
        response.on("data", (chunk: Buffer) => {
          const room = limit - kept;
          if (chunk.length <= room) {
            chunks.push(chunk);
            kept += chunk.length;
            return;
          }
          if (room > 0) {
            chunks.push(chunk.subarray(0, room));
            kept += room;
          }
          truncated = true;
          discarded += chunk.length - Math.max(room, 0);
          if (discarded > DISCARD_LIMIT_BYTES) {
            finish(result());
            response.destroy();
          }
        });
        response.on("end", () => finish(result()));
        response.on("error", (error) => finish(truncated ? result() : failure(error)));
        // 'close' without 'end' means the peer cut the body short (no-op after 'end').
        response.on("close", () =>
          finish(
            truncated
              ? result()
              : failure(Object.assign(new Error("response cut short"), { code: "ECONNRESET" })),
          ),
        );
      });
      if (body === null) outgoing.end();
      else outgoing.end(body);
    });
  }

  /** Closes pooled keep-alive sockets; the sender must not be used afterwards. */
  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  /**
   * Belt and braces behind the guarded lookup: judge the address the socket actually connected to.
   * Prepended so it runs before http's queued write on 'connect', so nothing is sent to a blocked peer.
   */
  #guardSocket(socket: Socket, hostname: string, outgoing: Http.ClientRequest): void {
    const check = () => {
      const address = socket.remoteAddress;
      // A connected socket always knows its peer; not knowing it is treated as blocked (fail closed).
      const range = address === undefined ? "unknown peer address" : this.#policy.blockedRange(address);
      if (range !== null) {
        const error = new BlockedDestinationError(address ?? "unknown", range, hostname);
        socket.destroy(error);
        outgoing.destroy(error);
        return;
      }
      // The system's own endpoints, judged on the address and port actually connected to.
      const port = socket.remotePort;
      if (address !== undefined && port !== undefined && this.#policy.isReservedEndpoint(address, port)) {
        const error = new ReservedDestinationError(address, port);
        socket.destroy(error);
        outgoing.destroy(error);
      }
    };
    if (socket.connecting) {
      socket.prependOnceListener("connect", check);
    } else if (!socket.destroyed) {
      // A pooled keep-alive socket was judged when it connected; re-checking it is cheap.
      check();
    }
  }
}
