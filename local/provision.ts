import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
  type TableDescription,
} from "@aws-sdk/client-dynamodb";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueNameExists,
  SetQueueAttributesCommand,
  SQSClient,
  SQSServiceException,
} from "@aws-sdk/client-sqs";
import { localEndpointClientOptions } from "#shared/adapters/local-endpoints.ts";
import { KeyedSha256 } from "#shared/adapters/sha256.ts";
import { CodedError } from "#shared/domain/errors.ts";
import {
  type QueueSettings,
  SQS_MAX_MESSAGE_BYTES,
  TABLE_KEYS,
  TERMINAL_QUEUE_RETENTION_SECONDS,
} from "#shared/resources.ts";
import { LOCAL_CREDENTIALS } from "../scripts/lib/local-stack.ts";

/**
 * Provisions the local equivalents of what the CDK stack creates from shared/resources.ts, so the
 * local stack and the integration tests run against the same table and queue shapes as AWS.
 */

const TABLE_POLL_INTERVAL_MS = 50;
const TABLE_ACTIVE_TIMEOUT_MS = 30_000;

/** The local table or queues exist with a shape this code cannot use; it will not silently repair data. */
export class LocalProvisioningError extends CodedError {
  override readonly name = "LocalProvisioningError";
  readonly code = "LOCAL_PROVISIONING_FAILED";
}

export interface LocalEndpoints {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly region: string;
  /** The stack key the emulators require (local/stack-key.ts); LOCAL_CREDENTIALS' when absent. */
  readonly stackKey?: string;
}

export interface LocalClients {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
}

/**
 * SDK clients for the local emulators. The SQS client does not follow the queue URL's host: every
 * request goes to the explicit endpoint, so a queue URL stored under another port (a restart on a
 * different SQS_PORT) still names its queue.
 */
export function createLocalClients(endpoints: LocalEndpoints): LocalClients {
  const credentials = {
    accessKeyId: endpoints.stackKey ?? LOCAL_CREDENTIALS.accessKeyId,
    secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
  };
  return {
    dynamodb: new DynamoDBClient({
      endpoint: endpoints.dynamodbEndpoint,
      region: endpoints.region,
      credentials,
      sha256: KeyedSha256,
      ...localEndpointClientOptions(endpoints.dynamodbEndpoint),
    }),
    sqs: new SQSClient({
      endpoint: endpoints.sqsEndpoint,
      region: endpoints.region,
      credentials,
      useQueueUrlAsEndpoint: false,
      sha256: KeyedSha256,
      ...localEndpointClientOptions(endpoints.sqsEndpoint),
    }),
  };
}

/**
 * Creates the main table (PK/SK, GSI1 with its projected attributes, on-demand) unless it exists, and
 * resolves once the table and its index are ACTIVE.
 *
 * Time to live on `expires_at` is not enabled here: dynalite has no UpdateTimeToLive. Expired
 * items therefore stay in the local table, and the repositories filter them out on read (which
 * they must do on AWS as well, since DynamoDB deletes expired items up to days late).
 */
export function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  return ensureKeyedTable(client, tableName, true);
}

/**
 * Creates the deliveries table (PK/SK, no index: layout 3's log is a base-table Query; docs/data-model.md,
 * "Splitting the delivery records out") unless it exists, and resolves once it is ACTIVE. A local
 * stack whose data directory predates the split keeps its delivery records in the main table, where
 * the repositories' fallback reads them, as on an upgraded deployment.
 */
export function ensureDeliveriesTable(client: DynamoDBClient, tableName: string): Promise<void> {
  return ensureKeyedTable(client, tableName, false);
}

