import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import {
  type DeliveryAttempt,
  type DeliveryIdentity,
  type DeliveryLogPosition,
  type DeliveryRecord,
  type DeliveryStatus,
  MAX_STORED_ATTEMPTS,
  positionOf,
} from "../../domain/delivery/delivery.ts";
import { TABLE_KEYS } from "../../resources.ts";
import { decodePayload, encodePayload, PAYLOAD_ATTRIBUTE } from "./payload-codec.ts";
import { type Item, isConditionalCheckFailed, isExpired, keys } from "./table.ts";

export function deliveryFromItem(item: Item): DeliveryRecord {
  return {
    id: item.id as string,
    subscription_id: item.subscription_id as string,
    customer_id: item.customer_id as string,
    event_id: item.event_id as string,
    event_type: item.event_type as string,
    webhook_id: item.webhook_id as string,
    status: item.status as DeliveryStatus,
    attempts: (item.attempts as DeliveryAttempt[] | undefined) ?? [],
    next_attempt_at: (item.next_attempt_at as string | undefined) ?? null,
    created_at: item.created_at as string,
    updated_at: item.updated_at as string,
    succeeded_at: (item.succeeded_at as string | undefined) ?? null,
    payload: decodePayload(item),
  };
}

/** What the delivery function needs of an existing record: enough to skip or close it, no payload. */
export type DeliveryState = Pick<DeliveryRecord, "status" | "succeeded_at">;

/** The state of a delivery item, without decompressing its payload (the delivery batch's hot path). */
export function deliveryStateFromItem(item: Item): DeliveryState {
  return {
    status: item.status as DeliveryStatus,
    succeeded_at: (item.succeeded_at as string | undefined) ?? null,
  };
}

export interface RecordAttemptInput {
  readonly delivery: DeliveryIdentity;
  readonly attempt: DeliveryAttempt;
  readonly status: Exclude<DeliveryStatus, "pending">;
  readonly nextAttemptAt: string | null;
  readonly now: Date;
  /** Manual retries: a success older than this does not supersede the attempt. */
  readonly redeliverAfter: string | undefined;
  readonly retentionDays: number;
  /** The caller saw no record for this delivery before the attempt (the first write may then be a PutItem). */
  readonly recordAbsent?: boolean;
}

export type RecordAttemptResult = "recorded" | "superseded";

export interface DeliveryLogQuery {
  readonly subscriptionId: string;
  /** Newest first (the log) or oldest first (recovery). */
  readonly order: "newest_first" | "oldest_first";
  /** Items to evaluate (before the status filter). */
  readonly limit: number;
  readonly after?: DeliveryLogPosition | undefined;
  /** Only deliveries created at or after this instant (ISO 8601 UTC, as toISOString writes it). */
  readonly since?: string | undefined;
  readonly statuses?: readonly DeliveryStatus[] | undefined;
}

export interface DeliveryLogPage {
  readonly records: DeliveryRecord[];
  /** Where the next query resumes; null when the log has been read to its end. */
  readonly next: DeliveryLogPosition | null;
}

export type RequeueResult =
  | { readonly kind: "requeued"; readonly previous: DeliveryRecord }
  | { readonly kind: "skipped" };

