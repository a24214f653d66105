import { createHash } from "node:crypto";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { PutCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import type {
  ShadowLogRepository as ShadowLogRepositoryPort,
  ShadowRecord,
} from "../../domain/ports/stores.ts";
import { DeliveryTables } from "./delivery-tables.ts";
import type { Item, ItemKey } from "./table.ts";

export const SHADOW_SHARDS = 8;

const HOUR_MS = 3_600_000;
const hourOf = (iso: string): string => iso.slice(0, 13); // 2026-12-07T18

export function shadowKey(record: Pick<ShadowRecord, "at" | "delivery_id">): ItemKey {
  const shard = (createHash("sha256").update(record.delivery_id).digest()[0] ?? 0) % SHADOW_SHARDS;
  return { PK: `SHADOW#${hourOf(record.at)}#${shard}`, SK: `${record.at}#${record.delivery_id}` };
}

/**
 * The shadow log: one item per shadow delivery, kept as long as the delivery log
 * (`DELIVERY_RETENTION_DAYS`). A duplicate job of the same delivery overwrites its item (same key).
 * Shadow deliveries are not written to the delivery log: the customer would see deliveries that were
 * never sent, and every statistic would have to leave them out (docs/cutover.md, "Shadow mode").
 */
export class ShadowLogRepository implements ShadowLogRepositoryPort {
  private readonly tables: DeliveryTables;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    /** Shadow deliveries are delivery records: the deliveries table (delivery-tables.ts). */
    tables: DeliveryTables | string,
  ) {
    this.tables = typeof tables === "string" ? DeliveryTables.single(doc, tables) : tables;
  }

  async put(record: ShadowRecord, retentionDays: number): Promise<void> {
    const expiresAt = Math.floor(Date.parse(record.signed_at) / 1000) + retentionDays * 86_400;
    await this.doc.send(
      new PutCommand({
        TableName: this.tables.deliveries,
        Item: {
          ...shadowKey(record),
          entity: "shadow_delivery",
          ...record,
          // A Map: header names are data, and the marshaller refuses an object it takes for a class.
          headers: new Map(Object.entries(record.headers)),
          expires_at: expiresAt,
        },
      }),
    );
  }

  /**
   * Every shadow delivery whose event time is in [since, until), oldest first (per hour: the shards
   * merged by time), optionally of one customer.
   */
  async *list(options: { since: Date; until: Date; customerId?: string }): AsyncGenerator<ShadowRecord> {
    const { since, until } = options;
    // Shadow deliveries of before the split are in the main table until they expire.
    const tables = [
      this.tables.deliveries,
      ...((await this.tables.fallbackOpen(new Date())) ? [this.tables.main] : []),
    ];
    const from = `${since.toISOString()}`;
    const to = `${until.toISOString()}`;
    for (
      let hour = Math.floor(since.getTime() / HOUR_MS) * HOUR_MS;
      hour < until.getTime();
      hour += HOUR_MS
    ) {
      const items: Item[] = [];
      for (const table of tables) {
        for (let shard = 0; shard < SHADOW_SHARDS; shard++) {
          const pages = paginateQuery(
            { client: this.doc },
            {
              TableName: table,
              KeyConditionExpression: "PK = :pk AND SK BETWEEN :from AND :to",
              ExpressionAttributeValues: {
                ":pk": `SHADOW#${hourOf(new Date(hour).toISOString())}#${shard}`,
                ":from": from,
                ":to": to,
                ...(options.customerId !== undefined ? { ":customer": options.customerId } : {}),
              },
              ...(options.customerId !== undefined ? { FilterExpression: "customer_id = :customer" } : {}),
            },
          );
          for await (const page of pages) items.push(...(page.Items ?? []));
        }
      }
      items.sort((a, b) => String(a.SK).localeCompare(String(b.SK)));
      let previous: string | undefined;
      for (const item of items) {
        // BETWEEN is inclusive: the exclusive end is applied here.
        if (String(item.at) >= to) continue;
        // The same shadow delivery written again after the split is in both tables: once.
        if (String(item.SK) === previous) continue;
        previous = String(item.SK);
        yield recordOf(item);
      }
    }
  }
}

function recordOf(item: Item): ShadowRecord {
  return {
    at: item.at as string,
    signed_at: item.signed_at as string,
    customer_id: item.customer_id as string,
    subscription_id: item.subscription_id as string,
    event_id: item.event_id as string,
    event_type: item.event_type as string,
    delivery_id: item.delivery_id as string,
    webhook_id: item.webhook_id as string,
    method: item.method as string,
    url: item.url as string,
    headers: { ...((item.headers as Record<string, string> | undefined) ?? {}) },
    body_sha256: item.body_sha256 as string,
    body_bytes: Number(item.body_bytes),
  };
}
