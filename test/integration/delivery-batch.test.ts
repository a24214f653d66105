import { randomUUID } from "node:crypto";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeliveryHandler, scheduledEvent } from "#handlers/delivery.ts";
import { loadConfig } from "#shared/config.ts";
import { createDeliveryDependencies, destinationPolicyFor } from "#shared/dependencies.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import { handOffSettleMs } from "#shared/domain/delivery/waits.ts";
import { deriveDeliveryIds } from "#shared/domain/ids.ts";
import { type AddressResolver, resolveAndCheck } from "#shared/domain/subscriptions/destination-policy.ts";
import { DeliveryLogService, jobFromRecord } from "#shared/services/delivery-log.ts";
import { ensureQueue } from "../../local/provision.ts";
import { visibilityBeyondLimit } from "../../local/sqs/errors.ts";
import { toSqsRecord } from "../../local/sqs-event-source.ts";
import { fixtureEvent } from "../support/fixtures.ts";
import {
  customerOf,
  deliveryIdOf,
  eventFor,
  lambdaContext,
  type PipelineHarness,
  startPipelineHarness,
  waitForQueueEmpty,
} from "../support/pipeline.ts";
import { seedSubscription } from "../support/subscriptions.ts";
import { waitFor } from "../support/wait.ts";

const callHangup = fixtureEvent("call_hangup");

let harness: PipelineHarness;
let env: PipelineHarness["env"];
let repos: PipelineHarness["repos"];
let route: PipelineHarness["route"];
let receiver: PipelineHarness["receiver"];
let deliveryModule: PipelineHarness["delivery"];

/** Receives up to 10 visible jobs, as the event source mapping would hand them to the function. */
async function receiveBatch(max = 10): Promise<SQSEvent> {
  const records: SQSEvent["Records"] = [];
  for (let tries = 0; records.length < max && tries < 20; tries++) {
    const response = await env.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: env.queues.deliveryQueueUrl,
        MaxNumberOfMessages: max - records.length,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
        WaitTimeSeconds: records.length === 0 ? 1 : 0,
      }),
    );
    if (!response.Messages?.length) break;
    records.push(
      ...response.Messages.map((m) =>
        toSqsRecord(m, "arn:aws:sqs:us-east-1:000000000000:delivery", "us-east-1"),
      ),
    );
  }
  return { Records: records };
}

/** One event-source cycle driven by the test: receive, invoke, delete what did not fail. */
async function runBatch(
  handler: (event: SQSEvent, ctx: ReturnType<typeof lambdaContext>) => Promise<unknown>,
) {
  const event = await receiveBatch();
  const response = (await handler(event, lambdaContext("delivery"))) as {
    batchItemFailures: { itemIdentifier: string }[];
  };
  const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  for (const record of event.Records) {
    if (!failed.has(record.messageId)) {
      await deleteReceived(record.receiptHandle);
    }
  }
  return { event, failed };
}

/**
 * One event-source cycle whose invocation dies after the handler returned, before the mapping deletes
 * anything: every received message comes back (here at once, on AWS when its visibility ends).
 */
async function runBatchThenDie(
  handler: (event: SQSEvent, ctx: ReturnType<typeof lambdaContext>) => Promise<unknown>,
): Promise<void> {
  const batch = await receiveBatch();
  await handler(batch, lambdaContext("delivery"));
  for (const record of batch.Records) {
    await env.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: env.queues.deliveryQueueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: 0,
      }),
    );
  }
}

/** Runs batches until the delivery queue holds nothing: ready, delayed (waiting jobs) or in flight. */
async function drain(timeoutMs = 10_000): Promise<void> {
  await waitFor(
    async () => {
      await runBatch(deliveryModule.handler);
      const snapshot = await env.inspectQueue(env.queues.deliveryQueueUrl);
      return snapshot.ready.length + snapshot.delayed.length + snapshot.inflight.length === 0;
    },
    { timeoutMs, description: "the delivery queue drained" },
  );
}

/** Deletes a received message from the delivery queue, as the mapping does after a processed record. */
async function deleteReceived(receiptHandle: string | undefined): Promise<void> {
  await env.sqs.send(
    new DeleteMessageCommand({ QueueUrl: env.queues.deliveryQueueUrl, ReceiptHandle: receiptHandle }),
  );
}

/**
 * What the receiver and the delivery log show of a delivery made once: one webhook-id on every
 * request, the attempts' status codes in order, and the status.
 */
async function expectDelivery(
  requests: readonly { headers: Record<string, string | undefined> }[],
  customerId: string,
  deliveryId: string,
  expected: { status: string; codes: readonly (number | null)[] },
): Promise<void> {
  expect(new Set(requests.map((q) => q.headers["webhook-id"])).size).toBe(1);
  const record = await repos.deliveries.get(customerId, deliveryId);
  expect(record?.status).toBe(expected.status);
  expect(record?.attempts.map((a) => a.status_code)).toEqual(expected.codes);
}

/**
 * One routed event to a new customer's subscription whose endpoint answers `answer.status` (500 until
 * a test changes it): the delivery's ids, its receiver, and the answer to change.
 */
async function routedDelivery() {
  const customer = randomUUID();
  const answer = { status: 500 };
  const r = await receiver(() => ({ status: answer.status }));
  const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
  const event = eventFor(callHangup, customer);
  await route(event);
  return { customer, r, subscription, event, answer, deliveryId: deliveryIdOf(event, subscription.id) };
}

beforeAll(async () => {
  harness = await startPipelineHarness();
  ({ env, repos, route, delivery: deliveryModule } = harness);
  receiver = (...args) => harness.receiver(...args);
});

afterAll(async () => {
  await harness?.close();
});

