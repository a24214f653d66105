import { createHash } from "node:crypto";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { BatchGetCommand } from "@aws-sdk/lib-dynamodb";
import { DependencyError } from "../../domain/errors.ts";
import { parseDeliveryId, subscriptionTagOf } from "../../domain/ids.ts";
import { type BackoffPolicy, retryWithBackoff } from "../backoff.ts";

export type Item = Record<string, unknown>;
export interface ItemKey {
  readonly PK: string;
  readonly SK: string;
}

/** Partitions one subscription's log is spread over (docs/data-model.md has the arithmetic). */
export const DELIVERY_LOG_SHARDS = 4;

export function logShardOf(deliveryId: string): number {
  return (createHash("sha256").update(deliveryId).digest()[0] ?? 0) % DELIVERY_LOG_SHARDS;
}

const tagHex = (tag: number): string => tag.toString(16).padStart(4, "0");

/** Key builders: the only place that knows how items are addressed (docs/data-model.md). */
export const keys = {
  subscription: (customerId: string, subscriptionId: string): ItemKey => ({
    PK: `CUSTOMER#${customerId}`,
    SK: `SUBSCRIPTION#${subscriptionId}`,
  }),
  subscriptionsOfCustomer: (customerId: string) => ({
    PK: `CUSTOMER#${customerId}`,
    skPrefix: "SUBSCRIPTION#",
  }),
  /** The head of a delivery of layouts 1 and 2 (a version 8 id). */
  delivery: (deliveryId: string): ItemKey => ({ PK: `DELIVERY#${deliveryId}`, SK: "DELIVERY" }),
  /**
   * Where a delivery's head is: in its subscription's log partition for a layout-3 id (the id names
   * its time and its subscription's tag, so the customer and the id are the whole address), at
   * `DELIVERY#<id>` for the ids of earlier layouts.
   */
  deliveryHead: (customerId: string, deliveryId: string): ItemKey => {
    const parsed = parseDeliveryId(deliveryId);
    if (parsed === null) return { PK: `DELIVERY#${deliveryId}`, SK: "DELIVERY" };
    return {
      PK: `LOG#${customerId}#${tagHex(parsed.subscriptionTag)}#S${logShardOf(deliveryId)}`,
      SK: `${parsed.createdAt.toISOString()}#${deliveryId}`,
    };
  },
  /**
   * One of the table partitions holding a subscription's log (layout 3): its customer's partition
   * for its tag, write-sharded; subscriptions of one customer whose tags collide share it.
   */
  deliveryLogPartition: (customerId: string, subscriptionId: string, shard: number) => ({
    PK: `LOG#${customerId}#${tagHex(subscriptionTagOf(subscriptionId))}#S${shard}`,
  }),
  /** One attempt of a delivery after its first (layout 2): sorts by the time it was sent. */
  deliveryAttempt: (deliveryId: string, at: string, nonce: string): ItemKey => ({
    PK: `DELIVERY#${deliveryId}`,
    SK: `A#${at}#${nonce}`,
  }),
  deliveryAttemptsPrefix: "A#",
  /** The log of a subscription in the old layout (one GSI1 partition, records written before layout 2). */
  deliveriesOfSubscription: (subscriptionId: string) => ({ GSI1PK: `SUBSCRIPTION#${subscriptionId}` }),
  /**
   * The log of a subscription in layout 2: write-sharded over DELIVERY_LOG_SHARDS GSI1 partitions
   * (docs/data-model.md, "The delivery log under load"), the shard a hash of the delivery id.
   */
  deliveryLogShard: (subscriptionId: string, shard: number) => ({
    GSI1PK: `SUBSCRIPTION#${subscriptionId}#S${shard}`,
  }),
  /** The body of an event, stored once for every delivery of it (layout 2). */
  eventPayload: (customerId: string, eventId: string): ItemKey => ({
    PK: `EVENT#${eventId}`,
    SK: `PAYLOAD#${customerId}`,
  }),
  /** An access key, addressed by the SHA-256 of the key: the authorizer's one GetItem. */
  accessKey: (keyHash: string): ItemKey => ({ PK: `ACCESSKEY#${keyHash}`, SK: "ACCESSKEY" }),
  /** Pointer from a key id to its hash, so an operator can revoke a key by id. */
  accessKeyId: (keyId: string): ItemKey => ({ PK: `ACCESSKEYID#${keyId}`, SK: "ACCESSKEYID" }),
  accessKeysOfCustomer: (customerId: string) => ({ GSI1PK: `CUSTOMER#${customerId}#ACCESSKEYS` }),
  /** How many subscriptions a customer has: the counter that makes the limit exact (docs/data-model.md). */
  subscriptionCounter: (customerId: string): ItemKey => ({
    PK: `CUSTOMER#${customerId}`,
    SK: "COUNTER#SUBSCRIPTIONS",
  }),
  /** What the delivery functions share about one endpoint (lanes, breaker), by the hash of its URL. */
  endpointHealth: (endpointHash: string): ItemKey => ({ PK: `ENDPOINT#${endpointHash}`, SK: "HEALTH" }),
  /**
   * The last applied version of a customer's managed legacy subscription (PRODUCT §11), kept after a
   * removal too: an older control event arriving late is compared with it (docs/data-model.md).
   */
  managedControl: (customerId: string): ItemKey => ({
    PK: `CUSTOMER#${customerId}`,
    SK: "MANAGED#LEGACY",
  }),
  /**
   * An activeflow's own destination (PRODUCT §11), found by key from an event's `data.activeflow_id`.
   * A partition of its own per customer, apart from the subscriptions: a busy customer's thousands of
   * live activeflows never share the partition (or the key range) the router's Query reads.
   */
  activeflowDestination: (customerId: string, activeflowId: string): ItemKey => ({
    PK: `ACTIVEFLOWS#${customerId}`,
    SK: `ACTIVEFLOW#${activeflowId}`,
  }),
  /** One quota window's counter of one customer's action (test events, retries, recovers). */
  quotaWindow: (customerId: string, action: string, windowStartS: number): ItemKey => ({
    PK: `CUSTOMER#${customerId}`,
    SK: `QUOTA#${action}#${windowStartS}`,
  }),
  /** A portal link, addressed by the SHA-256 of its token: the exchange's one UpdateItem. */
  portalLink: (linkHash: string): ItemKey => ({ PK: `PORTALLINK#${linkHash}`, SK: "PORTALLINK" }),
  /** An event type an operator added at run time: all of them in one small partition, read by one Query. */
  eventType: (type: string): ItemKey => ({ PK: "CATALOGUE", SK: `TYPE#${type}` }),
  eventTypes: { PK: "CATALOGUE", skPrefix: "TYPE#" },
} as const;

