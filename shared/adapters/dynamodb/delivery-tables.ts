import { DescribeTableCommand, type DescribeTableCommandOutput } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { DependencyError } from "../../domain/errors.ts";
import { parseDeliveryId } from "../../domain/ids.ts";
import { type Item, isConditionalCheckFailed, isExpired, keys } from "./table.ts";

const DAY_MS = 86_400_000;

/**
 * How long after the deliveries table was created a delivery's id time may still name a delivery
 * the code before the split wrote to the main table: the old functions keep running for the minutes
 * a deployment takes after CloudFormation creates the table, and a delivery id's time is its event's
 * time (shared/domain/ids.ts), which VoIPBIN's clock may put a little ahead of ours. A day covers
 * both with room; docs/data-model.md, "Splitting the delivery records out".
 */
export const SPLIT_MARGIN_MS = DAY_MS;

/**
 * Where delivery records live (docs/data-model.md, "Splitting the delivery records out"): heads,
 * attempts, event payloads and shadow deliveries in the deliveries table (TTL, no PITR); everything
 * an operator must be able to recover in the main table (PITR). Two kinds of delivery stay in the
 * main table and are read there:
 *
 * - layout 1 and 2 records (version 8 ids, docs/data-model.md, "Deliveries: earlier layouts"): their
 *   log is the main table's GSI1, so they are written where they are until their own sunset;
 * - layout-3 records written before the split: found by the fallback while the main table can still
 *   hold one (`mayBeInMain`), and moved to the deliveries table by the first write after the upgrade
 *   (`adopt`), so a delivery's live state is only ever in one table.
 *
 * The split's instant is the deliveries table's creation time (DescribeTable, once per instance):
 * no setting to get wrong, and a deployment that never had records in the main table (a new one)
 * falls back only for events older than its first day.
 */
