/**
 * A delivery of one event to one subscription, as the delivery log records it (PRODUCT §4).
 */
export const DELIVERY_STATUSES = ["pending", "succeeded", "failed", "dead"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * Why a delivery is `dead` (PRODUCT §4): its attempts ran out, the endpoint answered 410, its
 * subscription was disabled or deleted while it was queued or retrying, or the queue's backstop
 * (`maxReceiveCount`) moved it to the dead-letter queue without our code deciding it (`internal`).
 */
export const DEAD_REASONS = [
  "attempts_exhausted",
  "endpoint_gone",
  "subscription_disabled",
  "subscription_deleted",
  "internal",
  /** Legacy profile (PRODUCT §11): the endpoint answered a status VoIPBIN's rules treat as final. */
  "endpoint_rejected",
] as const;
export type DeadReason = (typeof DEAD_REASONS)[number];

/** The request an attempt sent, as the delivery log shows it (the body is the delivery's payload). */
export interface AttemptRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** One attempt as the delivery log shows it (PRODUCT §4). */
export interface DeliveryAttempt {
  readonly at: string;
  readonly status_code: number | null;
  readonly error: string | null;
  readonly latency_ms: number;
  readonly response_body: string | null;
  /** null on attempts recorded before requests were kept. */
  readonly request: AttemptRequest | null;
  /** What the delivery function knew of this attempt's wait (./lateness.ts); absent on older attempts. */
  readonly timing?: AttemptTiming;
}

/**
 * Written with the attempt, in the same item (no write of its own): what "why was it late" needs
 * beyond the attempt's time and latency (docs/delivery.md, "Why was it late?").
 */
export interface AttemptTiming {
  /** When the record said this attempt was due (a retry's time, a manual retry's request); absent on a first attempt. */
  readonly due_at?: string;
  /** When this attempt's failure scheduled the next one (the backoff's end); absent when it ended the chain. */
  readonly retry_at?: string;
  /** Milliseconds fairness deferred the job (open breaker, probe claimed, endpoint at its cap) before this attempt. */
  readonly held_ms?: number;
  /** The job came from the slow lane: its wait there was fairness's. */
  readonly slow_lane?: true;
}

export interface DeliveryRecord {
  readonly id: string;
  readonly subscription_id: string;
  readonly customer_id: string;
  readonly event_id: string;
  readonly event_type: string;
  readonly webhook_id: string;
  readonly status: DeliveryStatus;
  /** Why it is dead; null unless `status` is `dead` (and on dead records of the old layout). */
  readonly dead_reason: DeadReason | null;
  readonly attempts: readonly DeliveryAttempt[];
  readonly next_attempt_at: string | null;
  readonly created_at: string;
  readonly updated_at: string;
  readonly succeeded_at: string | null;
  /**
   * Attempts since the delivery's current job chain began (the router's job, or the last manual
   * retry or recovery): the schedule counts these, never SQS receives.
   */
  readonly chain_attempts: number;
  /**
   * When the router handed the event on (the event's stored body says); undefined where not read
   * (a log page) or not recorded (events routed before it was, test events).
   */
  readonly routed_at?: string;
  /** Fairness deferrals since the last attempt (ms), not yet carried by an attempt. */
  readonly held_ms?: number;
  /**
   * The one job allowed to attempt this delivery (PRODUCT §4, "at most one live job"): the token of
   * the job a retry or recovery enqueued, or `msg:<SQS message id>` of the job that made the first
   * attempt. null until a job claims it. A job that does not match is stale and is dropped.
   */
  readonly live_job: string | null;
  /**
   * The body sent; null on records read from the log (which never holds it) and on records
   * written before payloads were kept.
   */
  readonly payload: string | null;
  /** Sent by the test route: its attempts carry TEST_EVENT_HEADER. */
  readonly test?: true;
  /** An activeflow destination's delivery: its URL and method (PRODUCT §11). */
  readonly destination?: DeliveryDestination;
}

/**
 * An activeflow destination's delivery (PRODUCT §11): where it was sent instead of a subscription's
 * URL. Kept on the record so that a manual retry sends the same request to the same place.
 */
export interface DeliveryDestination {
  readonly kind: "activeflow";
  readonly activeflow_id: string;
  readonly url: string;
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
}

/** Identity of a delivery, as carried by its job. */
export interface DeliveryIdentity {
  readonly delivery_id: string;
  readonly subscription_id: string;
  readonly customer_id: string;
  readonly event_id: string;
  readonly event_type: string;
  readonly webhook_id: string;
  /** The exact body sent; kept on the record so manual retries and recoveries resend the same bytes. */
  readonly payload: string;
  /** A test event (PRODUCT §12): kept on the record so that retries are marked as tests too. */
  readonly test?: true;
  readonly destination?: DeliveryDestination | undefined;
}

/**
 * Where a delivery sits in its subscription's log (its sort key there, `<created_at>#<id>`, in every
 * layout): what a page of the log resumes after.
 */
export interface DeliveryLogPosition {
  readonly created_at: string;
  readonly id: string;
}

export const positionOf = (record: Pick<DeliveryRecord, "created_at" | "id">): DeliveryLogPosition => ({
  created_at: record.created_at,
  id: record.id,
});
