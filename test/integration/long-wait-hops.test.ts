import { randomUUID } from "node:crypto";
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeliveryHandler } from "#handlers/delivery.ts";
import { createAwsClients } from "#shared/adapters/clients.ts";
import { loadConfig } from "#shared/config.ts";
import { createDeliveryDependencies } from "#shared/dependencies.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import { toSqsRecord } from "../../local/sqs-event-source.ts";
import { fixtureEvent } from "../support/fixtures.ts";
import {
  customerOf,
  deliveryIdOf,
  eventFor,
  lambdaContext,
  type PipelineHarness,
  startPipelineHarness,
} from "../support/pipeline.ts";
import { seedSubscription } from "../support/subscriptions.ts";

/**
 * Long waits (docs/delivery.md, "Hops that do not write"): a wait longer than SQS's 900 s delay is
 * reached in hops, and only the last hop — the one that wakes the job for its attempt — writes the
 * delivery's head. These tests drive the delivery handler on a simulated clock: each wait the handler
 * re-sends is kept here and put on the delivery queue when the clock reaches it, as SQS would after
 * its DelaySeconds, and every DynamoDB write the handler makes is counted on its client.
 */

const callHangup = fixtureEvent("call_hangup");
const WRITES = new Set([
  "PutCommand",
  "UpdateCommand",
  "DeleteCommand",
  "BatchWriteCommand",
  "TransactWriteCommand",
]);

let harness: PipelineHarness;

beforeAll(async () => {
  harness = await startPipelineHarness();
});

afterAll(async () => {
  await harness?.close();
});

/** A delivery handler on a simulated clock whose re-sends are held by the test, counting its DynamoDB writes. */
function simulatedHandler(schedule: string) {
  const { env } = harness;
  const config = loadConfig({ ...process.env, RETRY_SCHEDULE: schedule, RETRY_JITTER: "0" });
  const clients = createAwsClients(config);
  const writes: string[] = [];
  const send = clients.doc.send.bind(clients.doc) as (command: object) => Promise<unknown>;
  (clients.doc as unknown as { send: (command: object) => Promise<unknown> }).send = (command) => {
    if (WRITES.has(command.constructor.name)) writes.push(command.constructor.name);
    return send(command);
  };
  const clock = { now: Date.now() };
  const waiting: { job: DeliveryJob; dueAt: number; delaySeconds: number }[] = [];
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const handler = createDeliveryHandler({
    ...createDeliveryDependencies(config, silent, { clients, now: () => new Date(clock.now) }),
    queue: {
      send: async (job, delaySeconds = 0) => {
        waiting.push({ job, dueAt: clock.now + delaySeconds * 1000, delaySeconds });
        return randomUUID();
      },
      hold: async () => {},
    },
  });

  /** One message of the delivery queue through the handler, deleted unless it failed. */
  async function runOne(): Promise<void> {
    const { Messages = [] } = await env.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: env.queues.deliveryQueueUrl,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    const records = Messages.map((m) =>
      toSqsRecord(m, "arn:aws:sqs:us-east-1:000000000000:delivery", "us-east-1"),
    );
    expect(records).toHaveLength(1);
    const event: SQSEvent = { Records: records };
    const response = await handler(event, lambdaContext("delivery"));
    expect(response.batchItemFailures).toEqual([]);
    await env.sqs.send(
      new DeleteMessageCommand({
        QueueUrl: env.queues.deliveryQueueUrl,
        ReceiptHandle: records[0]?.receiptHandle,
      }),
    );
  }

  /**
   * Moves the clock to the earliest held wait's end and runs every job due by then, each in a batch
   * of its own (`copies` of each: more than one is what a crash between a re-send and its delete
   * leaves). Returns the jobs run.
   */
  async function wake(copies = 1): Promise<DeliveryJob[]> {
    clock.now = Math.min(...waiting.map((w) => w.dueAt));
    const due = waiting.filter((w) => w.dueAt <= clock.now);
    waiting.splice(0, waiting.length, ...waiting.filter((w) => w.dueAt > clock.now));
    for (const { job } of due) {
      for (let n = 0; n < copies; n++) {
        await env.sqs.send(
          new SendMessageCommand({ QueueUrl: env.queues.deliveryQueueUrl, MessageBody: JSON.stringify(job) }),
        );
        await runOne();
      }
    }
    return due.map((w) => w.job);
  }

  return { handler, writes, waiting, clock, runOne, wake };
}