export class DeliveryTables {
  private splitAtPromise: Promise<Date> | undefined;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    /** The main table (subscriptions, keys, counters …; PITR). */
    readonly main: string,
    /** The deliveries table; the same name as `main` when a deployment has one table (tests, tools). */
    readonly deliveries: string,
    /** DELIVERY_RETENTION_DAYS: how long a record written before the split can still be read. */
    private readonly retentionDays: number = 30,
    /** For tests: the split's instant, instead of the deliveries table's creation time. */
    splitAt?: Date,
  ) {
    if (splitAt !== undefined) this.splitAtPromise = Promise.resolve(splitAt);
  }

  /** One table for everything (a deployment before the split, or a test of one table). */
  static single(doc: DynamoDBDocumentClient, table: string): DeliveryTables {
    return new DeliveryTables(doc, table, table);
  }

  get isSplit(): boolean {
    return this.main !== this.deliveries;
  }

  /** The table holding a delivery's head and attempts when written now: layout 3 in the deliveries table. */
  tableOf(deliveryId: string): string {
    return parseDeliveryId(deliveryId) === null ? this.main : this.deliveries;
  }

  /**
   * When the deliveries table was created: the split. Asked once per instance and kept, as DynamoDB
   * asks of control-plane reads (2,500 requests a second per account, "cache the data": Developer
   * Guide, "Best practices for managing the control plane"). A failure (throttled after the SDK's
   * retries, or a role without DescribeTable) fails the caller as a DependencyError — a delivery job
   * then comes back without an attempt counted — and is asked again next time.
   */
  splitAt(): Promise<Date> {
    if (this.splitAtPromise === undefined) {
      const asked = this.doc
        .send(new DescribeTableCommand({ TableName: this.deliveries }) as never)
        .then((response) => {
          // The document client passes a control-plane command through unchanged.
          const created = (response as DescribeTableCommandOutput).Table?.CreationDateTime;
          if (!(created instanceof Date)) {
            throw new DependencyError("dynamodb", `table ${this.deliveries} has no creation time`);
          }
          return created;
        })
        .catch((error: unknown) => {
          if (error instanceof DependencyError) throw error;
          throw new DependencyError(
            "dynamodb",
            `DescribeTable ${this.deliveries} (when the delivery records were split out) failed: ${error instanceof Error ? error.message : String(error)}`,
          );
        });
      asked.catch(() => {
        if (this.splitAtPromise === asked) this.splitAtPromise = undefined;
      });
      this.splitAtPromise = asked;
    }
    return this.splitAtPromise;
  }

  /**
   * Whether a layout-3 delivery may have records in the main table: the tables are split and its
   * id's time is before the split (plus `SPLIT_MARGIN_MS`). Layout 1 and 2 ids are always there.
   */
  async mayBeInMain(deliveryId: string): Promise<boolean> {
    if (!this.isSplit) return false;
    const parsed = parseDeliveryId(deliveryId);
    if (parsed === null) return false;
    return parsed.createdAt.getTime() < (await this.splitAt()).getTime() + SPLIT_MARGIN_MS;
  }

  /**
   * Whether the main table may still hold an unexpired layout-3 record, payload or shadow delivery
   * of before the split: until the split, its margin and one retention period have passed. After
   * that the fallback reads nothing and can be removed (docs/data-model.md has the sunset).
   */
  async fallbackOpen(now: Date): Promise<boolean> {
    if (!this.isSplit) return false;
    return now.getTime() < (await this.fallbackClosesAt());
  }

  /** When the fallback closes (epoch ms): the split, its margin and one retention period (+1 day). */
  async fallbackClosesAt(): Promise<number> {
    return (await this.splitAt()).getTime() + SPLIT_MARGIN_MS + (this.retentionDays + 1) * DAY_MS;
  }

  /**
   * Moves a delivery written before the split to the deliveries table, on its first write after the
   * upgrade: its attempt items first (immutable, the same keys: a repeated copy writes the same
   * bytes), then its head, conditional on no head there yet (a concurrent mover, or a head created
   * since, wins). The main table's copy is left to its TTL; every reader looks in the deliveries
   * table first, so it is never read again. Returns the head as it now is in the deliveries table,
   * or null when the main table holds no live head (`mainHead`: the caller's read of it, if any).
   */
  async adopt(
    customerId: string,
    deliveryId: string,
    now: Date,
    mainHead?: Item | null,
  ): Promise<Item | null> {
    const key = keys.deliveryHead(customerId, deliveryId);
    const head =
      mainHead !== undefined
        ? mainHead
        : ((await this.doc.send(new GetCommand({ TableName: this.main, Key: key, ConsistentRead: true })))
            .Item ?? null);
    if (head === null || isExpired(head, now)) return null;
    for (const attempt of await this.attemptItems(this.main, deliveryId)) {
      await this.doc.send(new PutCommand({ TableName: this.deliveries, Item: attempt }));
    }
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.deliveries,
          Item: head,
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
      return head;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const current = await this.doc.send(
        new GetCommand({ TableName: this.deliveries, Key: key, ConsistentRead: true }),
      );
      return current.Item ?? null;
    }
  }

  /**
   * Moves a pre-split delivery before a write that does not follow a batch read (a retry or recovery
   * from the API, the backstop's close): nothing for a delivery of after the split or one already in
   * the deliveries table. Two consistent reads, only for deliveries the fallback concerns.
   */
  async adoptBeforeWrite(customerId: string, deliveryId: string, now: Date): Promise<void> {
    if (!(await this.mayBeInMain(deliveryId))) return;
    const key = keys.deliveryHead(customerId, deliveryId);
    const moved = await this.doc.send(
      new GetCommand({
        TableName: this.deliveries,
        Key: key,
        ConsistentRead: true,
        ProjectionExpression: "PK",
      }),
    );
    if (moved.Item !== undefined) return;
    await this.adopt(customerId, deliveryId, now);
  }

  /**
   * A delivery's attempt items in one table (`DELIVERY#<id>` / `A#…`), every page; `keysOnly` reads
   * just their keys (erasure).
   */
  async attemptItems(
    table: string,
    deliveryId: string,
    consistent = true,
    keysOnly = false,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const response = await this.doc.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
          ExpressionAttributeValues: {
            ":pk": keys.delivery(deliveryId).PK,
            ":prefix": keys.deliveryAttemptsPrefix,
          },
          ConsistentRead: consistent,
          ...(keysOnly ? { ProjectionExpression: "PK, SK" } : {}),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(response.Items ?? []));
      start = response.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }
}
