import { randomUUID } from "node:crypto";
import { type AppConfig, loadConfig } from "#shared/config.ts";
import { deliveryQueueSettings } from "#shared/resources.ts";
import { startDynaliteProcess } from "../../local/dynalite-process.ts";
import { createLocalClients, ensureQueues, ensureTable } from "../../local/provision.ts";
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
