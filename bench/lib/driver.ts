import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BurstRequest, DriverMessage, DriverRequest, EmitReport, EmitRequest } from "./driver-child.ts";

/**
 * The parent's side of the e2e load driver (bench/lib/driver-child.ts): a child process that emits
 * the events and receives the deliveries, so that the stack's process runs the stack alone.
 * Arrivals stream in as they happen; `onArrival` sees each (bench id, path, epoch ms).
 */
export interface BenchDriver {
  readonly receiverUrl: string;
  readonly pid: number;
  emit(request: Omit<EmitRequest, "type" | "id">): Promise<EmitReport>;
  /** One customer's events at once (BurstRequest). */
  burst(request: Omit<BurstRequest, "type" | "id">): Promise<EmitReport>;
  /** CPU time the driver process has used so far (ms). */
  cpuMs(): Promise<number>;
  close(): Promise<void>;
}

const CHILD = fileURLToPath(new URL("./driver-child.ts", import.meta.url));

// Through tsx: the child imports project modules whose TypeScript Node's type stripping refuses
// (parameter properties).
const CHILD_EXEC_ARGV = ["--import", "tsx"];

export async function startBenchDriver(
  onArrival: (benchId: string, path: string, at: number) => void,
): Promise<BenchDriver> {
  const child: ChildProcess = fork(CHILD, [], {
    execArgv: CHILD_EXEC_ARGV,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  child.on("error", () => {});
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let nextId = 0;
  const waiting = new Map<number, (message: DriverMessage) => void>();
  const receiverUrl = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code, signal) =>
      reject(new Error(`the bench driver exited before it was ready (${signal ?? code})`)),
    );
    child.on("message", (message: DriverMessage) => {
      if (message.type === "ready") resolve(message.receiverUrl);
      else if (message.type === "arrivals") {
        for (const [benchId, path, at] of message.arrivals) onArrival(benchId, path, at);
      } else {
        waiting.get(message.id)?.(message);
        waiting.delete(message.id);
      }
    });
  });
  const request = <T extends DriverMessage>(body: DriverRequest & { id: number }) =>
    new Promise<T>((resolve, reject) => {
      waiting.set(body.id, (message) => resolve(message as T));
      exited.then(() => reject(new Error("the bench driver exited")));
      child.send(body);
    });
  return {
    receiverUrl,
    pid: child.pid ?? 0,
    emit: (emit) => request<EmitReport>({ ...emit, type: "emit", id: nextId++ }),
    burst: (burst) => request<EmitReport>({ ...burst, type: "burst", id: nextId++ }),
    cpuMs: async () =>
      (await request<Extract<DriverMessage, { type: "cpu" }>>({ type: "cpu", id: nextId++ })).cpuMs,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.send({ type: "stop" } satisfies DriverRequest);
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
