import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Context } from "aws-lambda";

export const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

const FIXTURES = path.resolve(import.meta.dirname, "../../local/fixtures/voipbin-events");

/** The `data` of a sample event. */
export function fixturePayload(name: string): Record<string, unknown> {
  const entry = JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), "utf8")) as { Detail: string };
  return (JSON.parse(entry.Detail) as { data: Record<string, unknown> }).data;
}

export function lambdaContext(functionName: string): Context {
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "bench",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function runWithConcurrency<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}
