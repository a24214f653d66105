import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { MAX_VISIBILITY_TIMEOUT_SECONDS } from "#shared/domain/aws-limits.ts";

/**
 * An SQS endpoint in front of another (fauxqs) that enforces what the emulator does not: the 12-hour
 * visibility ceiling counted from each receive. SQS refuses a ChangeMessageVisibility whose new
 * timeout would end more than 43,200 s after the receive that returned the receipt handle (SQS API
 * Reference, ChangeMessageVisibility; SQS Developer Guide, "Amazon SQS visibility timeout"), with the
 * error below (text as quoted in localstack/localstack#3956); the ceiling starts again at the next
 * receive. fauxqs only checks 0–43,200, so without this a delay that AWS refuses passes every test.
 *
 * It speaks the AWS JSON protocol the SDK v3 SQS client uses, forwards every request unchanged, and
 * remembers the time of each receive by receipt handle. `clock` lets tests move time forward.
 */
export interface VisibilityCeilingProxy {
  readonly endpoint: string;
  /** Visibility changes refused so far (what AWS would have refused). */
  readonly refused: readonly {
    receiptHandle: string;
    visibilityTimeout: number;
    secondsSinceReceive: number;
  }[];
  stop(): Promise<void>;
}

export const VISIBILITY_LIMIT_ERROR =
  "Value {0} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]";

const TARGET_HEADER = "x-amz-target";
const MAX_TRACKED_RECEIPTS = 200_000;

export async function startVisibilityCeilingProxy(options: {
  upstream: string;
  clock?: () => number;
}): Promise<VisibilityCeilingProxy> {
  const clock = options.clock ?? Date.now;
  const receivedAt = new Map<string, number>();
  const refused: { receiptHandle: string; visibilityTimeout: number; secondsSinceReceive: number }[] = [];

  const remember = (receiptHandle: string, at: number) => {
    if (receivedAt.size >= MAX_TRACKED_RECEIPTS) {
      const oldest = receivedAt.keys().next();
      if (!oldest.done) receivedAt.delete(oldest.value);
    }
    receivedAt.set(receiptHandle, at);
  };

  /** The refusal message for one change, or null when AWS would accept it. */
  const check = (receiptHandle: unknown, visibilityTimeout: unknown): string | null => {
    if (typeof receiptHandle !== "string" || typeof visibilityTimeout !== "number") return null;
    const at = receivedAt.get(receiptHandle);
    if (at === undefined) return null;
    const now = clock();
    if (now + visibilityTimeout * 1000 <= at + MAX_VISIBILITY_TIMEOUT_SECONDS * 1000) return null;
    refused.push({ receiptHandle, visibilityTimeout, secondsSinceReceive: (now - at) / 1000 });
    return VISIBILITY_LIMIT_ERROR.replace("{0}", String(visibilityTimeout));
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`visibility-ceiling proxy: ${error instanceof Error ? error.message : String(error)}`);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const target = String(req.headers[TARGET_HEADER] ?? "");
    const operation = target.startsWith("AmazonSQS.") ? target.slice("AmazonSQS.".length) : "";

    if (operation === "ChangeMessageVisibility") {
      const input = JSON.parse(body.toString("utf8")) as {
        ReceiptHandle?: unknown;
        VisibilityTimeout?: unknown;
      };
      const problem = check(input.ReceiptHandle, input.VisibilityTimeout);
      if (problem !== null) {
        res.writeHead(400, {
          "content-type": "application/x-amz-json-1.0",
          "x-amzn-query-error": "InvalidParameterValue;Sender",
        });
        res.end(JSON.stringify({ __type: "com.amazonaws.sqs#InvalidParameterValue", message: problem }));
        return;
      }
    }
    let forwarded = body;
    if (operation === "ChangeMessageVisibilityBatch") {
      const input = JSON.parse(body.toString("utf8")) as {
        QueueUrl: string;
        Entries?: { Id: string; ReceiptHandle?: unknown; VisibilityTimeout?: unknown }[];
      };
      const failed = (input.Entries ?? []).flatMap((entry) => {
        const problem = check(entry.ReceiptHandle, entry.VisibilityTimeout);
        return problem === null
          ? []
          : [{ Id: entry.Id, Code: "InvalidParameterValue", Message: problem, SenderFault: true }];
      });
      if (failed.length > 0) {
        const failedIds = new Set(failed.map((f) => f.Id));
        const accepted = (input.Entries ?? []).filter((entry) => !failedIds.has(entry.Id));
        const upstream =
          accepted.length > 0
            ? await forward(req, Buffer.from(JSON.stringify({ ...input, Entries: accepted })))
            : null;
        const upstreamBody = upstream
          ? ((await upstream.json()) as { Successful?: unknown[]; Failed?: unknown[] })
          : {};
        res.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
        res.end(
          JSON.stringify({
            Successful: upstreamBody.Successful ?? [],
            Failed: [...(upstreamBody.Failed ?? []), ...failed],
          }),
        );
        return;
      }
      forwarded = body;
    }

    const response = await forward(req, forwarded);
    const responseBody = Buffer.from(await response.arrayBuffer());
    if (operation === "ReceiveMessage" && response.ok) {
      const at = clock();
      const parsed = JSON.parse(responseBody.toString("utf8") || "{}") as {
        Messages?: { ReceiptHandle?: string }[];
      };
      for (const message of parsed.Messages ?? [])
        if (message.ReceiptHandle) remember(message.ReceiptHandle, at);
    }
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (name !== "content-length" && name !== "transfer-encoding" && name !== "connection")
        headers[name] = value;
    });
    res.writeHead(response.status, headers);
    res.end(responseBody);
  }

  function forward(req: IncomingMessage, body: Buffer): Promise<Response> {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name === "host" || name === "content-length" || name === "connection")
        continue;
      headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    return fetch(new URL(req.url ?? "/", options.upstream), {
      method: req.method ?? "POST",
      headers,
      ...(req.method === "GET" || req.method === "HEAD" ? {} : { body }),
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    refused,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
