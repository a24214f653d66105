import type { Server } from "node:http";
import { requireStackKey } from "../stack-key.ts";
import { createSqsServer, type SqsServerOptions } from "./server.ts";
import { type FairQueueSettings, SqsStore } from "./store.ts";

/** Everything the local SQS needs, plain data so that it can cross into a worker thread. */
export interface SqsRunOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly region: string;
  /** The SQLite file, or ":memory:" (nothing kept). */
  readonly file: string;
  readonly fairQueue?: Partial<FairQueueSettings>;
  /** In-flight messages per queue before receives get OverLimit (SQS_INFLIGHT_LIMIT); default 120,000. */
  readonly inFlightLimit?: number;
  /** The access key id every request must be signed with (local/stack-key.ts); any when absent. */
  readonly stackKey?: string;
}

export interface RunningSqs {
  readonly port: number;
  readonly store: SqsStore;
  /** What the server answers with (for the in-process transport: answerSqsRequest). */
  readonly serverOptions: SqsServerOptions;
  close(): Promise<void>;
}

/** Opens the store and listens, in whichever thread calls it. */
export async function runSqs(options: SqsRunOptions): Promise<RunningSqs> {
  const store = new SqsStore({
    file: options.file,
    ...(options.fairQueue ? { fairQueue: options.fairQueue } : {}),
    ...(options.inFlightLimit === undefined ? {} : { inFlightLimit: options.inFlightLimit }),
  });
  const serverOptions: SqsServerOptions = { store, region: options.region, baseUrl: "" };
  const server: Server = createSqsServer(serverOptions);
  // The stack's clients only; the read-all view (GET /_local-sqs/queues/…) included.
  if (options.stackKey) requireStackKey(server, options.stackKey);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    store.close();
    throw error;
  }
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  serverOptions.baseUrl = `http://${options.host}:${port}`;
  return {
    port,
    store,
    serverOptions,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          store.close();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
