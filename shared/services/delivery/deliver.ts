import type { DeliveryRepository, DeliveryState } from "../../adapters/dynamodb/deliveries.ts";
import type { DeliveryBatchLoader } from "../../adapters/dynamodb/delivery-batch-loader.ts";
import type { SubscriptionRepository } from "../../adapters/dynamodb/subscriptions.ts";
import type { HttpAttemptRequest, HttpAttemptResult } from "../../adapters/http-sender.ts";
import { loggedError } from "../../adapters/observability.ts";
import type { DeliveryAttempt } from "../../domain/delivery/delivery.ts";
import { type DeliveryStep, decideDeliveryStep } from "../../domain/delivery/delivery-step.ts";
import type { DeliveryJob } from "../../domain/delivery/job.ts";
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
  /** Reads the subscriptions and delivery records of a batch (one BatchGetItem). */
  readonly loadBatch: DeliveryBatchLoader;
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

/** Why a received job is not attempted (the skip-checks phase). */
type Skip =
  | { readonly outcome: "dropped_deleted"; readonly message: string }
  | { readonly outcome: "dropped_disabled"; readonly message: string; readonly closeRecord: boolean }
  | { readonly outcome: "skipped_already_succeeded"; readonly message: string };

/** What the attempt phase sent and got back. */
interface Attempted {
  readonly sentAt: Date;
  readonly finishedAt: Date;
  readonly result: HttpAttemptResult;
}

type LogFields = Record<string, unknown>;

