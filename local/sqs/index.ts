import { Worker } from "node:worker_threads";
import { runSqs, type SqsRunOptions } from "./run.ts";

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

async function startInWorker(run: SqsRunOptions): Promise<LocalSqs> {
  const worker = new Worker(new URL("./worker.ts", import.meta.url), { workerData: run });
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
    await worker.terminate();
    throw error;
  });
  worker.on("exit", () => {
    exited = true;
    for (const waiter of pending.values()) waiter.reject(new Error("the local SQS worker exited"));
    pending.clear();
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
