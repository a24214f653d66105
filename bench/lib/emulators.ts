import { randomUUID } from "node:crypto";
import { type DynamoDBClient, ScanCommand, type ScanCommandOutput } from "@aws-sdk/client-dynamodb";
import { type AppConfig, loadConfig } from "#shared/config.ts";
import { deliveryQueueSettings } from "#shared/resources.ts";
import { startDynaliteProcess } from "../../local/dynalite-process.ts";
import {
  createLocalClients,
  ensureDeliveriesTable,
  ensureQueues,
  ensureTable,
} from "../../local/provision.ts";
import { startLocalSqs } from "../../local/sqs/index.ts";

export interface Emulators {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  /** dynalite's process (the table's CPU and memory are not the benchmark process's). */
  readonly dynamodbPid: number;
  stop(): Promise<void>;
}

/**
 * In-memory dynalite (in a child process, as the local stack runs it) and the local SQS (local/sqs/,
 * in memory, in a worker thread as the local stack runs it) on free loopback ports.
 */
export async function startEmulators(): Promise<Emulators> {
  const dynamo = await startDynaliteProcess({ host: "127.0.0.1", port: 0 });
  const sqs = await startLocalSqs({ host: "127.0.0.1", port: 0, region: "us-east-1", file: ":memory:" });
  return {
    dynamodbEndpoint: dynamo.endpoint,
    sqsEndpoint: sqs.endpoint,
    dynamodbPid: dynamo.pid,
    async stop() {
      await Promise.allSettled([sqs.close(), dynamo.stop()]);
    },
  };
}

/**
 * A fresh table and delivery queues on the emulators (names `<prefix>-…-<random>`), and the
 * functions' configuration pointing at them: what the handler sections run the delivery function on.
 */
export async function provisionDeliveryEnvironment(
  emulators: Emulators,
  prefix: string,
  retryScheduleSeconds: readonly number[],
): Promise<{
  readonly local: ReturnType<typeof createLocalClients>;
  readonly queues: Awaited<ReturnType<typeof ensureQueues>>;
  readonly config: AppConfig;
}> {
  const suffix = randomUUID().slice(0, 8);
  const local = createLocalClients({ ...emulators, region: "us-east-1" });
  const tableName = `${prefix}-${suffix}`;
  await ensureTable(local.dynamodb, tableName);
  await ensureDeliveriesTable(local.dynamodb, `${tableName}-deliveries`);
  const queues = await ensureQueues(
    local.sqs,
    {
      deliveryQueue: `${prefix}-d-${suffix}`,
      deliveryDlq: `${prefix}-dlq-${suffix}`,
      deliveryBackstop: `${prefix}-b-${suffix}`,
      unroutableQueue: `${prefix}-u-${suffix}`,
      slowDeliveryQueue: `${prefix}-s-${suffix}`,
    },
    deliveryQueueSettings(retryScheduleSeconds),
  );
  const config = loadConfig({
    TABLE_NAME: tableName,
    DELIVERIES_TABLE_NAME: `${tableName}-deliveries`,
    DELIVERY_QUEUE_URL: queues.deliveryQueueUrl,
    DELIVERY_DLQ_URL: queues.deliveryDlqUrl,
    DELIVERY_BACKSTOP_QUEUE_URL: queues.deliveryBackstopUrl,
    UNROUTABLE_QUEUE_URL: queues.unroutableQueueUrl,
    DYNAMODB_ENDPOINT: emulators.dynamodbEndpoint,
    SQS_ENDPOINT: emulators.sqsEndpoint,
    EVENTBRIDGE_ENDPOINT: "http://127.0.0.1:9",
    ALLOW_HTTP_URLS: "true",
    ALLOWED_CIDRS: "127.0.0.0/8",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
  });
  // The SDK's default credential chain reads the environment.
  process.env.AWS_ACCESS_KEY_ID ??= "local";
  process.env.AWS_SECRET_ACCESS_KEY ??= "local";
  return { local, queues, config };
}

/**
 * Every item of the deployment's two tables, raw (the delivery records are in the deliveries one,
 * the subscriptions in the main one: docs/data-model.md), for counting what the bench stored.
 */
export async function scanBothTables(
  dynamodb: DynamoDBClient,
  config: Pick<AppConfig, "TABLE_NAME" | "DELIVERIES_TABLE_NAME">,
): Promise<NonNullable<ScanCommandOutput["Items"]>> {
  const items: NonNullable<ScanCommandOutput["Items"]> = [];
  for (const table of [config.TABLE_NAME, config.DELIVERIES_TABLE_NAME]) {
    let start: ScanCommandOutput["LastEvaluatedKey"];
    do {
      const page = await dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
  }
  return items;
}
