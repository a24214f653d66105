import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { HeapInfo } from "node:v8";
import type { LocalChildProcess, LocalStack } from "../../local/stack.ts";
import type { ProcStatus, StackChildMessage, StackChildUsage, StackParentMessage } from "./stack-child.ts";

/**
 * The local stack in a child process of its own, started as `npm start` starts it (`node --import
 * tsx`, the stack's modules only): what the bench measures of it (RSS, CPU) is then the stack's, not
 * the bench's modules, meters and per-event bookkeeping. The functions' log lines are read and dropped
 * (the last ones kept for an error), as a terminal would show them.
 */
export interface StackProcess
  extends Pick<
    LocalStack,
    "endpoints" | "stackKey" | "tableName" | "deliveriesTableName" | "eventBusName" | "childProcesses"
  > {
  readonly pid: number;
  /** The child's RSS before its stack started: node, tsx and the stack's modules loaded. */
  readonly before: ProcStatus;
  usage(): Promise<StackChildUsage>;
  workerHeaps(): Promise<Record<string, HeapInfo>>;
  /** The stack's last output lines (for an error). */
  tail(): string[];
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL("./stack-child.ts", import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL("../../package.json", import.meta.url));

/**
 * Node's options in package.json's `start` script (`exec node <options> local/main.ts`): the bench's
 * stack process runs with the same ones (the loader, the V8 heap settings), so that it is measured as
 * `npm start` runs, and follows when they change.
 */
export function startScriptNodeOptions(packageJson: string = readFileSync(PACKAGE_JSON, "utf8")): string[] {
  const start = (JSON.parse(packageJson) as { scripts?: { start?: string } }).scripts?.start ?? "";
  const match = /(?:^|\s)node\s+(.*?)\s*local\/main\.ts(?:\s|$)/.exec(start);
  if (!match) throw new Error(`package.json's start script does not run node … local/main.ts: ${start}`);
  return (match[1] ?? "").split(/\s+/).filter(Boolean);
}
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export async function startStackProcess(
  options: { deliveryConcurrency?: number } = {},
): Promise<StackProcess> {
  const child: ChildProcess = fork(CHILD, [], {
    execArgv: startScriptNodeOptions(),
    env: {
      ...process.env,
      ...(options.deliveryConcurrency === undefined
        ? {}
        : { BENCH_DELIVERY_CONCURRENCY: String(options.deliveryConcurrency) }),
    },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "advanced",
  });
  const recent: string[] = [];
  const keep = (chunk: Buffer) => {
    recent.push(chunk.toString("utf8"));
    if (recent.length > 40) recent.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.on("error", () => {});
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const waiters = new Map<number, (usage: StackChildUsage) => void>();
  let nextId = 1;
  let stopped: (() => void) | undefined;
  const ready = await new Promise<Extract<StackChildMessage, { type: "ready" }>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("the stack's process did not start within 60 s")),
      START_TIMEOUT_MS,
    );
    child.once("exit", (code, signal) =>
      reject(
        new Error(`the stack's process exited (${signal ?? code}) before it was ready:\n${recent.join("")}`),
      ),
    );
    child.on("message", (message: StackChildMessage) => {
      if (message.type === "ready") {
        clearTimeout(timer);
        resolve(message);
      } else if (message.type === "failed") {
        clearTimeout(timer);
        reject(new Error(`the stack's process failed: ${message.message}`));
      } else if (message.type === "usage") {
        waiters.get(message.id)?.(message.usage);
        waiters.delete(message.id);
      } else if (message.type === "stopped") stopped?.();
    });
  }).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw error;
  });
  // Callers asking at the same moment (the sampler, the CPU meter) share one answer.
  let inFlight: Promise<StackChildUsage> | undefined;
  const usage = () => {
    inFlight ??= askUsage().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  const askUsage = () =>
    new Promise<StackChildUsage>((resolve, reject) => {
      if (!child.connected) {
        reject(new Error("the stack's process is not running"));
        return;
      }
      const id = nextId++;
      waiters.set(id, resolve);
      child.send({ type: "usage", id } satisfies StackParentMessage);
    });
  const childProcesses: LocalChildProcess[] = ready.children.map(({ name, pid }) => ({
    name,
    pid,
    usage: async () => {
      const found = (await usage()).children.find((c) => c.name === name);
      if (!found) throw new Error(`no usage of ${name}`);
      return { memory: found.memory, cpu: found.cpu };
    },
  }));
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid ?? 0,
    endpoints: ready.endpoints,
    stackKey: ready.stackKey,
    tableName: ready.tableName,
    deliveriesTableName: ready.deliveriesTableName,
    eventBusName: ready.eventBusName,
    childProcesses,
    before: ready.before,
    usage,
    workerHeaps: async () => (await usage()).workerHeaps,
    tail: () => [...recent],
    stop: () => {
      stopping ??= (async () => {
        if (child.connected) {
          const done = new Promise<void>((resolve) => {
            stopped = resolve;
          });
          child.send({ type: "stop" } satisfies StackParentMessage);
          await Promise.race([done, exited, new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS))]);
        }
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
