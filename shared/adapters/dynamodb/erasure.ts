/**
 * The table side of erasure (PRODUCT §12, issue 24): every item of one customer, found by one Scan,
 * and deleted in batches. A Scan, because a customer's data is not under one key: delivery heads sit
 * in log partitions named by the tags of subscriptions that may be deleted already, payloads under
 * their event's id, attempts under their delivery's id, keys under their hash (docs/data-model.md,
 * "Items"). Erasure is rare and operator-driven (or one pass per deleted customer), so it reads the
 * table once rather than every hot path carrying an index for it (docs/security.md has the cost).
 */
import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { DependencyError } from "../../domain/errors.ts";
import type {
  ErasableItem,
  ErasureRequests,
  ErasureStore,
  PendingErasure,
} from "../../domain/ports/erasure.ts";
import { type BackoffPolicy, retryWithBackoff } from "../backoff.ts";
import { DeliveryTables } from "./delivery-tables.ts";
import { decodePayload } from "./payload-codec.ts";
import { type Item, type ItemKey, isConditionalCheckFailed, keys } from "./table.ts";

/** BatchWriteItem takes at most 25 put or delete requests (DynamoDB API Reference, BatchWriteItem). */
const BATCH_WRITE_MAX = 25;

const UNPROCESSED_BACKOFF: BackoffPolicy = { attempts: 8, baseDelayMs: 50, maxDelayMs: 2000 };

