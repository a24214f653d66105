import type { Context } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { type AsyncFailureRecord, AsyncInvoker } from "../../../local/async-invoker.ts";
import { waitFor } from "../../support/wait.ts";

const spec = { functionName: "router", awsRegion: "us-east-1", timeoutMs: 500 };
const quietLogger = { warn: () => {}, error: () => {} };

function invoker(
  handler: (event: { n: number }, context: Context) => Promise<unknown>,
  retryDelaysMs = [30, 60],
) {
  const failures: AsyncFailureRecord[] = [];
  const invoker = new AsyncInvoker<{ n: number }>({
    spec,
    handler,
    retryDelaysMs,
    onFailure: async (record) => {
      failures.push(record);
    },
    logger: quietLogger,
  });
  return { invoker, failures };
}

describe("Lambda asynchronous invocation", () => {
  it("returns before the function runs, and does not retry a success", async () => {
    const calls: number[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { invoker: subject, failures } = invoker(async (event) => {
      await gate;
      calls.push(event.n);
    });
    const requestId = subject.invoke({ n: 1 });
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls).toEqual([]);
    release();
    await waitFor(() => calls.length === 1);
    await subject.stop();
    expect(calls).toEqual([1]);
    expect(failures).toEqual([]);
  });

  it("retries a failing invocation twice after the delays, then sends Lambda's invocation record to the destination", async () => {
    const attempts: { at: number; requestId: string; remaining: number }[] = [];
    const { invoker: subject, failures } = invoker(async (_event, context) => {
      attempts.push({
        at: Date.now(),
        requestId: context.awsRequestId,
        remaining: context.getRemainingTimeInMillis(),
      });
      throw new TypeError("dynamodb unavailable");
    });
    const requestId = subject.invoke({ n: 7 });
    await waitFor(() => failures.length === 1, { description: "the on-failure record" });

    expect(attempts).toHaveLength(3);
    expect(attempts.map((a) => a.requestId)).toEqual([requestId, requestId, requestId]);
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(25);
    expect((attempts[2]?.at ?? 0) - (attempts[1]?.at ?? 0)).toBeGreaterThanOrEqual(55);
    expect(attempts[0]?.remaining).toBeGreaterThan(400);
    expect(failures[0]).toMatchObject({
      version: "1.0",
      requestContext: {
        requestId,
        functionArn: "arn:aws:lambda:us-east-1:000000000000:function:router:$LATEST",
        condition: "RetriesExhausted",
        approximateInvokeCount: 3,
      },
      requestPayload: { n: 7 },
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      responsePayload: { errorType: "TypeError", errorMessage: "dynamodb unavailable" },
    });
    await subject.stop();
  });

  it("treats the function timeout as a function error", async () => {
    let attempts = 0;
    const { invoker: subject, failures } = invoker(async () => {
      attempts++;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }, []);
    subject.invoke({ n: 1 });
    await waitFor(() => failures.length === 1, { timeoutMs: 3_000 });
    expect(attempts).toBe(1);
    expect(failures[0]?.responsePayload.errorType).toBe("FunctionTimeoutError");
    await subject.stop();
  });

  it("on stop, finishes what runs, drops scheduled retries and refuses new invocations", async () => {
    let attempts = 0;
    const { invoker: subject } = invoker(async () => {
      attempts++;
      throw new Error("fails");
    }, [60_000]);
    subject.invoke({ n: 1 });
    await waitFor(() => attempts === 1 && subject.pending === 1);
    const started = Date.now();
    await subject.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(subject.pending).toBe(0);
    expect(() => subject.invoke({ n: 2 })).toThrow(/shutting down/);
  });
});
