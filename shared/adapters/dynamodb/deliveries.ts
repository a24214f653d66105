import { randomBytes } from "node:crypto";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type {
  DeadReason,
  DeliveryAttempt,
  DeliveryDestination,
  DeliveryIdentity,
  DeliveryLogPosition,
  DeliveryRecord,
  DeliveryStatus,
} from "../../domain/delivery/delivery.ts";
import type {
  CloseDeliveryInput,
  DeliveryLogPage,
  DeliveryLogQuery,
  DeliveryRepository as DeliveryRepositoryPort,
  DeliveryState,
  HandOffInput,
  HandOffResult,
  RecordAttemptInput,
  RecordAttemptResult,
  Requeued,
  RequeueResult,
} from "../../domain/ports/deliveries.ts";
import { TABLE_KEYS } from "../../resources.ts";
import { decodeAttempt, encodeAttempt } from "./attempt-codec.ts";
import {
  isBoundedLayout,
  type LogPartition,
  layout1Attempts,
  layout1State,
  legacyLogPartitions,
  str,
} from "./deliveries-legacy.ts";
import { DeliveryTables } from "./delivery-tables.ts";
import { decodePayload, encodePayload, PAYLOAD_ATTRIBUTE } from "./payload-codec.ts";
import {
  batchGetItems,
  DELIVERY_LOG_SHARDS,
  type Item,
  type ItemKey,
  isConditionalCheckFailed,
  isExpired,
  keys,
  logShardOf,
} from "./table.ts";

export { DELIVERY_LOG_SHARDS, logShardOf };

/**
 * Delivery records (docs/data-model.md, "Deliveries, layout 3"). A delivery is a small head item
 * plus one item per attempt after a successful first one (`DELIVERY#<id>` / `A#<at>#<nonce>`); the
 * payload is stored once per event (`EVENT#<event id>` / `PAYLOAD#<customer>`), never on the head,
 * so no write grows with the payload or with the number of attempts.
 *
 * Layout 3 (ids in the version 7 layout, shared/domain/ids.ts): the head lives in the table under
 * its subscription's write-sharded log partition (`keys.deliveryHead`), so the log is a base-table
 * Query and creating a delivery writes one item and no index copy. Layout 2 (version 8 ids, records
 * and jobs from before the upgrade): the head is `DELIVERY#<id>` / `DELIVERY` and the log is GSI1.
 *
 * The head's attributes that change on every attempt carry names GSI1 does not project (`att_n`,
 * `chain_n`, `next_at`, `changed_at`, `live_job`, `dead_reason`, `a1z`): an update that changes no
 * projected attribute costs the index nothing (DynamoDB Developer Guide, "Provisioned throughput
 * considerations for global secondary indexes"), so the index is written when a delivery is created
 * and when its status changes, not once per attempt. Records of the old layout (one item holding
 * the payload and every attempt) stay readable and are converted by their next attempt. What is
 * read of layouts 1 and 2 only is in deliveries-legacy.ts (with its sunset date); how an attempt is
 * stored, in attempt-codec.ts.
 */
export const DELIVERY_LAYOUT = 3;
/** Heads keyed `DELIVERY#<id>` with the log in GSI1 (version 8 ids). */
const INDEXED_LAYOUT = 2;

/** The layout a delivery's head has (or gets): 3 for ids that address a log partition, else 2. */
export const layoutOfId = (deliveryId: string): number =>
  keys.deliveryHead("", deliveryId).SK === "DELIVERY" ? INDEXED_LAYOUT : DELIVERY_LAYOUT;

/**
 * Head attributes written by attempts without a status change: none may be projected into GSI1,
 * or every attempt would cost an index write again (test/unit/table-projection.test.ts).
 */
export const HEAD_ATTRIBUTES_OUTSIDE_INDEX = [
  "layout",
  "att_n",
  "chain_n",
  "next_at",
  "changed_at",
  "live_job",
  "prev_job",
  "dead_reason",
  "dlq_at",
  "a1z",
  "held_ms",
] as const;

const ATTEMPT_BLOB = "z";
/** On an event's payload item: the event's time (epoch ms), what its layout-3 delivery ids encode. */
const EVENT_TIME_ATTRIBUTE = "event_ms";
/** On an event's payload item: when the router handed the event on (epoch ms), for "why was it late". */
const ROUTED_TIME_ATTRIBUTE = "routed_ms";
const FIRST_ATTEMPT_BLOB = "a1z";

export function deliveryStateFromItem(item: Item): DeliveryState {
  if (isBoundedLayout(item)) {
    return {
      event_id: String(item.event_id),
      status: item.status as DeliveryStatus,
      dead_reason: (str(item.dead_reason) as DeadReason | null) ?? null,
      succeeded_at: str(item.succeeded_at),
      next_attempt_at: str(item.next_at),
      chain_attempts: Number(item.chain_n ?? 0),
      live_job: str(item.live_job),
      prev_job: str(item.prev_job),
      dead_lettered_at: str(item.dlq_at),
      held_ms: typeof item.held_ms === "number" ? item.held_ms : 0,
    };
  }
  return layout1State(item);
}

