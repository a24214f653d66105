import { createHash } from "node:crypto";
import { SqsSchema } from "@aws-lambda-powertools/parser/schemas/sqs";
import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TABLE_KEYS } from "#shared/resources.ts";
import { ensureQueue, ensureQueues, ensureTable } from "../../local/provision.ts";
import {
  FunctionConcurrency,
  LAMBDA_SQS_SCALING,
  type SqsBatchHandler,
  SqsEventSource,
  type SqsEventSourceOptions,
} from "../../local/sqs-event-source.ts";
import { deliveryQueueSettings, type QueueSettings } from "../../shared/resources.ts";
import { createTestEnvironment, type TestEnvironment } from "../support/aws-env.ts";
import { startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

const sources: SqsEventSource[] = [];
const OPTIONS_STUB: SqsEventSourceOptions = {
  sqs: {} as SQSClient,
  queueUrl: "http://127.0.0.1/000000000000/unused",
  handler: async () => {},
};
const environments: TestEnvironment[] = [];

async function newEnvironment(
  retrySchedule?: number[],
  queueSettings?: Partial<QueueSettings>,
): Promise<TestEnvironment> {
  const env = await createTestEnvironment({
    ...(retrySchedule ? { retrySchedule } : {}),
    ...(queueSettings ? { queueSettings } : {}),
  });
  environments.push(env);
  return env;
}

function eventSource(options: SqsEventSourceOptions): SqsEventSource {
  const source = new SqsEventSource({ onError: () => {}, ...options });
  sources.push(source);
  return source;
}

async function sendBodies(sqs: SQSClient, queueUrl: string, bodies: string[]): Promise<void> {
  for (let start = 0; start < bodies.length; start += 10) {
    const chunk = bodies.slice(start, start + 10);
    const { Failed } = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((body, i) => ({ Id: `m${start + i}`, MessageBody: body })),
      }),
    );
    expect(Failed ?? []).toEqual([]);
  }
}

afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.stop()));
});

afterAll(() => {
  for (const env of environments) env.close();
});

