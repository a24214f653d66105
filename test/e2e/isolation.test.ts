import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localCredentials } from "../../scripts/lib/local-stack.ts";
import {
  commandOnPath,
  killAllStacks,
  mintKey,
  putCallHangups,
  type RunningStack,
  runNpmScript,
  startStack,
} from "../support/e2e-stack.ts";

/**
 * Two local stacks on one machine (a second `npm start`, a test run, the bench): a webhook of one,
 * or anything else on 127.0.0.1, must not read the other's queues or invoke its router. Each
 * stack's emulators answer only requests signed with its own stack key (local/stack-key.ts).
 */

let first: RunningStack;
let second: RunningStack;

beforeAll(async () => {
  [first, second] = await Promise.all([startStack({ inMemory: true }), startStack({ inMemory: true })]);
});

afterAll(async () => {
  await Promise.all([first, second].map((one) => one?.interrupt().catch(() => one.kill())));
  killAllStacks();
});

const hasAwsCli = commandOnPath("aws");

/** What a webhook request, or curl, sends: no AWS signature at all. */
async function unsigned(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; type: string | null }> {
  const response = await fetch(url, init);
  await response.text();
  return { status: response.status, type: response.headers.get("x-amzn-errortype") };
}

const refused = { status: 403, type: "UnrecognizedClientException" };

describe("a local stack's emulators", () => {
  it("refuse requests without the stack key: the queue view, SQS, DynamoDB, PutEvents and Lambda Invoke", async () => {
    const { sqs, dynamodb, events } = first.endpoints;
    expect(await unsigned(`${sqs}/_local-sqs/queues/voipbin-webhooks-delivery-dlq`)).toEqual(refused);
    const json = (target: string, type = "1.0") => ({
      method: "POST",
      headers: { "x-amz-target": target, "content-type": `application/x-amz-json-${type}` },
      body: "{}",
    });
    expect(await unsigned(sqs, json("AmazonSQS.ListQueues"))).toEqual(refused);
    expect(await unsigned(dynamodb, json("DynamoDB_20120810.ListTables"))).toEqual(refused);
    expect(await unsigned(events, json("AWSEvents.PutEvents", "1.1"))).toEqual(refused);
    expect(
      await unsigned(`${events}/2015-03-31/functions/router/invocations`, { method: "POST", body: "{}" }),
    ).toEqual(refused);
  });

  it("refuse the other stack's clients, and answer their own", async () => {
    // Signed with the second stack's key, sent to the first stack.
    const stranger = new SQSClient({
      endpoint: first.endpoints.sqs,
      region: "us-east-1",
      credentials: localCredentials(second.endpoints.sqs),
      maxAttempts: 1,
    });
    const own = new SQSClient({
      endpoint: first.endpoints.sqs,
      region: "us-east-1",
      credentials: localCredentials(first.endpoints.sqs),
      maxAttempts: 1,
    });
    const strangerBus = new EventBridgeClient({
      endpoint: first.endpoints.events,
      region: "us-east-1",
      credentials: { accessKeyId: second.stackKey, secretAccessKey: "local" },
      maxAttempts: 1,
    });
    try {
      expect(first.stackKey).not.toBe(second.stackKey);
      await expect(stranger.send(new ListQueuesCommand({}))).rejects.toMatchObject({
        name: "UnrecognizedClientException",
        $metadata: { httpStatusCode: 403 },
      });
      await expect(
        strangerBus.send(
          new PutEventsCommand({
            Entries: [{ Source: "voipbin.x", DetailType: "call_hangup", Detail: "{}" }],
          }),
        ),
      ).rejects.toMatchObject({ name: "UnrecognizedClientException" });
      const queues = await own.send(new ListQueuesCommand({}));
      expect(queues.QueueUrls?.length).toBeGreaterThan(0);
    } finally {
      stranger.destroy();
      own.destroy();
      strangerBus.destroy();
    }
    // The stack's own functions still work end to end: a key, then an event routed.
    const { customerId } = await mintKey(first);
    const put = await putCallHangups(first, customerId, [randomUUID()]);
    expect(put.FailedEntryCount).toBe(0);
  });

  it("let the repository's CLIs in another terminal find the key for the ports they are given", async () => {
    const env = {
      DYNAMODB_PORT: String(first.ports.dynamodb),
      SQS_PORT: String(first.ports.sqs),
      EVENTS_PORT: String(first.ports.events),
    };
    const keys = await runNpmScript("keys", ["create", "--customer", randomUUID()], env);
    expect(keys.code, keys.stderr).toBe(0);
    const emit = await runNpmScript("emit", ["call_hangup"], env);
    expect(emit.code, emit.stderr).toBe(0);
    const ops = await runNpmScript("ops", ["dead-letters", "list"], env);
    expect(ops.code, ops.stderr).toBe(0);
  });

  it.skipIf(!hasAwsCli)(
    "answer the AWS CLI with the key the banner prints, and refuse it with another",
    async () => {
      const cli = (accessKeyId: string) =>
        promisify(execFile)("aws", ["sqs", "list-queues", "--endpoint-url", first.endpoints.sqs], {
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: accessKeyId,
            AWS_SECRET_ACCESS_KEY: "local",
            AWS_DEFAULT_REGION: "us-east-1",
            AWS_CONFIG_FILE: "/nonexistent",
            AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
          },
        });
      expect(first.output()).toContain(`sign with access key id ${first.stackKey}`);
      const listed = await cli(first.stackKey);
      expect(listed.stdout).toContain("voipbin-webhooks-delivery");
      await expect(cli("local")).rejects.toMatchObject({
        stderr: expect.stringContaining("UnrecognizedClientException"),
      });
    },
  );
});
