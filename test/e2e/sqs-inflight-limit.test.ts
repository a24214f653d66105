import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  OverLimit,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localCredentials } from "../../scripts/lib/local-stack.ts";
import { killAllStacks, type RunningStack, startStack } from "../support/e2e-stack.ts";

/**
 * SQS_INFLIGHT_LIMIT as a user of `npm start` meets it: the stack's SQS enforces the in-flight quota
 * it sets (SQS Developer Guide, "Amazon SQS queue quotas": OverLimit on a short poll at the quota),
 * and GetQueueAttributes shows the count.
 */

let stack: RunningStack;
let sqs: SQSClient;

beforeAll(async () => {
  stack = await startStack({ inMemory: true, env: { SQS_INFLIGHT_LIMIT: "2" } });
  sqs = new SQSClient({
    endpoint: stack.endpoints.sqs,
    region: "us-east-1",
    credentials: localCredentials(stack.endpoints.sqs),
    maxAttempts: 1,
  });
});

afterAll(async () => {
  sqs?.destroy();
  await stack?.interrupt().catch(() => stack.kill());
  killAllStacks();
});

describe("npm start with SQS_INFLIGHT_LIMIT", () => {
  it("answers a short poll with OverLimit once the queue holds that many messages in flight", async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "watch-the-quota" }));
    for (const body of ["a", "b", "c"])
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body }));
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }),
    );
    expect(Messages).toHaveLength(2);
    await expect(sqs.send(new ReceiveMessageCommand({ QueueUrl }))).rejects.toBeInstanceOf(OverLimit);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessagesNotVisible"] }),
    );
    expect(Attributes?.ApproximateNumberOfMessagesNotVisible).toBe("2");
  });
});
