/**
 * A delivery of one event to one subscription, as the delivery log records it (PRODUCT §4).
 */
export const DELIVERY_STATUSES = ["pending", "succeeded", "failed", "dead"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One attempt as the delivery log shows it (PRODUCT §4). */
export interface DeliveryAttempt {
  readonly at: string;
  readonly status_code: number | null;
  readonly error: string | null;
  readonly latency_ms: number;
  readonly response_body: string | null;
}

export interface DeliveryRecord {
  readonly id: string;
  readonly subscription_id: string;
  readonly customer_id: string;
  readonly event_id: string;
  readonly event_type: string;
  readonly webhook_id: string;
  readonly status: DeliveryStatus;
  readonly attempts: readonly DeliveryAttempt[];
  readonly next_attempt_at: string | null;
  readonly created_at: string;
  readonly updated_at: string;
  readonly succeeded_at: string | null;
  /**
   * The body sent; null on records read through GSI1 (which does not project it) and on records
   * written before payloads were kept.
   */
  readonly payload: string | null;
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
}

/**
 * Attempts kept on one record. With 4 KiB response bodies this keeps the item far below DynamoDB's
 * 400 KB limit even after many manual retries; further attempts are counted, not stored.
 */
export const MAX_STORED_ATTEMPTS = 60;

/**
 * Where a delivery sits in its subscription's log (GSI1SK = `<created_at>#<id>`): what a page of the
 * log resumes after.
 */
export interface DeliveryLogPosition {
  readonly created_at: string;
  readonly id: string;
}

export const positionOf = (record: Pick<DeliveryRecord, "created_at" | "id">): DeliveryLogPosition => ({
  created_at: record.created_at,
  id: record.id,
});