/**
 * The delivery of one batch of jobs. Loading is batched: one BatchGetItem brings every subscription
 * not in the cache and every delivery record of the batch, before any record is delivered.
 *
 * Each job then goes through four phases (deliverOnce): skip checks (nothing is sent), the attempt
 * (sign and send), a pure decision (shared/domain/delivery/delivery-step.ts) and applying it
 * (record, subscription, queue).
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
    const toRead = new Map<string, { customerId: string; subscriptionId: string }>();
    for (const job of jobs) {
      const key = SubscriptionCache.key(job.customer_id, job.subscription_id);
      const cached = deps.cache.get(key, nowMs);
      if (cached !== undefined) subscriptions.set(key, cached);
      else toRead.set(key, { customerId: job.customer_id, subscriptionId: job.subscription_id });
    }
    const state = await deps.loadBatch({
      subscriptions: [...toRead.values()],
      deliveryIds: [...new Set(jobs.map((job) => job.delivery_id))],
    });
    for (const [key, subscription] of state.subscriptions) {
      subscriptions.set(key, subscription);
      deps.cache.set(key, subscription, nowMs);
    }
    return new DeliveryBatch(deps, subscriptions, state.deliveries);
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

  private async deliverOnce(received: ReceivedJob): Promise<DeliveryOutcome> {
    const { job, attempt } = received;
    const log: LogFields = {
      delivery_id: job.delivery_id,
      subscription_id: job.subscription_id,
      event_id: job.event_id,
      attempt,
    };
    const subscription = this.subscriptionsByKey.get(
      SubscriptionCache.key(job.customer_id, job.subscription_id),
    );
    const record = this.recordsById.get(job.delivery_id);

    const skip = skipCheck(job, subscription ?? null, record);
    if (skip !== null) return this.applySkip(skip, job, subscription ?? null, log);
    // skipCheck returns null only for an existing, enabled subscription.
    const target = subscription as SubscriptionWithSecrets;

    const attempted = await this.attempt(job, target);
    const step = decideDeliveryStep({
      attempt,
      outcome:
        attempted.result.kind === "response"
          ? { statusCode: attempted.result.statusCode, retryAfter: attempted.result.retryAfter }
          : { error: attempted.result.error },
      schedule: this.deps.settings.retrySchedule,
      jitter: this.deps.settings.jitter,
      now: attempted.finishedAt,
      ...(this.deps.random ? { random: this.deps.random } : {}),
      failingSince: target.failing_since,
      autoDisableAfterSeconds: this.deps.settings.autoDisableAfterSeconds,
    });
    return this.apply(step, { received, subscription: target, record, attempted, log });
  }

  /** Phase 1 outcome: nothing is sent; a disabled subscription's retrying record is closed. */
  private async applySkip(
    skip: Skip,
    job: DeliveryJob,
    subscription: SubscriptionWithSecrets | null,
    log: LogFields,
  ): Promise<DeliveryOutcome> {
    if (skip.outcome === "dropped_disabled" && skip.closeRecord) {
      await this.deps.deliveries.markDeadIfFailed(job.delivery_id, this.clock());
    }
    this.deps.logger.info(skip.message, {
      ...log,
      ...(skip.outcome === "dropped_disabled" ? { disabled_reason: subscription?.disabled_reason } : {}),
    });
    return skip.outcome;
  }

  /** Phase 2: sign and send. The signing secrets are those valid at the instant of sending. */
  private async attempt(job: DeliveryJob, subscription: SubscriptionWithSecrets): Promise<Attempted> {
    const sentAt = this.clock();
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
    const result = await this.deps.sender.send({
      url: subscription.url,
      method: subscription.method,
      headers,
      body: job.payload,
      timeoutMs: this.deps.settings.timeoutMs,
      maxResponseBodyBytes: this.deps.settings.maxResponseBodyBytes,
    });
    this.deps.onAttempt?.({
      latencyMs: result.latencyMs,
      statusCode: result.kind === "response" ? result.statusCode : null,
      error: result.kind === "error" ? result.error : null,
    });
    return { sentAt, finishedAt: this.clock(), result };
  }

  /** Phase 4: record the attempt, then change the subscription, then the queue message. */
  private async apply(
    step: DeliveryStep,
    context: {
      received: ReceivedJob;
      subscription: SubscriptionWithSecrets;
      record: DeliveryState | undefined;
      attempted: Attempted;
      log: LogFields;
    },
  ): Promise<DeliveryOutcome> {
    const { deps } = this;
    const { received, subscription, attempted } = context;
    const { job } = received;
    const now = attempted.finishedAt;
    const recorded = await deps.deliveries.recordAttempt({
      delivery: job,
      attempt: attemptEntry(attempted),
      status: step.status,
      nextAttemptAt: step.nextAttemptAt?.toISOString() ?? null,
      now,
      redeliverAfter: job.redeliver_after,
      retentionDays: deps.settings.retentionDays,
      recordAbsent: context.record === undefined,
    });
    const attemptLog = {
      ...context.log,
      status_code: attempted.result.kind === "response" ? attempted.result.statusCode : null,
      error: attempted.result.kind === "error" ? attempted.result.error : null,
      latency_ms: Math.round(attempted.result.latencyMs),
    };
    if (recorded === "superseded") {
      deps.logger.info("attempt failed but a duplicate already delivered it", attemptLog);
      return "superseded";
    }

    const effect = step.subscription;
    switch (effect.kind) {
      case "clear_failing":
        await deps.subscriptions.clearFailing(subscription.customer_id, subscription.id);
        deps.cache.delete(SubscriptionCache.key(subscription.customer_id, subscription.id));
        break;
      case "mark_failing":
        await deps.subscriptions.markFailing(
          subscription.customer_id,
          subscription.id,
          attempted.sentAt.toISOString(),
        );
        break;
      case "disable":
        if (effect.reason === "endpoint_gone") {
          deps.logger.warn("endpoint answered 410 Gone: disabling subscription", attemptLog);
        } else {
          deps.logger.warn(
            "endpoint failing for longer than the auto-disable window: disabling subscription",
            {
              ...attemptLog,
              failing_since: subscription.failing_since,
            },
          );
        }
        await this.disable(subscription, effect.reason, now);
        break;
      case "none":
        break;
    }

    switch (step.queue.kind) {
      case "delete":
        if (step.outcome === "succeeded") deps.logger.info("delivered", attemptLog);
        break;
      case "retry":
        await deps.queue.scheduleRetry(received.receiptHandle, step.queue.delaySeconds);
        deps.logger.info("attempt failed: retry scheduled", {
          ...attemptLog,
          delay_seconds: step.queue.delaySeconds,
        });
        break;
      case "dead_letter":
        // Make the job visible at once, so its next receive moves it to the dead-letter queue.
        await deps.queue.scheduleRetry(received.receiptHandle, 0);
        deps.logger.warn("attempt failed: no attempts left, job goes to the dead-letter queue", attemptLog);
        break;
    }
    return step.outcome;
  }

  private clock(): Date {
    return this.deps.now?.() ?? new Date();
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
        error: loggedError(error),
      });
    }
  }
}

/**
 * Phase 1, pure: whether a received job must not be attempted. null: go ahead (the subscription
 * exists and is enabled, and this job is not a duplicate of a delivery that already succeeded).
 */
function skipCheck(
  job: DeliveryJob,
  subscription: SubscriptionWithSecrets | null,
  record: DeliveryState | undefined,
): Skip | null {
  if (subscription === null) {
    return { outcome: "dropped_deleted", message: "job dropped: subscription deleted" };
  }
  if (subscription.status !== "enabled") {
    return {
      outcome: "dropped_disabled",
      message: "job dropped: subscription disabled",
      closeRecord: record?.status === "failed",
    };
  }
  if (
    record?.succeeded_at &&
    (job.redeliver_after === undefined || record.succeeded_at >= job.redeliver_after)
  ) {
    return { outcome: "skipped_already_succeeded", message: "job skipped: already delivered" };
  }
  return null;
}

/** The attempt as the delivery log stores it. */
function attemptEntry({ sentAt, result }: Attempted): DeliveryAttempt {
  return {
    at: sentAt.toISOString(),
    status_code: result.kind === "response" ? result.statusCode : null,
    error: result.kind === "error" ? `${result.error}: ${result.message}` : null,
    latency_ms: Math.round(result.latencyMs),
    response_body: result.kind === "response" ? result.responseBody : null,
  };
}
