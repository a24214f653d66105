import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type {
  RoutingSubscription,
  SubscriptionChange,
  SubscriptionRepository as SubscriptionRepositoryPort,
} from "../../domain/ports/subscriptions.ts";
import type { PayloadFilter } from "../../domain/subscriptions/filter.ts";
import type {
  DisabledReason,
  Subscription,
  SubscriptionWithSecrets,
} from "../../domain/subscriptions/subscription.ts";
import { type Item, isConditionalCheckFailed, keys } from "./table.ts";

/** A subscription counter unchanged for this long may be corrected from the stored subscriptions. */
export const COUNTER_REPAIR_AFTER_MS = 60_000;

const ROUTING_PROJECTION = [
  "id",
  "customer_id",
  "event_types",
  "activeflow_id",
  "#status",
  "delivery_profile",
  "#filter",
];

/**
 * A payload filter is stored as its JSON text: its keys are the customer's (`constructor`, dotted
 * names), and a string is marshalled as is, within DynamoDB's nesting limit whatever the filter.
 * Unreadable text (never written by us) becomes a filter that matches nothing (filter.ts).
 */
function filterFromItem(item: Item): { filter?: PayloadFilter } {
  if (typeof item.filter !== "string") return {};
  try {
    return { filter: JSON.parse(item.filter) as PayloadFilter };
  } catch {
    return { filter: { $unreadable: true } };
  }
}

export function subscriptionFromItem(item: Item): SubscriptionWithSecrets {
  return {
    id: item.id as string,
    customer_id: item.customer_id as string,
    url: item.url as string,
    method: item.method as Subscription["method"],
    event_types: item.event_types as string[],
    activeflow_id: (item.activeflow_id as string | undefined) ?? null,
    description: (item.description as string | undefined) ?? null,
    headers: (item.headers as Record<string, string> | undefined) ?? {},
    status: item.status as Subscription["status"],
    disabled_reason: (item.disabled_reason as DisabledReason | undefined) ?? null,
    created_at: item.created_at as string,
    updated_at: item.updated_at as string,
    failing_since: (item.failing_since as string | undefined) ?? null,
    ...(typeof item.managed_by === "string" ? { managed_by: item.managed_by } : {}),
    ...(item.delivery_profile === "legacy" ? { delivery_profile: "legacy" as const } : {}),
    ...filterFromItem(item),
    secret: item.secret as string,
    previous_secret: (item.previous_secret as string | undefined) ?? null,
    previous_secret_expires_at: (item.previous_secret_expires_at as string | undefined) ?? null,
  };
}

/** Absent optional attributes are not written, so items stay small and `attribute_not_exists` works. */
function subscriptionToItem(subscription: SubscriptionWithSecrets): Item {
  const item: Item = {
    ...keys.subscription(subscription.customer_id, subscription.id),
    entity: "subscription",
  };
  for (const [name, value] of Object.entries(subscription)) {
    if (value !== null && value !== undefined) item[name] = toAttributeValue(name, value);
  }
  return item;
}

/**
 * Custom headers are customer-chosen map keys: a key such as `constructor` or `toString` makes the
 * DynamoDB marshaller take a plain object for a class instance and refuse it. A Map is marshalled
 * key by key, whatever the keys are (read back, the map becomes an object with those own keys).
 */
function toAttributeValue(field: string, value: unknown): unknown {
  if (field === "filter") return JSON.stringify(value);
  if (field === "headers" && typeof value === "object" && value !== null && !(value instanceof Map)) {
    return new Map(Object.entries(value as Record<string, unknown>));
  }
  return value;
}

