import { getHeapStatistics, type HeapInfo } from "node:v8";
import { MessageChannel, Worker } from "node:worker_threads";
import type { InProcessResponse, InProcessTransport } from "#shared/adapters/local-endpoints.ts";
import { runSqs, type SqsRunOptions } from "./run.ts";
import { answerSqsRequest, type SqsAnswer } from "./server.ts";
import type { TransportMessage } from "./worker.ts";

/**
 * The local SQS (docs/local.md, "SQS"): durable queues in SQLite, served over the SQS JSON protocol.
 * By default it runs in a worker thread of its own (off the main thread that runs the functions);
 * `thread: "main"` runs it in the caller's thread (tests that inject a clock, tools).
 */

export interface LocalSqs {
  readonly port: number;
  readonly endpoint: string;
  /** Makes messages hidden by a receive of a consumer that is gone visible again (see SqsStore). */
  releaseUnchangedReceives(queues: readonly string[]): Promise<number>;
  /**
   * The stack's own clients' way in (shared/adapters/local-endpoints.ts): the same answers as over
   * HTTP, as messages to the worker, without a socket, an HTTP parser or a stack-key check.
   */
  readonly transport: InProcessTransport;
  /** The V8 heap of the thread it runs in (its worker's; the caller's with `thread: "main"`), for monitoring. */
  heapStatistics(): Promise<HeapInfo>;
  close(): Promise<void>;
}

export interface StartLocalSqsOptions extends SqsRunOptions {
  readonly thread?: "worker" | "main";
}

/** Thrown when the port is taken; `code` is the listen error's (EADDRINUSE). */
export class LocalSqsStartError extends Error {
  override readonly name = "LocalSqsStartError";
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export async function startLocalSqs(options: StartLocalSqsOptions): Promise<LocalSqs> {
  const { thread = "worker", ...run } = options;
  if (thread === "main") {
    let running: Awaited<ReturnType<typeof runSqs>>;
    try {
      running = await runSqs(run);
    } catch (error) {
      throw new LocalSqsStartError(String(error), (error as NodeJS.ErrnoException).code);
    }
    const ready = running;
    return {
      port: ready.port,
      endpoint: `http://${run.host}:${ready.port}`,
      releaseUnchangedReceives: async (queues) => ready.store.releaseUnchangedReceives(queues),
      transport: async (request, signal) =>
        toResponse(
          await answerSqsRequest(
            ready.serverOptions,
            { method: request.method, target: request.headers["x-amz-target"], body: request.body },
            signal ?? new AbortController().signal,
          ),
        ),
      heapStatistics: async () => getHeapStatistics(),
      close: () => ready.close(),
    };
  }
  return startInWorker(run);
}

interface WorkerReply {
  readonly type: "listening" | "failed" | "reply";
  readonly port?: number;
  readonly code?: string;
  readonly message?: string;
  readonly id?: number;
  readonly result?: number;
  readonly error?: string;
}

function toResponse({ status, headers, body }: SqsAnswer): InProcessResponse {
  return { statusCode: status, headers, body };
}

type TransportReply = { readonly id: number; readonly error: string } | ({ readonly id: number } & SqsAnswer);

async function startInWorker(run: SqsRunOptions): Promise<LocalSqs> {
  const channel = new MessageChannel();
  const worker = new Worker(new URL("./worker.ts", import.meta.url), {
    workerData: { ...run, transport: channel.port2 },
    transferList: [channel.port2],
  });
  const calls = new Map<number, { resolve: (r: InProcessResponse) => void; reject: (e: Error) => void }>();
  let nextCall = 1;
  channel.port1.on("message", (reply: TransportReply) => {
    const call = calls.get(reply.id);
    calls.delete(reply.id);
    if ("error" in reply) call?.reject(new Error(`the local SQS failed: ${reply.error}`));
    else call?.resolve(toResponse(reply));
  });
  const transport: InProcessTransport = (request, signal) =>
    new Promise((resolve, reject) => {
      if (exited) {
        reject(new Error("the local SQS worker is not running"));
        return;
      }
      const id = nextCall++;
      const onAbort = () => channel.port1.postMessage({ abort: id } satisfies TransportMessage);
      signal?.addEventListener("abort", onAbort, { once: true });
      calls.set(id, {
        resolve: (response) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(response);
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      });
      channel.port1.postMessage({
        id,
        method: request.method,
        target: request.headers["x-amz-target"],
        body: request.body,
      } satisfies TransportMessage);
    });
  const pending = new Map<number, { resolve: (n: number) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited = false;
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("error", (error) =>
      reject(new LocalSqsStartError(`the local SQS worker failed: ${error.message}`, undefined)),
    );
    worker.on("message", (reply: WorkerReply) => {
      if (reply.type === "listening") resolve(reply.port ?? 0);
      else if (reply.type === "failed") reject(new LocalSqsStartError(reply.message ?? "failed", reply.code));
      else if (reply.type === "reply" && reply.id !== undefined) {
        const waiter = pending.get(reply.id);
        pending.delete(reply.id);
        if (reply.error !== undefined) waiter?.reject(new Error(reply.error));
        else waiter?.resolve(reply.result ?? 0);
      }
    });
  }).catch(async (error: unknown) => {
    channel.port1.close();
    await worker.terminate();
    throw error;
  });
  worker.on("exit", () => {
    exited = true;
    for (const waiter of pending.values()) waiter.reject(new Error("the local SQS worker exited"));
    pending.clear();
    for (const call of calls.values()) call.reject(new Error("the local SQS worker exited"));
    calls.clear();
    channel.port1.close();
  });
  worker.on("error", () => {});
  const request = (op: "release" | "close", queues?: readonly string[]) =>
    new Promise<number>((resolve, reject) => {
      if (exited) {
        reject(new Error("the local SQS worker is not running"));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, op, queues });
    });
  let closing: Promise<void> | undefined;
  return {
    port,
    endpoint: `http://${run.host}:${port}`,
    releaseUnchangedReceives: (queues) => request("release", queues),
    transport,
    heapStatistics: () => worker.getHeapStatistics(),
    close: () => {
      closing ??= request("close")
        .then(
          () => undefined,
          () => undefined,
        )
        .then(async () => {
          if (!exited) await worker.terminate();
        });
      return closing;
    },
  };
}
