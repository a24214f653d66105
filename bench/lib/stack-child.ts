/**
 * The child process of bench/lib/stack-process.ts: the local stack alone in a Node process started
 * as `npm start` starts it (`node --import tsx`), so that its memory and CPU are measured without the
 * bench's own (its modules, meters and bookkeeping). Answers the parent over IPC.
 */
import { getHeapStatistics, type HeapInfo } from "node:v8";
import { createStackLogger, type LocalStack, startLocalStack } from "../../local/stack.ts";
import { procStatusBytes } from "./process-sampler.ts";
import { benchStackSettings } from "./util.ts";

/** /proc/self/status's RSS split (kB → bytes); zeros where there is no /proc. */
export interface ProcStatus {
  readonly rss: number;
  readonly rssAnon: number;
  readonly rssFile: number;
}

export interface StackChildUsage {
  readonly memory: NodeJS.MemoryUsage;
  readonly cpu: NodeJS.CpuUsage;
  readonly status: ProcStatus;
  readonly heap: HeapInfo;
  readonly workerHeaps: Record<string, HeapInfo>;
  /** The stack's own child processes (dynalite): memory and CPU as each measures itself. */
  readonly children: { name: string; memory: NodeJS.MemoryUsage; cpu: NodeJS.CpuUsage }[];
}

export type StackParentMessage = { type: "usage"; id: number } | { type: "stop" };
export type StackChildMessage =
  | {
      type: "ready";
      endpoints: LocalStack["endpoints"];
      stackKey: string;
      tableName: string;
      deliveriesTableName: string;
      eventBusName: string;
      children: { name: string; pid: number }[];
      /** This process's memory before the stack started (node, tsx and the stack's modules loaded). */
      before: ProcStatus;
    }
  | { type: "usage"; id: number; usage: StackChildUsage }
  | { type: "failed"; message: string }
  | { type: "stopped" };

function procStatus(): ProcStatus {
  const field = (name: string) => procStatusBytes(process.pid, name);
  return {
    rss: field("VmRSS") || process.memoryUsage().rss,
    rssAnon: field("RssAnon"),
    rssFile: field("RssFile"),
  };
}

const send = (message: StackChildMessage) => {
  if (process.connected) process.send?.(message);
};

async function main(): Promise<void> {
  const before = procStatus();
  const deliveryConcurrency = Number(process.env.BENCH_DELIVERY_CONCURRENCY) || undefined;
  const stack = await startLocalStack(
    benchStackSettings(deliveryConcurrency === undefined ? {} : { deliveryConcurrency }),
    createStackLogger({ logLevel: "WARN" }),
  );
  process.on("message", (message: StackParentMessage) => {
    if (message.type === "usage") {
      void (async () => {
        const [workerHeaps, children] = await Promise.all([
          stack.workerHeaps().catch(() => ({})),
          Promise.all(stack.childProcesses.map(async (c) => ({ name: c.name, ...(await c.usage()) }))).catch(
            () => [],
          ),
        ]);
        send({
          type: "usage",
          id: message.id,
          usage: {
            memory: process.memoryUsage(),
            cpu: process.cpuUsage(),
            status: procStatus(),
            heap: getHeapStatistics(),
            workerHeaps,
            children,
          },
        });
      })();
    } else if (message.type === "stop") {
      void stack.stop().finally(() => {
        send({ type: "stopped" });
        process.disconnect();
      });
    }
  });
  // The parent going away stops the stack (its dynalite child with it).
  process.on("disconnect", () => void stack.stop().finally(() => process.exit(0)));
  send({
    type: "ready",
    endpoints: stack.endpoints,
    stackKey: stack.stackKey,
    tableName: stack.tableName,
    deliveriesTableName: stack.deliveriesTableName,
    eventBusName: stack.eventBusName,
    children: stack.childProcesses.map((c) => ({ name: c.name, pid: c.pid })),
    before,
  });
}

main().catch((error: unknown) => {
  send({ type: "failed", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