/**
 * One routed event to a subscription whose endpoint answers `answer.status` (500 until the test
 * changes it), its first attempt made by a simulated handler with `schedule`.
 */
async function firstAttemptFailed(schedule: string) {
  const { repos, route } = harness;
  const customer = randomUUID();
  const answer = { status: 500 };
  const receiver = await harness.receiver(() => ({ status: answer.status }));
  const subscription = await seedSubscription(repos.subscriptions, {
    customer_id: customer,
    url: receiver.url,
  });
  const event = eventFor(callHangup, customer);
  await route(event);
  const sim = simulatedHandler(schedule);
  const start = sim.clock.now;
  await sim.runOne();
  const deliveryId = deliveryIdOf(event, subscription.id);
  const record = () => repos.deliveries.get(customerOf(event), deliveryId);
  return { sim, start, answer, receiver, record };
}

describe("long waits: hops that do not write", () => {
  it("a 2-hour retry costs one head write for its seven hops, not one per hop, and the attempt comes on time with the live token", async () => {
    const { sim, start, answer, receiver: r, record: read } = await firstAttemptFailed("7200");
    expect(r.requests).toHaveLength(1);
    const first = await read();
    expect(first).toMatchObject({ status: "failed", chain_attempts: 1 });
    const token = first?.live_job;
    expect(sim.waiting.map((w) => [w.job.token, w.delaySeconds])).toEqual([[token, 900]]);

    // Hops 1–6 wake with more than 900 s left: the same token goes back, delayed 900 s, and nothing is
    // written. The seventh wakes 900 s before its attempt: a new token, named in one head write.
    const writesPerHop: number[] = [];
    for (let hop = 1; hop <= 7; hop++) {
      const before = sim.writes.length;
      await sim.wake();
      writesPerHop.push(sim.writes.length - before);
      expect(sim.waiting).toHaveLength(1);
    }
    expect(writesPerHop).toEqual([0, 0, 0, 0, 0, 0, 1]);
    const named = await read();
    expect(named?.live_job).not.toBe(token);
    expect(sim.waiting[0]?.job.token).toBe(named?.live_job);
    expect(named).toMatchObject({
      status: "failed",
      chain_attempts: 1,
      next_attempt_at: first?.next_attempt_at,
    });
    expect(r.requests).toHaveLength(1);

    answer.status = 200;
    await sim.wake();
    expect(sim.clock.now - start).toBe(7200 * 1000);
    expect(r.requests).toHaveLength(2);
    expect(new Set(r.requests.map((q) => q.headers["webhook-id"])).size).toBe(1);
    const record = await read();
    expect(record?.status).toBe("succeeded");
    expect(record?.attempts.map((a) => a.status_code)).toEqual([500, 200]);
    expect(sim.waiting).toHaveLength(0);
  });

  it("a crash between a hop's re-send and its delete leaves two copies of the live token: both hop on, one attempt is made", async () => {
    const { sim, answer, receiver: r, record: read } = await firstAttemptFailed("3600");
    const token = (await read())?.live_job;

    // The first hop runs twice (its message came back after a crash before its delete): two copies
    // of the live token wait, neither recorded.
    await sim.wake(2);
    expect(sim.waiting.map((w) => w.job.token)).toEqual([token, token]);
    // Both hop again without a write; then both reach their last hop: the first names a new token,
    // the second finds the record naming another and drops itself, sending nothing.
    await sim.wake();
    expect(sim.waiting.map((w) => w.job.token)).toEqual([token, token]);
    await sim.wake();
    const live = (await read())?.live_job;
    expect(live).not.toBe(token);
    answer.status = 200;
    while (sim.waiting.length > 0) await sim.wake();
    expect(r.requests).toHaveLength(2);
    const record = await read();
    expect(record?.status).toBe("succeeded");
    expect(record?.attempts.map((a) => a.status_code)).toEqual([500, 200]);
  });
});
