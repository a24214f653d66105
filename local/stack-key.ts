/**
 * Each local stack's emulators (DynamoDB, SQS, the EventBridge and Lambda endpoint) answer only its
 * own clients. Several stacks run on one machine (a second `npm start`, a test run, the bench), and
 * a webhook one of them sends, or anything else on 127.0.0.1, could otherwise read another stack's
 * queues (other tenants' payloads) or invoke its router: loopback is no boundary between them.
 *
 * The boundary is an access key id of the stack's own ("the stack key"), which every AWS client
 * already sends: SigV4's `Authorization: AWS4-HMAC-SHA256 Credential=<access key id>/<date>/…`
 * header (or `X-Amz-Credential` in a presigned URL). The stack's SDK clients and its functions sign
 * with it (AWS_ACCESS_KEY_ID), the handlers keep the real AWS SDK clients untouched, and the AWS CLI,
 * boto3 or the Go SDK work with it as their access key id. A request without it is refused as AWS
 * refuses an unknown key: 403 UnrecognizedClientException. The signature itself is not checked (the
 * secret is not one): a webhook cannot sign, and nothing on the machine learns the key unless it
 * reads the owner's files.
 *
 * The repository's CLIs (keys, emit, ops, demo) find the key of the stack on a port in a file the
 * stack writes for each port it serves, readable by its user only (scripts/lib/local-stack.ts).
 *
 * Run by Node directly in dynalite's child process (type stripping): erasable TypeScript and node:
 * built-ins only.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";

/** A new stack key: `LOCAL` and 20 random hex digits (an access key id's shape: upper case, ≤ 128). */
export function newStackKey(): string {
  return `LOCAL${randomBytes(10).toString("hex").toUpperCase()}`;
}

/** The access key id a request was signed with, if any. */
export function requestAccessKeyId(req: IncomingMessage): string | undefined {
  const authorization = req.headers.authorization;
  if (typeof authorization === "string") {
    const credential = /Credential=([^/,\s]+)\//.exec(authorization)?.[1];
    if (credential !== undefined) return credential;
  }
  const query = req.url?.indexOf("?") ?? -1;
  if (query >= 0 && req.url !== undefined) {
    const credential = new URLSearchParams(req.url.slice(query + 1)).get("X-Amz-Credential");
    if (credential) return credential.split("/")[0];
  }
  return undefined;
}

export function signedWithStackKey(req: IncomingMessage, stackKey: string): boolean {
  const given = Buffer.from(requestAccessKeyId(req) ?? "");
  const expected = Buffer.from(stackKey);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** AWS's answer to a request signed with an access key id it does not know. */
export function refuseForeignRequest(res: ServerResponse): void {
  const body = JSON.stringify({
    __type: "UnrecognizedClientException",
    message: "The security token included in the request is invalid.",
  });
  res.writeHead(403, {
    "content-type": "application/x-amz-json-1.0",
    "content-length": Buffer.byteLength(body),
    "x-amzn-errortype": "UnrecognizedClientException",
    connection: "close",
  });
  res.end(body);
}

/** Puts the check in front of every request listener the server has. */
export function requireStackKey(server: Server, stackKey: string): void {
  const listeners = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (!signedWithStackKey(req, stackKey)) {
      req.resume();
      refuseForeignRequest(res);
      return;
    }
    for (const listener of listeners) listener.call(server, req, res);
  });
}