async function ensureKeyedTable(
  client: DynamoDBClient,
  tableName: string,
  withIndex: boolean,
): Promise<void> {
  const existing = await describeTable(client, tableName);
  if (existing) {
    assertTableShape(tableName, existing, withIndex);
  } else {
    const key = (name: string) => ({ AttributeName: name, AttributeType: "S" as const });
    try {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: [
            key(TABLE_KEYS.partitionKey),
            key(TABLE_KEYS.sortKey),
            ...(withIndex ? [key(TABLE_KEYS.gsi1.partitionKey), key(TABLE_KEYS.gsi1.sortKey)] : []),
          ],
          KeySchema: [
            { AttributeName: TABLE_KEYS.partitionKey, KeyType: "HASH" },
            { AttributeName: TABLE_KEYS.sortKey, KeyType: "RANGE" },
          ],
          ...(withIndex
            ? {
                GlobalSecondaryIndexes: [
                  {
                    IndexName: TABLE_KEYS.gsi1.indexName,
                    KeySchema: [
                      { AttributeName: TABLE_KEYS.gsi1.partitionKey, KeyType: "HASH" },
                      { AttributeName: TABLE_KEYS.gsi1.sortKey, KeyType: "RANGE" },
                    ],
                    Projection: {
                      ProjectionType: "INCLUDE",
                      NonKeyAttributes: [...TABLE_KEYS.gsi1.projectedAttributes],
                    },
                  },
                ],
              }
            : {}),
        }),
      );
    } catch (err) {
      // Another process (a second test file, a restarted local stack) created it first.
      if (!(err instanceof ResourceInUseException)) throw err;
    }
  }
  await waitUntilActive(client, tableName);
}

async function describeTable(
  client: DynamoDBClient,
  tableName: string,
): Promise<TableDescription | undefined> {
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return Table;
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return undefined;
    throw err;
  }
}

/** A table persisted under .data/ by an older version may lack the index; failing here beats failing on every query. */
function assertTableShape(tableName: string, table: TableDescription, withIndex = true): void {
  const keyOf = (schema: TableDescription["KeySchema"], type: "HASH" | "RANGE") =>
    schema?.find((key) => key.KeyType === type)?.AttributeName;
  const gsi = table.GlobalSecondaryIndexes?.find((index) => index.IndexName === TABLE_KEYS.gsi1.indexName);
  const problems = [
    keyOf(table.KeySchema, "HASH") === TABLE_KEYS.partitionKey
      ? undefined
      : `partition key is not ${TABLE_KEYS.partitionKey}`,
    keyOf(table.KeySchema, "RANGE") === TABLE_KEYS.sortKey
      ? undefined
      : `sort key is not ${TABLE_KEYS.sortKey}`,
    gsi || !withIndex ? undefined : `index ${TABLE_KEYS.gsi1.indexName} is missing`,
    !gsi ||
    (keyOf(gsi.KeySchema, "HASH") === TABLE_KEYS.gsi1.partitionKey &&
      keyOf(gsi.KeySchema, "RANGE") === TABLE_KEYS.gsi1.sortKey)
      ? undefined
      : `index ${TABLE_KEYS.gsi1.indexName} keys are not ${TABLE_KEYS.gsi1.partitionKey}/${TABLE_KEYS.gsi1.sortKey}`,
  ].filter((problem) => problem !== undefined);
  if (problems.length > 0) {
    throw new LocalProvisioningError(
      `table ${tableName} exists with another shape (${problems.join("; ")}); delete it (or the .data/ directory) and start again`,
    );
  }
}

