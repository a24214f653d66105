import { maxReceiveCountFor } from "./config.ts";
import { MAX_VISIBILITY_TIMEOUT_SECONDS } from "./domain/aws-limits.ts";

/**
 * The one description of the table and queues, used by the CDK stack, the local stack and the
 * test setup, so that names, keys, redrive counts and timeouts cannot drift apart.
 * See docs/data-model.md for the key design.
 */
export const TABLE_KEYS = {
  partitionKey: "PK",
  sortKey: "SK",
  ttlAttribute: "expires_at",
  gsi1: {
    indexName: "GSI1",
    partitionKey: "GSI1PK",
    sortKey: "GSI1SK",
    /**
     * What GSI1 copies besides the keys: everything its readers (the delivery log, a customer's access
     * keys) show, but not a delivery's payload — the largest attribute, read only through the table.
     * Every index write is billed by the size of the projected item, so this halves what a delivery
     * costs the index (docs/data-model.md, "Item sizes"). test/unit/table-projection.test.ts keeps it
     * in step with the item mappers.
     */
    projectedAttributes: [
      "entity",
      "id",
      "subscription_id",
      "customer_id",
      "event_id",
      "event_type",
      "webhook_id",
      "status",
      "attempts",
      "attempt_count",
      "next_attempt_at",
      "created_at",
      "updated_at",
      "succeeded_at",
      "expires_at",
      "key_id",
      "key_hash",
      "name",
      "key_expires_at",
      "revoked_at",
    ],
  },
} as const;

/** Default resource names (a deployment prefixes or overrides them). */
export const DEFAULT_RESOURCE_NAMES = {
  table: "voipbin-webhooks",
  deliveryQueue: "voipbin-webhooks-delivery",
  deliveryDlq: "voipbin-webhooks-delivery-dlq",
  unroutableQueue: "voipbin-webhooks-unroutable",
  eventBus: "voipbin-events",
} as const;

/** How long the delivery Lambda may run for one batch; it bounds the queue's visibility timeout. */
export const DELIVERY_FUNCTION_TIMEOUT_SECONDS = 60;

/** Event source mapping batch settings, shared by CDK and the local poller. */
export const DELIVERY_BATCH = {
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
} as const;

/** Unroutable events are kept as long as SQS allows, for operators to inspect and replay. */
export const UNROUTABLE_RETENTION_SECONDS = 14 * 24 * 3600;

export interface QueueSettings {
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  readonly dlqRetentionSeconds: number;
  readonly maxReceiveCount: number;
}

/**
 * Delivery queue settings derived from the retry schedule: the redrive count is the number of
 * attempts, retention outlives the whole retry window, and the visibility timeout is at least six
 * times the function timeout (AWS's guidance for event source mappings).
 */
export function deliveryQueueSettings(retryScheduleSeconds: readonly number[]): QueueSettings {
  const fourDays = 4 * 24 * 3600;
  const fourteenDays = 14 * 24 * 3600;
  const retryWindow = retryScheduleSeconds.reduce(
    (sum, s) => sum + Math.min(s * 2, MAX_VISIBILITY_TIMEOUT_SECONDS),
    0,
  );
  return {
    visibilityTimeoutSeconds: 6 * DELIVERY_FUNCTION_TIMEOUT_SECONDS,
    retentionSeconds: Math.min(fourteenDays, Math.max(fourDays, retryWindow + 24 * 3600)),
    dlqRetentionSeconds: fourteenDays,
    maxReceiveCount: maxReceiveCountFor(retryScheduleSeconds),
  };
}
