/**
 * The child process of local/dynalite-process.ts: dynalite listening on the given host and port,
 * answering the parent over IPC. Run by Node directly (type stripping): only erasable TypeScript,
 * node: built-ins, dynalite and local/stack-key.ts (the same).
 */
import { EventEmitter } from "node:events";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { requireStackKey } from "./stack-key.ts";

interface DynaliteOptions {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}
// dynalite is CommonJS without type declarations; this is the part of its API used here.
const dynalite = createRequire(import.meta.url)("dynalite") as (options?: DynaliteOptions) => Server;

/** A request of the stack's own clients, by IPC instead of HTTP (local/dynalite-process.ts, transport). */
export interface IpcRequest {
  readonly type: "request";
  readonly id: number;
  readonly method: string;
  readonly url: string;
  /** Lower-case names. */
  readonly headers: Record<string, string>;
  readonly body: string;
}
export type ParentMessage = { type: "usage" } | { type: "stop" } | IpcRequest;
export type ChildMessage =
  | { type: "listening"; port: number }
  | { type: "response"; id: number; status: number; headers: Record<string, string>; body: string }
  | { type: "failed"; code: string | undefined; message: string }
  | { type: "usage"; memory: NodeJS.MemoryUsage; cpu: NodeJS.CpuUsage }
  | { type: "stopped" };

const send = (message: ChildMessage) => {
  if (process.connected) process.send?.(message);
};

const host = process.env.DYNALITE_HOST ?? "127.0.0.1";
const port = Number(process.env.DYNALITE_PORT ?? "0");
const dataPath = process.env.DYNALITE_PATH;
const stackKey = process.env.DYNALITE_STACK_KEY;

const server = dynalite({
  ...(dataPath ? { path: dataPath } : {}),
  createTableMs: 0,
  deleteTableMs: 0,
  updateTableMs: 0,
});

// dynalite's own request handler, before the stack-key check wraps it: the IPC path is reachable from
// the parent only (the stack's own clients), as the local SQS's in-process transport is.
const handlers = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];

// Only the stack's own clients (local/stack-key.ts).
if (stackKey) requireStackKey(server, stackKey);

/**
 * Runs one IPC request through dynalite's handler with the part of IncomingMessage and
 * ServerResponse it uses (headers, method, url, the body as 'data' and 'end'; statusCode, setHeader,
 * end), and sends its answer back: no socket and no HTTP parser on either side.
 */
function answer(request: IpcRequest): void {
  const req = Object.assign(new EventEmitter(), {
    method: request.method,
    url: request.url,
    headers: request.headers,
  });
  const headers: Record<string, string> = {};
  const res = {
    statusCode: 200,
    contentType: undefined as string | undefined,
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
    },
    end(body?: string | Buffer) {
      send({
        type: "response",
        id: request.id,
        status: res.statusCode,
        headers,
        body: body === undefined ? "" : body.toString(),
      });
    },
  };
  for (const handler of handlers)
    handler.call(server, req as unknown as IncomingMessage, res as unknown as ServerResponse);
  if (request.body !== "") req.emit("data", Buffer.from(request.body, "utf8"));
  req.emit("end");
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  server.close(() => {
    send({ type: "stopped" });
    // The parent may be gone already (that is one reason to stop): disconnecting twice throws.
    if (process.connected) process.disconnect?.();
    process.exit(0);
  });
  server.closeIdleConnections();
  // In-flight requests had their chance; a stuck connection must not keep the process.
  setTimeout(() => server.closeAllConnections(), 2000).unref();
}

server.once("error", (error: NodeJS.ErrnoException) => {
  send({ type: "failed", code: error.code, message: error.message });
  process.exit(1);
});
server.listen(port, host, () => {
  send({ type: "listening", port: (server.address() as AddressInfo).port });
});

process.on("message", (message: ParentMessage) => {
  if (message.type === "request") answer(message);
  else if (message.type === "usage")
    send({ type: "usage", memory: process.memoryUsage(), cpu: process.cpuUsage() });
  else if (message.type === "stop") stop();
});
// The parent went away (crashed or killed): nothing will ever stop us otherwise.
process.on("disconnect", () => stop());
// Ctrl-C reaches the whole process group: the parent decides when the table stops (after the work
// in flight has drained), so the child waits for its "stop" or for the parent to go away.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => {});
