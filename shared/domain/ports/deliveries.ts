/**
 * The delivery records as the use cases see them (the port): what the router, the delivery function,
 * the API and the tools may ask of the store, in domain terms. The DynamoDB repository
 * (shared/adapters/dynamodb/deliveries.ts) implements it; docs/data-model.md says how it is stored.
 */
import type {
  DeadReason,
  DeliveryAttempt,
  DeliveryIdentity,
  DeliveryLogPosition,
  DeliveryRecord,
  DeliveryStatus,
} from "../delivery/delivery.ts";
import type { SubscriptionWithSecrets } from "../subscriptions/subscription.ts";

/** What the delivery function needs of an existing record to decide; never the payload. */
export interface DeliveryState {
  /** The event the record is of: a job of another event with the same id would be an id collision. */
  readonly event_id: string;
  readonly status: DeliveryStatus;
  readonly dead_reason: DeadReason | null;
  readonly succeeded_at: string | null;
  readonly next_attempt_at: string | null;
  readonly chain_attempts: number;
  readonly live_job: string | null;
  /**
   * The job that named `live_job` in a hand-off (a retry, the last hop of a long wait, a deferral)
   * and whose message is kept until the live job's message is on its queue: if it comes back while
   * the delivery still waits, the hand-off may not have reached the queue, and it re-sends the live
   * job (docs/delivery.md, "One live job across a re-send"). null when no hand-off named the live job.
   */
  readonly prev_job: string | null;
  /** When our code put the dead delivery's job on the dead-letter queue; null until it has. */
  readonly dead_lettered_at: string | null;
  /** Fairness deferrals since the last attempt (ms): the next attempt carries them (AttemptTiming). */
  readonly held_ms: number;
}

export interface RecordAttemptInput {
  readonly delivery: Omit<DeliveryIdentity, "payload">;
  /** The job that made the attempt (its token, or `msg:<message id>`): it becomes the live job. */
  readonly liveJob: string;
  readonly attempt: DeliveryAttempt;
  readonly status: Exclude<DeliveryStatus, "pending">;
  readonly deadReason: DeadReason | null;
  readonly nextAttemptAt: string | null;
  readonly now: Date;
  /** Manual retries: a success older than this does not supersede the attempt. */
  readonly redeliverAfter: string | undefined;
  readonly retentionDays: number;
  /** The record as the batch read it; undefined when there was none. */
  readonly existing: DeliveryState | undefined;
  /**
   * A retry: the identity of the job that will make the next attempt. It becomes the live job in the
   * same write (and the job that made this attempt its `prev_job`), before its message is sent, so a
   * job received from the queue is never newer than its record (docs/delivery.md, "One live job
   * across a re-send").
   */
  readonly handOffTo?: string;
}

export interface HandOffInput {
  readonly delivery: Omit<DeliveryIdentity, "payload">;
  /** The live job that is waiting: only it may hand over. */
  readonly fromJob: string;
  /** The identity of the message about to be re-sent (delayed). */
  readonly toJob: string;
  /**
   * A resumed hand-off: the record's `prev_job`, back from its queue while `fromJob` (the job it
   * named) may never have been sent. The write then also requires `prev_job` = this, and keeps it.
   * Otherwise `fromJob` is the received job itself and becomes `prev_job`.
   */
  readonly resumedBy?: string;
  /** When the job is due again (written as `next_at`, so the log shows it). */
  readonly nextAttemptAt: string;
  readonly now: Date;
  readonly retentionDays: number;
  /** A fairness deferral's length (ms), added to the head's `held_ms` for "why was it late". */
  readonly heldMs?: number;
}

/**
 * `superseded`: a duplicate delivered it meanwhile (the attempt is kept, the status is not changed);
 * `stale`: another job became the live one meanwhile (a manual retry or a recovery), likewise;
 * `handed_over`: likewise, but by a hand-off from this very job (another receive of the same message
 * ran at the same time and named its successor), whose message may not be on any queue yet.
 */
export type RecordAttemptResult = "recorded" | "superseded" | "stale" | "handed_over";

/**
 * `handed_off`: written. `stale`: the job is not the live one (nor, resumed, the one that named it)
 * any more, or the delivery is over; nothing written. `handed_over`: nothing written, because the
 * live job is one this very job named (another receive of the same message, or a resume of it, ran
 * at the same time) and that job's message may not be on any queue yet.
 */
export type HandOffResult = "handed_off" | "stale" | "handed_over";

export interface CloseDeliveryInput {
  readonly delivery: Omit<DeliveryIdentity, "payload">;
  readonly reason: DeadReason;
  readonly now: Date;
  readonly retentionDays: number;
  /** Only this live job (or none) may close it; a stale job must not close a newer chain. */
  readonly liveJob: string;
}

export interface DeliveryLogQuery {
  /** The subscription's customer: layout 3 keys its log partitions by customer and subscription tag. */
  readonly customerId: string;
  readonly subscriptionId: string;
  /** Newest first (the log) or oldest first (recovery). */
  readonly order: "newest_first" | "oldest_first";
  /** Items to evaluate per log partition (before the status filter). */
  readonly limit: number;
  readonly after?: DeliveryLogPosition | undefined;
  /** Only deliveries created at or after this instant (ISO 8601 UTC, as toISOString writes it). */
  readonly since?: string | undefined;
  readonly statuses?: readonly DeliveryStatus[] | undefined;
}

