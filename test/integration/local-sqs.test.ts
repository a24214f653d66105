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
import { type LocalSqs, startLocalSqs } from "../../local/sqs/index.ts";
import { LOCAL_CREDENTIALS } from "../../scripts/lib/local-stack.ts";

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

/**
 * Starts a 20 s long poll, runs `wake` once the poll is waiting on the server, and resolves to the
 * bodies the poll answered; fails unless the answer came well before the poll's 20 s ran out.
 */
async function longPollWokenBy(queueUrl: string, wake: () => Promise<unknown>): Promise<string[]> {
  const waiting = receive(queueUrl, 20);
  // The server offers no signal that a poll is parked; 200 ms is ample for it to get there, and a
  // wake that came first would only make the poll answer at once (the test could then not fail).
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = Date.now();
  await wake();
  const { Messages = [] } = await waiting;
  expect(Date.now() - started).toBeLessThan(10_000);
  return Messages.map((m) => m.Body ?? "");
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
    const woken = await longPollWokenBy(queueUrl, () =>
      client.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: Messages[0]?.ReceiptHandle }),
      ),
    );
    expect(woken).toEqual(["m3"]);
  });

  it("wakes a long poll when a visibility change to 0 makes a message visible", async () => {
    const queueUrl = await queueWith("visibility-zero-wakes", 1);
    const { Messages = [] } = await receive(queueUrl, 0);
    const woken = await longPollWokenBy(queueUrl, () =>
      client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: Messages[0]?.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      ),
    );
    expect(woken).toEqual(["m0"]);
  });
});
