import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { type RunningSqs, runSqs, type SqsRunOptions } from "./run.ts";
import { answerSqsRequest } from "./server.ts";

/**
 * The worker thread that runs the local SQS (store and HTTP server) off the main thread, so that its
 * SQLite writes and JSON work use a core of their own. Talks to local/sqs/index.ts by messages:
 * `listening` once bound (or `failed`), then answers `release` and `close` requests. The stack's own
 * SDK clients reach it through `transport`, a port of their own (local/sqs/index.ts, inProcessCall).
 */

/** A request of the in-process transport, or the abort of one still waiting (a long poll). */
export type TransportMessage =
  | {
      readonly id: number;
      readonly method: string;
      readonly target: string | undefined;
      readonly body: string;
    }
  | { readonly abort: number };

interface Request {
  readonly id: number;
  readonly op: "release" | "close";
  readonly queues?: readonly string[];
}

const port = parentPort;
if (port === null) throw new Error("local/sqs/worker.ts must run in a worker thread");

const { transport, ...options } = workerData as SqsRunOptions & { transport: MessagePort };
let running: RunningSqs | undefined;
try {
  running = await runSqs(options);
  port.postMessage({ type: "listening", port: running.port });
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  port.postMessage({ type: "failed", code, message: error instanceof Error ? error.message : String(error) });
}

const aborts = new Map<number, AbortController>();
transport.on("message", (message: TransportMessage) => {
  if ("abort" in message) {
    aborts.get(message.abort)?.abort();
    return;
  }
  const sqs = running;
  if (sqs === undefined) return;
  const abort = new AbortController();
  aborts.set(message.id, abort);
  answerSqsRequest(sqs.serverOptions, message, abort.signal).then(
    (answer) => {
      aborts.delete(message.id);
      transport.postMessage({ id: message.id, ...answer });
    },
    (error: unknown) => {
      aborts.delete(message.id);
      transport.postMessage({ id: message.id, error: String(error) });
    },
  );
});

port.on("message", (request: Request) => {
  if (running === undefined) return;
  if (request.op === "release") {
    try {
      port.postMessage({
        type: "reply",
        id: request.id,
        result: running.store.releaseUnchangedReceives(request.queues ?? []),
      });
    } catch (error) {
      port.postMessage({ type: "reply", id: request.id, error: String(error) });
    }
  } else if (request.op === "close") {
    transport.close();
    for (const abort of aborts.values()) abort.abort();
    running.close().then(
      () => {
        port.postMessage({ type: "reply", id: request.id, result: 0 });
        port.close();
      },
      (error: unknown) => port.postMessage({ type: "reply", id: request.id, error: String(error) }),
    );
  }
});