/** An item read from a layout-3 log partition: the head itself, not an index copy. */
const isLogPartitionItem = (item: Item): boolean => String(item.PK).startsWith("LOG#");

/** Where an item sorts in its log: `<created_at>#<id>`, its table sort key (layout 3) or GSI1's. */
const logKeyOf = (item: Item): string => String(isLogPartitionItem(item) ? item.SK : item.GSI1SK);

/** Whether a head has attempts stored beside it (every attempt but a successful first one, inline). */
function hasAttemptItems(head: Item): boolean {
  if (!isBoundedLayout(head)) return false;
  return Number(head.att_n ?? 0) > (head[FIRST_ATTEMPT_BLOB] !== undefined ? 1 : 0);
}

/** A head item with the attempts found for it (oldest first), as the API shows it. */
function recordFrom(
  head: Item,
  attemptItems: readonly Item[],
  payload: string | null,
  routedAt?: string,
): DeliveryRecord {
  const state = deliveryStateFromItem(head);
  const inline = decodeAttempt(head[FIRST_ATTEMPT_BLOB]);
  const stored = attemptItems.map((item) => decodeAttempt(item[ATTEMPT_BLOB])).filter((a) => a !== null);
  const attempts = [...layout1Attempts(head), ...(inline ? [inline] : []), ...stored].sort((a, b) =>
    a.at < b.at ? -1 : a.at > b.at ? 1 : 0,
  );
  return {
    id: head.id as string,
    subscription_id: head.subscription_id as string,
    customer_id: head.customer_id as string,
    event_id: head.event_id as string,
    event_type: head.event_type as string,
    webhook_id: head.webhook_id as string,
    status: state.status,
    dead_reason: state.dead_reason,
    attempts,
    next_attempt_at: state.next_attempt_at,
    created_at: head.created_at as string,
    updated_at: (isBoundedLayout(head) ? str(head.changed_at) : null) ?? (head.updated_at as string),
    succeeded_at: state.succeeded_at,
    chain_attempts: state.chain_attempts,
    live_job: state.live_job,
    payload,
    ...(routedAt !== undefined ? { routed_at: routedAt } : {}),
    ...(state.held_ms > 0 ? { held_ms: state.held_ms } : {}),
    ...(head.test === true ? { test: true as const } : {}),
    ...(isDestination(head.destination) ? { destination: head.destination } : {}),
  };
}

function isDestination(value: unknown): value is DeliveryDestination {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v.kind === "activeflow" &&
    typeof v.activeflow_id === "string" &&
    typeof v.url === "string" &&
    (["GET", "POST", "PUT", "DELETE"] as unknown[]).includes(v.method)
  );
}

/**
 * Whether a head that names another live job was handed to it by `job` and still waits: then `job`'s
 * message is what re-sends the live job should its send never have happened, and must not be deleted
 * as stale (docs/delivery.md, "One live job across a re-send").
 */
function handedOverBy(item: Item, job: string): boolean {
  return str(item.prev_job) === job && (item.status === "pending" || item.status === "failed");
}

/** A partition of the log, with the table it is read from. */
interface TablePartition extends LogPartition {
  readonly table: string;
}

/** An item of the log with the table it came from (its attempts are read there). */
interface LogItem {
  readonly item: Item;
  readonly table: string;
}

const expiresAtFor = (now: Date, retentionDays: number): number =>
  Math.floor(now.getTime() / 1000) + retentionDays * 86_400;

/**
 * The SET clauses of an UpdateItem that may create a delivery's head (a close or a wait of a job that
 * never made an attempt): counters, layout and TTL when absent, and the identity attributes, each
 * written only if missing. Adds their values to `values`.
 */
function headCreationSet(identity: Item, values: Record<string, unknown>): string[] {
  const set = [
    "att_n = if_not_exists(att_n, if_not_exists(attempt_count, :zero))",
    "chain_n = if_not_exists(chain_n, :zero)",
    "layout = :layout",
    "expires_at = if_not_exists(expires_at, :expires)",
  ];
  for (const name of Object.keys(identity)) {
    if (name === "PK" || name === "SK" || name === "layout") continue;
    values[`:${name}`] = identity[name];
    set.push(`${name} = if_not_exists(${name}, :${name})`);
  }
  return set;
}