export interface DeliveryLogPage {
  /** With their attempts; without payloads. */
  readonly records: DeliveryRecord[];
  /** Where the next query resumes; null when the log has been read to its end. */
  readonly next: DeliveryLogPosition | null;
}

/** A requeue that won: what the head held before, everything `revertRequeue` must put back. */
export interface Requeued {
  readonly kind: "requeued";
  readonly previous: DeliveryRecord;
  /**
   * The head's hand-off and dead-letter marks, which the record (the API's view) does not carry: a
   * requeue removes them, and a revert that did not restore `prev_job` would leave a live job that
   * may be on no queue without the message that re-sends it (docs/delivery.md, "One live job across a
   * re-send").
   */
  readonly previousState: Pick<DeliveryState, "prev_job" | "dead_lettered_at">;
}

export type RequeueResult = Requeued | { readonly kind: "skipped" };

export interface DeliveryRepository {
  /**
   * Records one attempt and the state it leads to, conditioned on the attempt's job being the live
   * one and, for a failure, on no newer success.
   */
  recordAttempt(input: RecordAttemptInput): Promise<RecordAttemptResult>;
  /**
   * Names the job about to be re-sent (delayed) the delivery's live job in place of the waiting one
   * (which becomes its `prev_job`), and when it is due.
   */
  handOff(input: HandOffInput): Promise<HandOffResult>;
  /**
   * Undoes a hand-off from `fromJob` to `toJob` whose new message may not have been sent (a failure
   * the process survived): `fromJob` is the live job again. False: nothing to undo.
   */
  releaseHandOff(input: {
    readonly delivery: Pick<DeliveryIdentity, "customer_id" | "delivery_id">;
    readonly fromJob: string;
    readonly toJob: string;
  }): Promise<boolean>;
  /** Marks a delivery `dead` without an attempt; a finished delivery or another live job is left alone. */
  close(input: CloseDeliveryInput): Promise<boolean>;
  /** Whether the delivery's job is already on the dead-letter queue, read strongly consistent. */
  isDeadLettered(customerId: string, deliveryId: string): Promise<boolean>;
  /** Notes that the dead delivery's job is on the dead-letter queue. */
  markDeadLettered(customerId: string, deliveryId: string, now: Date): Promise<void>;
  /** One delivery of the customer with all its attempts and its payload; null when the customer has none by that id. */
  get(customerId: string, deliveryId: string, now?: Date): Promise<DeliveryRecord | null>;
  /** Stores the body of an event once for all its deliveries, with the event's time. Idempotent. */
  putPayload(
    customerId: string,
    eventId: string,
    payload: string,
    now: Date,
    retentionDays: number,
    eventTime: Date,
  ): Promise<void>;
  /** The time of an event as its payload item recorded it; null when unknown or stored before layout 3. */
  eventTimeOf(customerId: string, eventId: string): Promise<Date | null>;
  /** Writes the record of a delivery that is queued but not attempted yet (the test route). */
  createPending(delivery: DeliveryIdentity, now: Date, retentionDays: number, liveJob: string): Promise<void>;
  /** Removes a pending record that was never attempted (its job could not be enqueued). */
  deletePending(customerId: string, deliveryId: string): Promise<void>;
  /** One query of a subscription's delivery log, every partition of it merged in order. */
  queryLog(query: DeliveryLogQuery, now?: Date): Promise<DeliveryLogPage>;
  /**
   * Makes a delivery `pending` again, only if its status is one of `from`, and names `token` its only
   * live job (a manual retry or a recovery).
   */
  requeue(
    customerId: string,
    deliveryId: string,
    options: { from: readonly DeliveryStatus[]; token: string; now: Date },
  ): Promise<RequeueResult>;
  /** Puts back what a requeue replaced, unless an attempt or another requeue has happened since. */
  revertRequeue(requeued: Requeued, token: string): Promise<void>;
}

/** What one delivery batch needs read before any job is attempted. */
export interface DeliveryBatchLoadRequest {
  readonly subscriptions: readonly { readonly customerId: string; readonly subscriptionId: string }[];
  /** Each delivery by its customer and id: a layout-3 head is addressed by both (keys.deliveryHead). */
  readonly deliveries: readonly { readonly customerId: string; readonly deliveryId: string }[];
}

export interface DeliveryBatchState {
  /** By `subscriptionLookupKey`; null: the subscription does not exist (deleted). */
  readonly subscriptions: ReadonlyMap<string, SubscriptionWithSecrets | null>;
  /** By delivery id; absent: no record yet (the first attempt is still to come). */
  readonly deliveries: ReadonlyMap<string, DeliveryState>;
}

export const subscriptionLookupKey = (customerId: string, subscriptionId: string): string =>
  `${customerId}|${subscriptionId}`;

export type DeliveryBatchLoader = (request: DeliveryBatchLoadRequest) => Promise<DeliveryBatchState>;
