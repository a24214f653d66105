/**
 * The child process of local/dynalite-process.ts: dynalite listening on the given host and port,
 * answering the parent over IPC. Run by Node directly (type stripping): only erasable TypeScript,
 * node: built-ins, dynalite and local/stack-key.ts (the same).
 */
import type { Server } from "node:http";
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

export type ParentMessage = { type: "usage" } | { type: "stop" };
export type ChildMessage =
  | { type: "listening"; port: number }
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

// Only the stack's own clients (local/stack-key.ts).
if (stackKey) requireStackKey(server, stackKey);

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
  if (message.type === "usage")
    send({ type: "usage", memory: process.memoryUsage(), cpu: process.cpuUsage() });
  else if (message.type === "stop") stop();
});
// The parent went away (crashed or killed): nothing will ever stop us otherwise.
process.on("disconnect", () => stop());
// Ctrl-C reaches the whole process group: the parent decides when the table stops (after the work
// in flight has drained), so the child waits for its "stop" or for the parent to go away.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => {});