export class DeliveryRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Records one attempt and the resulting status in a single UpdateItem that also creates the record
   * on the first attempt. A failed attempt does not overwrite a success recorded meanwhile by a
   * duplicate job: it answers "superseded" and the caller stops retrying.
   */
  async recordAttempt(input: RecordAttemptInput): Promise<RecordAttemptResult> {
    if (input.recordAbsent && (await this.createWithFirstAttempt(input))) return "recorded";
    const { delivery, now } = input;
    const nowIso = now.toISOString();
    const succeeded = input.status === "succeeded";
    const values: Record<string, unknown> = {
      ":id": delivery.delivery_id,
      ":subscription_id": delivery.subscription_id,
      ":customer_id": delivery.customer_id,
      ":event_id": delivery.event_id,
      ":event_type": delivery.event_type,
      ":webhook_id": delivery.webhook_id,
      ":payload": encodePayload(delivery.payload),
      ":entity": "delivery",
      ":status": input.status,
      ":now": nowIso,
      ":gsi1pk": keys.deliveriesOfSubscription(delivery.subscription_id).GSI1PK,
      ":gsi1sk": `${nowIso}#${delivery.delivery_id}`,
      ":next": input.nextAttemptAt,
      ":attempt": [input.attempt],
      ":empty": [],
      ":zero": 0,
      ":one": 1,
      ":cap": MAX_STORED_ATTEMPTS,
      ":expires": Math.floor(now.getTime() / 1000) + input.retentionDays * 86_400,
    };
    const common = [
      "id = :id",
      "subscription_id = :subscription_id",
      "customer_id = :customer_id",
      "event_id = :event_id",
      "event_type = :event_type",
      "webhook_id = :webhook_id",
      `${PAYLOAD_ATTRIBUTE} = if_not_exists(${PAYLOAD_ATTRIBUTE}, :payload)`,
      "entity = :entity",
      "#status = :status",
      "updated_at = :now",
      "created_at = if_not_exists(created_at, :now)",
      "GSI1PK = :gsi1pk",
      "GSI1SK = if_not_exists(GSI1SK, :gsi1sk)",
      "next_attempt_at = :next",
      "expires_at = :expires",
      "attempt_count = if_not_exists(attempt_count, :zero) + :one",
    ];
    if (succeeded) common.push("succeeded_at = :now");
    const conditions = ["(attribute_not_exists(attempt_count) OR attempt_count < :cap)"];
    if (!succeeded) {
      values[":floor"] = input.redeliverAfter ?? "";
      conditions.push("(attribute_not_exists(succeeded_at) OR succeeded_at < :floor)");
    }
    try {
      await this.update(delivery.delivery_id, {
        UpdateExpression: `SET ${[...common, "attempts = list_append(if_not_exists(attempts, :empty), :attempt)"].join(", ")}`,
        ConditionExpression: conditions.join(" AND "),
        ExpressionAttributeValues: values,
      });
      return "recorded";
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      // DynamoDB returns the old item with the failed condition (not unmarshalled by the document
      // client); dynalite does not, so read it then.
      const raw = (error as { Item?: Parameters<typeof unmarshall>[0] }).Item;
      const succeededAt = raw
        ? unmarshall(raw).succeeded_at
        : (await this.get(delivery.delivery_id, now))?.succeeded_at;
      if (!succeeded && typeof succeededAt === "string" && succeededAt >= String(values[":floor"])) {
        return "superseded";
      }
    }
    // The attempt list is full: keep the status current and count the attempt without storing it.
    delete values[":attempt"];
    delete values[":empty"];
    delete values[":cap"];
    delete values[":floor"];
    await this.update(delivery.delivery_id, {
      UpdateExpression: `SET ${common.join(", ")}`,
      ExpressionAttributeValues: values,
    });
    return "recorded";
  }

  async get(deliveryId: string, now: Date = new Date()): Promise<DeliveryRecord | null> {
    const response = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: keys.delivery(deliveryId), ConsistentRead: true }),
    );
    return response.Item && !isExpired(response.Item, now) ? deliveryFromItem(response.Item) : null;
  }

  /**
   * The common case — the first attempt of a delivery nobody has recorded yet — as one PutItem of the
   * whole record, conditioned on its absence (cheaper for DynamoDB than an UpdateItem that builds the
   * item from expressions). False when a duplicate created the record meanwhile: the caller then
   * records through the general path.
   */
  private async createWithFirstAttempt(input: RecordAttemptInput): Promise<boolean> {
    const { delivery, now } = input;
    const nowIso = now.toISOString();
    const item: Item = {
      ...keys.delivery(delivery.delivery_id),
      entity: "delivery",
      id: delivery.delivery_id,
      subscription_id: delivery.subscription_id,
      customer_id: delivery.customer_id,
      event_id: delivery.event_id,
      event_type: delivery.event_type,
      webhook_id: delivery.webhook_id,
      [PAYLOAD_ATTRIBUTE]: encodePayload(delivery.payload),
      status: input.status,
      attempts: [input.attempt],
      attempt_count: 1,
      next_attempt_at: input.nextAttemptAt,
      created_at: nowIso,
      updated_at: nowIso,
      GSI1PK: keys.deliveriesOfSubscription(delivery.subscription_id).GSI1PK,
      GSI1SK: `${nowIso}#${delivery.delivery_id}`,
      expires_at: Math.floor(now.getTime() / 1000) + input.retentionDays * 86_400,
      ...(input.status === "succeeded" ? { succeeded_at: nowIso } : {}),
    };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /** A failed delivery whose subscription was disabled will not be retried: show it as dead. */
  async markDeadIfFailed(deliveryId: string, now: Date): Promise<void> {
    try {
      await this.update(deliveryId, {
        UpdateExpression: "SET #status = :dead, updated_at = :now, next_attempt_at = :null",
        ConditionExpression: "#status = :failed",
        ExpressionAttributeValues: {
          ":dead": "dead",
          ":failed": "failed",
          ":now": now.toISOString(),
          ":null": null,
        },
      });
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /**
   * Writes the record of a delivery that is queued but not attempted yet (the test route), so its id
   * can be looked up at once. The delivery function's first attempt then fills it in.
   */
  async createPending(delivery: DeliveryIdentity, now: Date, retentionDays: number): Promise<void> {
    const nowIso = now.toISOString();
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...keys.delivery(delivery.delivery_id),
          entity: "delivery",
          id: delivery.delivery_id,
          subscription_id: delivery.subscription_id,
          customer_id: delivery.customer_id,
          event_id: delivery.event_id,
          event_type: delivery.event_type,
          webhook_id: delivery.webhook_id,
          [PAYLOAD_ATTRIBUTE]: encodePayload(delivery.payload),
          status: "pending",
          attempts: [],
          next_attempt_at: nowIso,
          created_at: nowIso,
          updated_at: nowIso,
          GSI1PK: keys.deliveriesOfSubscription(delivery.subscription_id).GSI1PK,
          GSI1SK: `${nowIso}#${delivery.delivery_id}`,
          expires_at: Math.floor(now.getTime() / 1000) + retentionDays * 86_400,
        },
        ConditionExpression: "attribute_not_exists(PK)",
      }),
    );
  }

  /** Removes a pending record that was never attempted (its job could not be enqueued). */
  async deletePending(deliveryId: string): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.delivery(deliveryId),
          ConditionExpression: "#status = :pending AND attribute_not_exists(attempt_count)",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":pending": "pending" },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /**
   * One query of a subscription's delivery log (GSI1, eventually consistent). The status filter and
   * the expiry filter apply after `limit` items are evaluated, so a page may hold fewer records than
   * `limit` while `next` says more remain.
   */
  async queryLog(query: DeliveryLogQuery, now: Date = new Date()): Promise<DeliveryLogPage> {
    const gsi1pk = keys.deliveriesOfSubscription(query.subscriptionId).GSI1PK;
    const values: Record<string, unknown> = { ":pk": gsi1pk };
    let keyCondition = "GSI1PK = :pk";
    if (query.since !== undefined) {
      values[":since"] = query.since;
      keyCondition += " AND GSI1SK >= :since";
    }
    let filter: string | undefined;
    if (query.statuses !== undefined && query.statuses.length > 0) {
      const placeholders = query.statuses.map((status, i) => {
        values[`:s${i}`] = status;
        return `:s${i}`;
      });
      filter = `#status IN (${placeholders.join(", ")})`;
    }
    const response = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: TABLE_KEYS.gsi1.indexName,
        KeyConditionExpression: keyCondition,
        ExpressionAttributeValues: values,
        ...(filter !== undefined
          ? { FilterExpression: filter, ExpressionAttributeNames: { "#status": "status" } }
          : {}),
        ScanIndexForward: query.order === "oldest_first",
        Limit: query.limit,
        ...(query.after !== undefined
          ? {
              ExclusiveStartKey: {
                ...keys.delivery(query.after.id),
                GSI1PK: gsi1pk,
                GSI1SK: `${query.after.created_at}#${query.after.id}`,
              },
            }
          : {}),
      }),
    );
    const records = (response.Items ?? []).filter((item) => !isExpired(item, now)).map(deliveryFromItem);
    const last = response.LastEvaluatedKey;
    let next: DeliveryLogPosition | null = null;
    if (last !== undefined) {
      const sk = String(last.GSI1SK);
      const hash = sk.lastIndexOf("#");
      next = { created_at: sk.slice(0, hash), id: sk.slice(hash + 1) };
    }
    return { records, next };
  }

  /**
   * Marks a delivery `pending` again for a manual retry or a recovery, only if its status is one of
   * `from`: the condition makes two concurrent recoveries requeue each delivery once. `token` names
   * this requeue so that revertRequeue undoes only its own change.
   */
  async requeue(
    deliveryId: string,
    options: { from: readonly DeliveryStatus[]; token: string; now: Date },
  ): Promise<RequeueResult> {
    const values: Record<string, unknown> = {
      ":pending": "pending",
      ":token": options.token,
      ":now": options.now.toISOString(),
    };
    const placeholders = options.from.map((status, i) => {
      values[`:f${i}`] = status;
      return `:f${i}`;
    });
    try {
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.delivery(deliveryId),
          UpdateExpression:
            "SET #status = :pending, next_attempt_at = :now, updated_at = :now, requeue_token = :token",
          ConditionExpression: `attribute_exists(PK) AND #status IN (${placeholders.join(", ")})`,
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_OLD",
        }),
      );
      return response.Attributes
        ? { kind: "requeued", previous: deliveryFromItem(response.Attributes) }
        : { kind: "skipped" };
    } catch (error) {
      if (isConditionalCheckFailed(error)) return { kind: "skipped" };
      throw error;
    }
  }

  /** Puts back the status a requeue replaced, unless an attempt or another requeue has happened since. */
  async revertRequeue(previous: DeliveryRecord, token: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.delivery(previous.id),
          UpdateExpression: "SET #status = :previous, next_attempt_at = :next",
          ConditionExpression: "#status = :pending AND requeue_token = :token",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: {
            ":previous": previous.status,
            ":next": previous.next_attempt_at,
            ":pending": "pending",
            ":token": token,
          },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  private async update(
    deliveryId: string,
    params: {
      UpdateExpression: string;
      ConditionExpression?: string;
      ExpressionAttributeValues: Record<string, unknown>;
    },
  ): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.delivery(deliveryId),
        ExpressionAttributeNames: { "#status": "status" },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        ...params,
      }),
    );
  }
}