function classify(item: Item, customerId: string, table: string): ErasableItem | null {
  const pk = String(item.PK);
  const sk = String(item.SK);
  const key = { PK: pk, SK: sk, table };
  if (pk === `CUSTOMER#${customerId}`) {
    if (sk.startsWith("SUBSCRIPTION#")) return { kind: "subscription", key };
    if (sk === keys.managedControl(customerId).SK) {
      return {
        kind: "managed_control",
        key,
        version: typeof item.version === "string" ? item.version : null,
      };
    }
    return { kind: "other", key };
  }
  if (pk === `ACTIVEFLOWS#${customerId}`) {
    return { kind: "activeflow_destination", key, activeflowId: sk.replace(/^ACTIVEFLOW#/, "") };
  }
  if (pk.startsWith("EVENT#") && sk === `PAYLOAD#${customerId}`) {
    return { kind: "payload", key, eventId: pk.slice("EVENT#".length), body: decodePayload(item) };
  }
  // Everything below carries the customer's id as an attribute.
  if (item.customer_id !== customerId) return null;
  if (item.entity === "delivery" || pk.startsWith(`LOG#${customerId}#`) || sk === "DELIVERY") {
    return { kind: "delivery", key, deliveryId: String(item.id), eventId: String(item.event_id) };
  }
  if (item.entity === "shadow_delivery") return { kind: "shadow", key, eventId: String(item.event_id) };
  if (pk.startsWith("ACCESSKEY") || pk.startsWith("PORTALLINK#")) return { kind: "credential", key };
  return { kind: "other", key };
}

/** The pending erasures of deleted customers: one small partition (docs/data-model.md, "Items"). */
const PENDING_PK = "ERASURE";
const pendingKey = (customerId: string) => ({ PK: PENDING_PK, SK: `CUSTOMER#${customerId}` });

/**
 * Where a pass over the customer's items stopped: a page of the main table's Scan (the form a pass
 * saved before the split, a bare key, is read as that), or of the deliveries table's after it.
 */
interface ScanCursor {
  readonly table: "main" | "deliveries";
  readonly key: Record<string, unknown> | null;
}

function parseCursor(from: string | undefined): ScanCursor {
  if (from === undefined) return { table: "main", key: null };
  const parsed = JSON.parse(from) as Record<string, unknown>;
  if (parsed.table === "deliveries" || parsed.table === "main") {
    return { table: parsed.table, key: (parsed.key as Record<string, unknown> | null) ?? null };
  }
  return { table: "main", key: parsed };
}

export class ErasureRepository implements ErasureStore, ErasureRequests {
  private readonly tables: DeliveryTables;
  /** The main table: the pending erasures and the control items live there. */
  private readonly tableName: string;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    /** Both tables (the customer's delivery records are in the deliveries one), or one table. */
    tables: DeliveryTables | string,
  ) {
    this.tables = typeof tables === "string" ? DeliveryTables.single(doc, tables) : tables;
    this.tableName = this.tables.main;
  }

  /**
   * The customer's items, a Scan page at a time (a page reads at most 1 MB before the filter applies,
   * DynamoDB Developer Guide, "Scanning tables": so a page may hold none of them), with how many
   * items the page read, for progress.
   */
  async *itemsOfCustomer(
    customerId: string,
    from?: string,
  ): AsyncGenerator<{ items: ErasableItem[]; scanned: number; next: string | null }> {
    const cursor = parseCursor(from);
    // The main table first (a pass saved before the split resumes there), then the deliveries table.
    const order: ScanCursor["table"][] = this.tables.isSplit ? ["main", "deliveries"] : ["main"];
    for (const which of order.slice(order.indexOf(cursor.table))) {
      const table = which === "main" ? this.tables.main : this.tables.deliveries;
      let start: Record<string, unknown> | undefined =
        which === cursor.table && cursor.key !== null ? cursor.key : undefined;
      do {
        const response = await this.doc.send(
          new ScanCommand({
            TableName: table,
            FilterExpression:
              "PK = :customer OR PK = :activeflows OR begins_with(PK, :log) OR SK = :payload OR customer_id = :id",
            ExpressionAttributeValues: {
              ":customer": `CUSTOMER#${customerId}`,
              ":activeflows": `ACTIVEFLOWS#${customerId}`,
              ":log": `LOG#${customerId}#`,
              ":payload": `PAYLOAD#${customerId}`,
              ":id": customerId,
            },
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        const items = (response.Items ?? [])
          .map((item) => classify(item, customerId, table))
          .filter((item): item is ErasableItem => item !== null);
        start = response.LastEvaluatedKey;
        const last = which === order.at(-1);
        yield {
          items,
          scanned: response.ScannedCount ?? 0,
          next:
            start !== undefined
              ? JSON.stringify({ table: which, key: start })
              : last
                ? null
                : JSON.stringify({ table: "deliveries", key: null }),
        };
      } while (start !== undefined);
    }
  }

  /** The keys of a delivery's attempt items (layouts 2 and 3 keep them under `DELIVERY#<id>`). */
  async attemptKeysOf(deliveryId: string): Promise<(ItemKey & { table: string })[]> {
    const found: (ItemKey & { table: string })[] = [];
    // Attempts of before the split stay in the main table until they expire (delivery-tables.ts).
    const tables = this.tables.isSplit ? [this.tables.deliveries, this.tables.main] : [this.tables.main];
    for (const table of tables) {
      for (const item of await this.tables.attemptItems(table, deliveryId, true, true)) {
        found.push({ PK: String(item.PK), SK: String(item.SK), table });
      }
    }
    return found;
  }

  /** Deletes the items, 25 to a BatchWriteItem, retrying what DynamoDB leaves unprocessed. */
  async deleteAll(itemKeys: readonly (ItemKey & { readonly table?: string })[]): Promise<void> {
    const byTable = new Map<string, ItemKey[]>();
    for (const key of itemKeys) {
      const table = key.table ?? this.tableName;
      byTable.set(table, [...(byTable.get(table) ?? []), key]);
    }
    for (const [table, tableKeys] of byTable) {
      for (let i = 0; i < tableKeys.length; i += BATCH_WRITE_MAX) {
        let pending: Record<string, unknown>[] = tableKeys
          .slice(i, i + BATCH_WRITE_MAX)
          .map((key) => ({ DeleteRequest: { Key: { PK: key.PK, SK: key.SK } } }));
        const done = await retryWithBackoff(UNPROCESSED_BACKOFF, async () => {
          const response = await this.doc.send(
            new BatchWriteCommand({ RequestItems: { [table]: pending as never } }),
          );
          pending = (response.UnprocessedItems?.[table] ?? []) as Record<string, unknown>[];
          return pending.length === 0;
        });
        if (!done)
          throw new DependencyError("dynamodb", `DynamoDB left ${pending.length} deletes unprocessed`);
      }
    }
  }

  /**
   * Replaces the customer's managed control item by a removal of the same version: what VoIPBIN sent
   * (URL, secret) goes, the version stays, so a late older `customer_updated` cannot bring the
   * managed subscription back (PRODUCT §11).
   */
  async keepControlVersionOnly(customerId: string, version: string, now: Date): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...keys.managedControl(customerId),
          entity: "managed_control",
          kind: "remove",
          version,
          updated_at: now.toISOString(),
        },
      }),
    );
  }

  async request(customerId: string, dueAt: Date, now: Date): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...pendingKey(customerId),
            entity: "pending_erasure",
            // Not `customer_id`: the erasure's own Scan would take this item for the customer's data.
            erase_customer: customerId,
            due_at: dueAt.toISOString(),
            requested_at: now.toISOString(),
          },
          // A redelivered customer_deleted does not push the date back.
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async due(now: Date): Promise<PendingErasure[]> {
    const found: PendingErasure[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const response = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "PK = :pk",
          FilterExpression: "due_at <= :now",
          ExpressionAttributeValues: { ":pk": PENDING_PK, ":now": now.toISOString() },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of response.Items ?? []) {
        found.push({
          customerId: String(item.erase_customer),
          dueAt: String(item.due_at),
          cursor: typeof item.cursor === "string" ? item.cursor : null,
        });
      }
      start = response.LastEvaluatedKey;
    } while (start !== undefined);
    return found.sort((a, b) => a.dueAt.localeCompare(b.dueAt));
  }

  async saveCursor(customerId: string, cursor: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: pendingKey(customerId),
          UpdateExpression: "SET #cursor = :cursor",
          ExpressionAttributeNames: { "#cursor": "cursor" },
          ExpressionAttributeValues: { ":cursor": cursor },
          ConditionExpression: "attribute_exists(PK)",
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async cancel(customerId: string): Promise<void> {
    // A pass under way stops at its next page: saveCursor finds the request gone.
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: pendingKey(customerId) }));
  }

  async finish(customerId: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: pendingKey(customerId) }));
  }
}
