import type { LocalInvocation, LocalStackObserver } from "../../local/stack.ts";

/**
 * Invocations and billed duration of the functions the local stack runs, told by the stack's
 * observer hook (`startLocalStack(settings, logger, meter.observer)`) for every handler run.
 * Durations are wall-clock in this process, where concurrent invocations share two cores with the
 * emulators and the load generator: an upper bound of what Lambda, which gives each sandbox its own
 * CPU, would bill. Lambda bills each invocation in 1 ms increments.
 */

export interface FunctionUsage {
  invocations: number;
  billed_ms: number;
  durations_ms: number[];
}

export interface LambdaMeter {
  /** Counts only while true. */
  active: boolean;
  readonly functions: Map<string, FunctionUsage>;
  /** What to give startLocalStack. */
  readonly observer: LocalStackObserver;
  reset(): void;
}

export function createLambdaMeter(): LambdaMeter {
  const meter: LambdaMeter = {
    active: false,
    functions: new Map(),
    observer: {
      onInvocation({ functionName, durationMs }: LocalInvocation) {
        if (!meter.active) return;
        const usage = meter.functions.get(functionName) ?? { invocations: 0, billed_ms: 0, durations_ms: [] };
        usage.invocations++;
        usage.billed_ms += Math.max(1, Math.ceil(durationMs));
        usage.durations_ms.push(durationMs);
        meter.functions.set(functionName, usage);
      },
    },
    reset() {
      meter.functions.clear();
    },
  };
  return meter;
}
