import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readBody } from "../request-body.ts";
import { invalidParameter, SqsError, unsupported } from "./errors.ts";
import { queueNameOf, type SqsStore } from "./store.ts";

/**
 * The local SQS over HTTP: the AWS JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.<Action>`,
 * `application/x-amz-json-1.0`) that the SDK v3 client and current AWS CLIs (v2, and v1 with
 * botocore ≥ 1.31) speak, with SQS's error shape (`__type` plus the query-compatible
 * `x-amzn-query-error` header the SDK reads). Long polling waits on the store's notifications and
 * on the next message's visibility time; a poll whose client went away is abandoned before it can
 * take a message (so no message is hidden by a request nobody reads). At the in-flight quota a
 * short poll answers OverLimit and a long poll waits (woken by a delete that makes room, or by a
 * visibility timeout's end) and answers empty if nothing frees up in time, as SQS does.
 *
 * `GET /_local-sqs/queues/<name>` shows every message of a queue without changing anything (the
 * tests' and operators' view). It lives on loopback only, and webhooks can never reach this port
 * (DENIED_DESTINATIONS, docs/security.md).
 */

export interface SqsServerOptions {
  readonly store: SqsStore;
  readonly region: string;
  /** Protocol and host the queue URLs use, e.g. http://127.0.0.1:4012 (the port may be filled in on listen). */
  baseUrl: string;
}

const JSON_CONTENT_TYPE = "application/x-amz-json-1.0";
const MAX_BODY_BYTES = 12 * 1024 * 1024;
const MAX_WAIT_SECONDS = 20;

type Handler = (input: Record<string, unknown>, options: SqsServerOptions, signal: AbortSignal) => unknown;

const ACTIONS: Record<string, Handler> = {
  CreateQueue: (input, o) => ({
    QueueUrl: o.store.createQueue(input.QueueName, input.Attributes, o.region, o.baseUrl),
  }),
  GetQueueUrl: (input, o) => ({ QueueUrl: o.store.queueUrlOf(input.QueueName, o.baseUrl) }),
  ListQueues: (input, o) => {
    const urls = o.store.listQueues(input.QueueNamePrefix, o.baseUrl);
    const max = typeof input.MaxResults === "number" ? input.MaxResults : 1000;
    return urls.length === 0 ? {} : { QueueUrls: urls.slice(0, max) };
  },
  DeleteQueue: (input, o) => {
    o.store.deleteQueue(queueNameOf(input.QueueUrl));
    return {};
  },
  GetQueueAttributes: (input, o) => ({
    Attributes: o.store.getQueueAttributes(queueNameOf(input.QueueUrl), input.AttributeNames, o.region),
  }),
  SetQueueAttributes: (input, o) => {
    o.store.setQueueAttributes(queueNameOf(input.QueueUrl), input.Attributes, o.region);
    return {};
  },
  PurgeQueue: (input, o) => {
    o.store.purgeQueue(queueNameOf(input.QueueUrl));
    return {};
  },
  SendMessage: (input, o) => o.store.sendMessage(queueNameOf(input.QueueUrl), input),
  SendMessageBatch: (input, o) => o.store.sendMessageBatch(queueNameOf(input.QueueUrl), input.Entries),
  DeleteMessage: (input, o) => {
    o.store.deleteMessage(queueNameOf(input.QueueUrl), input.ReceiptHandle);
    return {};
  },
  DeleteMessageBatch: (input, o) => o.store.deleteMessageBatch(queueNameOf(input.QueueUrl), input.Entries),
  ChangeMessageVisibility: (input, o) => {
    o.store.changeMessageVisibility(
      queueNameOf(input.QueueUrl),
      input.ReceiptHandle,
      input.VisibilityTimeout,
    );
    return {};
  },
  ChangeMessageVisibilityBatch: (input, o) =>
    o.store.changeMessageVisibilityBatch(queueNameOf(input.QueueUrl), input.Entries),
  ReceiveMessage: (input, o, signal) => receiveWithLongPoll(input, o, signal),
};

/** Long-poll waiters per queue, woken when a commit may have made a message receivable. */
class Waiters {
  private readonly byQueue = new Map<string, Set<() => void>>();

  wake(queue: string): void {
    const waiting = this.byQueue.get(queue);
    if (!waiting) return;
    this.byQueue.delete(queue);
    for (const wake of waiting) wake();
  }

  /** Resolves on a wake-up, at `untilMs`, or when `signal` aborts, whichever comes first. */
  wait(queue: string, untilMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const set = this.byQueue.get(queue) ?? new Set<() => void>();
      this.byQueue.set(queue, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, untilMs - Date.now()));
      signal.addEventListener("abort", done, { once: true });
      set.add(done);
    });
  }
}

const waitersByStore = new WeakMap<SqsStore, Waiters>();

function waitersOf(store: SqsStore): Waiters {
  let waiters = waitersByStore.get(store);
  if (waiters === undefined) {
    waiters = new Waiters();
    const created = waiters;
    store.onAvailable = (queue) => created.wake(queue);
    waitersByStore.set(store, waiters);
  }
  return waiters;
}

