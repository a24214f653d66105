import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeliveryHandler } from "#handlers/delivery.ts";
import { createAwsClients } from "#shared/adapters/clients.ts";
import { loadConfig } from "#shared/config.ts";
import { createDeliveryDependencies } from "#shared/dependencies.ts";
import { latenessOf } from "#shared/domain/delivery/lateness.ts";
import { SqsEventSource } from "../../local/sqs-event-source.ts";
import { fixtureEvent } from "../support/fixtures.ts";
import {
  customerOf,
  deliveryIdOf,
  eventFor,
  type PipelineHarness,
  startPipelineHarness,
} from "../support/pipeline.ts";
import { seedSubscription } from "../support/subscriptions.ts";
import { waitFor } from "../support/wait.ts";

/**
 * "Why was it late?" costs no write (PRODUCT §12, docs/delivery.md): the DynamoDB requests the
 * delivery function sends are counted on the wire (the `x-amz-target` of every request its table
 * client signs), for a delivery that succeeds at once and for one that succeeds on its second attempt.
 */

const WRITE_OPERATIONS = new Set([
  "PutItem",
  "UpdateItem",
  "DeleteItem",
  "BatchWriteItem",
  "TransactWriteItems",
]);

let harness: PipelineHarness;
let source: SqsEventSource;
const operations: string[] = [];
const silent = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  harness = await startPipelineHarness();
  const config = loadConfig(process.env);
  const clients = createAwsClients(config);
  // The document client signs through its base client's stack: every table request passes here.
  clients.dynamodb.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      const target = request.headers?.["x-amz-target"];
      if (target !== undefined) operations.push(target.split(".").pop() ?? target);
      return next(args);
    },
    { step: "finalizeRequest", name: "countTableRequests" },
  );
  const handler = createDeliveryHandler(createDeliveryDependencies(config, silent, { clients }));
  source = new SqsEventSource({
    sqs: harness.env.sqs,
    queueUrl: harness.env.queues.deliveryQueueUrl,
    handler,
    waitTimeSeconds: 1,
    concurrency: 1,
  });
  source.start();
});

afterAll(async () => {
  await source?.stop();
  await harness?.close();
});

const writes = () => operations.filter((operation) => WRITE_OPERATIONS.has(operation));

describe("why was it late, at no write", () => {
  it("a delivery that succeeds at once costs the delivery function one write, its record", async () => {
    const customer = randomUUID();
    const receiver = await harness.receiver();
    const subscription = await seedSubscription(harness.repos.subscriptions, {
      customer_id: customer,
      url: receiver.url,
    });
    const event = eventFor(fixtureEvent("call_hangup"), customer);
    operations.splice(0);
    await harness.route(event);
    await receiver.waitForRequests(1, 10_000);
    const deliveryId = deliveryIdOf(event, subscription.id);
    await waitFor(
      async () => (await harness.repos.deliveries.get(customer, deliveryId))?.status === "succeeded",
      { timeoutMs: 10_000, description: "the delivery recorded" },
    );
    expect(writes()).toEqual(["PutItem"]);

    // And the record says where its time went, to the millisecond of its age.
    const record = await harness.repos.deliveries.get(customerOf(event), deliveryId);
    if (record === null) throw new Error("no record");
    expect(record.routed_at).toBeDefined();
    const timing = latenessOf(record, new Date());
    const [attempt] = record.attempts;
    expect(timing.age_ms).toBe(
      Date.parse(attempt?.at ?? "") + (attempt?.latency_ms ?? 0) - Date.parse(record.created_at),
    );
    expect(timing.receiver_ms).toBe(attempt?.latency_ms);
    expect(timing.backoff_ms).toBe(0);
    expect(
      (timing.routing_ms ?? 0) +
        timing.queued_ms +
        timing.fairness_ms +
        timing.backoff_ms +
        timing.receiver_ms +
        timing.idle_ms,
    ).toBe(timing.age_ms);
  });

  it("a retried delivery writes what it wrote before: an attempt item and a head update per attempt after the first", async () => {
    const customer = randomUUID();
    const receiver = await harness.receiver((_request, n) => ({ status: n === 1 ? 503 : 200 }));
    const subscription = await seedSubscription(harness.repos.subscriptions, {
      customer_id: customer,
      url: receiver.url,
    });
    const event = eventFor(fixtureEvent("call_hangup"), customer);
    operations.splice(0);
    await harness.route(event);
    const deliveryId = deliveryIdOf(event, subscription.id);
    await waitFor(
      async () => (await harness.repos.deliveries.get(customer, deliveryId))?.status === "succeeded",
      { timeoutMs: 15_000, description: "the retried delivery to succeed" },
    );
    // First attempt: the head and its attempt item, the streak's start; second: its attempt item,
    // the head, the streak's end. Nothing for "why was it late".
    expect(writes().sort()).toEqual([
      "PutItem",
      "PutItem",
      "PutItem",
      "UpdateItem",
      "UpdateItem",
      "UpdateItem",
    ]);
    const record = await harness.repos.deliveries.get(customer, deliveryId);
    expect(record?.attempts[0]?.timing?.retry_at).toBeDefined();
  });
});
