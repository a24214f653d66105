/**
 * Endpoints that the running process serves itself: the local stack's stand-ins for DynamoDB, SQS
 * and EventBridge (docs/local.md, "How the stack's parts talk"). A client created for such an
 * endpoint keeps everything of the AWS SDK that a deployment runs — its commands, middleware,
 * serialisation, retries and error parsing — and changes two things only:
 *
 * - **No SigV4.** The stand-ins never check a signature (they cannot: the secret is not one); they
 *   check the access key id, the stack key (local/stack-key.ts). The client states it in a
 *   well-formed `Authorization` header without computing the canonical request, its hashes and the
 *   HMAC chain, which were a fifth of the stack's CPU per delivery (docs/benchmarks.md).
 * - **An in-process transport** where the stand-in offers one (the SQS store in its worker thread,
 *   dynalite in its child process by IPC): the serialised request goes to it as a message instead of
 *   through a loopback socket, an HTTP parser and back. Nothing crosses the machine's network, so nothing else on it can reach the
 *   stand-in this way; external clients (the AWS CLI, another process's SDK) still come over HTTP and
 *   still need the stack key.
 *
 * On AWS no endpoint is overridden and nothing is registered: clients sign and send as always.
 */

import type {
  AwsCredentialIdentity,
  HttpAuthScheme,
  HttpHandlerOptions,
  HttpRequest,
  HttpResponse,
  HttpSigner,
  RequestHandler,
} from "@smithy/types";

/** The serialised request as the SDK's transport receives it (JSON protocols: a string body). */
export interface InProcessRequest {
  readonly method: string;
  /** Path and query, e.g. "/". */
  readonly path: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface InProcessResponse {
  readonly statusCode: number;
  /** Lower-case header names. */
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Answers one request. `signal` aborts it when the SDK call is aborted (a long poll whose caller
 * left must not take messages for nobody, as an HTTP client's hang-up does).
 */
export type InProcessTransport = (
  request: InProcessRequest,
  signal: AbortSignal | undefined,
) => Promise<InProcessResponse>;

export interface LocalEndpoint {
  /** Absent: the endpoint is reached over HTTP as usual (the EventBridge stand-in), unsigned. */
  readonly transport?: InProcessTransport;
}

const served = new Map<string, LocalEndpoint>();

function keyOf(endpoint: string): string | undefined {
  try {
    return new URL(endpoint).origin;
  } catch {
    return undefined;
  }
}

/**
 * Declares `endpoint` one of this process's own stand-ins; clients created for it afterwards use
 * it as described above. The returned function withdraws it (the stack stops).
 */
export function registerLocalEndpoint(endpoint: string, local: LocalEndpoint): () => void {
  const key = keyOf(endpoint);
  if (key === undefined) throw new TypeError(`not an endpoint URL: ${endpoint}`);
  served.set(key, local);
  return () => {
    if (served.get(key) === local) served.delete(key);
  };
}

/** A smithy HttpHandler over an in-process transport. */
class InProcessRequestHandler implements RequestHandler<HttpRequest, HttpResponse, HttpHandlerOptions> {
  readonly metadata = { handlerProtocol: "in-process" };

  constructor(private readonly transport: InProcessTransport) {}

  async handle(request: HttpRequest, options: HttpHandlerOptions = {}): Promise<{ response: HttpResponse }> {
    const signal = options.abortSignal as AbortSignal | undefined;
    if (signal?.aborted) throw abortError();
    const response = await this.transport(
      {
        method: request.method,
        path: pathOf(request),
        headers: request.headers,
        body: bodyText(request.body),
      },
      signal,
    );
    if (signal?.aborted) throw abortError();
    return {
      response: {
        statusCode: response.statusCode,
        headers: response.headers,
        body: Buffer.from(response.body),
      },
    };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {}
}

function pathOf(request: HttpRequest): string {
  const query = request.query ?? {};
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      parts.push(
        one === null ? encodeURIComponent(name) : `${encodeURIComponent(name)}=${encodeURIComponent(one)}`,
      );
    }
  }
  return parts.length === 0 ? request.path : `${request.path}?${parts.join("&")}`;
}

function bodyText(body: unknown): string {
  if (body === undefined || body === null) return "";
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array)
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  throw new TypeError("the in-process transport carries string or byte bodies only");
}

/** What the SDK's own handlers throw for an aborted request (its retry strategy does not retry it). */
function abortError(): Error {
  const error = new Error("Request aborted");
  error.name = "AbortError";
  return error;
}

/**
 * States the access key id as SigV4's header does (Credential=<key>/<date>/<region>/<service>/…),
 * with the X-Amz-Date that dynalite requires beside it, and computes nothing: the stand-ins read the
 * key and never the signature.
 */
const keyOnlySigner: HttpSigner = {
  async sign(request, identity, properties) {
    const now = new Date().toISOString();
    const amzDate = `${now.slice(0, 4)}${now.slice(5, 7)}${now.slice(8, 13)}${now.slice(14, 16)}${now.slice(17, 19)}Z`;
    // The SDK's auth scheme provider names them `region` and `name` (the SigV4 signer's signingRegion, signingName).
    const region = String(properties.signingRegion ?? properties.region ?? "us-east-1");
    const service = String(properties.signingName ?? properties.name ?? "local");
    request.headers["x-amz-date"] = amzDate;
    request.headers.authorization = `AWS4-HMAC-SHA256 Credential=${(identity as AwsCredentialIdentity).accessKeyId}/${amzDate.slice(0, 8)}/${region}/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${UNSIGNED}`;
    return request;
  },
};
const UNSIGNED = "0".repeat(64);

/**
 * The client options for `endpoint`: the in-process transport and the key-only signer when this
 * process serves it; nothing otherwise (the SDK's defaults: HTTP and SigV4).
 */
export function localEndpointClientOptions(endpoint: string | undefined): {
  requestHandler?: RequestHandler<HttpRequest, HttpResponse, HttpHandlerOptions>;
  httpAuthSchemes?: HttpAuthScheme[];
} {
  const key = endpoint === undefined ? undefined : keyOf(endpoint);
  const local = key === undefined ? undefined : served.get(key);
  if (local === undefined) return {};
  return {
    ...(local.transport === undefined
      ? {}
      : { requestHandler: new InProcessRequestHandler(local.transport) }),
    httpAuthSchemes: [
      {
        schemeId: "aws.auth#sigv4",
        identityProvider: (config) => config.getIdentityProvider("aws.auth#sigv4"),
        signer: keyOnlySigner,
      },
    ],
  };
}
