import { randomUUID } from "node:crypto";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Context } from "aws-lambda";
import { createDeliveryFunctionHandler, type DeliveryFunctionHandler } from "#handlers/delivery.ts";
import { createRouterHandler } from "#handlers/router.ts";
import { createEventBridgeClient, createSqsClient, createTableClients } from "#shared/adapters/clients.ts";
import { DeliveryQueue } from "#shared/adapters/delivery-queue.ts";
import { DeliveryRepository } from "#shared/adapters/dynamodb/deliveries.ts";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { createLogger, createMetrics, instrumented } from "#shared/adapters/observability.ts";
import { loadConfig } from "#shared/config.ts";
import {
  createDeliveryDependencies,
  createErasureRepository,
  createRouterDependencies,
} from "#shared/dependencies.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import { deriveDeliveryIds } from "#shared/domain/ids.ts";
import { createLambdaContext } from "../../local/lambda-runtime.ts";
import { SqsEventSource } from "../../local/sqs-event-source.ts";
import { createTestEnvironment, deliveryTablesOf, type TestEnvironment } from "./aws-env.ts";
import { startEventBridgeCapture } from "./eventbridge-capture.ts";
import { eventBridgeEvent, type FixtureEntry } from "./fixtures.ts";
import { IamRecorder, ungrantedCalls } from "./iam-check.ts";
import { type Receiver, startReceiver } from "./receiver.ts";
import { waitFor } from "./wait.ts";

/**
 * `count` jobs of distinct events for one subscription, put on the delivery queue as the router
 * would (no delivery record yet: the delivery function makes it).
 */
export async function enqueueJobs(
  env: TestEnvironment,
  customerId: string,
  subscriptionId: string,
  count: number,
): Promise<DeliveryJob[]> {
  const jobs = Array.from({ length: count }, (_, i): DeliveryJob => {
    const eventId = randomUUID();
    const ids = deriveDeliveryIds(eventId, subscriptionId, new Date());
    return {
      v: 1,
      delivery_id: ids.deliveryId,
      webhook_id: ids.webhookId,
      subscription_id: subscriptionId,
      customer_id: customerId,
      event_id: eventId,
      event_type: "call_hangup",
      payload: JSON.stringify({ type: "call_hangup", data: { n: i } }),
    };
  });
  await new DeliveryQueue(env.sqs, env.queues.deliveryQueueUrl).enqueue(jobs);
  return jobs;
}

/**
 * A Lambda context for handlers and Powertools middlewares invoked directly by a test: the local
 * stack's own (local/lambda-runtime.ts), with a deadline `timeoutMs` from now.
 */
export function lambdaContext(functionName = "test-function", timeoutMs = 60_000): Context {
  return createLambdaContext({ functionName, awsRegion: "us-east-1", timeoutMs }, Date.now() + timeoutMs);
}

/** A sample event re-addressed to another customer, as the router receives it from EventBridge. */
export function eventFor(entry: FixtureEntry, customerId: string, id: string = randomUUID()) {
  const detail = JSON.parse(entry.Detail) as { customer_id: string; data: Record<string, unknown> };
  return eventBridgeEvent(
    {
      ...entry,
      Detail: JSON.stringify({
        ...detail,
        customer_id: customerId,
        data: { ...detail.data, customer_id: customerId },
      }),
    },
    { id },
  );
}

export function repositoriesFor(env: TestEnvironment) {
  const doc = DynamoDBDocumentClient.from(env.dynamodb);
  return {
    subscriptions: new SubscriptionRepository(doc, env.tableName),
    deliveries: new DeliveryRepository(doc, deliveryTablesOf(env, doc)),
  };
}

/** The id the router gives the delivery of this event (its id and time) to this subscription. */
export function deliveryIdOf(event: { id: string; time: string }, subscriptionId: string): string {
  return deriveDeliveryIds(event.id, subscriptionId, new Date(event.time)).deliveryId;
}

/** The customer an event (as the router receives it) belongs to. */
export function customerOf(event: { detail: unknown }): string {
  return (event.detail as { customer_id: string }).customer_id;
}

/** Waits until the queue holds nothing: ready, delayed or in flight. */
export async function waitForQueueEmpty(
  env: TestEnvironment,
  queueUrl: string,
  timeoutMs = 10_000,
): Promise<void> {
  await waitFor(
    async () => {
      const snapshot = await env.inspectQueue(queueUrl);
      return snapshot.ready.length + snapshot.delayed.length + snapshot.inflight.length === 0;
    },
    { timeoutMs, intervalMs: 50, description: `queue ${queueUrl} empty` },
  );
}

/**
 * The delivery handler fed from each queue as its event source mapping does (`concurrency` pollers
 * per queue, 1 s long polls), started; stop each when done.
 */
export function startDeliverySources(
  env: TestEnvironment,
  queueUrls: readonly string[],
  handler: ConstructorParameters<typeof SqsEventSource>[0]["handler"],
  concurrency = 2,
): SqsEventSource[] {
  const sources = queueUrls.map(
    (queueUrl) => new SqsEventSource({ sqs: env.sqs, queueUrl, handler, waitTimeSeconds: 1, concurrency }),
  );
  for (const source of sources) source.start();
  return sources;
}