export class DeliveryRepository implements DeliveryRepositoryPort {
  private readonly tables: DeliveryTables;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    /** The deliveries table and the main one (delivery-tables.ts), or one table for both. */
    tables: DeliveryTables | string,
    /**
     * Days an event's body is kept when a deployment keeps bodies for fewer days than the records
     * (PAYLOAD_RETENTION_DAYS, docs/security.md); unset: a day longer than the records.
     */
    private readonly payloadRetentionDays?: number,
  ) {
    this.tables = typeof tables === "string" ? DeliveryTables.single(doc, tables) : tables;
  }

  /**
   * A new head's keys and identity. Layout 3: the head is its log entry (the id names its time, so
   * `created_at` is the event's); layout 2 (an id from before the upgrade): keyed by id, its log
   * entry in GSI1.
   */
  private identityAttributes(delivery: Omit<DeliveryIdentity, "payload">, now: Date): Item {
    const head = keys.deliveryHead(delivery.customer_id, delivery.delivery_id);
    const layout = layoutOfId(delivery.delivery_id);
    const createdAt = layout === DELIVERY_LAYOUT ? head.SK.slice(0, head.SK.indexOf("#")) : now.toISOString();
    return {
      ...head,
      entity: "delivery",
      layout,
      id: delivery.delivery_id,
      subscription_id: delivery.subscription_id,
      customer_id: delivery.customer_id,
      event_id: delivery.event_id,
      event_type: delivery.event_type,
      webhook_id: delivery.webhook_id,
      created_at: createdAt,
      ...(delivery.test === true ? { test: true } : {}),
      ...(delivery.destination !== undefined
        ? {
            destination: {
              kind: delivery.destination.kind,
              activeflow_id: delivery.destination.activeflow_id,
              url: delivery.destination.url,
              method: delivery.destination.method,
            },
          }
        : {}),
      ...(layout === DELIVERY_LAYOUT
        ? {}
        : {
            GSI1PK: keys.deliveryLogShard(delivery.subscription_id, logShardOf(delivery.delivery_id)).GSI1PK,
            GSI1SK: `${createdAt}#${delivery.delivery_id}`,
          }),
    };
  }

  private headKey(customerId: string, deliveryId: string): ItemKey {
    return keys.deliveryHead(customerId, deliveryId);
  }

  /**
   * Records one attempt and the state it leads to. The first attempt of a delivery nobody has
   * recorded is one PutItem of the head (a successful one carried inline). Later attempts are an
   * attempt item plus one UpdateItem of the small head, conditioned on this job being the live one
   * and, for a failure, on no newer success.
   */
  async recordAttempt(input: RecordAttemptInput): Promise<RecordAttemptResult> {
    const { delivery, now } = input;
    const nowIso = now.toISOString();
    const succeeded = input.status === "succeeded";
    if (input.existing === undefined) {
      const head: Item = {
        ...this.identityAttributes(delivery, now),
        status: input.status,
        att_n: 1,
        chain_n: 1,
        live_job: input.handOffTo ?? input.liveJob,
        ...(input.handOffTo !== undefined ? { prev_job: input.liveJob } : {}),
        changed_at: nowIso,
        expires_at: expiresAtFor(now, input.retentionDays),
        ...(input.nextAttemptAt !== null ? { next_at: input.nextAttemptAt } : {}),
        ...(input.deadReason !== null ? { dead_reason: input.deadReason } : {}),
        ...(succeeded ? { succeeded_at: nowIso, [FIRST_ATTEMPT_BLOB]: encodeAttempt(input.attempt) } : {}),
      };
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tables.tableOf(delivery.delivery_id),
            Item: head,
            ConditionExpression: "attribute_not_exists(PK)",
          }),
        );
        if (!succeeded) await this.putAttempt(delivery.delivery_id, input.attempt, head.expires_at as number);
        return "recorded";
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        // A duplicate job created it meanwhile: record through the general path below.
      }
    }
    // The attempt itself first: it happened, whatever the head's condition says.
    await this.putAttempt(delivery.delivery_id, input.attempt, expiresAtFor(now, input.retentionDays));
    return this.updateHead(input);
  }

  /** The head's part of a later attempt: one UpdateItem, conditioned on the live job and no newer success. */
  private async updateHead(input: RecordAttemptInput): Promise<RecordAttemptResult> {
    const { delivery, now } = input;
    const nowIso = now.toISOString();
    const succeeded = input.status === "succeeded";
    const values: Record<string, unknown> = {
      ":status": input.status,
      ":webhook_id": delivery.webhook_id,
      ":job": input.liveJob,
      ":live": input.handOffTo ?? input.liveJob,
      ":now": nowIso,
      ":one": 1,
      ":layout": layoutOfId(delivery.delivery_id),
    };
    // Only attributes GSI1 does not project, unless the status changes: an attempt that leaves the
    // status as it was (a failure after a failure) costs the index nothing (HEAD_ATTRIBUTES_OUTSIDE_INDEX).
    const set = ["live_job = :live", "changed_at = :now", "layout = :layout"];
    const remove: string[] = [];
    if (input.handOffTo !== undefined) set.push("prev_job = :job");
    // The webhook id is checked, not written: it names the delivery in the request (the chaos
    // harness tells a success write from a failure's by it) at no index cost.
    const conditions = ["attribute_exists(PK)", "webhook_id = :webhook_id"];
    if (input.existing?.status === input.status) conditions.push("#status = :status");
    else set.push("#status = :status");
    if (input.nextAttemptAt !== null) {
      values[":next"] = input.nextAttemptAt;
      set.push("next_at = :next");
    } else remove.push("next_at");
    if (input.deadReason !== null) {
      values[":reason"] = input.deadReason;
      set.push("dead_reason = :reason");
    } else remove.push("dead_reason");
    if (succeeded) set.push("succeeded_at = :now");
    // The attempt carries the holds before it (AttemptTiming.held_ms); the head starts again from none.
    if ((input.existing?.held_ms ?? 0) > 0) remove.push("held_ms");
    conditions.push("(attribute_not_exists(live_job) OR live_job = :job)");
    if (!succeeded) {
      values[":floor"] = input.redeliverAfter ?? "";
      conditions.push("(attribute_not_exists(succeeded_at) OR succeeded_at < :floor)");
    }
    // Old-layout heads convert here: their attempt count seeds the new counters.
    values[":legacy_n"] = 0;
    set.push(
      "att_n = if_not_exists(att_n, if_not_exists(attempt_count, :legacy_n)) + :one",
      "chain_n = if_not_exists(chain_n, if_not_exists(attempt_count, :legacy_n)) + :one",
    );
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.tableOf(delivery.delivery_id),
          Key: this.headKey(delivery.customer_id, delivery.delivery_id),
          UpdateExpression: `SET ${set.join(", ")}${remove.length > 0 ? ` REMOVE ${remove.join(", ")}` : ""}`,
          ConditionExpression: conditions.join(" AND "),
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return "recorded";
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const current = await this.currentItem(
        error,
        this.tables.tableOf(delivery.delivery_id),
        this.headKey(delivery.customer_id, delivery.delivery_id),
      );
      if (current === null) throw error;
      const live = str(current.live_job);
      if (live !== null && live !== input.liveJob) {
        return handedOverBy(current, input.liveJob) ? "handed_over" : "stale";
      }
      const succeededAt = str(current.succeeded_at);
      if (!succeeded && succeededAt !== null && succeededAt >= String(values[":floor"])) return "superseded";
      if (current.status !== input.status && input.existing?.status === input.status) {
        // The status changed since the batch read it (a concurrent duplicate): write it this time.
        return this.updateHead({ ...input, existing: deliveryStateFromItem(current) });
      }
      return "superseded";
    }
  }

  private async putAttempt(deliveryId: string, attempt: DeliveryAttempt, expiresAt: number): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tables.tableOf(deliveryId),
        Item: {
          ...keys.deliveryAttempt(deliveryId, attempt.at, randomBytes(3).toString("hex")),
          [ATTEMPT_BLOB]: encodeAttempt(attempt),
          expires_at: expiresAt,
        },
      }),
    );
  }

  /** The item a failed condition saw: DynamoDB returns it; dynalite does not, so read it then. */
  private async currentItem(error: unknown, table: string, key: ItemKey): Promise<Item | null> {
    const raw = (error as { Item?: Parameters<typeof unmarshall>[0] }).Item;
    if (raw) return unmarshall(raw);
    const response = await this.doc.send(
      new GetCommand({ TableName: table, Key: key, ConsistentRead: true }),
    );
    return response.Item ?? null;
  }

  /**
   * Names the job about to be re-sent (delayed) the delivery's live job in place of the waiting one,
   * the waiting one its `prev_job`, and when it is due: the first step of a wait (the second sends
   * the new message, the third deletes the old one). A crash before this write leaves the old job
   * live (it comes back and waits again); a crash after it, before the send, leaves the live job on
   * no queue: the old message, kept until then, comes back, finds itself `prev_job` and re-sends it
   * (`resumedBy`). A wait of a job that never made an attempt (a breaker's or a cap's deferral)
   * creates its head as `pending`. False: the waiting job is no longer the live one (or, resumed, the
   * hand-off is not this job's any more), or the delivery is over; nothing written.
   */
  async handOff(input: HandOffInput): Promise<HandOffResult> {
    const identity = this.identityAttributes(input.delivery, input.now);
    const values: Record<string, unknown> = {
      ":from": input.fromJob,
      ":to": input.toJob,
      ":next": input.nextAttemptAt,
      ":now": input.now.toISOString(),
      ":zero": 0,
      ":layout": identity.layout,
      ":expires": expiresAtFor(input.now, input.retentionDays),
      ":pending": "pending",
      ":failed": "failed",
      ":prev": input.resumedBy ?? input.fromJob,
    };
    // Only attributes GSI1 does not project (HEAD_ATTRIBUTES_OUTSIDE_INDEX), unless the head is new:
    // a hop costs the index nothing.
    const set = [
      "live_job = :to",
      "prev_job = :prev",
      "next_at = :next",
      "#status = if_not_exists(#status, :pending)",
      "changed_at = if_not_exists(changed_at, :now)",
      ...headCreationSet(identity, values),
    ];
    if (input.heldMs !== undefined && input.heldMs > 0) {
      values[":held"] = Math.round(input.heldMs);
      set.push("held_ms = if_not_exists(held_ms, :zero) + :held");
    }
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.tableOf(input.delivery.delivery_id),
          Key: this.headKey(input.delivery.customer_id, input.delivery.delivery_id),
          UpdateExpression: `SET ${set.join(", ")}`,
          ConditionExpression:
            input.resumedBy === undefined
              ? "attribute_not_exists(PK) OR ((#status = :pending OR #status = :failed) AND (attribute_not_exists(live_job) OR live_job = :from))"
              : "(#status = :pending OR #status = :failed) AND live_job = :from AND prev_job = :prev",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return "handed_off";
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const key = this.headKey(input.delivery.customer_id, input.delivery.delivery_id);
      const current = await this.currentItem(error, this.tables.tableOf(input.delivery.delivery_id), key);
      return current !== null && handedOverBy(current, input.resumedBy ?? input.fromJob)
        ? "handed_over"
        : "stale";
    }
  }

  /**
   * Undoes a hand-off whose new message may not have been sent (its send or its record write failed
   * in a process that is still running): `fromJob` is the live job again, so its message, which
   * comes back after its visibility timeout, carries on at once (attempts, or waits again) instead of
   * re-sending the successor after the hand-off has settled. Only while the record still names
   * `toJob`, handed over by `fromJob`; a copy of `toJob` that did reach the queue is then stale.
   * False: nothing to undo (the write never happened, or the successor moved on).
   */
  async releaseHandOff(input: {
    readonly delivery: Pick<DeliveryIdentity, "customer_id" | "delivery_id">;
    readonly fromJob: string;
    readonly toJob: string;
  }): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.tableOf(input.delivery.delivery_id),
          Key: this.headKey(input.delivery.customer_id, input.delivery.delivery_id),
          UpdateExpression: "SET live_job = :from REMOVE prev_job",
          ConditionExpression: "live_job = :to AND prev_job = :from",
          ExpressionAttributeValues: { ":from": input.fromJob, ":to": input.toJob },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Marks a delivery `dead` with `reason` without an attempt (its subscription was disabled or
   * deleted, or the queue's backstop dead-lettered it), creating the record if the job never made
   * one. A delivery already `succeeded` or `dead`, or whose live job is another, is left alone.
   */
  async close(input: CloseDeliveryInput): Promise<boolean> {
    // The backstop closes without a batch read: a delivery of before the split moves first.
    await this.tables.adoptBeforeWrite(input.delivery.customer_id, input.delivery.delivery_id, input.now);
    const identity = this.identityAttributes(input.delivery, input.now);
    const values: Record<string, unknown> = {
      ":dead": "dead",
      ":reason": input.reason,
      ":now": input.now.toISOString(),
      ":job": input.liveJob,
      ":zero": 0,
      ":layout": identity.layout,
      ":expires": expiresAtFor(input.now, input.retentionDays),
      ":pending": "pending",
      ":failed": "failed",
    };
    const set = [
      "#status = :dead",
      "dead_reason = :reason",
      "changed_at = :now",
      "live_job = if_not_exists(live_job, :job)",
      ...headCreationSet(identity, values),
    ];
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.tableOf(input.delivery.delivery_id),
          Key: this.headKey(input.delivery.customer_id, input.delivery.delivery_id),
          UpdateExpression: `SET ${set.join(", ")} REMOVE next_at, next_attempt_at`,
          ConditionExpression:
            "attribute_not_exists(PK) OR ((#status = :pending OR #status = :failed) AND (attribute_not_exists(live_job) OR live_job = :job))",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Whether the delivery's job is already on the dead-letter queue (`markDeadLettered`), read
   * strongly consistent: the backstop reconciliation checks it before it sends a copy there.
   */
  async isDeadLettered(customerId: string, deliveryId: string): Promise<boolean> {
    await this.tables.adoptBeforeWrite(customerId, deliveryId, new Date());
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tables.tableOf(deliveryId),
        Key: this.headKey(customerId, deliveryId),
        ProjectionExpression: "dlq_at",
        ConsistentRead: true,
      }),
    );
    return typeof Item?.dlq_at === "string";
  }

  /**
   * Notes that the dead delivery's job is on the dead-letter queue, so that a crash before the
   * message is deleted does not put it there a second time when the job comes back.
   */
  async markDeadLettered(customerId: string, deliveryId: string, now: Date): Promise<void> {
    await this.tables.adoptBeforeWrite(customerId, deliveryId, now);
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.tableOf(deliveryId),
          Key: this.headKey(customerId, deliveryId),
          UpdateExpression: "SET dlq_at = :now",
          ConditionExpression: "#status = :dead",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":now": now.toISOString(), ":dead": "dead" },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /**
   * One delivery of the customer with all its attempts and its payload. A layout-3 head is addressed
   * by (customer, id): another customer's delivery is simply not there. Layout 2 and older: the
   * head and its attempts share `DELIVERY#<id>`, one Query; the caller checks the customer.
   */
  async get(customerId: string, deliveryId: string, now: Date = new Date()): Promise<DeliveryRecord | null> {
    if (layoutOfId(deliveryId) === DELIVERY_LAYOUT) {
      const key = this.headKey(customerId, deliveryId);
      let table = this.tables.deliveries;
      let head = (await this.doc.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true })))
        .Item;
      if (head === undefined && (await this.tables.mayBeInMain(deliveryId))) {
        // Written before the split and not touched since: still where it was (delivery-tables.ts).
        table = this.tables.main;
        head = (await this.doc.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true })))
          .Item;
      }
      if (head === undefined || isExpired(head, now)) return null;
      const attempts = hasAttemptItems(head) ? await this.tables.attemptItems(table, deliveryId, true) : [];
      const { payload, routedAt } = await this.payloadOf(head, now);
      return recordFrom(head, attempts, payload, routedAt);
    }
    const items = await this.queryAll({
      TableName: this.tables.main,
      KeyConditionExpression: "PK = :pk",
      ExpressionAttributeValues: { ":pk": keys.delivery(deliveryId).PK },
      ConsistentRead: true,
    });
    const head = items.find((item) => item.SK === "DELIVERY");
    if (head === undefined || isExpired(head, now)) return null;
    const attempts = items.filter((item) => String(item.SK).startsWith(keys.deliveryAttemptsPrefix));
    const { payload, routedAt } = await this.payloadOf(head, now);
    return recordFrom(head, attempts, payload, routedAt);
  }

  /**
   * The body of a delivery (on the head in the old layout, once per event in layout 2) and when the
   * router handed its event on (recorded on the event's body item, the same read).
   */
  private async payloadOf(
    head: Item,
    now: Date = new Date(),
  ): Promise<{ payload: string | null; routedAt?: string }> {
    const inline = decodePayload(head);
    if (inline !== null) return { payload: inline };
    const key = keys.eventPayload(head.customer_id as string, head.event_id as string);
    let response = await this.doc.send(new GetCommand({ TableName: this.tables.deliveries, Key: key }));
    const id = String(head.id);
    if (
      response.Item === undefined &&
      this.tables.isSplit &&
      (layoutOfId(id) !== DELIVERY_LAYOUT || (await this.tables.mayBeInMain(id)))
    ) {
      // The router before the split stored the event's body in the main table.
      response = await this.doc.send(new GetCommand({ TableName: this.tables.main, Key: key }));
    }
    // TTL deletes an expired item within a few days, and until then reads still return it (DynamoDB
    // Developer Guide, "Using time to live (TTL)"): a body past its retention is not shown or resent.
    if (response.Item === undefined || isExpired(response.Item, now)) return { payload: null };
    const routed = response.Item[ROUTED_TIME_ATTRIBUTE];
    return {
      payload: decodePayload(response.Item),
      ...(typeof routed === "number" ? { routedAt: new Date(routed).toISOString() } : {}),
    };
  }

  /**
   * Stores the body of an event once for all its deliveries (the router, for every routed event; the
   * API, for a test event), with the event's time, from which its delivery ids are derived (an
   * event's deliveries are found from it). Idempotent: a retried router writes the same bytes again.
   */
  async putPayload(
    customerId: string,
    eventId: string,
    payload: string,
    now: Date,
    retentionDays: number,
    eventTime: Date,
  ): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tables.deliveries,
        Item: {
          ...keys.eventPayload(customerId, eventId),
          entity: "event_payload",
          [PAYLOAD_ATTRIBUTE]: encodePayload(payload),
          [EVENT_TIME_ATTRIBUTE]: eventTime.getTime(),
          [ROUTED_TIME_ATTRIBUTE]: now.getTime(),
          // One day beyond the deliveries' retention (a delivery created a little later keeps its body),
          // unless the deployment keeps bodies for fewer days than the records.
          expires_at: expiresAtFor(now, this.payloadRetentionDays ?? retentionDays + 1),
        },
      }),
    );
  }

  /**
   * The time of an event as its payload item recorded it (epoch ms), from which its deliveries' ids
   * are derived; null when the event is unknown or was stored before layout 3 (its deliveries then
   * have ids of the earlier derivation, and the oldest layout kept no payload item at all).
   */
  async eventTimeOf(customerId: string, eventId: string, now: Date = new Date()): Promise<Date | null> {
    const read = (table: string) =>
      this.doc.send(
        new GetCommand({
          TableName: table,
          Key: keys.eventPayload(customerId, eventId),
          ProjectionExpression: "#t",
          ExpressionAttributeNames: { "#t": EVENT_TIME_ATTRIBUTE },
        }),
      );
    let response = await read(this.tables.deliveries);
    if (response.Item === undefined && (await this.tables.fallbackOpen(now))) {
      response = await read(this.tables.main);
    }
    const time = response.Item?.[EVENT_TIME_ATTRIBUTE];
    return typeof time === "number" ? new Date(time) : null;
  }

  /**
   * Writes the record of a delivery that is queued but not attempted yet (the test route), so its id
   * can be looked up at once; `liveJob` is the token its job carries. The first attempt fills it in.
   */
  async createPending(
    delivery: DeliveryIdentity,
    now: Date,
    retentionDays: number,
    liveJob: string,
  ): Promise<void> {
    await this.putPayload(delivery.customer_id, delivery.event_id, delivery.payload, now, retentionDays, now);
    await this.doc.send(
      new PutCommand({
        TableName: this.tables.tableOf(delivery.delivery_id),
        Item: {
          ...this.identityAttributes(delivery, now),
          status: "pending",
          att_n: 0,
          chain_n: 0,
          live_job: liveJob,
          next_at: now.toISOString(),
          changed_at: now.toISOString(),
          expires_at: expiresAtFor(now, retentionDays),
        },
        ConditionExpression: "attribute_not_exists(PK)",
      }),
    );
  }

  /** Removes a pending record that was never attempted (its job could not be enqueued). */
  async deletePending(customerId: string, deliveryId: string): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tables.tableOf(deliveryId),
          Key: this.headKey(customerId, deliveryId),
          ConditionExpression: "#status = :pending AND att_n = :zero",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":pending": "pending", ":zero": 0 },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /**
   * One query of a subscription's delivery log: every partition of it, merged in order — the four
   * table partitions of layout 3 (whose items are the heads themselves) and, for records from before
   * the upgrade, the four GSI1 shards of layout 2 and the old layout's single GSI1 partition (whose
   * heads are then read from the table). The status, subscription and expiry filters apply after
   * `limit` items per partition are evaluated, so a page may hold fewer records than `limit` while
   * `next` says more remain.
   */
  async queryLog(query: DeliveryLogQuery, now: Date = new Date()): Promise<DeliveryLogPage> {
    const logShards = (table: string): TablePartition[] =>
      Array.from({ length: DELIVERY_LOG_SHARDS }, (_, shard) => ({
        pk: keys.deliveryLogPartition(query.customerId, query.subscriptionId, shard).PK,
        index: false,
        table,
      }));
    const partitions: TablePartition[] = [
      ...logShards(this.tables.deliveries),
      // Heads written before the split, until the last of them has expired (delivery-tables.ts).
      ...((await this.tables.fallbackOpen(now)) ? logShards(this.tables.main) : []),
      ...legacyLogPartitions(query.subscriptionId).map((partition) => ({
        ...partition,
        table: this.tables.main,
      })),
    ];
    const ascending = query.order === "oldest_first";
    const pages = await Promise.all(partitions.map((partition) => this.queryLogPartition(partition, query)));
    // A head moved by its first write after the split is in both tables: the deliveries table's copy
    // is the live one (the main table's is frozen at the move).
    const byId = new Map<string, LogItem>();
    for (const page of pages) {
      for (const item of page.items) {
        const id = String(item.item.id);
        const seen = byId.get(id);
        if (seen === undefined || (seen.table === this.tables.main && item.table !== this.tables.main)) {
          byId.set(id, item);
        }
      }
    }
    const merged = [...byId.values()].sort((a, b) => {
      const x = logKeyOf(a.item);
      const y = logKeyOf(b.item);
      return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
    });
    const more = pages.some((page) => page.more) || merged.length > query.limit;
    const taken = merged.slice(0, query.limit);
    const lastTaken = taken.at(-1);
    let next: DeliveryLogPosition | null = null;
    if (more && lastTaken !== undefined) {
      const sk = logKeyOf(lastTaken.item);
      const hash = sk.lastIndexOf("#");
      next = { created_at: sk.slice(0, hash), id: sk.slice(hash + 1) };
    }
    const wanted = new Set(query.statuses ?? []);
    const visible = taken.filter(
      ({ item }) =>
        // A subscription of the same customer whose tag is the same shares the partition: not its log.
        item.subscription_id === query.subscriptionId &&
        (wanted.size === 0 || wanted.has(item.status as DeliveryStatus)),
    );
    const records = await this.recordsOf(visible, now);
    return {
      records: records.filter((record) => wanted.size === 0 || wanted.has(record.status)),
      next,
    };
  }

  private async queryLogPartition(
    partition: TablePartition,
    query: DeliveryLogQuery,
  ): Promise<{ items: LogItem[]; more: boolean }> {
    const pkName = partition.index ? TABLE_KEYS.gsi1.partitionKey : TABLE_KEYS.partitionKey;
    const skName = partition.index ? TABLE_KEYS.gsi1.sortKey : TABLE_KEYS.sortKey;
    const values: Record<string, unknown> = { ":pk": partition.pk };
    let keyCondition = `${pkName} = :pk`;
    const ascending = query.order === "oldest_first";
    if (query.after !== undefined) {
      values[":after"] = `${query.after.created_at}#${query.after.id}`;
      keyCondition += ascending ? ` AND ${skName} > :after` : ` AND ${skName} < :after`;
    } else if (query.since !== undefined) {
      values[":since"] = query.since;
      keyCondition += ` AND ${skName} >= :since`;
    }
    const response = await this.doc.send(
      new QueryCommand({
        TableName: partition.table,
        ...(partition.index ? { IndexName: TABLE_KEYS.gsi1.indexName } : {}),
        KeyConditionExpression: keyCondition,
        ExpressionAttributeValues: values,
        ScanIndexForward: ascending,
        Limit: query.limit,
      }),
    );
    const items = (response.Items ?? [])
      .filter((item) => query.since === undefined || logKeyOf(item) >= query.since)
      .map((item) => ({ item, table: partition.table }));
    return { items, more: response.LastEvaluatedKey !== undefined };
  }

  /**
   * Records of log items, in order. A layout-3 item is the head itself; a GSI1 item is a copy whose
   * head is read from the table (one BatchGetItem). Attempts: one Query per delivery with stored ones,
   * in the table its head came from.
   */
  private async recordsOf(logItems: readonly LogItem[], now: Date): Promise<DeliveryRecord[]> {
    if (logItems.length === 0) return [];
    const heads = new Map<string, Item>();
    for (const { item } of logItems) if (isLogPartitionItem(item)) heads.set(String(item.id), item);
    const indexed = logItems
      .filter(({ item }) => !isLogPartitionItem(item))
      .map(({ item }) => String(item.id));
    // Eventually consistent: a log page may lag a write by a moment, at half the read units.
    // Layouts 1 and 2 (the GSI1 items) are in the main table.
    const found = await batchGetItems(
      this.doc,
      this.tables.main,
      indexed.map((id) => keys.delivery(id)),
      now,
      { consistentRead: false },
    );
    for (const item of found.values()) heads.set(String(item.id), item);
    const records = await Promise.all(
      logItems.map(async ({ item, table }) => {
        const id = String(item.id);
        const head = heads.get(id);
        if (head === undefined || isExpired(head, now)) return null;
        const attempts = hasAttemptItems(head) ? await this.tables.attemptItems(table, id, false) : [];
        return recordFrom(head, attempts, null);
      }),
    );
    return records.filter((record) => record !== null);
  }

  private async queryAll(params: ConstructorParameters<typeof QueryCommand>[0]): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const response = await this.doc.send(
        new QueryCommand({ ...params, ...(start ? { ExclusiveStartKey: start } : {}) }),
      );
      items.push(...(response.Items ?? []));
      start = response.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  /**
   * Makes a delivery `pending` again for a manual retry or a recovery, only if its status is one of
   * `from`, and names `token` its only live job: the scheduled retry of the chain it replaces sees
   * another token and stops without an attempt (PRODUCT §4). The condition also makes two concurrent
   * recoveries requeue each delivery once.
   */
  async requeue(
    customerId: string,
    deliveryId: string,
    options: { from: readonly DeliveryStatus[]; token: string; now: Date },
  ): Promise<RequeueResult> {
    await this.tables.adoptBeforeWrite(customerId, deliveryId, options.now);
    const values: Record<string, unknown> = {
      ":pending": "pending",
      ":token": options.token,
      ":now": options.now.toISOString(),
      ":zero": 0,
      ":layout": layoutOfId(deliveryId),
    };
    const placeholders = options.from.map((status, i) => {
      values[`:f${i}`] = status;
      return `:f${i}`;
    });
    try {
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.tableOf(deliveryId),
          Key: this.headKey(customerId, deliveryId),
          UpdateExpression:
            "SET #status = :pending, next_at = :now, changed_at = :now, live_job = :token, chain_n = :zero, layout = :layout, att_n = if_not_exists(att_n, if_not_exists(attempt_count, :zero)) REMOVE dead_reason, dlq_at, prev_job",
          ConditionExpression: `attribute_exists(PK) AND #status IN (${placeholders.join(", ")})`,
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_OLD",
        }),
      );
      if (!response.Attributes) return { kind: "skipped" };
      const state = deliveryStateFromItem(response.Attributes);
      return {
        kind: "requeued",
        previous: recordFrom(response.Attributes, [], (await this.payloadOf(response.Attributes)).payload),
        previousState: { prev_job: state.prev_job, dead_lettered_at: state.dead_lettered_at },
      };
    } catch (error) {
      if (isConditionalCheckFailed(error)) return { kind: "skipped" };
      throw error;
    }
  }

  /** Puts back what a requeue replaced, unless an attempt or another requeue has happened since. */
  async revertRequeue(requeued: Requeued, token: string): Promise<void> {
    const { previous, previousState } = requeued;
    const values: Record<string, unknown> = {
      ":previous": previous.status,
      ":pending": "pending",
      ":token": token,
      ":chain": previous.chain_attempts,
    };
    const set = ["#status = :previous", "chain_n = :chain"];
    const remove: string[] = [];
    if (previous.next_attempt_at !== null) {
      values[":next"] = previous.next_attempt_at;
      set.push("next_at = :next");
    } else remove.push("next_at");
    if (previous.live_job !== null) {
      values[":live"] = previous.live_job;
      set.push("live_job = :live");
    } else remove.push("live_job");
    if (previous.dead_reason !== null) {
      values[":reason"] = previous.dead_reason;
      set.push("dead_reason = :reason");
    }
    // The requeue removed these too: a hand-off's previous job (whose message re-sends the live job
    // if that one never reached its queue) and the dead-letter mark (a dead job moved again otherwise).
    if (previousState.prev_job !== null) {
      values[":prev"] = previousState.prev_job;
      set.push("prev_job = :prev");
    }
    if (previousState.dead_lettered_at !== null) {
      values[":dlq"] = previousState.dead_lettered_at;
      set.push("dlq_at = :dlq");
    }
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.tableOf(previous.id),
          Key: this.headKey(previous.customer_id, previous.id),
          UpdateExpression: `SET ${set.join(", ")}${remove.length > 0 ? ` REMOVE ${remove.join(", ")}` : ""}`,
          ConditionExpression: "#status = :pending AND live_job = :token",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
