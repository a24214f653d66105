import { AsyncInvoker } from "../../local/async-invoker.ts";
import { SqsEventSource } from "../../local/sqs-event-source.ts";

/**
 * Invocations and billed duration of the functions the local stack runs, measured around the
 * local stand-ins for Lambda's invokers (the SQS event source mapping for delivery, asynchronous
 * invocation for the router) by wrapping their invoke methods process-wide. Durations are wall-clock
 * in this process, where concurrent invocations share two cores with the emulators and the load
 * generator: an upper bound of what Lambda, which gives each sandbox its own CPU, would bill.
 * Lambda bills each invocation in 1 ms increments.
 */

export interface FunctionUsage {
  invocations: number;
  billed_ms: number;
  durations_ms: number[];
}

export interface LambdaMeter {
  active: boolean;
  readonly functions: Map<string, FunctionUsage>;
  /** False when the local stack's invokers no longer have the wrapped methods (then nothing is measured). */
  readonly attached: boolean;
  reset(): void;
  uninstall(): void;
}

type Method = (this: unknown, ...args: unknown[]) => Promise<unknown>;

export function installLambdaMeter(): LambdaMeter {
  const targets: { proto: Record<string, unknown>; method: string; name: (self: unknown) => string }[] = [
    {
      proto: SqsEventSource.prototype as unknown as Record<string, unknown>,
      method: "invoke",
      name: (self) => String((self as { functionName?: unknown }).functionName ?? "sqs-consumer"),
    },
    {
      proto: AsyncInvoker.prototype as unknown as Record<string, unknown>,
      method: "attempt",
      name: (self) =>
        String(
          (self as { options?: { spec?: { functionName?: unknown } } }).options?.spec?.functionName ??
            "async",
        ),
    },
  ];
  const restore: (() => void)[] = [];
  const meter: LambdaMeter = {
    active: false,
    functions: new Map(),
    attached: targets.every((t) => typeof t.proto[t.method] === "function"),
    reset() {
      this.functions.clear();
    },
    uninstall() {
      for (const undo of restore.splice(0)) undo();
    },
  };
  if (!meter.attached) return meter;
  for (const { proto, method, name } of targets) {
    const original = proto[method] as Method;
    proto[method] = async function (this: unknown, ...args: unknown[]) {
      if (!meter.active) return original.apply(this, args);
      const started = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        const ms = performance.now() - started;
        const key = name(this);
        const usage = meter.functions.get(key) ?? { invocations: 0, billed_ms: 0, durations_ms: [] };
        usage.invocations++;
        usage.billed_ms += Math.max(1, Math.ceil(ms));
        usage.durations_ms.push(ms);
        meter.functions.set(key, usage);
      }
    };
    restore.push(() => {
      proto[method] = original;
    });
  }
  return meter;
}