/**
 * The router and delivery handlers as Lambda runs them, configured against a fresh table and queues,
 * with a short retry schedule, a PutEvents capture for operational events, and receivers that are
 * closed with the harness.
 */
/**
 * The router and delivery handlers against a fresh test environment. With `deliverySource`, the
 * delivery handler is also fed from the delivery queue as the event source mapping does (two
 * concurrent pollers, 1 s long polls), stopped by `close()`; with `fairLanes` too, from the slow
 * delivery queue as well.
 */
export async function startPipelineHarness(
  options: { env?: Record<string, string>; deliverySource?: boolean; fairLanes?: boolean } = {},
) {
  const capture = await startEventBridgeCapture();
  const env = await createTestEnvironment({
    retrySchedule: [1, 1],
    fairLanes: options.fairLanes,
    env: {
      EVENTBRIDGE_ENDPOINT: capture.endpoint,
      DELIVERY_TIMEOUT_MS: "1000",
      SUBSCRIPTION_CACHE_TTL_MS: "0",
      POWERTOOLS_LOG_LEVEL: "SILENT",
      POWERTOOLS_METRICS_DISABLED: "true",
      ...options.env,
    },
  });
  // The clients read their credentials from the process environment, as on Lambda.
  env.applyToProcessEnv();
  const { router, delivery, recorded } = recordedHandlers();
  const receivers: Receiver[] = [];
  // With fair lanes, the slow queue has its own event source mapping, as in the stack.
  const polled = options.fairLanes
    ? [env.queues.deliveryQueueUrl, env.queues.slowDeliveryQueueUrl]
    : [env.queues.deliveryQueueUrl];
  const sources = options.deliverySource ? startDeliverySources(env, polled, delivery.handler) : [];
  return {
    env,
    capture,
    repos: repositoriesFor(env),
    delivery,
    route: (event: unknown) => router.handler(event, lambdaContext("router")),
    /**
     * The DynamoDB, SQS and EventBridge calls the router and delivery handlers made so far that their
     * roles in the synthesized stack do not allow (AccessDenied on AWS; test/support/iam-check.ts).
     */
    /** Each distinct (action, resource) the router's and the delivery function's clients needed so far. */
    recordedCalls: () => ({ router: recorded.router.distinct(), delivery: recorded.delivery.distinct() }),
    ungrantedCalls: () => [
      ...ungrantedCalls(recorded.router, env, "router").map((l) => `router: ${l}`),
      ...ungrantedCalls(recorded.delivery, env, "delivery").map((l) => `delivery: ${l}`),
    ],
    async receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
      const started = await startReceiver(...args);
      receivers.push(started);
      return started;
    },
    async close() {
      await Promise.all(sources.map((source) => source.stop()));
      await Promise.all(receivers.map((r) => r.close()));
      await capture.close();
      env.close();
    },
  };
}

export type PipelineHarness = Awaited<ReturnType<typeof startPipelineHarness>>;

/**
 * The router and delivery handlers composed as functions/router.ts and functions/delivery.ts compose
 * them (config at cold start, instrumented), over clients with an IAM recorder on each.
 */
function recordedHandlers() {
  const config = loadConfig();
  const recorded = { router: new IamRecorder(), delivery: new IamRecorder() };
  const routerLogger = createLogger("router");
  const routerMetrics = createMetrics("router");
  const routerDeps = createRouterDependencies(config, {
    doc: recorded.router.recordDynamoDb(createTableClients(config).doc),
    sqs: recorded.router.recordSqs(createSqsClient(config)),
  });
  const deliveryLogger = createLogger("delivery");
  const deliveryMetrics = createMetrics("delivery");
  const deliveryTables = createTableClients(config);
  // The document client shares the low-level client's middleware stack: one recorder for both.
  recorded.delivery.recordDynamoDb(deliveryTables.doc);
  const deliveryDeps = createDeliveryDependencies(config, deliveryLogger, {
    clients: {
      dynamodb: deliveryTables.dynamodb,
      doc: deliveryTables.doc,
      sqs: recorded.delivery.recordSqs(createSqsClient(config)),
      eventBridge: recorded.delivery.recordEventBridge(createEventBridgeClient(config)),
    },
  });
  return {
    recorded,
    router: {
      handler: instrumented(
        createRouterHandler(routerDeps, routerLogger, routerMetrics),
        routerLogger,
        routerMetrics,
      ),
    },
    delivery: {
      handler: instrumented(
        createDeliveryFunctionHandler(
          deliveryDeps,
          deliveryMetrics,
          createErasureRepository(config, recorded.delivery.recordDynamoDb(createTableClients(config).doc)),
        ),
        deliveryLogger,
        deliveryMetrics,
      ) as unknown as DeliveryFunctionHandler,
    },
  };
}
