import { randomBytes, randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import { CodedError } from "#shared/domain/errors.ts";

/**
 * What the local stack needs of the Lambda runtime to call a handler module the way Lambda does:
 * a Context with a real deadline, and the function timeout enforced around the call.
 */

/** The account every local ARN names; the local emulators do not check it. */
export const LOCAL_ACCOUNT_ID = "000000000000";

/** The invocation ran past its timeout; Lambda reports it as a function error. */
export class FunctionTimeoutError extends CodedError {
  override readonly name = "FunctionTimeoutError";
  readonly code = "FUNCTION_TIMEOUT";
  constructor(readonly timeoutMs: number) {
    super(`invocation timed out after ${timeoutMs} ms`);
  }
}

export interface LambdaFunctionSpec {
  readonly functionName: string;
  readonly awsRegion: string;
  readonly timeoutMs: number;
  readonly memoryLimitInMB?: number;
}

export function functionArn(spec: Pick<LambdaFunctionSpec, "functionName" | "awsRegion">): string {
  return `arn:aws:lambda:${spec.awsRegion}:${LOCAL_ACCOUNT_ID}:function:${spec.functionName}`;
}

export function createLambdaContext(
  spec: LambdaFunctionSpec,
  deadline: number,
  requestId: string = randomUUID(),
): Context {
  const unsupported = (name: string) => () => {
    throw new Error(`context.${name}() is a pre-async Lambda API; return or throw from the handler instead`);
  };
  const today = new Date().toISOString().slice(0, 10).replaceAll("-", "/");
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: spec.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: functionArn(spec),
    memoryLimitInMB: String(spec.memoryLimitInMB ?? 1024),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${spec.functionName}`,
    logStreamName: `${today}/[$LATEST]${randomBytes(16).toString("hex")}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported("done"),
    fail: unsupported("fail"),
    succeed: unsupported("succeed"),
  };
}

/**
 * Calls `handler` as one Lambda invocation: a fresh context whose deadline is the function
 * timeout, and a FunctionTimeoutError once it passes (the handler's promise is abandoned, as
 * Lambda abandons a timed-out sandbox).
 */
export async function invokeLambda<TEvent, TResult>(
  spec: LambdaFunctionSpec,
  handler: (event: TEvent, context: Context) => Promise<TResult>,
  event: TEvent,
  requestId?: string,
): Promise<TResult> {
  const context = createLambdaContext(spec, Date.now() + spec.timeoutMs, requestId);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FunctionTimeoutError(spec.timeoutMs)), spec.timeoutMs);
  });
  try {
    return await Promise.race([handler(event, context), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export type LambdaHandlerFn<TEvent, TResult> = (event: TEvent, context: Context) => Promise<TResult>;

/**
 * Execution environments ("sandboxes") of one function. Lambda runs one invocation at a time per
 * sandbox and a module's top-level state (its logger's request context, its SDK clients, caches)
 * belongs to one sandbox; here each sandbox is a separate instance of the handler module, loaded
 * on demand up to `max`, so that concurrent invocations do not share that state and each
 * sandbox's first invocation is a cold start, as on AWS.
 */
export class SandboxPool<TEvent, TResult> {
  private readonly idle: LambdaHandlerFn<TEvent, TResult>[] = [];
  private readonly waiters: ((handler: LambdaHandlerFn<TEvent, TResult>) => void)[] = [];
  private created = 0;

  constructor(
    private readonly load: (sandbox: number) => Promise<LambdaHandlerFn<TEvent, TResult>>,
    private readonly max: number,
  ) {}

  /** Loads the first sandbox now, so that a module that cannot load fails at startup. */
  async warm(): Promise<void> {
    if (this.created > 0) return;
    this.created++;
    this.idle.push(await this.load(this.created));
  }

  /** Invokes the function in an idle sandbox, creating one or waiting for one as needed. */
  readonly handler: LambdaHandlerFn<TEvent, TResult> = async (event, context) => {
    const sandbox = await this.acquire();
    try {
      return await sandbox(event, context);
    } finally {
      this.release(sandbox);
    }
  };

  private async acquire(): Promise<LambdaHandlerFn<TEvent, TResult>> {
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.created < this.max) {
      this.created++;
      try {
        return await this.load(this.created);
      } catch (error) {
        this.created--;
        throw error;
      }
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(sandbox: LambdaHandlerFn<TEvent, TResult>): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(sandbox);
    else this.idle.push(sandbox);
  }
}