export class SubscriptionRepository implements SubscriptionRepositoryPort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Every subscription of a customer (all pages), projected to what routing needs. */
  async listForRouting(customerId: string): Promise<RoutingSubscription[]> {
    const { PK, skPrefix } = keys.subscriptionsOfCustomer(customerId);
    const result: RoutingSubscription[] = [];
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":pk": PK, ":prefix": skPrefix },
        ExpressionAttributeNames: { "#status": "status", "#filter": "filter" },
        ProjectionExpression: ROUTING_PROJECTION.join(", "),
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        result.push({
          id: item.id as string,
          customer_id: item.customer_id as string,
          event_types: item.event_types as string[],
          activeflow_id: (item.activeflow_id as string | undefined) ?? null,
          status: item.status as Subscription["status"],
          ...(item.delivery_profile === "legacy" ? { delivery_profile: "legacy" as const } : {}),
          ...filterFromItem(item),
        });
      }
    }
    return result;
  }

  async get(customerId: string, subscriptionId: string): Promise<SubscriptionWithSecrets | null> {
    const response = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.subscription(customerId, subscriptionId),
        ConsistentRead: true,
      }),
    );
    return response.Item ? subscriptionFromItem(response.Item) : null;
  }

  /** Deletes a subscription; its queued jobs are then dropped by the delivery function. False if it did not exist. */
  async delete(customerId: string, subscriptionId: string): Promise<boolean> {
    const response = await this.doc.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: keys.subscription(customerId, subscriptionId),
        ReturnValues: "ALL_OLD",
      }),
    );
    return response.Attributes !== undefined;
  }

  /** Stores a new subscription; fails if the id is taken. */
  async create(subscription: SubscriptionWithSecrets): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: subscriptionToItem(subscription),
        ConditionExpression: "attribute_not_exists(PK)",
      }),
    );
  }

  /**
   * Starts the failing clock unless it already runs (first failure after a success). True when this
   * call started it: exactly one failure per streak announces it.
   */
  async markFailing(customerId: string, subscriptionId: string, since: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.subscription(customerId, subscriptionId),
          UpdateExpression: "SET failing_since = :since",
          ConditionExpression: "attribute_exists(PK) AND attribute_not_exists(failing_since)",
          ExpressionAttributeValues: { ":since": since },
        }),
      );
      return true;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      return false;
    }
  }

  /**
   * One success resets the failing clock. Returns when the streak it ended began, or null when there
   * was none (another delivery ended it first): so exactly one success announces the recovery.
   */
  async clearFailing(customerId: string, subscriptionId: string): Promise<string | null> {
    try {
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.subscription(customerId, subscriptionId),
          UpdateExpression: "REMOVE failing_since",
          ConditionExpression: "attribute_exists(PK) AND attribute_exists(failing_since)",
          ReturnValues: "UPDATED_OLD",
        }),
      );
      const since = response.Attributes?.failing_since;
      return typeof since === "string" ? since : null;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      return null;
    }
  }

  /**
   * Disables an enabled subscription. Returns the disabled subscription, or null when it was already
   * disabled or deleted — so concurrent deliveries disable (and announce) it exactly once.
   */
  async disable(
    customerId: string,
    subscriptionId: string,
    reason: DisabledReason,
    now: Date,
  ): Promise<SubscriptionWithSecrets | null> {
    try {
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.subscription(customerId, subscriptionId),
          UpdateExpression:
            "SET #status = :disabled, disabled_reason = :reason, updated_at = :now REMOVE failing_since",
          ConditionExpression: "attribute_exists(PK) AND #status = :enabled",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: {
            ":disabled": "disabled",
            ":enabled": "enabled",
            ":reason": reason,
            ":now": now.toISOString(),
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return response.Attributes ? subscriptionFromItem(response.Attributes) : null;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return null;
      throw error;
    }
  }

  /**
   * Takes one of the customer's `limit` subscription slots, atomically: a conditional `ADD 1` on the
   * customer's counter item, so 100 concurrent creates admit exactly `limit - count` between them
   * (dynalite has no transactions, and a count-then-put pair races). Returns false when the
   * customer has no slot left.
   *
   * The counter is created on first use from the stored subscriptions (a customer from before it
   * existed). A counter left too high by a crash between the reservation and the put (or between a
   * delete and its release) is corrected from the stored subscriptions, but only once it has not
   * changed for COUNTER_REPAIR_AFTER_MS: a reservation whose put is still in flight must not be
   * repaired away (an API request lives for 10 s at most, its function's timeout).
   */
  async reserveSlot(customerId: string, limit: number, now: Date): Promise<boolean> {
    const key = keys.subscriptionCounter(customerId);
    for (let round = 0; round < 5; round++) {
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: "ADD #count :one SET updated_at = :now",
            ConditionExpression: "attribute_exists(#count) AND #count < :limit",
            ExpressionAttributeNames: { "#count": "count" },
            ExpressionAttributeValues: { ":one": 1, ":limit": limit, ":now": now.toISOString() },
          }),
        );
        return true;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
      const counter = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
      );
      const item = counter.Item;
      if (item === undefined) {
        await this.createCounter(customerId, now);
        continue;
      }
      // Created (or released) between the update and the read: try again.
      if (Number(item.count) < limit) continue;
      const stale = now.getTime() - Date.parse(String(item.updated_at)) >= COUNTER_REPAIR_AFTER_MS;
      if (!stale || !(await this.repairCounter(customerId, item, now))) return false;
    }
    return false;
  }

  /** Gives a slot back (after a failed create, or a delete). */
  async releaseSlot(customerId: string, now: Date): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.subscriptionCounter(customerId),
          UpdateExpression: "ADD #count :minus SET updated_at = :now",
          ConditionExpression: "#count > :zero",
          ExpressionAttributeNames: { "#count": "count" },
          ExpressionAttributeValues: { ":minus": -1, ":zero": 0, ":now": now.toISOString() },
        }),
      );
    } catch (error) {
      // No counter yet (it is created from the stored subscriptions on the next create), or already 0.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  private async createCounter(customerId: string, now: Date): Promise<void> {
    const count = await this.countForCustomer(customerId);
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.subscriptionCounter(customerId),
            entity: "subscription_counter",
            count,
            updated_at: now.toISOString(),
          },
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
    } catch (error) {
      // A concurrent create made it first; its count is as good as ours.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /** Sets a stale counter to the stored count, if nothing changed it meanwhile. True when it went down. */
  private async repairCounter(customerId: string, seen: Item, now: Date): Promise<boolean> {
    const stored = await this.countForCustomer(customerId);
    if (stored >= Number(seen.count)) return false;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.subscriptionCounter(customerId),
          UpdateExpression: "SET #count = :stored, updated_at = :now",
          ConditionExpression: "#count = :seen AND updated_at = :seenAt",
          ExpressionAttributeNames: { "#count": "count" },
          ExpressionAttributeValues: {
            ":stored": stored,
            ":seen": seen.count,
            ":seenAt": seen.updated_at,
            ":now": now.toISOString(),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return true; // changed meanwhile: try again
      throw error;
    }
  }

  /**
   * How many subscriptions a customer has made, strongly consistent (the per-customer limit counts on
   * it). Managed subscriptions (PRODUCT §11) are not the customer's and do not count.
   */
  async countForCustomer(customerId: string): Promise<number> {
    const { PK, skPrefix } = keys.subscriptionsOfCustomer(customerId);
    let count = 0;
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":pk": PK, ":prefix": skPrefix },
        FilterExpression: "attribute_not_exists(managed_by)",
        Select: "COUNT",
        ConsistentRead: true,
      },
    );
    for await (const page of pages) count += page.Count ?? 0;
    return count;
  }

  /**
   * One page of a customer's subscriptions in id order (UUIDv7: creation order), starting after
   * `afterId`. `hasMore` is exact: one extra item is read to know.
   */
  async listPage(
    customerId: string,
    options: { limit: number; afterId?: string | undefined },
  ): Promise<{ items: SubscriptionWithSecrets[]; hasMore: boolean }> {
    const { PK, skPrefix } = keys.subscriptionsOfCustomer(customerId);
    const response = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues: { ":pk": PK, ":prefix": skPrefix },
        ConsistentRead: true,
        Limit: options.limit + 1,
        ...(options.afterId !== undefined
          ? { ExclusiveStartKey: keys.subscription(customerId, options.afterId) }
          : {}),
      }),
    );
    const items = (response.Items ?? []).map(subscriptionFromItem);
    return { items: items.slice(0, options.limit), hasMore: items.length > options.limit };
  }

  /**
   * Sets and removes the given fields of an existing subscription in one UpdateItem and returns the
   * result, or null when it does not exist. Only the attributes named here can be written: secrets
   * and the failing clock are changed by their own methods, never by a generic update.
   */
  async update(
    customerId: string,
    subscriptionId: string,
    change: SubscriptionChange,
  ): Promise<SubscriptionWithSecrets | null> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    for (const [field, value] of Object.entries(change.set)) {
      if (value === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = toAttributeValue(field, value);
      sets.push(`#${field} = :${field}`);
    }
    const removes = change.remove.map((field) => {
      names[`#${field}`] = field;
      return `#${field}`;
    });
    const expression = [
      sets.length > 0 ? `SET ${sets.join(", ")}` : "",
      removes.length > 0 ? `REMOVE ${removes.join(", ")}` : "",
    ]
      .filter(Boolean)
      .join(" ");
    try {
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.subscription(customerId, subscriptionId),
          UpdateExpression: expression,
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeNames: names,
          ...(sets.length > 0 ? { ExpressionAttributeValues: values } : {}),
          ReturnValues: "ALL_NEW",
        }),
      );
      return response.Attributes ? subscriptionFromItem(response.Attributes) : null;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return null;
      throw error;
    }
  }

  /**
   * Replaces the secret, keeping the replaced one as the previous secret until `previousExpiresAt`.
   * Conditioned on the secret still being `expectedSecret`, so two concurrent rotations cannot both
   * demote the same secret: "conflict" tells the caller to read again; "not_found" that it is gone.
   */
  async rotateSecret(
    customerId: string,
    subscriptionId: string,
    rotation: { expectedSecret: string; newSecret: string; previousExpiresAt: string; now: string },
  ): Promise<"rotated" | "conflict" | "not_found"> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.subscription(customerId, subscriptionId),
          UpdateExpression:
            "SET secret = :new, previous_secret = :expected, previous_secret_expires_at = :until, updated_at = :now",
          ConditionExpression: "attribute_exists(PK) AND secret = :expected",
          ExpressionAttributeValues: {
            ":new": rotation.newSecret,
            ":expected": rotation.expectedSecret,
            ":until": rotation.previousExpiresAt,
            ":now": rotation.now,
          },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return "rotated";
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const raw = (error as { Item?: unknown }).Item;
      if (raw !== undefined) return "conflict";
      return (await this.get(customerId, subscriptionId)) === null ? "not_found" : "conflict";
    }
  }
}
