import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { InProcessResponse, InProcessTransport } from "#shared/adapters/local-endpoints.ts";
import type { ChildMessage, ParentMessage } from "./dynalite-child.ts";

/**
 * dynalite in a child process rather than in the stack's own: it then runs on another core, and its
 * memory (it keeps Buffer slices of every item it stores, which pins their parent buffers) is the
 * child's, not the process that runs the functions. The seam is an endpoint, a transport and a
 * stop(): the stack's own SDK clients reach it by IPC messages (the transport), anything else over
 * HTTP as DynamoDB.
 */
export interface DynaliteProcess {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** The child's own process.memoryUsage() (RSS, heap, off-heap) and process.cpuUsage(). */
  usage(): Promise<ProcessUsage>;
  /**
   * The stack's own clients' way in (shared/adapters/local-endpoints.ts): dynalite's answers as IPC
   * messages to and from the child, without a socket, the HTTP parsers or a stack-key check.
   */
  readonly transport: InProcessTransport;
  /** Closes the server and waits for the process to exit. Idempotent. */
  stop(): Promise<void>;
}

export interface ProcessUsage {
  readonly memory: NodeJS.MemoryUsage;
  readonly cpu: NodeJS.CpuUsage;
}

export class DynaliteStartError extends Error {
  override readonly name = "DynaliteStartError";
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

const CHILD = fileURLToPath(new URL("./dynalite-child.ts", import.meta.url));
const STOP_TIMEOUT_MS = 5000;

/** Node runs the child's TypeScript itself where it can (Node ≥ 23.6); else through tsx. */
function childExecArgv(): string[] {
  return (process.features as { typescript?: string }).typescript ? [] : ["--import", "tsx"];
}

export async function startDynaliteProcess(options: {
  host: string;
  port: number;
  /** LevelDB directory; in memory when absent. */
  path?: string;
  /** The access key id every request must be signed with (local/stack-key.ts); any when absent. */
  stackKey?: string;
  /** Called when the child dies on its own (not through stop()). */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}): Promise<DynaliteProcess> {
  const child: ChildProcess = fork(CHILD, [], {
    execArgv: childExecArgv(),
    env: {
      ...process.env,
      DYNALITE_HOST: options.host,
      DYNALITE_PORT: String(options.port),
      ...(options.path ? { DYNALITE_PATH: options.path } : {}),
      ...(options.stackKey ? { DYNALITE_STACK_KEY: options.stackKey } : {}),
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  let stopping = false;
  // A send to a child that is already exiting fails with EPIPE: the exit handlers deal with that.
  child.on("error", () => {});
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const onMessage = (message: ChildMessage) => {
      if (message.type === "listening") {
        cleanup();
        resolve(message.port);
      } else if (message.type === "failed") {
        cleanup();
        reject(new DynaliteStartError(message.message, message.code));
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new DynaliteStartError(`dynalite exited before listening (exit code ${code})`, undefined));
    };
    const cleanup = () => {
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
  child.once("exit", (code, signal) => {
    if (!stopping) options.onExit?.(code, signal);
  });
  // The transport's calls waiting for their answer, by id; all fail if the child goes away.
  const calls = new Map<number, { resolve: (r: InProcessResponse) => void; reject: (e: Error) => void }>();
  let nextCall = 1;
  child.on("message", (message: ChildMessage) => {
    if (message.type !== "response") return;
    const call = calls.get(message.id);
    calls.delete(message.id);
    call?.resolve({ statusCode: message.status, headers: message.headers, body: message.body });
  });
  child.once("exit", () => {
    for (const call of calls.values()) call.reject(new Error("dynalite exited"));
    calls.clear();
  });
  const transport: InProcessTransport = (request) =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || !child.connected) {
        reject(new Error("dynalite is not running"));
        return;
      }
      const id = nextCall++;
      calls.set(id, { resolve, reject });
      const message: ParentMessage = {
        type: "request",
        id,
        method: request.method,
        url: request.path,
        headers: { ...request.headers },
        body: request.body,
      };
      child.send(message, (error) => {
        if (error === null || error === undefined) return;
        calls.delete(id);
        reject(error);
      });
    });
  const request = (message: ParentMessage) => {
    // With a callback, a failed send (the child exiting) is reported there, not as an error event.
    if (child.connected) child.send(message, () => {});
  };
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://${options.host}:${port}`,
    port,
    pid: child.pid ?? -1,
    transport,
    usage: () =>
      new Promise((resolve, reject) => {
        if (child.exitCode !== null || !child.connected) {
          reject(new Error("dynalite is not running"));
          return;
        }
        const onMessage = (message: ChildMessage) => {
          if (message.type !== "usage") return;
          child.off("message", onMessage);
          resolve({ memory: message.memory, cpu: message.cpu });
        };
        child.on("message", onMessage);
        request({ type: "usage" });
      }),
    stop: () => {
      stopped ??= (async () => {
        stopping = true;
        if (child.exitCode === null && child.signalCode === null) {
          if (child.connected) request({ type: "stop" });
          const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(timer);
        }
      })();
      return stopped;
    },
  };
}
