import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { FinalizeRequestMiddleware, HandlerExecutionContext } from "@smithy/types";
import type { DynamoRequest } from "./dynamo-units.ts";

/**
 * Counts every AWS API request made by any SDK v3 client in this process — the handler modules'
 * own clients included, without touching product code. Every client class (DynamoDB, SQS,
 * EventBridge, the document client) extends one smithy `Client` (a single instance of the module:
 * Node resolves @smithy/core's CommonJS build for every importer). Its `send` is wrapped so that
 * the first call of each client adds a finalizeRequest middleware after the retry middleware:
 * every HTTP request on the wire is counted, retries included, by the operation in its
 * `x-amz-target` header. DynamoDB request bodies are kept (when asked) to compute request units:
 * in a temporary file, not in this process's heap, whose RSS the e2e section reports as the stack's
 * (a 60 s run's ~100,000 bodies were tens of MB of strings held to the end, and work for every
 * major GC).
 */

interface MiddlewareStack {
  add(
    middleware: FinalizeRequestMiddleware<object, object>,
    options: { step: "finalizeRequest"; name: string; priority: "low" },
  ): void;
}
interface SmithyClient {
  middlewareStack: MiddlewareStack;
}
type Send = (this: SmithyClient, ...args: unknown[]) => unknown;

export interface SdkMeter {
  /** Counting happens only while active; requests made outside are ignored. */
  active: boolean;
  readonly byOperation: Map<string, number>;
  /** DynamoDB requests kept since the last reset (their bodies in the spool file). */
  readonly dynamoRequestCount: number;
  /** The kept DynamoDB requests as sent (bodies parsed only when read, outside the measured window). */
  parsedDynamoRequests(): DynamoRequest[];
  /** PutEvents entries (EventBridge bills per event, not per call). */
  eventbridgeEntries: number;
  reset(): void;
  snapshot(): Record<string, number>;
  total(prefix?: string): number;
  /** Restores the original `send`. */
  uninstall(): void;
}

const SERVICES: Record<string, string> = {
  DynamoDB_20120810: "dynamodb",
  AmazonSQS: "sqs",
  AWSEvents: "eventbridge",
};

let installed: SdkMeter | undefined;

export interface SdkMeterOptions {
  readonly keepDynamoBodies?: boolean;
  /**
   * Queues whose requests are not AWS requests of the deployed system: the local stack's stand-ins
   * for queues that AWS runs inside a service and does not bill (Lambda's asynchronous invocation
   * queue, local/stack.ts ROUTER_ASYNC_QUEUE_NAME). Requests naming them are not counted.
   */
  readonly ignoredQueueNames?: readonly string[];
  /**
   * Queues that EventBridge's rule targets fill on AWS: EventBridge invokes a target once per event
   * (the rule's `Invocations` metric counts one per event, "Monitoring Amazon EventBridge"), so each
   * event is one SQS SendMessage request on the bill. The local bus's target coalesces one PutEvents
   * call's events into SendMessageBatch calls to spare the laptop's CPU (local/eventbridge-sqs-target.ts);
   * a batch to these queues is counted as one `sqs.SendMessage` per entry, as AWS would bill it.
   */
  readonly perEventQueueNames?: readonly string[];
}

export function installSdkMeter(options: SdkMeterOptions = {}): SdkMeter {
  if (installed) throw new Error("an SDK meter is already installed in this process");
  const clientPrototype = Object.getPrototypeOf(DynamoDBClient.prototype) as { send: Send };
  const original = clientPrototype.send;
  const instrumented = new WeakSet<object>();
  const spool = options.keepDynamoBodies === true ? openSpool() : undefined;
  let dynamoRequestCount = 0;
  const meter: SdkMeter = {
    active: false,
    byOperation: new Map(),
    get dynamoRequestCount() {
      return dynamoRequestCount;
    },
    eventbridgeEntries: 0,
    reset() {
      this.byOperation.clear();
      spool?.clear();
      dynamoRequestCount = 0;
      this.eventbridgeEntries = 0;
    },
    parsedDynamoRequests() {
      return (spool?.read() ?? []).map(({ operation, text }) => ({
        operation,
        body: (parseBody(text) ?? {}) as Record<string, unknown>,
      }));
    },
    snapshot() {
      return Object.fromEntries([...this.byOperation.entries()].sort());
    },
    total(prefix = "") {
      let sum = 0;
      for (const [key, n] of this.byOperation) if (key.startsWith(prefix)) sum += n;
      return sum;
    },
    uninstall() {
      clientPrototype.send = original;
      spool?.close();
      installed = undefined;
    },
  };
  const middleware: FinalizeRequestMiddleware<object, object> =
    (next, context: HandlerExecutionContext) => async (args) => {
      if (meter.active && !namesQueue(args.request, options.ignoredQueueNames ?? [])) {
        const events = eventTargetBatchEntries(args.request, options.perEventQueueNames ?? []);
        if (events !== null) count(meter, "sqs.SendMessage", events);
        else if (record(meter, args.request, context, spool)) dynamoRequestCount++;
      }
      return next(args);
    };
  clientPrototype.send = function (this: SmithyClient, ...args: unknown[]) {
    if (!instrumented.has(this.middlewareStack)) {
      instrumented.add(this.middlewareStack);
      this.middlewareStack.add(middleware, {
        step: "finalizeRequest",
        name: "benchSdkMeter",
        priority: "low",
      });
    }
    return original.apply(this, args);
  };
  installed = meter;
  return meter;
}

