import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { invokeLambda, type LambdaFunctionSpec, type LambdaHandlerFn } from "./lambda-runtime.ts";
import { readBody } from "./request-body.ts";

/**
 * Lambda's Invoke API (`POST /2015-03-31/functions/{FunctionName}/invocations`) for the local
 * stack's functions that are invoked directly: what `@aws-sdk/client-lambda`'s InvokeCommand (and
 * `aws lambda invoke`) call, so that a tool invokes a local function exactly as it invokes the
 * deployed one. The operators' redrive (scripts/ops.ts) invokes the router this way with an
 * original event, so that its id, and every webhook-id derived from it, is kept.
 *
 * Invocation types (Lambda API Reference, Invoke): `RequestResponse` (default) runs the function and
 * answers 200 with its result, or with `X-Amz-Function-Error: Unhandled` and the error when it threw;
 * `Event` queues an asynchronous invocation (Lambda's retries and on-failure destination apply) and
 * answers 202; `DryRun` answers 204. An unknown function is a 404 ResourceNotFoundException.
 */

/** Lambda's synchronous payload limit (6 MB, Lambda quotas). */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/**
 * Lambda's asynchronous payload limit, 1 MB (Lambda API Reference, Invoke: "For asynchronous
 * invocations, the maximum payload size is 1 MB"), less what the local invocation queue's message
 * adds around the payload (an SQS message holds 1 MiB at most).
 */
export const MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024 - 256;

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export interface InvocableFunction {
  readonly spec: LambdaFunctionSpec;
  readonly handler: LambdaHandlerFn<unknown, unknown>;
  /**
   * Queues an asynchronous invocation (InvocationType Event) of the payload as it was sent (JSON
   * text); resolves with its request id once the invocation is durably queued.
   */
  readonly invokeAsync: (payloadJson: string) => Promise<string>;
}

/** Whether a request is for the Invoke API (the rest of the port serves EventBridge). */
export function isLambdaInvokeRequest(req: IncomingMessage): boolean {
  return INVOKE_PATH.test((req.url ?? "").split("?")[0] ?? "");
}

/** A FunctionName as Invoke accepts it: a name, a full or partial ARN, optionally with `:$LATEST`. */
function functionNameOf(raw: string): string {
  const decoded = decodeURIComponent(raw);
  const arn = /^(?:arn:aws[a-z-]*:lambda:[^:]+:\d+:function:|\d+:function:)?([^:]+)(?::\$LATEST)?$/.exec(
    decoded,
  );
  return arn?.[1] ?? decoded;
}

export function lambdaInvokeRequestListener(
  functions: ReadonlyMap<string, InvocableFunction>,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(functions, req, res).catch((error: unknown) => {
      if (!res.headersSent)
        sendError(res, 500, "ServiceException", error instanceof Error ? error.message : String(error));
      else res.destroy();
    });
  };
}

async function handle(
  functions: ReadonlyMap<string, InvocableFunction>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const match = INVOKE_PATH.exec((req.url ?? "").split("?")[0] ?? "");
  if (req.method !== "POST" || !match?.[1]) {
    sendError(
      res,
      404,
      "UnknownOperationException",
      `the local Lambda API implements Invoke only (got ${req.method} ${req.url})`,
    );
    return;
  }
  const name = functionNameOf(match[1]);
  const fn = functions.get(name);
  if (fn === undefined) {
    sendError(
      res,
      404,
      "ResourceNotFoundException",
      `Function not found: ${name} (the local stack invokes ${[...functions.keys()].join(", ")} directly)`,
    );
    return;
  }
  const body = await readBody(req, MAX_PAYLOAD_BYTES);
  if (body === undefined) {
    sendError(
      res,
      413,
      "RequestTooLargeException",
      `Request must be smaller than ${MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation`,
    );
    return;
  }
  let event: unknown;
  try {
    event = body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
  } catch {
    sendError(res, 400, "InvalidRequestContentException", "Could not parse request body into json");
    return;
  }
  const type = String(req.headers["x-amz-invocation-type"] ?? "RequestResponse");
  if (type === "DryRun") {
    res.writeHead(204, { "x-amzn-requestid": randomUUID() }).end();
    return;
  }
  if (type === "Event") {
    if (body.length > MAX_ASYNC_PAYLOAD_BYTES) {
      sendError(
        res,
        413,
        "RequestTooLargeException",
        `Request must be smaller than ${MAX_ASYNC_PAYLOAD_BYTES} bytes for an asynchronous invocation`,
      );
      return;
    }
    const requestId = await fn.invokeAsync(body.length === 0 ? "{}" : body.toString("utf8"));
    res.writeHead(202, { "x-amzn-requestid": requestId, "content-length": 0 }).end();
    return;
  }
  if (type !== "RequestResponse") {
    sendError(res, 400, "InvalidParameterValueException", `invalid InvocationType ${type}`);
    return;
  }
  const requestId = randomUUID();
  let payload: string;
  let functionError = false;
  try {
    payload = JSON.stringify((await invokeLambda(fn.spec, fn.handler, event, requestId)) ?? null);
  } catch (error) {
    functionError = true;
    payload = JSON.stringify({
      errorType: error instanceof Error ? error.name : "Error",
      errorMessage: error instanceof Error ? error.message : String(error),
      trace: error instanceof Error && error.stack ? error.stack.split("\n") : [],
    });
  }
  res.writeHead(200, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    "x-amzn-requestid": requestId,
    "x-amz-executed-version": "$LATEST",
    ...(functionError ? { "x-amz-function-error": "Unhandled" } : {}),
  });
  res.end(payload);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ Type: status >= 500 ? "Service" : "User", message });
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-amzn-errortype": type,
    "x-amzn-requestid": randomUUID(),
  });
  res.end(body);
}