export const itemKeyString = (key: ItemKey): string => `${key.PK}|${key.SK}`;

/** Items whose TTL has passed but that DynamoDB has not deleted yet (it can lag by days) are treated as gone. */
export function isExpired(item: Item, now: Date): boolean {
  const expiresAt = item.expires_at;
  return typeof expiresAt === "number" && expiresAt * 1000 <= now.getTime();
}

const BATCH_GET_LIMIT = 100;
/**
 * Unprocessed keys mean the table is throttled (or an answer reached 16 MB). A call that got some of
 * them is progress and is followed at once by the next; calls that get none back off, and five such
 * calls in a row (waits at most 0.1, 0.2, 0.4, 0.8 s) give up loudly.
 */
const BATCH_GET_RETRY: BackoffPolicy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };

export interface BatchGetOptions {
  /**
   * Strongly consistent reads (twice the read units): what a decision right after a write needs.
   * @default true
   */
  readonly consistentRead?: boolean;
}

/**
 * BatchGetItem over any number of keys: keeps calling with the unprocessed keys until every key is
 * answered, with backoff between calls that answered none (DynamoDB API Reference, BatchGetItem:
 * "retry the batch operation on those items … with an exponential backoff algorithm"). Returns the
 * found, unexpired items by key id. Throws DependencyError, never a partial answer, when
 * `BATCH_GET_RETRY.attempts` calls in a row answered nothing.
 */
export async function batchGetItems(
  doc: DynamoDBDocumentClient,
  tableName: string,
  itemKeys: readonly ItemKey[],
  now: Date = new Date(),
  options: BatchGetOptions = {},
): Promise<Map<string, Item>> {
  const found = await batchGetFromTables(doc, new Map([[tableName, itemKeys]]), now, options);
  return found.get(tableName) ?? new Map();
}

/**
 * `batchGetItems` over several tables at once: one BatchGetItem request may name up to 100 keys of
 * any tables (`RequestItems` is keyed by table; DynamoDB API Reference, BatchGetItem), so the main
 * table's and the deliveries table's keys of a batch cost one round trip. Returns, per table, the
 * found and unexpired items by key id.
 */
export async function batchGetFromTables(
  doc: DynamoDBDocumentClient,
  keysByTable: ReadonlyMap<string, readonly ItemKey[]>,
  now: Date = new Date(),
  options: BatchGetOptions = {},
): Promise<Map<string, Map<string, Item>>> {
  const found = new Map<string, Map<string, Item>>();
  const consistentRead = options.consistentRead ?? true;
  const wanted: { table: string; key: Item }[] = [];
  for (const [table, itemKeys] of keysByTable) {
    found.set(table, new Map());
    const unique = new Map(itemKeys.map((key) => [itemKeyString(key), { PK: key.PK, SK: key.SK }]));
    for (const key of unique.values()) wanted.push({ table, key });
  }
  for (let start = 0; start < wanted.length; start += BATCH_GET_LIMIT) {
    let pending = new Map<string, Item[]>();
    for (const { table, key } of wanted.slice(start, start + BATCH_GET_LIMIT)) {
      pending.set(table, [...(pending.get(table) ?? []), key]);
    }
    while (pending.size > 0) {
      // Each round ends at the first call that answered some keys; a round of none gives up.
      const progressed = await retryWithBackoff(BATCH_GET_RETRY, async () => {
        const asked = countKeys(pending);
        const response = await doc.send(
          new BatchGetCommand({
            RequestItems: Object.fromEntries(
              [...pending].map(([table, tableKeys]) => [
                table,
                { Keys: tableKeys, ConsistentRead: consistentRead },
              ]),
            ),
          }),
        );
        for (const [table, items] of Object.entries(response.Responses ?? {})) {
          const ofTable = found.get(table);
          for (const item of items) {
            if (ofTable !== undefined && !isExpired(item, now)) {
              ofTable.set(itemKeyString(item as unknown as ItemKey), item);
            }
          }
        }
        const unprocessed = new Map<string, Item[]>();
        for (const [table, left] of Object.entries(response.UnprocessedKeys ?? {})) {
          if ((left.Keys?.length ?? 0) > 0) unprocessed.set(table, left.Keys ?? []);
        }
        pending = unprocessed;
        return countKeys(pending) < asked;
      });
      if (!progressed) {
        throw new DependencyError(
          "dynamodb",
          `${countKeys(pending)} key(s) still unprocessed after ${BATCH_GET_RETRY.attempts} BatchGetItem calls in a row that answered none`,
        );
      }
    }
  }
  return found;
}

const countKeys = (byTable: ReadonlyMap<string, readonly unknown[]>): number =>
  [...byTable.values()].reduce((sum, tableKeys) => sum + tableKeys.length, 0);

export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}
