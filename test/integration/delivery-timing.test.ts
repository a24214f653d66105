import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeliveryHandler } from "#handlers/delivery.ts";
import { createAwsClients } from "#shared/adapters/clients.ts";
import { loadConfig } from "#shared/config.ts";
import { createDeliveryDependencies } from "#shared/dependencies.ts";
import { latenessOf } from "#shared/domain/delivery/lateness.ts";
import { deriveDeliveryIds } from "#shared/domain/ids.ts";
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

const succeeded = (customer: string, deliveryId: string) =>
  waitFor(async () => (await harness.repos.deliveries.get(customer, deliveryId))?.status === "succeeded", {
    timeoutMs: 15_000,
    description: "the delivery to succeed",
  });

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
    await succeeded(customer, deliveryId);
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
    await succeeded(customer, deliveryId);
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

  it("fairness's deferrals ride on their hand-offs and the next attempt: held time shows as fairness_ms", async () => {
    const customer = randomUUID();
    const subscriptionId = randomUUID();
    const eventId = randomUUID();
    const created = new Date(Date.now() - 10_000);
    const { deliveryId, webhookId } = deriveDeliveryIds(eventId, subscriptionId, created);
    const delivery = {
      delivery_id: deliveryId,
      webhook_id: webhookId,
      subscription_id: subscriptionId,
      customer_id: customer,
      event_id: eventId,
      event_type: "call_hangup",
    };
    const deliveries = harness.repos.deliveries;
    // Two deferrals (an open breaker, then the endpoint's cap), as waitWithoutAttempt records them.
    const hop = (fromJob: string, toJob: string, heldMs: number) =>
      deliveries.handOff({
        delivery,
        fromJob,
        toJob,
        nextAttemptAt: new Date(Date.now() + heldMs).toISOString(),
        now: new Date(),
        retentionDays: 30,
        heldMs,
      });
    expect(await hop("msg:first", "t1", 2_000)).toBe("handed_off");
    expect(await hop("t1", "t2", 1_500)).toBe("handed_off");
    const waiting = await deliveries.get(customer, deliveryId);
    expect(waiting?.held_ms).toBe(3_500);

    const at = new Date();
    await deliveries.recordAttempt({
      delivery,
      liveJob: "t2",
      attempt: {
        at: at.toISOString(),
        status_code: 200,
        error: null,
        latency_ms: 40,
        response_body: "ok",
        request: null,
        timing: { held_ms: 3_500 },
      },
      status: "succeeded",
      deadReason: null,
      nextAttemptAt: null,
      now: new Date(at.getTime() + 40),
      redeliverAfter: undefined,
      retentionDays: 30,
      existing: {
        event_id: eventId,
        status: "pending",
        dead_reason: null,
        succeeded_at: null,
        next_attempt_at: waiting?.next_attempt_at ?? null,
        chain_attempts: 0,
        live_job: "t2",
        prev_job: null,
        dead_lettered_at: null,
        held_ms: 3_500,
      },
    });
    const done = await deliveries.get(customer, deliveryId);
    if (done === null) throw new Error("no record");
    // The attempt carries the holds; the head starts again from none.
    expect(done.held_ms).toBeUndefined();
    expect(done.attempts[0]?.timing?.held_ms).toBe(3_500);
    const timing = latenessOf(done, new Date());
    expect(timing.fairness_ms).toBe(3_500);
    expect(timing.receiver_ms).toBe(40);
  });
});
