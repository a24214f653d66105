import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import { loggedError } from "#shared/adapters/observability.ts";
import { CodedError } from "#shared/domain/errors.ts";
import { functionArn, invokeLambda, type LambdaFunctionSpec } from "./lambda-runtime.ts";

/**
 * Lambda's asynchronous invocation, the way EventBridge invokes a rule's Lambda target: the caller
 * does not wait; a function error (a throw, or the function timeout) is retried after a delay, by
 * default twice (one minute, then two), and when the retries are exhausted the event goes to the
 * on-failure destination as Lambda's invocation record.
 */

/** Lambda's defaults for asynchronous invocation: two retries, one and two minutes apart. */
export const LAMBDA_ASYNC_RETRY_DELAYS_MS: readonly number[] = [60_000, 120_000];

/** What Lambda sends to an on-failure destination (the invocation record). */
export interface AsyncFailureRecord {
  readonly version: "1.0";
  readonly timestamp: string;
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: "RetriesExhausted";
    readonly approximateInvokeCount: number;
  };
  readonly requestPayload: unknown;
  readonly responseContext: {
    readonly statusCode: 200;
    readonly executedVersion: "$LATEST";
    readonly functionError: "Unhandled";
  };
  readonly responsePayload: {
    readonly errorType: string;
    readonly errorMessage: string;
    readonly trace: string[];
  };
}

export interface AsyncInvokerLogger {
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}

export interface AsyncInvokerOptions<TEvent> {
  readonly spec: LambdaFunctionSpec;
  readonly handler: (event: TEvent, context: Context) => Promise<unknown>;
  /** Delay before each retry; its length is the number of retries. */
  readonly retryDelaysMs?: readonly number[];
  /** The on-failure destination. If it throws, the record is logged: nothing else can keep it. */
  readonly onFailure: (record: AsyncFailureRecord) => Promise<void>;
  /** Invocations running at once (Lambda's concurrency); more wait their turn. Default 8. */
  readonly concurrency?: number;
  readonly logger: AsyncInvokerLogger;
}

export class AsyncInvokerStoppedError extends CodedError {
  override readonly name = "AsyncInvokerStoppedError";
  readonly code = "ASYNC_INVOKER_STOPPED";
}

interface Job<TEvent> {
  readonly requestId: string;
  readonly event: TEvent;
  attempts: number;
}

export class AsyncInvoker<TEvent> {
  private readonly retryDelaysMs: readonly number[];
  private readonly concurrency: number;
  private readonly waiting: Job<TEvent>[] = [];
  private readonly retryTimers = new Map<NodeJS.Timeout, Job<TEvent>>();
  private readonly running = new Set<Promise<void>>();
  private accepting = true;

  constructor(private readonly options: AsyncInvokerOptions<TEvent>) {
    this.retryDelaysMs = options.retryDelaysMs ?? LAMBDA_ASYNC_RETRY_DELAYS_MS;
    this.concurrency = options.concurrency ?? 8;
  }

  /** Queues one asynchronous invocation and returns its request id at once. */
  invoke(event: TEvent): string {
    if (!this.accepting) throw new AsyncInvokerStoppedError("the function is shutting down");
    const job: Job<TEvent> = { requestId: randomUUID(), event, attempts: 0 };
    this.waiting.push(job);
    this.pump();
    return job.requestId;
  }

  /** Invocations queued, running or waiting for a retry. */
  get pending(): number {
    return this.waiting.length + this.running.size + this.retryTimers.size;
  }

  /**
   * Stops taking invocations and waits for the queued and running ones. Retries still waiting for
   * their delay cannot outlive this process; they are logged and dropped.
   */
  async stop(): Promise<void> {
    this.accepting = false;
    for (const [timer, job] of this.retryTimers) {
      clearTimeout(timer);
      this.options.logger.warn("shutting down: a scheduled retry of an asynchronous invocation is dropped", {
        function_name: this.options.spec.functionName,
        request_id: job.requestId,
        attempts: job.attempts,
      });
    }
    this.retryTimers.clear();
    while (this.running.size > 0 || this.waiting.length > 0) {
      this.pump();
      await Promise.allSettled([...this.running]);
    }
  }

  private pump(): void {
    while (this.running.size < this.concurrency) {
      const job = this.waiting.shift();
      if (job === undefined) return;
      const run = this.attempt(job);
      this.running.add(run);
      run.finally(() => {
        this.running.delete(run);
        this.pump();
      });
    }
  }

  private async attempt(job: Job<TEvent>): Promise<void> {
    job.attempts++;
    try {
      await invokeLambda(this.options.spec, this.options.handler, job.event, job.requestId);
      return;
    } catch (error) {
      const delay = this.retryDelaysMs[job.attempts - 1];
      if (delay !== undefined && this.accepting) {
        this.options.logger.warn("asynchronous invocation failed; Lambda will retry it", {
          function_name: this.options.spec.functionName,
          request_id: job.requestId,
          attempt: job.attempts,
          retry_in_ms: delay,
          error: loggedError(error),
        });
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          this.waiting.push(job);
          this.pump();
        }, delay);
        this.retryTimers.set(timer, job);
        return;
      }
      await this.sendToDestination(job, error);
    }
  }

  private async sendToDestination(job: Job<TEvent>, error: unknown): Promise<void> {
    const record: AsyncFailureRecord = {
      version: "1.0",
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: job.requestId,
        functionArn: `${functionArn(this.options.spec)}:$LATEST`,
        condition: "RetriesExhausted",
        approximateInvokeCount: job.attempts,
      },
      requestPayload: job.event,
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      responsePayload: {
        errorType: error instanceof Error ? error.name : "Error",
        errorMessage: error instanceof Error ? error.message : String(error),
        trace: error instanceof Error && error.stack ? error.stack.split("\n") : [],
      },
    };
    try {
      await this.options.onFailure(record);
      this.options.logger.error(
        "asynchronous invocation failed on every attempt; sent to the on-failure destination",
        {
          function_name: this.options.spec.functionName,
          request_id: job.requestId,
          attempts: job.attempts,
          error: loggedError(error),
        },
      );
    } catch (destinationError) {
      this.options.logger.error("asynchronous invocation failed and its on-failure destination failed too", {
        function_name: this.options.spec.functionName,
        request_id: job.requestId,
        error: loggedError(error),
        destination_error: loggedError(destinationError),
        record,
      });
    }
  }
}
