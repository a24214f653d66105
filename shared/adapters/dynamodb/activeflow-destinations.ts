import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import {
  ACTIVEFLOW_DESTINATION_IDLE_SECONDS,
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
export class ActiveflowDestinationRepository {
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
}
