import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  OverLimit,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS } from "../../local/provision.ts";
import { type LocalSqs, startLocalSqs } from "../../local/sqs/index.ts";

/**
 * The local SQS's in-flight quota over the wire, as the SDK (and the Lambda event source mapping's
 * long polls) see it. SQS Developer Guide, "Amazon SQS queue quotas": at ~120,000 in-flight messages
 * a short poll gets OverLimit and a long poll no error (it comes back empty); SQS_INFLIGHT_LIMIT
 * scales the quota down (here 3) so that a test can watch it bite.
 */

let sqs: LocalSqs;
let client: SQSClient;

beforeAll(async () => {
  sqs = await startLocalSqs({
    host: "127.0.0.1",
    port: 0,
    region: "us-east-1",
    file: ":memory:",
    inFlightLimit: 3,
  });
  client = new SQSClient({
    endpoint: sqs.endpoint,
    region: "us-east-1",
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client.destroy();
  await sqs.close();
});

async function queueWith(name: string, bodies: number): Promise<string> {
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: "600" } }),
  );
  for (let i = 0; i < bodies; i++)
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: `m${i}` }));
  return QueueUrl as string;
}

const receive = (QueueUrl: string, WaitTimeSeconds: number) =>
  client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds }));

describe("local SQS in-flight quota over HTTP", () => {
  it("answers a short poll at the quota with OverLimit and a long poll with nothing, and reports the count", async () => {
    const queueUrl = await queueWith("quota-answers", 5);
    const { Messages = [] } = await receive(queueUrl, 0);
    expect(Messages).toHaveLength(3);
    await expect(receive(queueUrl, 0)).rejects.toBeInstanceOf(OverLimit);
    const started = Date.now();
    const longPoll = await receive(queueUrl, 1);
    expect(longPoll.Messages ?? []).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    expect(Attributes).toEqual({
      ApproximateNumberOfMessages: "2",
      ApproximateNumberOfMessagesNotVisible: "3",
    });
  });

  it("wakes a long poll waiting at the quota when a delete makes room", async () => {
    const queueUrl = await queueWith("quota-delete-wakes", 4);
    const { Messages = [] } = await receive(queueUrl, 0);
    const waiting = receive(queueUrl, 20);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await client.send(
      new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: Messages[0]?.ReceiptHandle }),
    );
    const woken = await waiting;
    expect(woken.Messages?.map((m) => m.Body)).toEqual(["m3"]);
    // Woken by the delete, not by the end of its 20 s.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("wakes a long poll when a visibility change to 0 makes a message visible", async () => {
    const queueUrl = await queueWith("visibility-zero-wakes", 1);
    const { Messages = [] } = await receive(queueUrl, 0);
    const waiting = receive(queueUrl, 20);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: Messages[0]?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const woken = await waiting;
    expect(woken.Messages?.map((m) => m.Body)).toEqual(["m0"]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
