import { DynamoDBClient, ProvisionedThroughputExceededException } from "@aws-sdk/client-dynamodb";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import { describeCall, FaultInjector, NO_FAULTS, sharedClientPrototype } from "../../bench/chaos/faults.ts";

// Nothing listens here: a request that reaches the network fails with ECONNREFUSED.
const DEAD_ENDPOINT = "http://127.0.0.1:9";
const credentials = { accessKeyId: "local", secretAccessKey: "local" };

describe("chaos fault injection", () => {
  let uninstall: (() => void) | undefined;
  afterEach(() => {
    uninstall?.();
    uninstall = undefined;
  });

  it("finds one smithy Client class behind every AWS SDK client of the project", () => {
    expect(typeof sharedClientPrototype().send).toBe("function");
  });

  it("tells the product's calls apart by operation and key, in document-client and raw form", () => {
    expect(
      describeCall("DynamoDB", "Query", {
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":pk": "CUSTOMER#c1", ":prefix": "SUBSCRIPTION#" },
      }),
    ).toMatchObject({ site: "router.lookup", customerId: "c1" });
    expect(
      describeCall("DynamoDB", "UpdateItem", {
        Key: { PK: { S: "DELIVERY#d1" }, SK: { S: "DELIVERY" } },
        ExpressionAttributeValues: { ":status": { S: "succeeded" }, ":webhook_id": { S: "msg_1" } },
      }),
    ).toMatchObject({ site: "delivery.record", recordStatus: "succeeded", webhookId: "msg_1" });
    expect(
      describeCall("DynamoDB", "PutItem", {
        Item: { PK: "DELIVERY#d1", status: "failed", webhook_id: "msg_1" },
      }),
    ).toMatchObject({ site: "delivery.record", recordStatus: "failed" });
    expect(describeCall("DynamoDB", "PutItem", { Item: { PK: "DELIVERY#d1", status: "pending" } }).site).toBe(
      "other",
    );
    expect(describeCall("DynamoDB", "UpdateItem", { Key: { PK: "CUSTOMER#c1" } }).site).toBe(
      "delivery.subscription",
    );
    expect(describeCall("DynamoDB", "BatchGetItem", {}).site).toBe("delivery.load");
    expect(
      describeCall("SQS", "SendMessageBatch", { QueueUrl: "http://sqs.local/000/voipbin-webhooks-delivery" })
        .site,
    ).toBe("router.enqueue");
    expect(
      describeCall("SQS", "SendMessage", { QueueUrl: "http://sqs.local/000/voipbin-webhooks-unroutable" })
        .site,
    ).toBe("router.unroutable");
    // What AWS does around the functions is not faulted: the event source mapping, the on-failure destination.
    expect(describeCall("SQS", "ReceiveMessage", {}).site).toBe("other");
    expect(describeCall("SQS", "DeleteMessageBatch", {}).site).toBe("other");
    expect(
      describeCall("SQS", "SendMessage", { QueueUrl: "http://sqs.local/000/voipbin-webhooks-router-failed" })
        .site,
    ).toBe("other");
    // Lambda's own asynchronous queue of the router (a local queue) is AWS's, not the product's.
    const routerAsync = "http://sqs.local/000/voipbin-webhooks-local-router-async";
    expect(describeCall("SQS", "ChangeMessageVisibility", { QueueUrl: routerAsync }).site).toBe("other");
    expect(describeCall("SQS", "SendMessageBatch", { QueueUrl: routerAsync }).site).toBe("other");
    // A wait of the delivery core is a delayed re-send to a delivery lane's queue; a move to the
    // slow lane (no delay) is not.
    for (const queue of ["voipbin-webhooks-delivery", "voipbin-webhooks-delivery-slow"]) {
      expect(
        describeCall("SQS", "SendMessage", { QueueUrl: `http://sqs.local/000/${queue}`, DelaySeconds: 5 })
          .site,
      ).toBe("delivery.schedule");
    }
    expect(
      describeCall("SQS", "SendMessage", { QueueUrl: "http://sqs.local/000/voipbin-webhooks-delivery-slow" })
        .site,
    ).toBe("other");
  });

  it("fails a record write after the HTTP call with AWS's error, before any request, and remembers the webhook id", async () => {
    const injector = new FaultInjector({ rates: { ...NO_FAULTS, deliveryRecord: 1 }, seed: 1 });
    uninstall = injector.install();
    injector.enabled = true;
    const doc = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: DEAD_ENDPOINT, region: "us-east-1", credentials, maxAttempts: 1 }),
    );
    const error = await doc
      .send(
        new UpdateCommand({
          TableName: "t",
          Key: { PK: "DELIVERY#d1", SK: "DELIVERY" },
          UpdateExpression: "SET #status = :status",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":status": "succeeded", ":webhook_id": "msg_1" },
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect((error as ProvisionedThroughputExceededException).$metadata.attempts).toBe(4);
    expect(injector.snapshot()).toEqual({ delivery_record_failed_after_2xx: 1 });
    expect([...injector.faultedSuccessRecords]).toEqual(["msg_1"]);
  });

  it("throws throttling on the wire below the SDK's retries, which retry it, and counts every attempt", async () => {
    const injector = new FaultInjector({ rates: { ...NO_FAULTS, dynamodbThrottle: 1 }, seed: 1 });
    uninstall = injector.install();
    injector.enabled = true;
    const doc = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: DEAD_ENDPOINT, region: "us-east-1", credentials, maxAttempts: 2 }),
    );
    const error = await doc
      .send(
        new QueryCommand({
          TableName: "t",
          KeyConditionExpression: "PK = :pk",
          ExpressionAttributeValues: { ":pk": "CUSTOMER#c1" },
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(injector.snapshot()).toEqual({ dynamodb_throttled: 2, sdk_retries_exhausted: 1 });
    expect(injector.lastRouterFailureAt).toBeGreaterThan(0);
  });

  it("reports SendMessageBatch entries as Failed without sending them, and leaves exempt clients alone", async () => {
    const injector = new FaultInjector({ rates: { ...NO_FAULTS, sqsBatchEntryFailure: 1 }, seed: 1 });
    uninstall = injector.install();
    injector.enabled = true;
    const sqs = new SQSClient({ endpoint: DEAD_ENDPOINT, region: "us-east-1", credentials, maxAttempts: 1 });
    const command = new SendMessageBatchCommand({
      QueueUrl: "http://sqs.local/000/voipbin-webhooks-delivery",
      Entries: [
        { Id: "m0", MessageBody: "a" },
        { Id: "m1", MessageBody: "b" },
      ],
    });
    const output = await sqs.send(command);
    expect(output.Successful).toEqual([]);
    expect(output.Failed?.map((f) => [f.Id, f.Code, f.SenderFault])).toEqual([
      ["m0", "InternalError", false],
      ["m1", "InternalError", false],
    ]);
    expect(injector.snapshot()).toEqual({
      sqs_send_batch_failed_entries: 2,
      sqs_send_batch_partial_failure: 1,
    });

    const exempt = new SQSClient({
      endpoint: DEAD_ENDPOINT,
      region: "us-east-1",
      credentials,
      maxAttempts: 1,
    });
    injector.exemptClient(exempt);
    await expect(exempt.send(command)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});
