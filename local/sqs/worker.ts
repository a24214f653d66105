import { parentPort, workerData } from "node:worker_threads";
import { type RunningSqs, runSqs, type SqsRunOptions } from "./run.ts";

/**
 * The worker thread that runs the local SQS (store and HTTP server) off the main thread, so that its
 * SQLite writes and JSON work use a core of their own. Talks to local/sqs/index.ts by messages:
 * `listening` once bound (or `failed`), then answers `release` and `close` requests.
 */

interface Request {
  readonly id: number;
  readonly op: "release" | "close";
  readonly queues?: readonly string[];
}

const port = parentPort;
if (port === null) throw new Error("local/sqs/worker.ts must run in a worker thread");

let running: RunningSqs | undefined;
try {
  running = await runSqs(workerData as SqsRunOptions);
  port.postMessage({ type: "listening", port: running.port });
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  port.postMessage({ type: "failed", code, message: error instanceof Error ? error.message : String(error) });
}

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
    running.close().then(
      () => {
        port.postMessage({ type: "reply", id: request.id, result: 0 });
        port.close();
      },
      (error: unknown) => port.postMessage({ type: "reply", id: request.id, error: String(error) }),
    );
  }
});