describe("provisioning", () => {
  it("creates the table and queues from shared/resources.ts, idempotently", async () => {
    const env = await newEnvironment([1, 2, 4]);

    const { Table } = await env.dynamodb.send(new DescribeTableCommand({ TableName: env.tableName }));
    expect(Table?.TableStatus).toBe("ACTIVE");
    expect(Table?.KeySchema).toEqual([
      { AttributeName: "PK", KeyType: "HASH" },
      { AttributeName: "SK", KeyType: "RANGE" },
    ]);
    expect(
      Table?.GlobalSecondaryIndexes?.map((index) => [
        index.IndexName,
        index.Projection?.ProjectionType,
        index.Projection?.NonKeyAttributes,
      ]),
    ).toEqual([["GSI1", "INCLUDE", [...TABLE_KEYS.gsi1.projectedAttributes]]]);

    const { Attributes: delivery } = await env.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: env.queues.deliveryQueueUrl, AttributeNames: ["All"] }),
    );
    const { Attributes: dlq } = await env.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: env.queues.deliveryDlqUrl, AttributeNames: ["All"] }),
    );
    const { Attributes: backstop } = await env.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: env.queues.deliveryBackstopUrl, AttributeNames: ["All"] }),
    );
    const { Attributes: unroutable } = await env.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: env.queues.unroutableQueueUrl, AttributeNames: ["All"] }),
    );
    expect(delivery?.VisibilityTimeout).toBe(String(env.queueSettings.visibilityTimeoutSeconds));
    expect(delivery?.MessageRetentionPeriod).toBe(String(env.queueSettings.retentionSeconds));
    // Both lanes redrive into the backstop queue, never into the dead-letter queue.
    expect(dlq?.QueueArn).not.toBe(backstop?.QueueArn);
    expect(JSON.parse(delivery?.RedrivePolicy ?? "{}")).toEqual({
      deadLetterTargetArn: backstop?.QueueArn,
      maxReceiveCount: env.queueSettings.maxReceiveCount,
    });
    expect(dlq?.MessageRetentionPeriod).toBe(String(14 * 24 * 3600));
    expect(backstop?.MessageRetentionPeriod).toBe(String(14 * 24 * 3600));
    expect(backstop?.MaximumMessageSize).toBe(String(1024 * 1024));
    expect(unroutable?.MessageRetentionPeriod).toBe(String(14 * 24 * 3600));

    // Again with the same settings: nothing to do. Then with another schedule: the redrive count follows.
    await ensureTable(env.dynamodb, env.tableName);
    const names = {
      deliveryQueue: new URL(env.queues.deliveryQueueUrl).pathname.split("/").at(-1) ?? "",
      deliveryDlq: new URL(env.queues.deliveryDlqUrl).pathname.split("/").at(-1) ?? "",
      deliveryBackstop: new URL(env.queues.deliveryBackstopUrl).pathname.split("/").at(-1) ?? "",
      unroutableQueue: new URL(env.queues.unroutableQueueUrl).pathname.split("/").at(-1) ?? "",
      slowDeliveryQueue: new URL(env.queues.slowDeliveryQueueUrl).pathname.split("/").at(-1) ?? "",
    };
    expect(await ensureQueues(env.sqs, names, env.queueSettings)).toEqual(env.queues);
    expect(await ensureQueues(env.sqs, names, deliveryQueueSettings([1]))).toEqual(env.queues);
    const { Attributes: updated } = await env.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: env.queues.deliveryQueueUrl,
        AttributeNames: ["RedrivePolicy"],
      }),
    );
    expect(JSON.parse(updated?.RedrivePolicy ?? "{}")).toMatchObject({
      maxReceiveCount: deliveryQueueSettings([1]).maxReceiveCount,
    });
  });

  it("sets MaximumMessageSize to 1 MiB on every queue, also on a queue created earlier with another", async () => {
    const env = await newEnvironment([1]);
    const suffix = new URL(env.queues.deliveryQueueUrl).pathname.split("/").at(-1) ?? "";
    // A queue of an older stack, at the 256 KiB that references still show as the default.
    const older = await ensureQueue(env.sqs, `older-${suffix}`, { MaximumMessageSize: "262144" });
    const sizes = async (urls: readonly string[]) =>
      Promise.all(
        urls.map(async (QueueUrl) => {
          const { Attributes } = await env.sqs.send(
            new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["MaximumMessageSize"] }),
          );
          return Attributes?.MaximumMessageSize;
        }),
      );
    expect(await sizes([older])).toEqual(["262144"]);
    await ensureQueue(env.sqs, `older-${suffix}`, {});
    expect(await sizes([older, ...Object.values(env.queues)])).toEqual(
      Array(1 + Object.values(env.queues).length).fill("1048576"),
    );
  });

  it("exposes the environment a handler module reads at cold start", async () => {
    const env = await newEnvironment([1]);
    expect(env.env).toMatchObject({
      TABLE_NAME: env.tableName,
      DELIVERY_QUEUE_URL: env.queues.deliveryQueueUrl,
      UNROUTABLE_QUEUE_URL: env.queues.unroutableQueueUrl,
      RETRY_SCHEDULE: "1",
      ALLOW_HTTP_URLS: "true",
      ALLOWED_CIDRS: "127.0.0.0/8,::1/128",
    });
    expect(env.env.DYNAMODB_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env.env.SQS_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});

describe("SqsEventSource", () => {
  it("hands the handler records in the Lambda SQSRecord shape, and a Lambda context", async () => {
    const env = await newEnvironment();
    const body = JSON.stringify({ hello: "world" });
    const sentAt = Date.now();
    const { MessageId } = await env.sqs.send(
      new SendMessageCommand({
        QueueUrl: env.queues.deliveryQueueUrl,
        MessageBody: body,
        MessageAttributes: {
          kind: { DataType: "String", StringValue: "test" },
          count: { DataType: "Number", StringValue: "42" },
          blob: { DataType: "Binary", BinaryValue: Buffer.from([0, 1, 2, 255]) },
        },
      }),
    );
    const { Attributes } = await env.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: env.queues.deliveryQueueUrl, AttributeNames: ["QueueArn"] }),
    );

    const invocations: { event: SQSEvent; context: Context; remainingMs: number }[] = [];
    const source = eventSource({
      sqs: env.sqs,
      queueUrl: env.queues.deliveryQueueUrl,
      functionTimeoutMs: 30_000,
      handler: async (event, context) => {
        invocations.push({ event, context, remainingMs: context.getRemainingTimeInMillis() });
      },
    });
    expect(await source.pollOnce()).toEqual({ received: 1, failed: 0 });

    expect(invocations).toHaveLength(1);
    const [{ event, context, remainingMs }] = invocations as [(typeof invocations)[number]];
    expect(() => SqsSchema.parse(event)).not.toThrow();
    const [record] = event.Records as [SQSRecord];
    expect(record).toEqual({
      messageId: MessageId,
      receiptHandle: expect.any(String),
      body,
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: expect.stringMatching(/^\d{13}$/),
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
      },
      messageAttributes: {
        kind: { stringValue: "test", stringListValues: [], binaryListValues: [], dataType: "String" },
        count: { stringValue: "42", stringListValues: [], binaryListValues: [], dataType: "Number" },
        blob: {
          binaryValue: Buffer.from([0, 1, 2, 255]).toString("base64"),
          stringListValues: [],
          binaryListValues: [],
          dataType: "Binary",
        },
      },
      md5OfBody: createHash("md5").update(body).digest("hex"),
      md5OfMessageAttributes: expect.stringMatching(/^[0-9a-f]{32}$/),
      eventSource: "aws:sqs",
      eventSourceARN: Attributes?.QueueArn,
      awsRegion: "us-east-1",
    });
    expect(Number(record.attributes.SentTimestamp)).toBeGreaterThanOrEqual(sentAt - 1000);

    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(context.functionName).toBe("local-sqs-consumer");
    expect(context.invokedFunctionArn).toBe(
      "arn:aws:lambda:us-east-1:000000000000:function:local-sqs-consumer",
    );
    expect(remainingMs).toBeGreaterThan(25_000);
    expect(remainingMs).toBeLessThanOrEqual(30_000);

    // Handled without failures: deleted.
    const snapshot = await env.inspectQueue(env.queues.deliveryQueueUrl);
    expect([...snapshot.ready, ...snapshot.delayed, ...snapshot.inflight]).toEqual([]);
  });

  it("deletes what succeeded and leaves batch item failures to come back with a higher receive count", async () => {
    const env = await newEnvironment([1, 1, 1, 1]);
    const bodies = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? `ok-${i}` : `fail-${i}`));
    await sendBodies(env.sqs, env.queues.deliveryQueueUrl, bodies);

    const seen = new Map<string, number[]>();
    const batchSizes: number[] = [];
    const handler: SqsBatchHandler = async (event) => {
      batchSizes.push(event.Records.length);
      const response: SQSBatchResponse = { batchItemFailures: [] };
      for (const record of event.Records) {
        seen.set(record.body, [
          ...(seen.get(record.body) ?? []),
          Number(record.attributes.ApproximateReceiveCount),
        ]);
        if (record.body.includes("fail")) {
          // What the delivery handler does: the backoff is the visibility timeout of the failed record.
          await env.sqs.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: env.queues.deliveryQueueUrl,
              ReceiptHandle: record.receiptHandle,
              VisibilityTimeout: 1,
            }),
          );
          response.batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      }
      return response;
    };
    const source = eventSource({
      sqs: env.sqs,
      queueUrl: env.queues.deliveryQueueUrl,
      handler,
      concurrency: 2,
    });
    source.start();

    const failing = bodies.filter((body) => body.includes("fail"));
    await waitFor(() => failing.every((body) => (seen.get(body) ?? []).length >= 2), {
      timeoutMs: 10_000,
      description: "every failing message received twice",
    });
    await source.stop();

    expect(batchSizes.reduce((sum, n) => sum + n, 0)).toBeGreaterThanOrEqual(12);
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(10);
    for (const body of bodies.filter((body) => body.startsWith("ok"))) {
      expect(seen.get(body), body).toEqual([1]);
    }
    for (const body of failing) {
      expect(seen.get(body)?.slice(0, 2), body).toEqual([1, 2]);
    }

    const snapshot = await env.inspectQueue(env.queues.deliveryQueueUrl);
    const remaining = [
      ...snapshot.ready,
      ...snapshot.delayed,
      ...snapshot.inflight.map((entry) => entry.message),
    ];
    expect(remaining.map((message) => message.body).sort()).toEqual([...failing].sort());
  });

  it("moves an always-failing message to the backstop queue after maxReceiveCount receives (here 2)", async () => {
    const env = await newEnvironment([1], { maxReceiveCount: 2 });
    expect(env.queueSettings.maxReceiveCount).toBe(2);
    const { MessageId } = await env.sqs.send(
      new SendMessageCommand({ QueueUrl: env.queues.deliveryQueueUrl, MessageBody: "always-fail" }),
    );

    const receiveCounts: number[] = [];
    const source = eventSource({
      sqs: env.sqs,
      queueUrl: env.queues.deliveryQueueUrl,
      handler: async (event) => {
        for (const record of event.Records) {
          receiveCounts.push(Number(record.attributes.ApproximateReceiveCount));
          await env.sqs.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: env.queues.deliveryQueueUrl,
              ReceiptHandle: record.receiptHandle,
              VisibilityTimeout: 1,
            }),
          );
        }
        return { batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) };
      },
    });
    source.start();

    // SQS (and the local SQS) redrive on the receive after the last allowed one, so the poller must keep polling.
    const dead = await env.receiveAll(env.queues.deliveryBackstopUrl, { waitMs: 10_000 });
    await source.stop();

    expect(dead.map((message) => [message.MessageId, message.Body])).toEqual([[MessageId, "always-fail"]]);
    expect(receiveCounts).toEqual([1, 2]);
    const snapshot = await env.inspectQueue(env.queues.deliveryQueueUrl);
    expect([...snapshot.ready, ...snapshot.delayed, ...snapshot.inflight]).toEqual([]);
  });

  it("counts a throttled batch as a receive: not invoked, back after its visibility timeout with ApproximateReceiveCount +1", async () => {
    const env = await newEnvironment([1], { visibilityTimeoutSeconds: 1 });
    await sendBodies(env.sqs, env.queues.deliveryQueueUrl, ["a", "b"]);
    const concurrency = new FunctionConcurrency(1);
    // Another invocation of the function holds its only slot.
    expect(concurrency.tryAcquire()).toBe(true);
    const invoked: SQSRecord[] = [];
    const source = eventSource({
      sqs: env.sqs,
      queueUrl: env.queues.deliveryQueueUrl,
      functionConcurrency: concurrency,
      handler: async (event) => {
        invoked.push(...event.Records);
      },
    });
    expect(await source.pollOnce()).toEqual({ received: 2, failed: 2, throttled: 2 });
    expect(invoked).toEqual([]);
    // Received, so in flight until the visibility timeout ends; nothing deleted.
    expect((await env.inspectQueue(env.queues.deliveryQueueUrl)).inflight).toHaveLength(2);

    concurrency.release();
    source.start();
    await waitFor(() => invoked.length === 2);
    await source.stop();
    expect(invoked.map((record) => [record.body, record.attributes.ApproximateReceiveCount]).sort()).toEqual([
      ["a", "2"],
      ["b", "2"],
    ]);
    expect(concurrency.inUse).toBe(0);
    const snapshot = await env.inspectQueue(env.queues.deliveryQueueUrl);
    expect([...snapshot.ready, ...snapshot.delayed, ...snapshot.inflight]).toEqual([]);
  });

  it("deletes nothing when the handler throws, times out, or names a record not in the batch", async () => {
    const env = await newEnvironment();
    const errors: unknown[] = [];
    const make = (handler: SqsBatchHandler, functionTimeoutMs?: number) =>
      eventSource({
        sqs: env.sqs,
        queueUrl: env.queues.deliveryQueueUrl,
        handler,
        onError: (err) => errors.push(err),
        ...(functionTimeoutMs ? { functionTimeoutMs } : {}),
      });
    const inFlight = async () => (await env.inspectQueue(env.queues.deliveryQueueUrl)).inflight.length;

    await sendBodies(env.sqs, env.queues.deliveryQueueUrl, ["a", "b", "c"]);
    expect(
      await make(async () => {
        throw new Error("boom");
      }).pollOnce(),
    ).toEqual({ received: 3, failed: 3 });
    expect(await inFlight()).toBe(3);

    await sendBodies(env.sqs, env.queues.deliveryQueueUrl, ["d", "e"]);
    expect(
      await make(async () => ({ batchItemFailures: [{ itemIdentifier: "not-a-message-id" }] })).pollOnce(),
    ).toEqual({
      received: 2,
      failed: 2,
    });
    expect(await inFlight()).toBe(5);

    await sendBodies(env.sqs, env.queues.deliveryQueueUrl, ["f"]);
    expect(await make(() => new Promise(() => {}), 100).pollOnce()).toEqual({ received: 1, failed: 1 });
    expect(await inFlight()).toBe(6);

    expect(errors.map((err) => (err as Error).name)).toEqual([
      "Error",
      "InvalidBatchResponseError",
      "FunctionTimeoutError",
    ]);
  });

  it("fills batches above 10 records within the batching window", async () => {
    const env = await newEnvironment();
    await sendBodies(
      env.sqs,
      env.queues.deliveryQueueUrl,
      Array.from({ length: 15 }, (_, i) => `m-${i}`),
    );
    const batchSizes: number[] = [];
    const source = eventSource({
      sqs: env.sqs,
      queueUrl: env.queues.deliveryQueueUrl,
      batchSize: 15,
      maxBatchingWindowSeconds: 1,
      handler: async (event) => {
        batchSizes.push(event.Records.length);
      },
    });
    expect(await source.pollOnce()).toEqual({ received: 15, failed: 0 });
    expect(batchSizes).toEqual([15]);
    expect(() => new SqsEventSource({ ...OPTIONS_STUB, batchSize: 11 })).toThrow(/maxBatchingWindowSeconds/);
  });

  it("scales its pollers with the backlog as Lambda does: the minimum when idle, more while receives come back full (paced, capped), back to the minimum once drained", async () => {
    // Lambda's own numbers (Lambda Developer Guide, "Configuring scaling behavior for SQS event source mappings").
    expect(LAMBDA_SQS_SCALING).toEqual({ minPollers: 5, addPerMinute: 300 });
    const env = await newEnvironment();
    const queueUrl = env.queues.deliveryQueueUrl;
    // One poller more per 250 ms at most, 2 always, 6 at most.
    const scaling = { minPollers: 2, addPerMinute: 240 };
    let running = 0;
    let peakRunning = 0;
    const seen = new Set<string>();
    const samples: { atMs: number; pollers: number }[] = [];
    const started = performance.now();
    const source = eventSource({
      sqs: env.sqs,
      queueUrl,
      waitTimeSeconds: 1,
      concurrency: 6,
      scaling,
      handler: async (event) => {
        running++;
        peakRunning = Math.max(peakRunning, running);
        samples.push({ atMs: performance.now() - started, pollers: source.pollerCount });
        await new Promise((resolve) => setTimeout(resolve, 40));
        for (const record of event.Records) seen.add(record.body);
        running--;
      },
    });
    source.start();
    expect(source.pollerCount).toBe(2);

    const bodies = Array.from({ length: 400 }, (_, i) => `m${i}`);
    await sendBodies(env.sqs, queueUrl, bodies);
    await waitFor(() => seen.size === bodies.length, {
      timeoutMs: 30_000,
      description: "every message handled",
    });

    // The backlog brought more pollers than the minimum, never more than the cap, and no faster
    // than the pace: by t ms after the start at most minPollers + 1 + t / 250.
    expect(source.peakPollerCount).toBeGreaterThan(scaling.minPollers);
    expect(source.peakPollerCount).toBeLessThanOrEqual(6);
    expect(peakRunning).toBeLessThanOrEqual(6);
    for (const { atMs, pollers } of samples) {
      expect(pollers, `${pollers} pollers at ${Math.round(atMs)} ms`).toBeLessThanOrEqual(
        scaling.minPollers + 1 + Math.floor(atMs / 250),
      );
    }
    // Nothing left to receive: the extra pollers stop, the minimum keeps polling.
    await waitFor(() => source.pollerCount === scaling.minPollers, {
      timeoutMs: 10_000,
      description: "back to the minimum pollers",
    });
    await sendBodies(env.sqs, queueUrl, ["late"]);
    await waitFor(() => seen.has("late"), {
      timeoutMs: 5_000,
      description: "a message after the scale-down",
    });
    await source.stop();
    expect(source.pollerCount).toBe(0);
  });

  it("adds a poller when every poller is held by a slow invocation, so waiting messages are not left unread", async () => {
    const env = await newEnvironment();
    const queueUrl = env.queues.deliveryQueueUrl;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding = 0;
    const handled: string[] = [];
    const source = eventSource({
      sqs: env.sqs,
      queueUrl,
      waitTimeSeconds: 1,
      concurrency: 4,
      scaling: { minPollers: 2, addPerMinute: 600 },
      handler: async (event) => {
        for (const record of event.Records) {
          if (record.body.startsWith("hold")) {
            holding++;
            await held;
          }
          handled.push(record.body);
        }
      },
    });
    source.start();
    // Each of the two pollers takes one job of an endpoint that does not answer.
    await sendBodies(env.sqs, queueUrl, ["hold-1"]);
    await waitFor(() => holding === 1, { description: "the first poller held" });
    await sendBodies(env.sqs, queueUrl, ["hold-2"]);
    await waitFor(() => holding === 2, { description: "the second poller held" });

    await sendBodies(env.sqs, queueUrl, ["ok"]);
    await waitFor(() => handled.includes("ok"), {
      timeoutMs: 5_000,
      description: "a message delivered while both first pollers are held",
    });
    expect(source.pollerCount).toBeGreaterThan(2);
    release();
    await source.stop();
  });

  it("without scaling, runs all its pollers from the start", async () => {
    const env = await newEnvironment();
    const source = eventSource({
      sqs: env.sqs,
      queueUrl: env.queues.deliveryQueueUrl,
      waitTimeSeconds: 1,
      concurrency: 4,
      handler: async () => {},
    });
    source.start();
    expect(source.pollerCount).toBe(4);
    await source.stop();
    expect(source.pollerCount).toBe(0);
  });

  it("stop() waits for the invocation in flight, which then completes and deletes", async () => {
    const env = await newEnvironment();
    await sendBodies(env.sqs, env.queues.deliveryQueueUrl, ["slow"]);
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = false;
    const source = eventSource({
      sqs: env.sqs,
      queueUrl: env.queues.deliveryQueueUrl,
      handler: async () => {
        started = true;
        await released;
      },
    });
    source.start();
    await waitFor(() => started, { description: "handler invoked" });

    let stopped = false;
    const stopping = source.stop().then(() => {
      stopped = true;
    });
    // Give stop() every chance to resolve early: the pollers' long polls (1 s) end meanwhile.
    await waitFor(async () => (await env.inspectQueue(env.queues.deliveryQueueUrl)).inflight.length === 1);
    expect(stopped).toBe(false);
    release();
    await stopping;

    const snapshot = await env.inspectQueue(env.queues.deliveryQueueUrl);
    expect([...snapshot.ready, ...snapshot.delayed, ...snapshot.inflight]).toEqual([]);
  });
});

describe("receiver", () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver((_request, n) =>
      n === 1 ? { status: 503, headers: { "retry-after": "1" } } : { status: 204 },
    );
  });
  afterAll(() => receiver.close());

  it("records requests and answers from its script", async () => {
    const first = await fetch(`${receiver.url}/hook?x=1`, {
      method: "POST",
      headers: { "content-type": "application/json", "webhook-id": "msg_1" },
      body: '{"type":"t","data":{}}',
    });
    expect(first.status).toBe(503);
    expect(first.headers.get("retry-after")).toBe("1");
    const second = await fetch(`${receiver.url}/hook`, { method: "PUT", body: "x" });
    expect(second.status).toBe(204);

    const requests = await receiver.waitForRequests(2, 1000);
    expect(requests[0]).toMatchObject({
      method: "POST",
      url: "/hook?x=1",
      body: '{"type":"t","data":{}}',
      headers: { "content-type": "application/json", "webhook-id": "msg_1" },
    });
    expect(requests[1]).toMatchObject({ method: "PUT", body: "x" });
    await expect(receiver.waitForRequests(3, 50)).rejects.toThrow(/expected 3 request/);
  });
});
