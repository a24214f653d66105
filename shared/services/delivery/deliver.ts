import {
  type DeliveryRepository,
  type DeliveryState,
  deliveryStateFromItem,
} from "../../adapters/dynamodb/deliveries.ts";
import { type SubscriptionRepository, subscriptionFromItem } from "../../adapters/dynamodb/subscriptions.ts";
import { type Item, type ItemKey, itemKeyString, keys } from "../../adapters/dynamodb/table.ts";
import type { HttpAttemptRequest, HttpAttemptResult } from "../../adapters/http-sender.ts";
import type { DeliveryJob } from "../../domain/delivery/job.ts";
import { autoDisableDue, decideAfterAttempt } from "../../domain/delivery/retry-policy.ts";
import { signDelivery } from "../../domain/signing.ts";
import type { DisabledReason, SubscriptionWithSecrets } from "../../domain/subscriptions/subscription.ts";
import { signingSecrets } from "../../domain/subscriptions/subscription.ts";
import { USER_AGENT } from "../../domain/version.ts";
import { SubscriptionCache } from "./subscription-cache.ts";

export interface DeliverySettings {
  readonly retrySchedule: readonly number[];
  readonly jitter: number;
  readonly timeoutMs: number;
  readonly maxResponseBodyBytes: number;
  readonly autoDisableAfterSeconds: number;
  readonly retentionDays: number;
}

export interface DomainLogger {
  debug(message: string, ...attributes: Record<string, unknown>[]): void;
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  error(message: string, ...attributes: Record<string, unknown>[]): void;
}

export interface DeliveryDependencies {
  readonly settings: DeliverySettings;
  readonly loadItems: (keys: readonly ItemKey[]) => Promise<Map<string, Item>>;
  readonly subscriptions: Pick<SubscriptionRepository, "markFailing" | "clearFailing" | "disable">;
  readonly deliveries: Pick<DeliveryRepository, "recordAttempt" | "markDeadIfFailed">;
  readonly queue: { scheduleRetry(receiptHandle: string, delaySeconds: number): Promise<void> };
  readonly sender: { send(request: HttpAttemptRequest): Promise<HttpAttemptResult> };
  readonly operationalEvents: {
    subscriptionDisabled(subscription: SubscriptionWithSecrets, reason: DisabledReason): Promise<void>;
  };
  readonly cache: SubscriptionCache;
  readonly logger: DomainLogger;
  readonly now?: () => Date;
  readonly random?: () => number;
  /** Told about every HTTP attempt (for latency metrics); never about secrets or headers. */
  readonly onAttempt?: (sample: AttemptSample) => void;
}

export interface AttemptSample {
  readonly latencyMs: number;
  readonly statusCode: number | null;
  readonly error: string | null;
}

/** A job as received from the queue: the receive count is the attempt number (PRODUCT §4). */
export interface ReceivedJob {
  readonly job: DeliveryJob;
  readonly attempt: number;
  readonly receiptHandle: string;
}

/**
 * What happened to one received job. `retry_scheduled` and `dead` leave the message on the queue
 * (reported as batch item failures); every other outcome removes it.
 */
export type DeliveryOutcome =
  | "succeeded"
  | "retry_scheduled"
  | "dead"
  | "endpoint_gone"
  | "auto_disabled"
  | "superseded"
  | "dropped_deleted"
  | "dropped_disabled"
  | "skipped_already_succeeded"
  | "duplicate_in_batch";

export const OUTCOMES_KEPT_ON_QUEUE: ReadonlySet<DeliveryOutcome> = new Set(["retry_scheduled", "dead"]);

/**
 * The delivery of one batch of jobs. Loading is batched: one BatchGetItem brings every subscription
 * not in the cache and every delivery record of the batch, before any record is delivered.
 */
export class DeliveryBatch {
  private readonly inFlight = new Map<string, Promise<DeliveryOutcome>>();

  private constructor(
    private readonly deps: DeliveryDependencies,
    private readonly subscriptionsByKey: ReadonlyMap<string, SubscriptionWithSecrets | null>,
    private readonly recordsById: ReadonlyMap<string, DeliveryState>,
  ) {}