async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = Date.now() + TABLE_ACTIVE_TIMEOUT_MS;
  for (;;) {
    const table = await describeTable(client, tableName);
    const indexesActive = (table?.GlobalSecondaryIndexes ?? []).every(
      (index) => index.IndexStatus === "ACTIVE",
    );
    if (table?.TableStatus === "ACTIVE" && indexesActive) return;
    if (Date.now() > deadline) {
      throw new LocalProvisioningError(
        `table ${tableName} not ACTIVE after ${TABLE_ACTIVE_TIMEOUT_MS} ms (status ${table?.TableStatus ?? "missing"})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, TABLE_POLL_INTERVAL_MS));
  }
}

export interface QueueNames {
  readonly deliveryQueue: string;
  readonly deliveryDlq: string;
  /** The redrive target of both delivery lanes (docs/delivery.md, "The backstop"). */
  readonly deliveryBackstop: string;
  readonly unroutableQueue: string;
  /** Fair delivery's slow lane (docs/delivery.md); same settings and dead-letter queue as the delivery queue. */
  readonly slowDeliveryQueue: string;
}

export interface QueueUrls {
  readonly deliveryQueueUrl: string;
  readonly deliveryDlqUrl: string;
  readonly deliveryBackstopUrl: string;
  readonly unroutableQueueUrl: string;
  readonly slowDeliveryQueueUrl: string;
}

/**
 * Creates the dead-letter queue, the backstop queue, the delivery queues (both lanes) redriving into
 * the backstop queue after `settings.maxReceiveCount` receives, and the unroutable-events queue.
 * Existing queues are brought to the given attributes, so a changed RETRY_SCHEDULE takes effect on
 * restart, and a queue provisioned before the backstop queue existed is pointed at it.
 */
export async function ensureQueues(
  client: SQSClient,
  names: QueueNames,
  settings: QueueSettings,
): Promise<QueueUrls> {
  const deliveryDlqUrl = await ensureQueue(client, names.deliveryDlq, {
    MessageRetentionPeriod: String(settings.dlqRetentionSeconds),
  });
  // Kept as long as SQS allows: an arrival waits there only until the next reconciliation pass.
  const deliveryBackstopUrl = await ensureQueue(client, names.deliveryBackstop, {
    MessageRetentionPeriod: String(TERMINAL_QUEUE_RETENTION_SECONDS),
  });
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: deliveryBackstopUrl, AttributeNames: ["QueueArn"] }),
  );
  const backstopArn = Attributes?.QueueArn;
  if (!backstopArn)
    throw new LocalProvisioningError(`queue ${names.deliveryBackstop} has no QueueArn attribute`);

  // SQS's redrive policy: after maxReceiveCount receives SQS moves the message to the target queue
  // ("Using dead-letter queues in Amazon SQS",
  // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
  const deliveryAttributes = {
    VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(settings.retentionSeconds),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: backstopArn,
      maxReceiveCount: settings.maxReceiveCount,
    }),
  };
  const deliveryQueueUrl = await ensureQueue(client, names.deliveryQueue, deliveryAttributes);
  const slowDeliveryQueueUrl = await ensureQueue(client, names.slowDeliveryQueue, deliveryAttributes);
  const unroutableQueueUrl = await ensureQueue(client, names.unroutableQueue, {
    MessageRetentionPeriod: String(TERMINAL_QUEUE_RETENTION_SECONDS),
  });
  return { deliveryQueueUrl, deliveryDlqUrl, deliveryBackstopUrl, unroutableQueueUrl, slowDeliveryQueueUrl };
}

/**
 * Creates a queue with these attributes, or brings an existing one to them; resolves to its URL.
 * `MaximumMessageSize` is set explicitly to SQS's maximum (1 MiB since 2025) unless given: a default
 * that third-party references still show as 256 KiB is not something to rely on (aws-facts, SQS).
 */
export async function ensureQueue(
  client: SQSClient,
  name: string,
  given: Record<string, string>,
): Promise<string> {
  const attributes = { MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES), ...given };
  try {
    const { QueueUrl } = await client.send(
      new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
    );
    if (!QueueUrl) throw new LocalProvisioningError(`CreateQueue ${name} returned no QueueUrl`);
    return QueueUrl;
  } catch (err) {
    // SQS refuses CreateQueue for an existing queue whose attributes differ; converge them instead.
    if (!isQueueNameExists(err)) throw err;
  }
  const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: name }));
  if (!QueueUrl) throw new LocalProvisioningError(`GetQueueUrl ${name} returned no QueueUrl`);
  await client.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: attributes }));
  return QueueUrl;
}

/**
 * SQS sends the query-compatible code "QueueAlreadyExists" (the SDK's QueueNameExists class); some
 * emulators send "AWS.SimpleQueueService.QueueNameExists", which the SDK cannot map; accept both.
 */
function isQueueNameExists(err: unknown): boolean {
  return (
    err instanceof QueueNameExists ||
    (err instanceof SQSServiceException && /(QueueNameExists|QueueAlreadyExists)$/.test(err.name))
  );
}