describe("delivery function, batch by batch", () => {
  it("delivers once when the router ran twice on the same event (same batch)", async () => {
    const customer = randomUUID();
    const r = await receiver();
    await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const event = eventFor(callHangup, customer);
    await route(event);
    await route(event);
    const { event: batch, failed } = await runBatch(deliveryModule.handler);
    expect(batch.Records).toHaveLength(2);
    expect(failed.size).toBe(0);
    expect(r.requests).toHaveLength(1);
    await waitForQueueEmpty(env, env.queues.deliveryQueueUrl);
  });

  it("delivers once when the router ran twice on the same event (later batch)", async () => {
    const customer = randomUUID();
    const r = await receiver();
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const event = eventFor(callHangup, customer);
    await route(event);
    await runBatch(deliveryModule.handler);
    await route(event);
    const { event: batch } = await runBatch(deliveryModule.handler);
    expect(batch.Records).toHaveLength(1);
    expect(r.requests).toHaveLength(1);
    const record = await repos.deliveries.get(customerOf(event), deliveryIdOf(event, subscription.id));
    expect(record?.attempts).toHaveLength(1);
  });

  it("drops a queued job whose subscription was deleted, and closes its delivery", async () => {
    const customer = randomUUID();
    const r = await receiver();
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const event = eventFor(callHangup, customer);
    await route(event);
    expect(await repos.subscriptions.delete(customer, subscription.id)).toBe(true);
    const { event: batch, failed } = await runBatch(deliveryModule.handler);
    expect(batch.Records).toHaveLength(1);
    expect(failed.size).toBe(0);
    expect(r.requests).toHaveLength(0);
    expect(await repos.deliveries.get(customerOf(event), deliveryIdOf(event, subscription.id))).toMatchObject(
      {
        status: "dead",
        dead_reason: "subscription_deleted",
        attempts: [],
        next_attempt_at: null,
      },
    );
    await waitForQueueEmpty(env, env.queues.deliveryQueueUrl);
  });

  it("sends nothing for a disabled subscription's retrying and queued jobs, and closes the retrying record", async () => {
    const customer = randomUUID();
    const r = await receiver(() => ({ status: 500 }));
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const retrying = eventFor(callHangup, customer);
    await route(retrying);
    const { failed } = await runBatch(deliveryModule.handler);
    // Waiting for its retry as a new, delayed message: nothing is left in flight.
    expect(failed.size).toBe(0);
    expect(r.requests).toHaveLength(1);
    const retryingId = deliveryIdOf(retrying, subscription.id);
    expect((await repos.deliveries.get(customerOf(retrying), retryingId))?.status).toBe("failed");

    await repos.subscriptions.disable(customer, subscription.id, "manual", new Date());
    const queued = eventFor(callHangup, customer);
    await route(queued);
    // The queued job at once, the retrying one when its 1-second delay is over.
    await drain();
    expect(r.requests).toHaveLength(1);
    const closed = await repos.deliveries.get(customerOf(retrying), retryingId);
    expect(closed?.status).toBe("dead");
    expect(closed?.next_attempt_at).toBeNull();
    expect(closed?.attempts).toHaveLength(1);
    expect(await env.receiveAll(env.queues.deliveryDlqUrl)).toHaveLength(0);
  });

  it("puts a delivery whose last attempt failed on the dead-letter queue, and marks it dead", async () => {
    const customer = randomUUID();
    const r = await receiver(() => ({ status: 503, body: "down" }));
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const event = eventFor(callHangup, customer);
    await route(event);
    const deliveryId = deliveryIdOf(event, subscription.id);
    const lastFailures: string[] = [];
    await waitFor(
      async () => {
        const { failed } = await runBatch(deliveryModule.handler);
        lastFailures.push(...failed);
        const snapshot = await env.inspectQueue(env.queues.deliveryDlqUrl);
        return snapshot.ready.length + snapshot.inflight.length > 0;
      },
      { timeoutMs: 15_000, intervalMs: 100, description: "the job on the dead-letter queue" },
    );
    // The schedule [1, 1] allows three attempts, each one HTTP request.
    expect(r.requests).toHaveLength(3);
    const dead = await env.receiveAll(env.queues.deliveryDlqUrl);
    expect(dead).toHaveLength(1);
    const job = JSON.parse(dead[0]?.Body ?? "{}") as DeliveryJob;
    expect(job).toMatchObject({
      delivery_id: deliveryId,
      subscription_id: subscription.id,
      customer_id: customer,
      event_id: event.id,
      event_type: "call_hangup",
    });
    expect(job.payload).toBe(r.requests[0]?.body);
    const record = await repos.deliveries.get(customerOf(event), deliveryId);
    expect(record?.status).toBe("dead");
    expect(record?.attempts.map((a) => a.status_code)).toEqual([503, 503, 503]);
    expect(record?.next_attempt_at).toBeNull();
    await waitForQueueEmpty(env, env.queues.deliveryQueueUrl);
  });

  it("the test SQS refuses a visibility change past 12 hours from the receive, as AWS does", async () => {
    const queueUrl = env.queues.unroutableQueueUrl;
    await env.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "{}" }));
    const [message] = await env.receiveAll(queueUrl, { waitMs: 2000, keep: true });
    const receiptHandle = message?.ReceiptHandle as string;
    await new Promise((resolve) => setTimeout(resolve, 5));
    // 43,200 s is only valid at the very instant of the receive.
    await expect(
      env.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: 43_200,
        }),
      ),
    ).rejects.toMatchObject({
      name: "InvalidParameterValue",
      message: visibilityBeyondLimit(43_200).message,
    });
    await env.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: 43_100,
      }),
    );
    await env.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    await env.receiveAll(queueUrl, { waitMs: 2000 });
  });

  const silent = { debug() {}, info() {}, warn() {}, error() {} };

  /**
   * The delivery handler with another retry schedule (the harness's is one second long), whose jobs
   * wait on a queue of their own (`waiting`): a wait of hours stays off the shared delivery queue.
   */
  async function handlerWithSchedule(schedule: string) {
    const waiting = await ensureQueue(env.sqs, `waiting-${randomUUID().slice(0, 8)}`, {});
    const handler = createDeliveryHandler(
      createDeliveryDependencies(
        loadConfig({
          ...process.env,
          RETRY_SCHEDULE: schedule,
          RETRY_JITTER: "0",
          DELIVERY_QUEUE_URL: waiting,
        }),
        silent,
      ),
    );
    return { handler, waiting };
  }

  it("honours a Retry-After of 14 hours on a 10-hour retry: the job waits as a delayed message, in 900 s hops, nothing in flight", async () => {
    const customer = randomUUID();
    const r = await receiver(() => ({
      status: 503,
      headers: { "retry-after": String(14 * 3600) },
      body: "later",
    }));
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const event = eventFor(callHangup, customer);
    await route(event);
    const before = Date.now();
    const { handler, waiting } = await handlerWithSchedule("36000");
    const { event: batch, failed } = await runBatch(handler);
    expect(failed.size).toBe(0);
    const record = await repos.deliveries.get(customerOf(event), deliveryIdOf(event, subscription.id));
    expect(record?.status).toBe("failed");
    const dueInSeconds = (Date.parse(record?.next_attempt_at ?? "") - before) / 1000;
    expect(dueInSeconds).toBeGreaterThanOrEqual(14 * 3600 - 5);
    expect(dueInSeconds).toBeLessThanOrEqual(14 * 3600 + 5);
    // The job is a new message delayed by DelaySeconds' maximum (the first hop), carrying a new live
    // identity that the record names, the same webhook-id and payload; none is in flight.
    const snapshot = await env.inspectQueue(waiting);
    expect(snapshot.inflight).toHaveLength(0);
    expect(snapshot.ready).toHaveLength(0);
    expect(snapshot.delayed).toHaveLength(1);
    const resent = JSON.parse(snapshot.delayed[0]?.body ?? "{}") as DeliveryJob;
    const original = JSON.parse(batch.Records[0]?.body ?? "{}") as DeliveryJob;
    expect(resent.token).toBe(record?.live_job);
    expect(resent.token).not.toBe(`msg:${batch.Records[0]?.messageId}`);
    expect({ ...resent, token: undefined }).toEqual({ ...original, token: undefined });
    expect(await env.inspectQueue(env.queues.deliveryQueueUrl)).toMatchObject({ ready: [], inflight: [] });
  });

  it("a job woken before its time waits again without an attempt, and the old copy is stale once the new one is named", async () => {
    const customer = randomUUID();
    const r = await receiver(() => ({ status: 500 }));
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const event = eventFor(callHangup, customer);
    await route(event);
    const { handler, waiting } = await handlerWithSchedule("60,60");
    await runBatch(handler);
    const deliveryId = deliveryIdOf(event, subscription.id);
    const first = await repos.deliveries.get(customerOf(event), deliveryId);
    expect(first).toMatchObject({ status: "failed", chain_attempts: 1 });
    expect(r.requests).toHaveLength(1);
    const [waitingJob] = (await env.inspectQueue(waiting)).delayed;
    const job = JSON.parse(waitingJob?.body ?? "{}") as DeliveryJob;
    expect(job.token).toBe(first?.live_job);

    // The live job comes up 60 s early (as a message of the old design waking from a long
    // visibility timeout would, or a hop): it waits again for what remains, nothing is sent.
    await env.sqs.send(
      new SendMessageCommand({ QueueUrl: env.queues.deliveryQueueUrl, MessageBody: JSON.stringify(job) }),
    );
    const woken = await runBatch(handler);
    expect(woken.failed.size).toBe(0);
    expect(r.requests).toHaveLength(1);
    const record = await repos.deliveries.get(customerOf(event), deliveryId);
    expect(record).toMatchObject({
      status: "failed",
      chain_attempts: 1,
      next_attempt_at: first?.next_attempt_at,
    });
    expect(record?.attempts).toHaveLength(1);
    expect(record?.live_job).not.toBe(job.token);
    const delayed = (await env.inspectQueue(waiting)).delayed.map((m) => JSON.parse(m.body) as DeliveryJob);
    expect(delayed.map((j) => j.token).sort()).toEqual([job.token, record?.live_job].sort());

    // The same copy again (a crash after its hand-off, maybe before the re-send reached the queue):
    // it re-sends the live job under a new identity, nothing is sent to the endpoint, and the copy
    // it may have sent before is stale.
    await env.sqs.send(
      new SendMessageCommand({ QueueUrl: env.queues.deliveryQueueUrl, MessageBody: JSON.stringify(job) }),
    );
    await runBatch(handler);
    expect(r.requests).toHaveLength(1);
    const resumed = await repos.deliveries.get(customerOf(event), deliveryId);
    expect(resumed).toMatchObject({
      status: "failed",
      chain_attempts: 1,
      next_attempt_at: first?.next_attempt_at,
    });
    expect(resumed?.attempts).toHaveLength(1);
    expect([job.token, record?.live_job]).not.toContain(resumed?.live_job);
    const after = (await env.inspectQueue(waiting)).delayed.map((m) => JSON.parse(m.body) as DeliveryJob);
    expect(after.map((j) => j.token).sort()).toEqual([job.token, record?.live_job, resumed?.live_job].sort());

    // A copy of the job it replaced (neither live nor the one that named the live job): stale.
    await env.sqs.send(
      new SendMessageCommand({
        QueueUrl: env.queues.deliveryQueueUrl,
        MessageBody: JSON.stringify({ ...job, token: record?.live_job }),
      }),
    );
    await runBatch(handler);
    expect(r.requests).toHaveLength(1);
    expect((await env.inspectQueue(waiting)).delayed).toHaveLength(3);
    expect((await repos.deliveries.get(customerOf(event), deliveryId))?.live_job).toBe(resumed?.live_job);
  });

  /** Receives the delivery queue's one message and makes it visible again: a receive that ran nothing. */
  async function throttledReceive(): Promise<void> {
    const [message] = await env.receiveAll(env.queues.deliveryQueueUrl, { waitMs: 2000, keep: true });
    await env.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: env.queues.deliveryQueueUrl,
        ReceiptHandle: message?.ReceiptHandle as string,
        VisibilityTimeout: 0,
      }),
    );
  }

  it("a job that must wait on the last receive the backstop allows is re-sent with a fresh receive count: never moved, and delivered after its wait", async () => {
    const customer = randomUUID();
    let answer = 500;
    const r = await receiver(() => ({ status: answer }));
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const event = eventFor(callHangup, customer);
    await route(event);
    for (let i = 1; i < env.queueSettings.maxReceiveCount; i++) await throttledReceive();
    const { event: batch, failed } = await runBatch(deliveryModule.handler);
    expect(Number(batch.Records[0]?.attributes.ApproximateReceiveCount)).toBe(
      env.queueSettings.maxReceiveCount,
    );
    expect(failed.size).toBe(0);
    const deliveryId = deliveryIdOf(event, subscription.id);
    expect(await repos.deliveries.get(customerOf(event), deliveryId)).toMatchObject({
      status: "failed",
      chain_attempts: 1,
    });
    answer = 200;
    let retried: SQSEvent["Records"][number] | undefined;
    await waitFor(async () => {
      [retried] = (await runBatch(deliveryModule.handler)).event.Records;
      return retried !== undefined;
    });
    if (retried === undefined) throw new Error("no retry");
    // A new message: SQS counts its receives from one again.
    expect(Number(retried.attributes.ApproximateReceiveCount)).toBe(1);
    expect(await repos.deliveries.get(customerOf(event), deliveryId)).toMatchObject({ status: "succeeded" });
    expect(r.requests.map((q) => q.headers["webhook-id"])).toEqual([
      batch.Records[0] && (JSON.parse(batch.Records[0].body) as DeliveryJob).webhook_id,
      (JSON.parse(retried.body) as DeliveryJob).webhook_id,
    ]);
    const dead = await env.receiveAll(env.queues.deliveryDlqUrl, { waitMs: 500 });
    expect(dead.filter((m) => JSON.parse(m.Body ?? "{}").delivery_id === deliveryId)).toHaveLength(0);
    await waitForQueueEmpty(env, env.queues.deliveryQueueUrl);
  });

  it("delivers once when the function crashed between a re-send and the delete of the old message", async () => {
    const customer = randomUUID();
    let answer = 500;
    const r = await receiver(() => ({ status: answer }));
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const event = eventFor(callHangup, customer);
    await route(event);
    // The invocation re-sends the job (its retry, delayed) and records it, then dies before the
    // mapping deletes the old message: the old message comes back when its visibility ends.
    await runBatchThenDie(deliveryModule.handler);
    answer = 200;
    // Both copies up at once, in two concurrent invocations (the worst case: each reads the record
    // before the other writes): only the live one may send.
    const copies: SQSEvent[] = [];
    await waitFor(async () => {
      const one = await receiveBatch(1);
      if (one.Records.length > 0) copies.push(one);
      return copies.length === 2;
    });
    await Promise.all(copies.map((copy) => deliveryModule.handler(copy, lambdaContext("delivery"))));
    for (const copy of copies) {
      await deleteReceived(copy.Records[0]?.receiptHandle);
    }
    await drain();
    // The old copy was recognised as stale; the re-sent one made the second attempt: two requests,
    // one webhook-id, one success.
    expect(r.requests).toHaveLength(2);
    await expectDelivery(r.requests, customerOf(event), deliveryIdOf(event, subscription.id), {
      status: "succeeded",
      codes: [500, 200],
    });
  });

  it("delivers once when the old message of a recorded re-send comes back in the same batch as the re-sent one, ahead of it", async () => {
    const customer = randomUUID();
    let answer = 500;
    const r = await receiver(() => ({ status: answer }));
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const event = eventFor(callHangup, customer);
    await route(event);
    // The first attempt fails: the job is re-sent (delayed) and the record names the new message; the
    // function then dies before the mapping deletes the old message.
    const { handler } = deliveryModule;
    await runBatchThenDie(handler);
    const deliveryId = deliveryIdOf(event, subscription.id);
    const live = (await repos.deliveries.get(customerOf(event), deliveryId))?.live_job;
    expect(live).toMatch(/\S/);
    answer = 200;
    // A backlog brings both up in one batch, the stale old message first (a batch's order is SQS's).
    await waitFor(
      async () => {
        const snapshot = await env.inspectQueue(env.queues.deliveryQueueUrl);
        return snapshot.ready.length === 2;
      },
      { timeoutMs: 10_000, description: "the old and the re-sent message both visible" },
    );
    const both = await receiveBatch();
    expect(both.Records).toHaveLength(2);
    const tokenOf = (record: SQSEvent["Records"][number]) => (JSON.parse(record.body) as DeliveryJob).token;
    both.Records.sort((a, b) => Number(tokenOf(a) === live) - Number(tokenOf(b) === live));
    expect(tokenOf(both.Records[1] as SQSEvent["Records"][number])).toBe(live);
    const response = (await handler(both, lambdaContext("delivery"))) as {
      batchItemFailures: { itemIdentifier: string }[];
    };
    expect(response.batchItemFailures).toEqual([]);
    for (const record of both.Records) {
      await deleteReceived(record.receiptHandle);
    }
    // What the receiver saw: the failed attempt, then the live copy's successful one — not nothing.
    expect(r.requests.length).toBe(2);
    await expectDelivery(r.requests, customerOf(event), deliveryId, {
      status: "succeeded",
      codes: [500, 200],
    });
    await waitForQueueEmpty(env, env.queues.deliveryQueueUrl);
  });

  it("delivers a re-sent job that wakes before the invocation that re-sent it has finished: never taken for a stale copy", async () => {
    // The loss of issue 19's chaos runs: a retry's re-sent message (delayed 1 s) was received by
    // another invocation before the re-sending one had written the record naming it; that invocation
    // found another job live, dropped it as stale, and the record then named a job on no queue.
    const { customer, r, answer, deliveryId } = await routedDelivery();
    // Attempt 1 fails: the record exists and names the re-sent job.
    await waitFor(async () => (await runBatch(deliveryModule.handler)).event.Records.length > 0);
    expect(await repos.deliveries.get(customer, deliveryId)).toMatchObject({ status: "failed" });
    // Attempt 2 fails in an invocation that is slow after its re-send (a loaded host, a throttled
    // write retried by the SDK): the re-sent job wakes meanwhile and another invocation takes it.
    const deps = createDeliveryDependencies(loadConfig(process.env), silent);
    let overtaken = false;
    const slow = createDeliveryHandler({
      ...deps,
      queue: {
        hold: (...args) => deps.queue.hold(...args),
        send: async (...args) => {
          const id = await deps.queue.send(...args);
          if (!overtaken) {
            overtaken = true;
            answer.status = 200;
            await waitFor(async () => (await runBatch(deliveryModule.handler)).event.Records.length > 0, {
              timeoutMs: 10_000,
              description: "the re-sent job received by another invocation",
            });
          }
          return id;
        },
      },
    });
    await waitFor(async () => (await runBatch(slow)).event.Records.length > 0);
    expect(overtaken).toBe(true);
    await drain();
    // What the receiver and the delivery log show: the third attempt was made, and succeeded.
    expect(r.requests.map((q) => q.headers["webhook-id"])).toHaveLength(3);
    await expectDelivery(r.requests, customer, deliveryId, { status: "succeeded", codes: [500, 500, 200] });
  });

  /**
   * A failed attempt whose function died right after the record write that names the new job: the
   * record names a job on no queue, and the received message (not deleted) is its only way back.
   */
  async function diedAfterHandOff() {
    const { customer, r, answer, deliveryId } = await routedDelivery();
    const config = loadConfig(process.env);
    const deps = createDeliveryDependencies(config, silent);
    let crashes = 1;
    // The process dies right after the record write that names the new job: neither its send nor
    // anything after it (the undo of the hand-off included) happens.
    const crashing = createDeliveryHandler({
      ...deps,
      queue: {
        hold: (...args) => deps.queue.hold(...args),
        send: (...args) => {
          if (crashes-- > 0) return Promise.reject(new Error("crash after the hand-off, before the re-send"));
          return deps.queue.send(...args);
        },
      },
      deliveries: {
        ...deps.deliveries,
        recordAttempt: (input) => deps.deliveries.recordAttempt(input),
        handOff: (input) => deps.deliveries.handOff(input),
        close: (input) => deps.deliveries.close(input),
        markDeadLettered: (...args) => deps.deliveries.markDeadLettered(...args),
        isDeadLettered: (...args) => deps.deliveries.isDeadLettered(...args),
        releaseHandOff: () => Promise.reject(new Error("the process is dead")),
      },
    });
    let first: SQSEvent | undefined;
    await waitFor(async () => {
      const ran = await runBatch(crashing);
      first = ran.event;
      return ran.event.Records.length > 0;
    });
    const old = first?.Records[0];
    if (old === undefined) throw new Error("no job");
    // The attempt is recorded and the record names a job that is on no queue; the old message is
    // still on its queue (its record was reported failed, so the mapping did not delete it).
    const named = await repos.deliveries.get(customer, deliveryId);
    expect(named).toMatchObject({ status: "failed", attempts: [{ status_code: 500 }] });
    expect((await env.inspectQueue(env.queues.deliveryQueueUrl)).delayed).toHaveLength(0);
    if (named === null) throw new Error("no record");
    return { customer, r, answer, deliveryId, config, old, named };
  }

  it("re-sends the live job when the function died after the record named it and before its send: delivered, no attempt repeated", async () => {
    const { customer, r, answer, deliveryId, config, old, named } = await diedAfterHandOff();
    const comeBack = async () =>
      env.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: env.queues.deliveryQueueUrl,
          ReceiptHandle: old.receiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    // Back while the named job is due and could be under way: left on the queue, nothing sent.
    await comeBack();
    const early = await receiveBatch(1);
    const { batchItemFailures } = (await deliveryModule.handler(early, lambdaContext("delivery"))) as {
      batchItemFailures: { itemIdentifier: string }[];
    };
    expect(batchItemFailures.map((f) => f.itemIdentifier)).toEqual([old.messageId]);
    expect((await repos.deliveries.get(customer, deliveryId))?.live_job).toBe(named?.live_job);
    // Hidden until the hand-off has settled, not for the queue's whole visibility timeout: a crash
    // stalls the delivery for seconds, not minutes.
    const { Attributes } = await env.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: env.queues.deliveryQueueUrl,
        AttributeNames: ["VisibilityTimeout"],
      }),
    );
    const settleMs = handOffSettleMs(config.DELIVERY_TIMEOUT_MS);
    expect(Number(Attributes?.VisibilityTimeout) * 1000).toBeGreaterThan(settleMs + 5_000);
    const kept = (await env.inspectQueue(env.queues.deliveryQueueUrl)).inflight.find(
      (entry) => entry.message.messageId === old.messageId,
    );
    expect(kept?.visibilityDeadline).toBeDefined();
    expect((kept?.visibilityDeadline ?? 0) - Date.now()).toBeLessThanOrEqual(settleMs + 1_000);
    // Back once it has settled: it re-sends the live job, due at once.
    answer.status = 200;
    const later = createDeliveryHandler(
      createDeliveryDependencies(config, silent, { now: () => new Date(Date.now() + 360_000) }),
    );
    const backEvent = await (async () => {
      await env.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: env.queues.deliveryQueueUrl,
          ReceiptHandle: early.Records[0]?.receiptHandle,
          VisibilityTimeout: 0,
        }),
      );
      return receiveBatch(1);
    })();
    expect(backEvent.Records.map((record) => record.messageId)).toEqual([old.messageId]);
    const back = (await later(backEvent, lambdaContext("delivery"))) as {
      batchItemFailures: { itemIdentifier: string }[];
    };
    expect(back.batchItemFailures).toEqual([]);
    await deleteReceived(backEvent.Records[0]?.receiptHandle);
    await drain();
    // The receiver got the failed attempt and one more (the live job's), not a repeat of the first.
    expect(r.requests).toHaveLength(2);
    await expectDelivery(r.requests, customer, deliveryId, { status: "succeeded", codes: [500, 200] });
    const dead = await env.receiveAll(env.queues.deliveryDlqUrl, { waitMs: 500 });
    expect(dead.filter((m) => JSON.parse(m.Body ?? "{}").delivery_id === deliveryId)).toHaveLength(0);
  });

  it("puts a hand-off back when a manual retry's enqueue failed while the hand-off's send was lost: the old message still re-sends the live job", async () => {
    // Three faults: the function died between the hand-off's record write and its send; a manual
    // retry came meanwhile, and its enqueue failed, so the retry was reverted. The revert must give
    // the record back its `prev_job`, or the old message drops itself as stale and nothing is left
    // to send the live job: the delivery waits forever.
    const { customer, r, answer, deliveryId, config, old, named } = await diedAfterHandOff();
    const log = new DeliveryLogService({
      subscriptions: repos.subscriptions,
      deliveries: repos.deliveries,
      queue: { enqueue: () => Promise.reject(new Error("SQS unavailable")) },
      quotas: { consume: async () => {} },
      settings: { retentionDays: 30 },
    });
    await expect(log.retry(customer, deliveryId)).rejects.toThrow("SQS unavailable");
    expect(await repos.deliveries.get(customer, deliveryId)).toMatchObject({
      status: "failed",
      live_job: named.live_job,
    });
    // The old message, back once the hand-off has settled, re-sends the live job; it is delivered.
    answer.status = 200;
    const later = createDeliveryHandler(
      createDeliveryDependencies(config, silent, { now: () => new Date(Date.now() + 360_000) }),
    );
    await env.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: env.queues.deliveryQueueUrl,
        ReceiptHandle: old.receiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const back = await receiveBatch(1);
    expect(back.Records.map((record) => record.messageId)).toEqual([old.messageId]);
    await later(back, lambdaContext("delivery"));
    await deleteReceived(back.Records[0]?.receiptHandle);
    await drain();
    expect(r.requests).toHaveLength(2);
    await expectDelivery(r.requests, customer, deliveryId, { status: "succeeded", codes: [500, 200] });
  });

  it("undoes a hand-off whose re-send failed: the old message is the live job again and makes the next attempt when it comes back", async () => {
    const { customer, r, answer, deliveryId } = await routedDelivery();
    const deps = createDeliveryDependencies(loadConfig(process.env), silent);
    let failures = 1;
    const failing = createDeliveryHandler({
      ...deps,
      queue: {
        hold: (...args) => deps.queue.hold(...args),
        send: (...args) =>
          failures-- > 0 ? Promise.reject(new Error("SQS unavailable")) : deps.queue.send(...args),
      },
    });
    let first: SQSEvent | undefined;
    await waitFor(async () => {
      const ran = await runBatch(failing);
      first = ran.event;
      return ran.event.Records.length > 0;
    });
    const old = first?.Records[0];
    if (old === undefined) throw new Error("no job");
    // The attempt is recorded; the record names the received message the live job again.
    expect(await repos.deliveries.get(customer, deliveryId)).toMatchObject({
      status: "failed",
      live_job: `msg:${old.messageId}`,
      attempts: [{ status_code: 500 }],
    });
    answer.status = 200;
    await env.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: env.queues.deliveryQueueUrl,
        ReceiptHandle: old.receiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    await drain();
    expect(r.requests).toHaveLength(2);
    await expectDelivery(r.requests, customer, deliveryId, { status: "succeeded", codes: [500, 200] });
  });

  it.each([
    { end: "death", last: 500 },
    { end: "success", last: 200 },
  ])(
    "a stale chain's $end never overwrites a newer retry's state: the retry's chain decides, nothing on the DLQ",
    async ({ last }) => {
      const { customer, r, answer, deliveryId } = await routedDelivery();
      // Two attempts: the second is the chain's last, whose failure would dead-letter the delivery.
      const deps = createDeliveryDependencies(loadConfig({ ...process.env, RETRY_SCHEDULE: "1" }), silent);
      let holdAttempt: Promise<void> | undefined;
      let attemptHeld: () => void = () => {};
      const handler = createDeliveryHandler({
        ...deps,
        sender: {
          send: async (request) => {
            const result = await deps.sender.send(request);
            // The old chain's last attempt has its answer, but its record is not written yet.
            if (holdAttempt !== undefined) {
              attemptHeld();
              await holdAttempt;
            }
            return result;
          },
        },
      });
      await waitFor(async () => (await runBatch(handler)).event.Records.length > 0);
      expect(await repos.deliveries.get(customer, deliveryId)).toMatchObject({ status: "failed" });
      answer.status = last;
      let release: () => void = () => {};
      holdAttempt = new Promise((resolve) => {
        release = resolve;
      });
      const held = new Promise<void>((resolve) => {
        attemptHeld = resolve;
      });
      const lastAttempt = waitFor(async () => (await runBatch(handler)).event.Records.length > 0);
      await held;
      holdAttempt = undefined;
      // Meanwhile a manual retry (as POST /v1/deliveries/{id}/retry does it) starts a new chain.
      const token = randomUUID();
      const now = new Date();
      const requeued = await repos.deliveries.requeue(customer, deliveryId, { from: ["failed"], token, now });
      if (requeued.kind !== "requeued") throw new Error("not requeued");
      await env.sqs.send(
        new SendMessageCommand({
          QueueUrl: env.queues.deliveryQueueUrl,
          MessageBody: JSON.stringify(jobFromRecord(requeued.previous, token, now.toISOString())),
        }),
      );
      release();
      await lastAttempt;
      answer.status = 200;
      // The old chain's last answer is in the log, but decided nothing: the retry's chain is pending.
      const afterStale = await repos.deliveries.get(customer, deliveryId);
      expect(afterStale?.status).toBe("pending");
      expect(afterStale?.attempts.map((a) => a.status_code)).toEqual([500, last]);
      await drain();
      await expectDelivery(r.requests, customer, deliveryId, {
        status: "succeeded",
        codes: [500, last, 200],
      });
      const dead = await env.receiveAll(env.queues.deliveryDlqUrl, { waitMs: 1000 });
      expect(dead.filter((m) => JSON.parse(m.Body ?? "{}").delivery_id === deliveryId)).toHaveLength(0);
    },
  );

  it("leaves exactly one message on the dead-letter queue when the function crashed between the dead record and the DLQ send", async () => {
    const customer = randomUUID();
    const r = await receiver(() => ({ status: 500 }));
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const event = eventFor(callHangup, customer);
    await route(event);
    const deliveryId = deliveryIdOf(event, subscription.id);
    const config = loadConfig({ ...process.env, RETRY_SCHEDULE: "1" });
    const deps = createDeliveryDependencies(config, silent);
    let crashes = 1;
    // The process dies right after the record said dead, before the job reached the DLQ.
    const crashing = createDeliveryHandler({
      ...deps,
      deadLetters: {
        send: (...args) => {
          if (crashes-- > 0) throw new Error("crash before the DLQ send");
          return deps.deadLetters.send(...args);
        },
      },
    });
    const handler = createDeliveryHandler(deps);
    await runBatch(handler);
    await waitFor(async () => {
      const { event: batch } = await runBatch(crashing);
      return batch.Records.length > 0;
    });
    expect((await repos.deliveries.get(customer, deliveryId))?.status).toBe("dead");
    expect(crashes).toBe(0);
    // The failed record comes back (here at once) and finds its delivery dead, not yet dead-lettered.
    await env.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: env.queues.deliveryQueueUrl,
        ReceiptHandle: (await env.inspectQueue(env.queues.deliveryQueueUrl)).inflight[0]?.receiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    await drain();
    const dead = await env.receiveAll(env.queues.deliveryDlqUrl, { waitMs: 2000 });
    const mine = dead.filter((m) => JSON.parse(m.Body ?? "{}").delivery_id === deliveryId);
    expect(mine).toHaveLength(1);
    expect(mine[0]?.MessageAttributes?.reason?.StringValue).toBe("attempts_exhausted");
    expect(r.requests).toHaveLength(2);
  });

  /** The backstop queue empty, and one copy of the delivery's job on the DLQ, `internal`, naming the arrival. */
  async function expectReconciledOnce(deliveryId: string, arrivalId: string): Promise<void> {
    expect(await env.inspectQueue(env.queues.deliveryBackstopUrl)).toMatchObject({ ready: [], inflight: [] });
    const left = await env.receiveAll(env.queues.deliveryDlqUrl, { waitMs: 2000 });
    const mine = left.filter((m) => JSON.parse(m.Body ?? "{}").delivery_id === deliveryId);
    expect(mine).toHaveLength(1);
    expect(mine[0]?.MessageAttributes?.reason?.StringValue).toBe("internal");
    expect(mine[0]?.MessageAttributes?.original_message_id?.StringValue).toBe(arrivalId);
  }

  it("reconciles a job the queue's backstop moved to the backstop queue: dead, reason internal, on the DLQ with the reason, gone from the backstop queue", async () => {
    const customer = randomUUID();
    const r = await receiver(() => ({ status: 500 }));
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const event = eventFor(callHangup, customer);
    await route(event);
    const { event: batch } = await runBatch(deliveryModule.handler);
    const deliveryId = deliveryIdOf(event, subscription.id);
    expect((await repos.deliveries.get(customerOf(event), deliveryId))?.status).toBe("failed");
    // What SQS's redrive does: the same message, on the lanes' redrive target (the backstop queue).
    const moved = batch.Records[0];
    const { MessageId: movedId } = await env.sqs.send(
      new SendMessageCommand({
        QueueUrl: env.queues.deliveryBackstopUrl,
        MessageBody: moved?.body as string,
      }),
    );
    const config = loadConfig(process.env);
    const { BackstopQueue, DeadLetterQueue } = await import("#shared/adapters/delivery-queue.ts");
    const backstop = new BackstopQueue(env.sqs, env.queues.deliveryBackstopUrl);
    const dlq = new DeadLetterQueue(env.sqs, env.queues.deliveryDlqUrl);
    const { reconcileBackstopArrivals } = await import("#shared/services/delivery/backstop.ts");
    // The live job of the record is the original message (its id); SQS keeps the id when it moves it,
    // which a test send cannot reproduce: close by the record's own live job.
    const record = await repos.deliveries.get(customerOf(event), deliveryId);
    let deleteCrashes = 1;
    const deps = {
      backstop: {
        receive: backstop.receive.bind(backstop),
        release: backstop.release.bind(backstop),
        // The first pass dies after the DLQ send and its mark, before the delete.
        delete: async (receiptHandle: string) => {
          if (deleteCrashes-- > 0) throw new Error("crash before the backstop delete");
          await backstop.delete(receiptHandle);
        },
      },
      deadLetters: dlq,
      deliveries: {
        close: (input: Parameters<typeof repos.deliveries.close>[0]) =>
          repos.deliveries.close({
            ...input,
            liveJob: input.delivery.delivery_id === deliveryId ? (record?.live_job as string) : input.liveJob,
          }),
        get: repos.deliveries.get.bind(repos.deliveries),
        isDeadLettered: repos.deliveries.isDeadLettered.bind(repos.deliveries),
        markDeadLettered: repos.deliveries.markDeadLettered.bind(repos.deliveries),
      },
      retentionDays: config.DELIVERY_RETENTION_DAYS,
      logger: silent,
    };
    await expect(reconcileBackstopArrivals(deps, { waitSeconds: 1 })).rejects.toThrow(/backstop delete/);
    expect(await repos.deliveries.get(customerOf(event), deliveryId)).toMatchObject({
      status: "dead",
      dead_reason: "internal",
    });
    // The arrival is back on the backstop queue (here at once, not after its visibility timeout).
    await env.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: env.queues.deliveryBackstopUrl,
        ReceiptHandle: (await env.inspectQueue(env.queues.deliveryBackstopUrl)).inflight[0]?.receiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const result = await reconcileBackstopArrivals(deps, { waitSeconds: 1 });
    expect(result).toEqual({ examined: 1, reconciled: 1, unreadable: 0, drained: true });
    // One copy on the dead-letter queue, although two passes reached the arrival.
    await expectReconciledOnce(deliveryId, movedId as string);
    await repos.subscriptions.delete(customer, subscription.id);
    await drain();
  });

  /**
   * A job on the backstop queue, as SQS's redrive leaves it, and its delivery as the receives left
   * it: failed, retrying in 5 minutes, with `liveJob` (given the arrival's message id) as live job.
   */
  async function backstopArrival(liveJob: (messageId: string) => string) {
    const customer = randomUUID();
    const subscriptionId = randomUUID();
    const eventId = randomUUID();
    const now = new Date();
    const { deliveryId, webhookId } = deriveDeliveryIds(eventId, subscriptionId, now);
    const job: DeliveryJob = {
      v: 1,
      delivery_id: deliveryId,
      webhook_id: webhookId,
      subscription_id: subscriptionId,
      customer_id: customer,
      event_id: eventId,
      event_type: "call_hangup",
      payload: '{"type":"call_hangup","data":{}}',
    };
    const { MessageId } = await env.sqs.send(
      new SendMessageCommand({ QueueUrl: env.queues.deliveryBackstopUrl, MessageBody: JSON.stringify(job) }),
    );
    await repos.deliveries.recordAttempt({
      delivery: job,
      liveJob: liveJob(MessageId as string),
      attempt: {
        at: now.toISOString(),
        status_code: 503,
        error: null,
        latency_ms: 4,
        response_body: "busy",
        request: null,
      },
      status: "failed",
      deadReason: null,
      nextAttemptAt: new Date(now.getTime() + 300_000).toISOString(),
      now,
      redeliverAfter: undefined,
      retentionDays: 30,
      existing: undefined,
    });
    return { customer, deliveryId, messageId: MessageId as string };
  }

  it("reconciles when the schedule invokes the function: a backstop arrival is closed as dead (internal) and moved to the DLQ with the reason", async () => {
    // What SQS's redrive does: the job's message on the backstop queue; that message its live job.
    const { customer, deliveryId, messageId: MessageId } = await backstopArrival((id) => `msg:${id}`);
    // EventBridge's Scheduled Event, as the BackstopReconcile rule sends it to the delivery function.
    // The pass long-polls (20 s) until the backstop queue answers empty.
    const result = await deliveryModule.handler(
      scheduledEvent(new Date(), "us-east-1"),
      lambdaContext("delivery"),
    );
    expect(result).toMatchObject({ unreadable: 0, drained: true });
    expect(result.reconciled).toBeGreaterThanOrEqual(1);
    expect(await repos.deliveries.get(customer, deliveryId)).toMatchObject({
      status: "dead",
      dead_reason: "internal",
      next_attempt_at: null,
    });
    await expectReconciledOnce(deliveryId, MessageId as string);
  }, 120_000);

  it("deletes a stale backstop arrival whose delivery another job carries on: no DLQ copy, the record untouched", async () => {
    // An old copy of the job reaches the backstop queue while the delivery goes on under a newer job
    // (a retry re-sent it under another token).
    const { customer, deliveryId, messageId: MessageId } = await backstopArrival(() => `w-${randomUUID()}`);
    const result = await deliveryModule.handler(
      scheduledEvent(new Date(), "us-east-1"),
      lambdaContext("delivery"),
    );
    expect(result).toMatchObject({ unreadable: 0, drained: true });
    // The delivery still waits for its retry, and no copy of it went to the dead-letter queue.
    expect(await repos.deliveries.get(customer, deliveryId)).toMatchObject({
      status: "failed",
      dead_reason: null,
    });
    const left = await env.receiveAll(env.queues.deliveryDlqUrl, { waitMs: 1500 });
    expect(left.filter((m) => JSON.parse(m.Body ?? "{}").delivery_id === deliveryId)).toEqual([]);
    // Gone from the backstop queue: neither waiting nor hidden for another pass.
    const backstop = await env.inspectQueue(env.queues.deliveryBackstopUrl);
    const ids = [...backstop.ready, ...backstop.delayed, ...backstop.inflight.map((i) => i.message)];
    expect(ids.map((m) => m.messageId)).not.toContain(MessageId);
  }, 120_000);

  it("reports exactly the failing records of a batch of 10 with mixed outcomes", async () => {
    const customer = randomUUID();
    const r = await receiver((req) => ({ status: req.url.startsWith("/fail") ? 500 : 200 }));
    const failing = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const path = i % 3 === 0 ? `/fail/${i}` : `/ok/${i}`;
      const subscription = await seedSubscription(repos.subscriptions, {
        customer_id: customer,
        url: `${r.url}${path}`,
      });
      if (path.startsWith("/fail")) failing.add(subscription.id);
    }
    await route(eventFor(callHangup, customer));
    const { event: batch, failed } = await runBatch(deliveryModule.handler);
    expect(batch.Records).toHaveLength(10);
    const failingDeliveries = batch.Records.map((record) => JSON.parse(record.body) as DeliveryJob)
      .filter((job) => failing.has(job.subscription_id))
      .map((job) => job.delivery_id);
    // Nothing is left in flight: the failed ones wait for their retry as new, delayed messages.
    expect(failed.size).toBe(0);
    expect(failingDeliveries).toHaveLength(4);
    expect(r.requests).toHaveLength(10);
    const snapshot = await env.inspectQueue(env.queues.deliveryQueueUrl);
    expect(snapshot.ready).toHaveLength(0);
    expect(snapshot.inflight).toHaveLength(0);
    expect(snapshot.delayed.map((m) => (JSON.parse(m.body) as DeliveryJob).delivery_id).sort()).toEqual(
      failingDeliveries.sort(),
    );
    for (const subscriptionId of failing) await repos.subscriptions.delete(customer, subscriptionId);
    await drain();
  });

  it("refuses a DNS answer that changed to a private address between check and connect", async () => {
    const customer = randomUUID();
    const r = await receiver();
    const hostname = "hooks.rebinding.example";
    let lookups = 0;
    // First answer: a public address (what the API checks at create time); then a private one.
    const resolver: AddressResolver = async () => {
      lookups++;
      return lookups === 1 ? [{ address: "93.184.216.34", family: 4 }] : [{ address: "10.0.0.7", family: 4 }];
    };
    const config = loadConfig(process.env);
    await expect(resolveAndCheck(hostname, destinationPolicyFor(config), resolver)).resolves.toBeDefined();
    const subscription = await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: `http://${hostname}:${r.port}/`,
    });
    const handler = createDeliveryHandler(createDeliveryDependencies(config, silent, { resolver }));
    const event = eventFor(callHangup, customer);
    await route(event);
    await runBatch(handler);
    const record = await repos.deliveries.get(customerOf(event), deliveryIdOf(event, subscription.id));
    expect(record?.status).toBe("failed");
    expect(record?.attempts[0]?.status_code).toBeNull();
    expect(record?.attempts[0]?.error).toMatch(/^blocked_destination/);
    expect(record?.attempts[0]?.error).toContain("private (10.0.0.0/8)");
    expect(lookups).toBeGreaterThanOrEqual(2);
    await repos.subscriptions.delete(customer, subscription.id);
    await drain();
  });

  it("fails the records without an endpoint attempt when its own table is unreachable", async () => {
    const customer = randomUUID();
    const r = await receiver();
    await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    await route(eventFor(callHangup, customer));
    const broken = loadConfig({ ...process.env, DYNAMODB_ENDPOINT: "http://127.0.0.1:9" });
    const handler = createDeliveryHandler(createDeliveryDependencies(broken, silent));
    const { event: batch, failed } = await runBatch(handler);
    expect(batch.Records).toHaveLength(1);
    expect(failed.size).toBe(1);
    expect(r.requests).toHaveLength(0);
  });
});

// Last in the file: every call the tests above made through the router and the delivery function.
describe("IAM (AWS's rule, which the local stack does not enforce: docs/security.md)", () => {
  it("the router's and the delivery function's roles allow every DynamoDB, SQS and EventBridge call these tests made", () => {
    expect(harness.ungrantedCalls()).toEqual([]);
  });
});
