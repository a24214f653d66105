import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import { DeliveryTables } from "#shared/adapters/dynamodb/delivery-tables.ts";
import { deliveryQueueSettings, type QueueSettings } from "#shared/resources.ts";
import {
  createLocalClients,
  ensureDeliveriesTable,
  ensureQueues,
  ensureTable,
  type QueueUrls,
} from "../../local/provision.ts";
import { LOCAL_CREDENTIALS } from "../../scripts/lib/local-stack.ts";

/**
 * Tests default to a short schedule so that retry paths finish in seconds: two retries, one and
 * two seconds after the first attempt, hence three receives before the dead-letter queue.
 */
export const TEST_RETRY_SCHEDULE: readonly number[] = [1, 2];

const REGION = "us-east-1";

export interface TestEnvironmentOptions {
  /** Seconds before each retry; sets RETRY_SCHEDULE and the delivery queue's maxReceiveCount. */
  retrySchedule?: readonly number[];
  /** Extra or overriding variables, e.g. { RETRY_JITTER: "0" }. */
  env?: Record<string, string>;
  /** Queue settings other than those derived from the schedule (e.g. a small maxReceiveCount). */
  queueSettings?: Partial<QueueSettings>;
  /**
   * Configure fair delivery's slow lane (SLOW_DELIVERY_QUEUE_URL). Only for tests that also consume
   * the slow lane's queue: jobs handed over there are otherwise never delivered.
   */
  fairLanes?: boolean;
}

export interface ReceiveAllOptions {
  /** How long to wait for the first message when none is visible yet; default 0. */
  waitMs?: number;
  /** Leave the messages in flight instead of deleting them; default false. */
  keep?: boolean;
}

/** Non-destructive view of a queue from the local SQS's inspection endpoint (`GET /_local-sqs/queues/<name>`). */
export interface QueueSnapshot {
  ready: InspectedMessage[];
  delayed: InspectedMessage[];
  inflight: { message: InspectedMessage; receiptHandle: string; visibilityDeadline: number }[];
}

export interface InspectedMessage {
  messageId: string;
  body: string;
  approximateReceiveCount: number;
  sentTimestamp: number;
}

export interface TestEnvironment {
  /** What a handler module reads at cold start; see applyToProcessEnv. */
  readonly env: Record<string, string>;
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly tableName: string;
  /** The delivery records' table (DELIVERIES_TABLE_NAME; docs/data-model.md, "Splitting the delivery records out"). */
  readonly deliveriesTableName: string;
  readonly queues: QueueUrls;
  readonly queueSettings: QueueSettings;
  /**
   * Receives (and, unless `keep`, deletes) every message visible on the queue, waiting up to
   * `waitMs` for the first one. Received-but-kept messages stay invisible for the queue's
   * visibility timeout (six minutes on the delivery queue): use inspectQueue to look without touching.
   */
  receiveAll(queueUrl: string, options?: ReceiveAllOptions): Promise<Message[]>;
  /** Every message of the queue, ready, delayed or in flight, without changing anything (the local SQS's view). */
  inspectQueue(queueUrl: string): Promise<QueueSnapshot>;
  /** Object.assign(process.env, env): a handler module imported afterwards reads this environment. */
  applyToProcessEnv(): void;
  /** Releases the SDK clients' sockets. The table and queues stay (the emulators are in memory). */
  close(): void;
}