  static async load(jobs: readonly DeliveryJob[], deps: DeliveryDependencies): Promise<DeliveryBatch> {
    const nowMs = (deps.now?.() ?? new Date()).getTime();
    const subscriptions = new Map<string, SubscriptionWithSecrets | null>();
    const itemKeys: ItemKey[] = [];
    for (const job of jobs) {
      const cacheKey = SubscriptionCache.key(job.customer_id, job.subscription_id);
      const cached = deps.cache.get(cacheKey, nowMs);
      if (cached !== undefined) subscriptions.set(cacheKey, cached);
      else itemKeys.push(keys.subscription(job.customer_id, job.subscription_id));
      itemKeys.push(keys.delivery(job.delivery_id));
    }
    const items = itemKeys.length > 0 ? await deps.loadItems(itemKeys) : new Map<string, Item>();
    const records = new Map<string, DeliveryState>();
    for (const job of jobs) {
      const cacheKey = SubscriptionCache.key(job.customer_id, job.subscription_id);
      if (!subscriptions.has(cacheKey)) {
        const item = items.get(itemKeyString(keys.subscription(job.customer_id, job.subscription_id)));
        const subscription = item ? subscriptionFromItem(item) : null;
        subscriptions.set(cacheKey, subscription);
        deps.cache.set(cacheKey, subscription, nowMs);
      }
      const record = items.get(itemKeyString(keys.delivery(job.delivery_id)));
      if (record) records.set(job.delivery_id, deliveryStateFromItem(record));
    }
    return new DeliveryBatch(deps, subscriptions, records);
  }

  /**
   * Delivers one job. Two copies of the same job in one batch (a retried router) are delivered once:
   * the second waits for the first and is then removed from the queue.
   */
  deliver(received: ReceivedJob): Promise<DeliveryOutcome> {
    const first = this.inFlight.get(received.job.delivery_id);
    if (first !== undefined) {
      return first.then(
        () => "duplicate_in_batch",
        () => "duplicate_in_batch",
      );
    }
    const outcome = this.deliverOnce(received);
    this.inFlight.set(received.job.delivery_id, outcome);
    return outcome;
  }

