import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import {
  CreateQueueCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqsClient, createTableClients } from "#shared/adapters/clients.ts";
import { registerLocalEndpoint } from "#shared/adapters/local-endpoints.ts";
import { type DynaliteProcess, startDynaliteProcess } from "../../local/dynalite-process.ts";
import { type LocalSqs, startLocalSqs } from "../../local/sqs/index.ts";

/**
 * The stack's own clients reach its stand-ins through shared/adapters/local-endpoints.ts: the SQS
 * in its worker thread by messages, everything without SigV4, while a client from outside the
 * process still needs the stack key over HTTP.
 */

const STACK_KEY = "LOCALTESTKEY0123456789";
const REGION = "us-east-1";

describe("the stack's own endpoints", () => {
  let sqs: LocalSqs;
  let withdraw: () => void;
  let client: SQSClient;
  let queueUrl: string;

  beforeAll(async () => {
    sqs = await startLocalSqs({
      host: "127.0.0.1",
      port: 0,
      region: REGION,
      file: ":memory:",
      stackKey: STACK_KEY,
    });
    withdraw = registerLocalEndpoint(sqs.endpoint, { transport: sqs.transport });
    // Credentials that are not the stack key: over HTTP the SQS refuses them (403), so every answer
    // below came through the in-process transport.
    process.env.AWS_ACCESS_KEY_ID = "NOTTHESTACKKEY";
    process.env.AWS_SECRET_ACCESS_KEY = "local";
    client = createSqsClient({ AWS_REGION: REGION, SQS_ENDPOINT: sqs.endpoint });
    const created = await client.send(new CreateQueueCommand({ QueueName: "in-process" }));
    queueUrl = created.QueueUrl ?? "";
  });

  afterAll(async () => {
    client?.destroy();
    withdraw?.();
    await sqs?.close();
  });

  it("a product client for the SQS endpoint sends, receives and parses errors in-process", async () => {
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "héllo" }));
    const received = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(received.Messages?.map((m) => m.Body)).toEqual(["héllo"]);
    // The SDK's own error parsing: the query-compatible error code header crosses the transport.
    await expect(
      client.send(new ReceiveMessageCommand({ QueueUrl: `${sqs.endpoint}/000000000000/missing` })),
    ).rejects.toBeInstanceOf(QueueDoesNotExist);
  });

  it("a client from outside the stack still needs the stack key over HTTP", async () => {
    const outside = new SQSClient({
      region: REGION,
      endpoint: `http://localhost:${sqs.port}`,
      credentials: { accessKeyId: "NOTTHESTACKKEY", secretAccessKey: "local" },
    });
    try {
      await expect(outside.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 403 },
      });
    } finally {
      outside.destroy();
    }
  });

  it("an aborted long poll answers at once and takes nothing", async () => {
    const abort = new AbortController();
    const started = performance.now();
    const poll = client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 20 }), {
      abortSignal: abort.signal,
    });
    setTimeout(() => abort.abort(), 100);
    await expect(poll).rejects.toMatchObject({ name: "AbortError" });
    expect(performance.now() - started).toBeLessThan(10_000);
    // The abandoned poll left the queue alone: the next message goes to the next receive.
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "after" }));
    const received = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 5, VisibilityTimeout: 0 }),
    );
    expect(received.Messages?.map((m) => m.Body)).toEqual(["after"]);
  });
});

describe("an endpoint served over HTTP by the stack (dynalite)", () => {
  let server: Server;
  let endpoint: string;
  const seen: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      res.writeHead(200, { "content-type": "application/x-amz-json-1.0" }).end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const getItem = async () => {
    const { dynamodb } = createTableClients({ AWS_REGION: REGION, DYNAMODB_ENDPOINT: endpoint });
    try {
      await dynamodb.send(new GetItemCommand({ TableName: "t", Key: { PK: { S: "a" } } }));
    } finally {
      dynamodb.destroy();
    }
    return seen.at(-1) ?? {};
  };

  it("is sent the access key id without a signature once registered, and signed otherwise", async () => {
    process.env.AWS_ACCESS_KEY_ID = STACK_KEY;
    const signed = await getItem();
    expect(signed.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${STACK_KEY}/\\d{8}/${REGION}/dynamodb/aws4_request, SignedHeaders=[^,]+, Signature=(?!0{64})[0-9a-f]{64}$`,
      ),
    );

    const withdraw = registerLocalEndpoint(endpoint, {});
    try {
      const stated = await getItem();
      // What dynalite and local/stack-key.ts check: the five-part credential scope, the three
      // parameters and X-Amz-Date; no HMAC computed.
      expect(stated.authorization).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${STACK_KEY}/\\d{8}/${REGION}/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0{64}$`,
        ),
      );
      expect(stated["x-amz-date"]).toMatch(/^\d{8}T\d{6}Z$/);
    } finally {
      withdraw();
    }
    expect((await getItem()).authorization).not.toMatch(/Signature=0{64}/);
  });
});

describe("dynalite by IPC", () => {
  let dynamo: DynaliteProcess;
  let withdraw: () => void;
  let client: DynamoDBClient;

  beforeAll(async () => {
    dynamo = await startDynaliteProcess({ host: "127.0.0.1", port: 0, stackKey: STACK_KEY });
    withdraw = registerLocalEndpoint(dynamo.endpoint, { transport: dynamo.transport });
    // Not the stack key: over HTTP dynalite refuses it (403), so every answer below came by IPC.
    process.env.AWS_ACCESS_KEY_ID = "NOTTHESTACKKEY";
    process.env.AWS_SECRET_ACCESS_KEY = "local";
    client = createTableClients({ AWS_REGION: REGION, DYNAMODB_ENDPOINT: dynamo.endpoint }).dynamodb;
    await client.send(
      new CreateTableCommand({
        TableName: "ipc",
        KeySchema: [{ AttributeName: "PK", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "PK", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
  });

  afterAll(async () => {
    client?.destroy();
    withdraw?.();
    await dynamo?.stop();
  });

  it("a product client writes, reads and parses dynalite's errors through the child's IPC channel", async () => {
    await client.send(
      new PutItemCommand({ TableName: "ipc", Item: { PK: { S: "k" }, v: { S: "héllo ✓" } } }),
    );
    const { Item } = await client.send(new GetItemCommand({ TableName: "ipc", Key: { PK: { S: "k" } } }));
    expect(Item).toEqual({ PK: { S: "k" }, v: { S: "héllo ✓" } });
    await expect(
      client.send(new GetItemCommand({ TableName: "missing", Key: { PK: { S: "k" } } })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    // dynalite's validation answers as over HTTP: a key of the wrong type.
    await expect(
      client.send(new GetItemCommand({ TableName: "ipc", Key: { PK: { N: "1" } } })),
    ).rejects.toMatchObject({ name: "ValidationException", $metadata: { httpStatusCode: 400 } });
  });

  it("a client from outside the stack still needs the stack key over HTTP", async () => {
    const outside = new DynamoDBClient({
      region: REGION,
      endpoint: dynamo.endpoint,
      credentials: { accessKeyId: "NOTTHESTACKKEY", secretAccessKey: "local" },
    });
    try {
      await expect(
        outside.send(new GetItemCommand({ TableName: "ipc", Key: { PK: { S: "k" } } })),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    } finally {
      outside.destroy();
    }
  });
});