/** Names unique to one test file (or one test) in the shared emulators, so tests never see each other's data. */
export async function createTestEnvironment(options: TestEnvironmentOptions = {}): Promise<TestEnvironment> {
  const dynamodbEndpoint = inject("dynamodbEndpoint");
  const sqsEndpoint = inject("sqsEndpoint");
  const { dynamodb, sqs } = createLocalClients({ dynamodbEndpoint, sqsEndpoint, region: REGION });

  const retrySchedule = options.retrySchedule ?? TEST_RETRY_SCHEDULE;
  const suffix = randomUUID().slice(0, 8);
  const tableName = `webhooks-test-${suffix}`;
  const deliveriesTableName = `webhooks-deliveries-test-${suffix}`;
  const queueSettings = { ...deliveryQueueSettings(retrySchedule), ...options.queueSettings };
  await ensureTable(dynamodb, tableName);
  await ensureDeliveriesTable(dynamodb, deliveriesTableName);
  const queues = await ensureQueues(
    sqs,
    {
      deliveryQueue: `delivery-${suffix}`,
      deliveryDlq: `delivery-dlq-${suffix}`,
      deliveryBackstop: `delivery-backstop-${suffix}`,
      unroutableQueue: `unroutable-${suffix}`,
      slowDeliveryQueue: `delivery-slow-${suffix}`,
    },
    queueSettings,
  );

  const env: Record<string, string> = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    DYNAMODB_ENDPOINT: dynamodbEndpoint,
    SQS_ENDPOINT: sqsEndpoint,
    TABLE_NAME: tableName,
    DELIVERIES_TABLE_NAME: deliveriesTableName,
    DELIVERY_QUEUE_URL: queues.deliveryQueueUrl,
    DELIVERY_DLQ_URL: queues.deliveryDlqUrl,
    DELIVERY_BACKSTOP_QUEUE_URL: queues.deliveryBackstopUrl,
    UNROUTABLE_QUEUE_URL: queues.unroutableQueueUrl,
    EVENT_BUS_NAME: `voipbin-events-${suffix}`,
    RETRY_SCHEDULE: retrySchedule.join(","),
    ALLOW_HTTP_URLS: "true",
    ALLOWED_CIDRS: "127.0.0.0/8,::1/128",
    ...(options.fairLanes ? { SLOW_DELIVERY_QUEUE_URL: queues.slowDeliveryQueueUrl } : {}),
    ...options.env,
  };

  return {
    env,
    dynamodb,
    sqs,
    tableName,
    deliveriesTableName,
    queues,
    queueSettings,
    receiveAll: (queueUrl, receiveOptions) => receiveAll(sqs, queueUrl, receiveOptions),
    inspectQueue: (queueUrl) => inspectQueue(sqsEndpoint, queueUrl),
    applyToProcessEnv() {
      Object.assign(process.env, env);
    },
    close() {
      dynamodb.destroy();
      sqs.destroy();
    },
  };
}

async function receiveAll(
  sqs: SQSClient,
  queueUrl: string,
  options: ReceiveAllOptions = {},
): Promise<Message[]> {
  const deadline = Date.now() + (options.waitMs ?? 0);
  const received: Message[] = [];
  for (;;) {
    const remainingSeconds = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        // Long-poll only until the first message; after that, take what is visible and stop.
        WaitTimeSeconds: received.length === 0 ? Math.min(20, remainingSeconds) : 0,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    if (Messages.length > 0 && !options.keep) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((message, i) => ({ Id: `m${i}`, ReceiptHandle: message.ReceiptHandle })),
        }),
      );
    }
    received.push(...Messages);
    if (Messages.length === 0 && (received.length > 0 || Date.now() >= deadline)) return received;
  }
}

async function inspectQueue(sqsEndpoint: string, queueUrl: string): Promise<QueueSnapshot> {
  const name = new URL(queueUrl).pathname.split("/").filter(Boolean).at(-1) ?? "";
  const response = await fetch(new URL(`/_local-sqs/queues/${encodeURIComponent(name)}`, sqsEndpoint));
  if (!response.ok) throw new Error(`local SQS inspection of ${name} answered ${response.status}`);
  return (await response.json()) as QueueSnapshot;
}

/** Both tables of a test environment, as the functions see them (DELIVERIES_TABLE_NAME beside TABLE_NAME). */
export function deliveryTablesOf(
  env: Pick<TestEnvironment, "tableName" | "deliveriesTableName">,
  doc: DynamoDBDocumentClient,
): DeliveryTables {
  return new DeliveryTables(doc, env.tableName, env.deliveriesTableName);
}