  private async deliverOnce({ job, attempt, receiptHandle }: ReceivedJob): Promise<DeliveryOutcome> {
    const { deps } = this;
    const clock = deps.now ?? (() => new Date());
    const log = {
      delivery_id: job.delivery_id,
      subscription_id: job.subscription_id,
      event_id: job.event_id,
      attempt,
    };
    const subscription = this.subscriptionsByKey.get(
      SubscriptionCache.key(job.customer_id, job.subscription_id),
    );
    if (!subscription) {
      deps.logger.info("job dropped: subscription deleted", log);
      return "dropped_deleted";
    }
    const record = this.recordsById.get(job.delivery_id);
    if (subscription.status !== "enabled") {
      if (record?.status === "failed") await deps.deliveries.markDeadIfFailed(job.delivery_id, clock());
      deps.logger.info("job dropped: subscription disabled", {
        ...log,
        disabled_reason: subscription.disabled_reason,
      });
      return "dropped_disabled";
    }
    if (
      record?.succeeded_at &&
      (job.redeliver_after === undefined || record.succeeded_at >= job.redeliver_after)
    ) {
      deps.logger.info("job skipped: already delivered", log);
      return "skipped_already_succeeded";
    }

    const sentAt = clock();
    const headers: Record<string, string> = {
      ...subscription.headers,
      "content-type": "application/json",
      "user-agent": USER_AGENT,
      ...signDelivery({
        webhookId: job.webhook_id,
        timestamp: sentAt,
        body: job.payload,
        secrets: signingSecrets(subscription, sentAt),
      }),
    };
    const result = await deps.sender.send({
      url: subscription.url,
      method: subscription.method,
      headers,
      body: job.payload,
      timeoutMs: deps.settings.timeoutMs,
      maxResponseBodyBytes: deps.settings.maxResponseBodyBytes,
    });
    const now = clock();
    deps.onAttempt?.({
      latencyMs: result.latencyMs,
      statusCode: result.kind === "response" ? result.statusCode : null,
      error: result.kind === "error" ? result.error : null,
    });
    const decision = decideAfterAttempt({
      attempt,
      outcome:
        result.kind === "response"
          ? { statusCode: result.statusCode, retryAfter: result.retryAfter }
          : { error: result.error },
      schedule: deps.settings.retrySchedule,
      jitter: deps.settings.jitter,
      now,
      ...(deps.random ? { random: deps.random } : {}),
    });
    const failed = decision.kind === "retry" || decision.kind === "dead";
    const autoDisable =
      failed &&
      subscription.failing_since !== null &&
      autoDisableDue(new Date(subscription.failing_since), now, deps.settings.autoDisableAfterSeconds);

    const status =
      decision.kind === "succeeded"
        ? "succeeded"
        : decision.kind === "retry" && !autoDisable
          ? "failed"
          : "dead";
    const recorded = await deps.deliveries.recordAttempt({
      delivery: job,
      attempt: {
        at: sentAt.toISOString(),
        status_code: result.kind === "response" ? result.statusCode : null,
        error: result.kind === "error" ? `${result.error}: ${result.message}` : null,
        latency_ms: Math.round(result.latencyMs),
        response_body: result.kind === "response" ? result.responseBody : null,
      },
      status,
      nextAttemptAt:
        status === "failed" && decision.kind === "retry" ? decision.nextAttemptAt.toISOString() : null,
      now,
      redeliverAfter: job.redeliver_after,
      retentionDays: deps.settings.retentionDays,
      recordAbsent: record === undefined,
    });
    const attemptLog = {
      ...log,
      status_code: result.kind === "response" ? result.statusCode : null,
      error: result.kind === "error" ? result.error : null,
      latency_ms: Math.round(result.latencyMs),
    };
    if (recorded === "superseded") {
      deps.logger.info("attempt failed but a duplicate already delivered it", attemptLog);
      return "superseded";
    }

    switch (decision.kind) {
      case "succeeded":
        if (subscription.failing_since !== null) {
          await deps.subscriptions.clearFailing(subscription.customer_id, subscription.id);
          deps.cache.delete(SubscriptionCache.key(subscription.customer_id, subscription.id));
        }
        deps.logger.info("delivered", attemptLog);
        return "succeeded";
      case "gone":
        deps.logger.warn("endpoint answered 410 Gone: disabling subscription", attemptLog);
        await this.disable(subscription, "endpoint_gone", now);
        return "endpoint_gone";
    }
    if (autoDisable) {
      deps.logger.warn("endpoint failing for longer than the auto-disable window: disabling subscription", {
        ...attemptLog,
        failing_since: subscription.failing_since,
      });
      await this.disable(subscription, "failing", now);
      return "auto_disabled";
    }
    if (subscription.failing_since === null) {
      await deps.subscriptions.markFailing(subscription.customer_id, subscription.id, sentAt.toISOString());
    }
    if (decision.kind === "retry") {
      await deps.queue.scheduleRetry(receiptHandle, decision.delaySeconds);
      deps.logger.info("attempt failed: retry scheduled", {
        ...attemptLog,
        delay_seconds: decision.delaySeconds,
      });
      return "retry_scheduled";
    }
    // Last attempt: make the job visible at once, so its next receive moves it to the dead-letter queue.
    await deps.queue.scheduleRetry(receiptHandle, 0);
    deps.logger.warn("attempt failed: no attempts left, job goes to the dead-letter queue", attemptLog);
    return "dead";
  }

  private async disable(
    subscription: SubscriptionWithSecrets,
    reason: DisabledReason,
    now: Date,
  ): Promise<void> {
    const { deps } = this;
    deps.cache.delete(SubscriptionCache.key(subscription.customer_id, subscription.id));
    const disabled = await deps.subscriptions.disable(subscription.customer_id, subscription.id, reason, now);
    // null: another delivery disabled it first and has announced it.
    if (disabled === null) return;
    try {
      await deps.operationalEvents.subscriptionDisabled(disabled, reason);
    } catch (error) {
      // The subscription stays disabled either way; a lost announcement is an operator alarm, not a retry.
      deps.logger.error("could not announce webhook_subscription_disabled", {
        subscription_id: subscription.id,
        reason,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
