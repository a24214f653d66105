import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { ActiveflowDestinationRepository as ActiveflowDestinationRepositoryPort } from "../../domain/ports/subscriptions.ts";
import {
  ACTIVEFLOW_DESTINATION_IDLE_SECONDS,
  type ActiveflowDestination,
  type ActiveflowTarget,
  type ActiveflowVersion,
} from "../../domain/subscriptions/activeflow.ts";
import type { SubscriptionMethod } from "../../domain/subscriptions/subscription.ts";
import { isConditionalCheckFailed, isExpired, keys } from "./table.ts";

/**
 * Activeflow destinations (PRODUCT §11): one item per activeflow, `ACTIVEFLOWS#c / ACTIVEFLOW#<id>`, so
 * the router finds an event's destination with one `GetItem` (never a Query of the customer's
 * subscriptions, which thousands of live activeflows would slow down). Deletion is a tombstone
 * (`removed`), so an older event arriving late cannot bring a deleted destination back; every item
 * expires `ACTIVEFLOW_DESTINATION_IDLE_SECONDS` after the last news of its activeflow (TTL).
 */
export class ActiveflowDestinationRepository implements ActiveflowDestinationRepositoryPort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Applies a flow-manager event's version; an older version than the stored one changes nothing. */
  async apply(customerId: string, version: ActiveflowVersion, now: Date): Promise<"applied" | "older"> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.activeflowDestination(customerId, version.activeflowId),
            entity: "activeflow_destination",
            activeflow_id: version.activeflowId,
            customer_id: customerId,
            version: version.version,
            ...(version.target === null
              ? { removed: true }
              : { url: version.target.url, method: version.target.method }),
            updated_at: now.toISOString(),
            expires_at: Math.floor(now.getTime() / 1000) + ACTIVEFLOW_DESTINATION_IDLE_SECONDS,
          },
          ConditionExpression: "attribute_not_exists(PK) OR version <= :version",
          ExpressionAttributeValues: { ":version": version.version },
        }),
      );
      return "applied";
    } catch (error) {
      if (isConditionalCheckFailed(error)) return "older";
      throw error;
    }
  }

  /**
   * Records the destination an event carried inline (`Detail.activeflow_webhook`), only when nothing
   * is known of the activeflow yet: the flow-manager's own events always win (version "" sorts first).
   */
  async putInline(
    customerId: string,
    activeflowId: string,
    target: ActiveflowTarget,
    now: Date,
  ): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.activeflowDestination(customerId, activeflowId),
            entity: "activeflow_destination",
            activeflow_id: activeflowId,
            customer_id: customerId,
            version: "",
            url: target.url,
            method: target.method,
            updated_at: now.toISOString(),
            expires_at: Math.floor(now.getTime() / 1000) + ACTIVEFLOW_DESTINATION_IDLE_SECONDS,
          },
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /**
   * The live destination of an activeflow: "none" when it has none (no item, removed, or expired and
   * not yet deleted by TTL), "unknown" when nothing is stored at all (the inline webhook may fill in).
   */
  async lookup(
    customerId: string,
    activeflowId: string,
    now: Date,
  ): Promise<ActiveflowTarget | "none" | "unknown"> {
    const response = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.activeflowDestination(customerId, activeflowId),
      }),
    );
    const item = response.Item;
    if (item === undefined) return "unknown";
    if (isExpired(item, now)) return "unknown";
    if (item.removed === true || typeof item.url !== "string") return "none";
    return { url: item.url, method: item.method as SubscriptionMethod };
  }

  /**
   * One page of a customer's live destinations, by activeflow id: one Query of the customer's own
   * `ACTIVEFLOWS#` partition (never a scan). Tombstones and expired items are filtered out by the
   * Query's FilterExpression, which DynamoDB applies after `Limit` (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.FilterExpression.html),
   * so a page is topped up with further Queries, at most `MAX_LIST_QUERIES` of them; a page cut short
   * by that bound still carries a cursor (`nextAfterId`) to go on from.
   */
  async listPage(
    customerId: string,
    options: { limit: number; afterId?: string | undefined; now: Date },
  ): Promise<{ items: ActiveflowDestination[]; nextAfterId: string | null }> {
    const items: ActiveflowDestination[] = [];
    let startKey: Record<string, unknown> | undefined =
      options.afterId === undefined
        ? undefined
        : { ...keys.activeflowDestination(customerId, options.afterId) };
    for (let query = 0; query < MAX_LIST_QUERIES; query++) {
      const response = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
          FilterExpression: "attribute_not_exists(removed) AND expires_at > :now",
          ExpressionAttributeValues: {
            ":pk": keys.activeflowDestination(customerId, "").PK,
            ":prefix": "ACTIVEFLOW#",
            ":now": Math.floor(options.now.getTime() / 1000),
          },
          ConsistentRead: true,
          // One more than asked for: whether a next page exists is then known without another call.
          Limit: options.limit + 1 - items.length,
          ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of response.Items ?? []) {
        if (isExpired(item, options.now) || item.removed === true || typeof item.url !== "string") continue;
        items.push({
          activeflowId: item.activeflow_id as string,
          url: item.url,
          method: item.method as SubscriptionMethod,
          updatedAt: item.updated_at as string,
          expiresAt: new Date((item.expires_at as number) * 1000).toISOString(),
        });
      }
      if (items.length > options.limit) {
        const page = items.slice(0, options.limit);
        return { items: page, nextAfterId: page.at(-1)?.activeflowId ?? null };
      }
      startKey = response.LastEvaluatedKey;
      if (startKey === undefined) return { items, nextAfterId: null };
    }
    const resumeFrom = String(startKey?.SK ?? "").slice("ACTIVEFLOW#".length);
    return { items, nextAfterId: resumeFrom === "" ? null : resumeFrom };
  }
}

/** Queries one listing page may take to fill itself past tombstones (bounds the API call's time). */
const MAX_LIST_QUERIES = 5;
