/**
 * One webhook attempt as the delivery use case asks for it and hears back (the port): a request with
 * its time limits and a response or a classified error, never an exception. The SSRF-guarded HTTP
 * sender (shared/adapters/http-sender.ts) implements it.
 */

export interface HttpAttemptRequest {
  url: string;
  method: "POST" | "PUT" | "GET" | "DELETE";
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  maxResponseBodyBytes: number;
  /** VoIPBIN's transport rules (the legacy delivery profile, PRODUCT §11); absent: the standard ones. */
  legacy?: LegacyTransport;
}

/**
 * How VoIPBIN's Go sender talks HTTP (PRODUCT §11): redirects followed up to `maxRedirects` hops with
 * Go's net/http rules, each hop's URL and dialled address checked against the SSRF policy; the
 * response headers of each hop within `responseHeadersTimeoutMs`, the whole attempt (hops included)
 * within the request's `timeoutMs`; `http://` and user-info (sent as Basic auth) allowed.
 */
export interface LegacyTransport {
  readonly maxRedirects: number;
  readonly responseHeadersTimeoutMs: number;
  readonly timeoutMs: number;
}

/** VoIPBIN's values: `http.Client{Timeout: 30s}`, `ResponseHeaderTimeout: 15s`, 3 redirects. */
export const LEGACY_TRANSPORT: LegacyTransport = {
  maxRedirects: 3,
  responseHeadersTimeoutMs: 15_000,
  timeoutMs: 30_000,
};

export type HttpAttemptErrorKind =
  | "timeout"
  | "blocked_destination"
  | "invalid_destination"
  | "dns_failure"
  | "connection_refused"
  | "connection_reset"
  | "tls_error"
  | "connection_error";

export type HttpAttemptResult =
  | {
      kind: "response";
      statusCode: number;
      retryAfter: string | null;
      responseBody: string;
      latencyMs: number;
    }
  | { kind: "error"; error: HttpAttemptErrorKind; message: string; latencyMs: number };

/** Sends one attempt; every failure is a result (`kind: "error"`), not a rejection. */
export interface AttemptSender {
  send(request: HttpAttemptRequest): Promise<HttpAttemptResult>;
}
