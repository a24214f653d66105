import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Context } from "aws-lambda";
import { createLambdaContext } from "../../local/lambda-runtime.ts";
import { type LocalStackSettings, REPO_ROOT } from "../../local/settings.ts";
import { LOCAL_DEFAULTS, LOCAL_HOST } from "../../scripts/lib/local-stack.ts";

export const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

const FIXTURES = path.resolve(import.meta.dirname, "../../local/fixtures/voipbin-events");

/**
 * An in-memory local stack on free loopback ports, as the bench's sections run it (`npm start`'s
 * defaults otherwise). dynalite needs a directory even in memory; nothing is written to it.
 */
export function benchStackSettings(
  overrides: Partial<
    Pick<LocalStackSettings, "deliveryConcurrency" | "retrySchedule" | "dataDir" | "routerRetryDelaysMs">
  > = {},
): LocalStackSettings {
  return {
    ports: { api: 0, events: 0, dynamodb: 0, sqs: 0 },
    host: LOCAL_HOST,
    region: "us-east-1",
    inMemory: true,
    dataDir: `${REPO_ROOT}/.data`,
    retrySchedule: LOCAL_DEFAULTS.RETRY_SCHEDULE.split(",").map(Number),
    eventBusName: "voipbin-events",
    deliveryConcurrency: LOCAL_DEFAULTS.DELIVERY_CONCURRENCY,
    ...overrides,
  };
}

/** The `data` of a sample event. */
export function fixturePayload(name: string): Record<string, unknown> {
  const entry = JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), "utf8")) as { Detail: string };
  return (JSON.parse(entry.Detail) as { data: Record<string, unknown> }).data;
}

/** A `call_hangup` EventBridge event of `customer`, as the bus hands it to the router. */
export function callHangupEvent(customer: string, data: Record<string, unknown>, time = new Date()) {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "call_hangup",
    source: "voipbin.call-manager",
    account: "000000000000",
    time: time.toISOString(),
    region: "us-east-1",
    resources: [],
    detail: { customer_id: customer, data: { ...data, customer_id: customer } },
  };
}

/** The local stack's Lambda context (local/lambda-runtime.ts), with a minute to run. */
export function lambdaContext(functionName: string): Context {
  return createLambdaContext(
    { functionName, awsRegion: "us-east-1", timeoutMs: 60_000 },
    Date.now() + 60_000,
  );
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