async function receiveWithLongPoll(
  input: Record<string, unknown>,
  options: SqsServerOptions,
  signal: AbortSignal,
): Promise<unknown> {
  const name = queueNameOf(input.QueueUrl);
  const { store } = options;
  const queueWait = Number(
    store.getQueueAttributes(name, ["ReceiveMessageWaitTimeSeconds"], options.region)
      .ReceiveMessageWaitTimeSeconds ?? 0,
  );
  const waitSeconds = input.WaitTimeSeconds ?? queueWait;
  const seconds = typeof waitSeconds === "string" ? Number(waitSeconds) : waitSeconds;
  if (
    typeof seconds !== "number" ||
    !Number.isInteger(seconds) ||
    seconds < 0 ||
    seconds > MAX_WAIT_SECONDS
  ) {
    throw invalidParameter(
      `Value ${String(waitSeconds)} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= ${MAX_WAIT_SECONDS}, if provided.`,
    );
  }
  const deadline = Date.now() + seconds * 1000;
  const waiters = waitersOf(store);
  for (;;) {
    if (signal.aborted) return {};
    let messages: unknown[] = [];
    try {
      messages = store.receiveMessage(name, input, options.region);
    } catch (error) {
      // At the in-flight quota a long poll gets no error, it waits and may come back empty
      // ("Amazon SQS queue quotas"); a short poll gets OverLimit.
      if (!(error instanceof SqsError && error.type === "OverLimit" && seconds > 0)) throw error;
    }
    if (messages.length > 0) return { Messages: messages };
    const now = Date.now();
    if (now >= deadline) return {};
    const next = store.nextVisibleAt(name);
    await waiters.wait(name, Math.min(deadline, next ?? deadline), signal);
  }
}

export function createSqsServer(options: SqsServerOptions): Server {
  const server = createServer((req, res) => {
    handle(req, res, options).catch((error: unknown) => {
      if (!res.headersSent)
        write(
          res,
          errorAnswer(
            new SqsError("InternalFailure", String(error), { statusCode: 500, senderFault: false }),
          ),
        );
      else res.destroy();
    });
  });
  // Long polls last up to 20 s; Node's default timeouts must not cut them.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 30_000;
  return server;
}

/** One answer of the local SQS, however the request came (HTTP, or a message: answerSqsRequest). */
export interface SqsAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

async function handle(req: IncomingMessage, res: ServerResponse, options: SqsServerOptions): Promise<void> {
  if (req.method === "GET" && req.url?.startsWith("/_local-sqs/queues/")) {
    const name = decodeURIComponent(req.url.slice("/_local-sqs/queues/".length).split("?")[0] ?? "");
    try {
      write(res, answer(200, options.store.inspect(name), "application/json"));
    } catch (error) {
      if (error instanceof SqsError) write(res, errorAnswer(error));
      else throw error;
    }
    return;
  }
  const body = await readBody(req, MAX_BODY_BYTES);
  // A client that hangs up ends its long poll before the poll can take a message for nobody.
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  const target = req.headers["x-amz-target"];
  const result = await answerSqsRequest(
    options,
    {
      method: req.method ?? "GET",
      target: typeof target === "string" ? target : undefined,
      body: body === undefined ? undefined : body.toString("utf8"),
    },
    abort.signal,
  );
  if (abort.signal.aborted && !res.writableEnded && res.destroyed) return;
  write(res, result);
}

/**
 * The SQS JSON protocol's answer to one request: the HTTP server's, and the in-process transport's
 * (local/sqs/index.ts) that the stack's own clients use (shared/adapters/local-endpoints.ts).
 * `body` undefined: the request was over the size limit.
 */
export async function answerSqsRequest(
  options: SqsServerOptions,
  request: {
    readonly method: string;
    readonly target: string | undefined;
    readonly body: string | undefined;
  },
  signal: AbortSignal,
): Promise<SqsAnswer> {
  const { target, body } = request;
  if (body === undefined) return errorAnswer(invalidParameter("The request is too large."));
  if (request.method !== "POST" || target === undefined || !target.startsWith("AmazonSQS.")) {
    return errorAnswer(
      unsupported(
        "The local SQS speaks the AWS JSON protocol only (X-Amz-Target: AmazonSQS.<Action>): use the AWS SDK v3, AWS CLI v2, or AWS CLI v1 with botocore >= 1.31.",
      ),
    );
  }
  const action = ACTIONS[target.slice("AmazonSQS.".length)];
  if (action === undefined) {
    return errorAnswer(
      new SqsError("InvalidAction", `The action ${target.slice(10)} is not valid for this endpoint.`),
    );
  }
  let input: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(body || "{}");
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error("not an object");
    input = parsed as Record<string, unknown>;
  } catch {
    return errorAnswer(new SqsError("SerializationException", "The request body is not a JSON object."));
  }
  try {
    return answer(200, await action(input, options, signal), JSON_CONTENT_TYPE);
  } catch (error) {
    if (error instanceof SqsError) return errorAnswer(error);
    return errorAnswer(
      new SqsError("InternalFailure", String(error), { statusCode: 500, senderFault: false }),
    );
  }
}

function answer(
  status: number,
  payload: unknown,
  contentType: string,
  headers: Record<string, string> = {},
): SqsAnswer {
  return {
    status,
    headers: { "content-type": contentType, "x-amzn-requestid": randomUUID(), ...headers },
    body: JSON.stringify(payload),
  };
}

function errorAnswer(error: SqsError): SqsAnswer {
  return answer(
    error.statusCode,
    { __type: `com.amazonaws.sqs#${error.type}`, message: error.message },
    JSON_CONTENT_TYPE,
    { "x-amzn-query-error": `${error.queryCode};${error.senderFault ? "Sender" : "Receiver"}` },
  );
}

function write(res: ServerResponse, { status, headers, body }: SqsAnswer): void {
  res.writeHead(status, { ...headers, "content-length": Buffer.byteLength(body) });
  res.end(body);
}