/** Counts one request; true when a DynamoDB body went to the spool. */
function record(
  meter: SdkMeter,
  request: unknown,
  context: HandlerExecutionContext,
  spool: Spool | undefined,
): boolean {
  const http = request as { headers?: Record<string, string>; body?: unknown };
  const target = amzTarget(request);
  let service: string | undefined;
  let operation: string;
  if (target) {
    const [prefix = "", op = ""] = target.split(".");
    service = SERVICES[prefix] ?? prefix.toLowerCase();
    operation = op;
  } else {
    // Query-protocol SQS or an unknown client: fall back to the command's name.
    const body = bodyText(http.body) ?? "";
    const action = /(?:^|&)Action=(\w+)/.exec(body)?.[1];
    service = action
      ? "sqs"
      : String(context.clientName ?? "unknown")
          .replace(/Client$/, "")
          .toLowerCase();
    operation = action ?? String(context.commandName ?? "unknown").replace(/Command$/, "");
  }
  const key = `${service}.${operation}`;
  count(meter, key, 1);
  if (service === "eventbridge" && operation === "PutEvents") {
    const entries = (parseBody(http.body) as { Entries?: unknown[] } | undefined)?.Entries;
    meter.eventbridgeEntries += entries?.length ?? 1;
  }
  if (spool !== undefined && service === "dynamodb") {
    const text = bodyText(http.body);
    if (text !== undefined) {
      spool.append(operation, text);
      return true;
    }
  }
  return false;
}

function count(meter: SdkMeter, key: string, n: number): void {
  meter.byOperation.set(key, (meter.byOperation.get(key) ?? 0) + n);
}

/** The operation header of a JSON-protocol request (`AmazonSQS.SendMessage`, …), if any. */
function amzTarget(request: unknown): string | undefined {
  const headers = (request as { headers?: Record<string, string> }).headers;
  return headers?.["x-amz-target"] ?? headers?.["X-Amz-Target"];
}

/** A SendMessageBatch to one of `queueNames`: its number of entries; otherwise null. */
function eventTargetBatchEntries(request: unknown, queueNames: readonly string[]): number | null {
  if (amzTarget(request) !== "AmazonSQS.SendMessageBatch" || !namesQueue(request, queueNames)) return null;
  const entries = (parseBody((request as { body?: unknown }).body) as { Entries?: unknown[] } | undefined)
    ?.Entries;
  return entries?.length ?? 1;
}

/** Whether an SQS request (JSON protocol) names one of the queues in its `QueueUrl`. */
function namesQueue(request: unknown, queueNames: readonly string[]): boolean {
  if (queueNames.length === 0) return false;
  const http = request as { body?: unknown };
  if (!(amzTarget(request) ?? "").startsWith("AmazonSQS.")) return false;
  // The top-level QueueUrl as the SDK serialises it, found without parsing the whole body (a
  // SendMessageBatch's bodies are kilobytes, and this runs inside the measured window).
  const queueUrl = QUEUE_URL.exec(bodyText(http.body) ?? "")?.[1];
  return queueUrl !== undefined && queueNames.some((name) => queueUrl.endsWith(`/${name}`));
}
const QUEUE_URL = /"QueueUrl":"([^"\\]*)"/;

interface Spool {
  append(operation: string, text: string): void;
  read(): { operation: string; text: string }[];
  clear(): void;
  close(): void;
}

/**
 * Request bodies in a temporary file, one per line (`operation\tbody`: JSON has no raw tab or
 * newline). Synchronous appends: a few microseconds each, and nothing to flush before reading.
 */
function openSpool(): Spool {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-sdk-meter-"));
  const file = path.join(dir, "dynamodb-requests");
  const fd = openSync(file, "a+");
  return {
    append(operation, text) {
      writeSync(fd, `${operation}\t${text}\n`);
    },
    read() {
      return readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => {
          const tab = line.indexOf("\t");
          return { operation: line.slice(0, tab), text: line.slice(tab + 1) };
        });
    },
    clear() {
      ftruncateSync(fd, 0);
    },
    close() {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function bodyText(body: unknown): string | undefined {
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array)
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  return undefined;
}

function parseBody(body: unknown): unknown {
  const text = bodyText(body);
  if (text === undefined || text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
