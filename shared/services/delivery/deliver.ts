import { createHash, randomUUID } from "node:crypto";
import type { DeadReason, DeliveryAttempt } from "../../domain/delivery/delivery.ts";
import {
  type DeliveryStep,
  decideDeliveryStep,
  type QueueEffect,
  type StepOutcome,
  type SubscriptionEffect,
} from "../../domain/delivery/delivery-step.ts";
import type { Lane } from "../../domain/delivery/endpoint-health.ts";
import { type DeliveryJob, TEST_EVENT_HEADER } from "../../domain/delivery/job.ts";
import { handOffSettleMs, type Wait, waitToken, waitUntil, wokenEarly } from "../../domain/delivery/waits.ts";
import { KeptOnQueueSignal } from "../../domain/errors.ts";
import { autoDisableAt, failingSeconds, type OperationalWarning } from "../../domain/events/operational.ts";
import { parseDeliveryId } from "../../domain/ids.ts";
import type {
  DeliveryRepository,
  DeliveryState,
  RecordAttemptResult,
} from "../../domain/ports/deliveries.ts";
import { type DeliveryBatchLoader, subscriptionLookupKey } from "../../domain/ports/deliveries.ts";
import { type DomainLogger, loggedError } from "../../domain/ports/logger.ts";
import type { BackstopQueue, DeadLetterQueue, DeliveryQueue } from "../../domain/ports/queues.ts";
import {
  type HttpAttemptRequest,
  type HttpAttemptResult,
  LEGACY_TRANSPORT,
} from "../../domain/ports/sender.ts";
import type { ShadowLogRepository } from "../../domain/ports/stores.ts";
import type { SubscriptionRepository } from "../../domain/ports/subscriptions.ts";
import { signDelivery } from "../../domain/signing.ts";
import { managedSubscriptionId } from "../../domain/subscriptions/managed.ts";
import type { DisabledReason, SubscriptionWithSecrets } from "../../domain/subscriptions/subscription.ts";
import { isSystemEventType, signingSecrets } from "../../domain/subscriptions/subscription.ts";
import { USER_AGENT } from "../../domain/version.ts";
import type { FairLanes, LaneGate, LanePhase } from "./fair-lanes.ts";

export interface DeliverySettings {
  readonly retrySchedule: readonly number[];
  readonly jitter: number;
  readonly timeoutMs: number;
  readonly maxResponseBodyBytes: number;
  readonly autoDisableAfterSeconds: number;
  readonly retentionDays: number;
}

export interface DeliveryDependencies {
  readonly settings: DeliverySettings;
  /** Reads the subscriptions and delivery records of a batch (one BatchGetItem, consistent). */
  readonly loadBatch: DeliveryBatchLoader;
  readonly subscriptions: Pick<SubscriptionRepository, "markFailing" | "clearFailing" | "disable">;
  readonly deliveries: Pick<
    DeliveryRepository,
    "recordAttempt" | "close" | "markDeadLettered" | "isDeadLettered" | "handOff" | "releaseHandOff" | "get"
  >;
  /**
   * The queue the batch came from: a job that must wait goes back to it as a new, delayed message
   * (shared/domain/delivery/waits.ts), never as an in-flight message with a long visibility timeout.
   */
  readonly queue: Pick<DeliveryQueue, "send" | "hold">;
  /** Our own moves to the dead-letter queue, and the backstop reconciliation's. */
  readonly deadLetters: Pick<DeadLetterQueue, "send">;
  /** The redrive target of both lanes, read by the backstop reconciliation (shared/services/delivery/backstop.ts). */
  readonly backstop: Pick<BackstopQueue, "receive" | "release" | "delete">;
  readonly sender: { send(request: HttpAttemptRequest): Promise<HttpAttemptResult> };
  /** Where shadow deliveries are recorded instead of sent (PRODUCT §11, shadow mode). */
  readonly shadowLog: Pick<ShadowLogRepository, "put">;
  readonly operationalEvents: {
    subscriptionDisabled(subscription: SubscriptionWithSecrets, reason: DisabledReason): Promise<void>;
    /** The warnings before loss (PRODUCT §12, shared/domain/events/operational.ts). */
    warn(warning: OperationalWarning): Promise<void>;
  };
  readonly logger: DomainLogger;
  readonly now?: () => Date;
  readonly random?: () => number;
  /** A new random id for the identity of a re-sent job. @default crypto.randomUUID */
  readonly newId?: () => string;
  /**
   * Fair delivery (lanes, breaker, per-endpoint caps; docs/delivery.md): consulted around every
   * attempt. Without it every job is dialled with the full timeout on the queue it came from.
   */
  readonly lanes?: FairLanes;
  /** Told about every HTTP attempt (for latency metrics); never about secrets or headers. */
  readonly onAttempt?: (sample: AttemptSample) => void;
}

export interface AttemptSample {
  readonly latencyMs: number;
  readonly statusCode: number | null;
  readonly error: string | null;
}

/** A job as received from the queue. The receive count is for logs only: attempts are counted on the record. */
export interface ReceivedJob {
  readonly job: DeliveryJob;
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly receiveCount: number;
  /** The queue it came from: the delivery queue (main) or fair delivery's slow lane. @default "main" */
  readonly lane?: Lane;
}

/**
 * What happened to one received job, assembled from what each phase can end with. Every outcome
 * removes the received message: a job that waits (`retry_scheduled`, `slept`, `deferred`) has been
 * re-sent as a new, delayed message first. (A copy kept until its hand-off settles ends with
 * KeptOnQueueSignal instead: it stays on the queue.)
 */
export type DeliveryOutcome =
  /** The skip checks: nothing sent (a resumed hand-off reports `slept`). */
  | SkipOutcome
  /** Fairness: nothing sent, no attempt used. */
  | Exclude<LanePhase<never>["outcome"], "attempted">
  /** The decision after an attempt (shared/domain/delivery/delivery-step.ts). */
  | StepOutcome
  /** The record refused the attempt's write. */
  | RecordOutcome
  /** The batch: a second copy of a delivery already being delivered in it, removed once the first is done. */
  | "duplicate_in_batch"
  /** Shadow mode: signed and recorded in the shadow log as it would be sent; nothing sent, no delivery record. */
  | "shadowed";

/**
 * The attempt's record write found the delivery moved on: `superseded`, a duplicate already
 * delivered it; `stale`, another job became the live one meanwhile (a retry or recovery).
 */
type RecordOutcome = Exclude<RecordAttemptResult, "recorded" | "handed_over">;

/** The skip phase's outcomes as reported. */
type SkipOutcome = Exclude<Skip["outcome"], "resumed" | "unsettled">;

/**
 * The subscription whose secrets, profile and status a job is sent with: its own, or for an
 * activeflow destination's job the customer's managed legacy subscription (PRODUCT §11: activeflow
 * destinations use the customer's secret and profile; without one, the job is dropped as deleted).
 */
export function signingSubscriptionOf(job: DeliveryJob): string {
  return job.destination === undefined ? job.subscription_id : managedSubscriptionId(job.customer_id);
}

/** What a job is sent to: the subscription, or its activeflow destination's URL and method with the subscription's secrets. */
function targetOf(
  job: DeliveryJob,
  subscription: SubscriptionWithSecrets | null,
): SubscriptionWithSecrets | null {
  if (subscription === null || job.destination === undefined) return subscription;
  return {
    ...subscription,
    id: job.subscription_id,
    url: job.destination.url,
    method: job.destination.method,
    headers: {},
    activeflow_id: job.destination.activeflow_id,
  };
}

/** The identity a job claims as the delivery's one live job (DeliveryRecord.live_job). */
export function liveJobOf(job: DeliveryJob, messageId: string): string {
  return job.token ?? `msg:${messageId}`;
}

/** Why a received job is not attempted (the skip-checks phase), and what to do instead. */
type Skip =
  | { readonly outcome: "dropped_deleted" | "dropped_disabled"; readonly close: DeadReason }
  | { readonly outcome: "stale" | "dropped_dead" | "skipped_already_succeeded" }
  /**
   * Woken before its attempt is due. `sameJob`: a middle hop — more than 900 s remain and the job
   * carries the token the record names, so it is re-sent as it is, without a write.
   */
  | { readonly outcome: "slept"; readonly dueAt: Date; readonly sameJob: boolean }
  /**
   * This job handed the delivery to `successor` (the record's `prev_job` is this job) and is back:
   * the function died after that record write, perhaps before the successor's message was sent. It
   * re-sends the successor as a new live job, due when the record says (reported as `slept`).
   */
  | { readonly outcome: "resumed"; readonly successor: string; readonly dueAt: Date }
  /** As `resumed`, but the successor is due and may be being attempted right now: try again later. */
  | { readonly outcome: "unsettled"; readonly settledAt: Date }
  | { readonly outcome: "dead_letter_resent" };

/** What the attempt phase sent and got back. */
interface Attempted {
  readonly sentAt: Date;
  readonly finishedAt: Date;
  readonly request: HttpAttemptRequest;
  readonly result: HttpAttemptResult;
}

type LogFields = Record<string, unknown>;

/** What the apply step knows of the attempt it applies. */
interface ApplyContext {
  readonly received: ReceivedJob;
  readonly subscription: SubscriptionWithSecrets;
  readonly record: DeliveryState | undefined;
  readonly attempted: Attempted;
  /** 1-based number of the attempt in its chain. */
  readonly attempt: number;
  readonly log: LogFields;
}

/** The log line of each outcome of an attempt (the apply step's message table). */
const ATTEMPT_MESSAGES: Record<
  StepOutcome | RecordOutcome,
  { readonly level: "debug" | "info" | "warn"; readonly message: string }
> = {
  // The delivery record is the audit log of a success: an INFO line per delivery would repeat it at
  // ~$0.50 per GB ingested (docs/decisions.md, "Lean defaults"). Failures still log.
  succeeded: { level: "debug", message: "delivered" },
  retry_scheduled: { level: "info", message: "attempt failed: retry scheduled" },
  dead: { level: "warn", message: "attempt failed: no attempts left, job moved to the dead-letter queue" },
  endpoint_rejected: {
    level: "info",
    message: "endpoint answered a final status (legacy profile): delivery closed",
  },
  endpoint_gone: { level: "warn", message: "endpoint answered 410 Gone: subscription disabled" },
  auto_disabled: {
    level: "warn",
    message: "endpoint failing for longer than the auto-disable window: subscription disabled",
  },
  superseded: { level: "info", message: "attempt failed but a duplicate already delivered it" },
  stale: {
    level: "info",
    message: "attempt recorded, but another job became the live one meanwhile: this chain ends",
  },
};

const SKIP_MESSAGES: Record<Skip["outcome"], string> = {
  dropped_deleted: "job dropped: subscription deleted; delivery closed",
  dropped_disabled: "job dropped: subscription disabled; delivery closed",
  stale: "job dropped: another job is this delivery's live one (a retry or recovery replaced it)",
  dropped_dead: "job dropped: delivery already dead",
  skipped_already_succeeded: "job skipped: already delivered",
  slept: "job woke before its next attempt is due: re-sent, delayed, without an attempt (a hop)",
  resumed:
    "job back after handing its delivery to a new job whose message may never have been sent: the new job re-sent, without an attempt",
  unsettled:
    "job back after handing its delivery to a new job that is due and may be under way: left on the queue until the hand-off has settled",
  dead_letter_resent: "dead delivery's job not yet on the dead-letter queue: moving it there",
};

/**
 * The delivery of one batch of jobs. Loading is batched: one BatchGetItem brings every subscription
 * and every delivery record of the batch, before any record is delivered. Subscriptions are read for
 * every batch, never cached across invocations, so that a rotation, an edit, a disable or a delete
 * reaches every attempt that starts after it returned.
 *
 * Each job then goes through five phases (deliverOnce): the skip checks (skipCheck, pure: nothing
 * is sent), fairness (LaneGate.dial: dial, hand over or defer), the attempt (sign and send), the
 * decision (decideDeliveryStep, pure) and applying it (the record, subscription and queue
 * executors). The state machine is in docs/delivery.md; test/unit/delivery-state-machine.test.ts
 * has a row per edge.
 */
export class DeliveryBatch {
  private readonly inFlight = new Map<string, Promise<DeliveryOutcome>>();

  private constructor(
    private readonly deps: DeliveryDependencies,
    private readonly subscriptionsByKey: ReadonlyMap<string, SubscriptionWithSecrets | null>,
    private readonly recordsById: ReadonlyMap<string, DeliveryState>,
    private readonly gate: LaneGate | null,
    /** The tokens the batch's jobs carry: a live job among them is on its queue. */
    private readonly tokensInBatch: ReadonlySet<string>,
  ) {}

  static async load(jobs: readonly DeliveryJob[], deps: DeliveryDependencies): Promise<DeliveryBatch> {
    const toRead = new Map<string, { customerId: string; subscriptionId: string }>();
    for (const job of jobs) {
      const subscriptionId = signingSubscriptionOf(job);
      toRead.set(subscriptionLookupKey(job.customer_id, subscriptionId), {
        customerId: job.customer_id,
        subscriptionId,
      });
    }
    const state = await deps.loadBatch({
      subscriptions: [...toRead.values()],
      deliveries: [
        ...new Map(
          jobs.map((job) => [job.delivery_id, { customerId: job.customer_id, deliveryId: job.delivery_id }]),
        ).values(),
      ],
    });
    const urls = [...state.subscriptions.values()].flatMap((s) => (s?.status === "enabled" ? [s.url] : []));
    const gate = deps.lanes && urls.length > 0 ? await deps.lanes.forBatch(urls) : null;
    const tokens = new Set(jobs.flatMap((job) => (job.token === undefined ? [] : [job.token])));
    return new DeliveryBatch(deps, state.subscriptions, state.deliveries, gate, tokens);
  }

  /**
   * Delivers one job. Two copies of the same job in one batch (a retried router) are delivered once:
   * the second waits for the first and is then removed from the queue. A copy the record already
   * names stale (the old message of a wait whose re-send was recorded, back after a crash before its
   * delete) never stands in for the delivery: it goes through the skip checks on its own and drops
   * itself, so the live copy behind it in the same batch is still attempted, not removed as its
   * duplicate (docs/delivery.md, "Waits out of flight").
   */
  deliver(received: ReceivedJob): Promise<DeliveryOutcome> {
    const live = this.recordsById.get(received.job.delivery_id)?.live_job ?? null;
    if (live !== null && live !== liveJobOf(received.job, received.messageId)) {
      return this.deliverOnce(received);
    }
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
    const { job } = received;
    const subscription = targetOf(
      job,
      this.subscriptionsByKey.get(subscriptionLookupKey(job.customer_id, signingSubscriptionOf(job))) ?? null,
    );
    const record = this.recordsById.get(job.delivery_id);
    const attempt = (record?.chain_attempts ?? 0) + 1;
    const log: LogFields = {
      delivery_id: job.delivery_id,
      subscription_id: job.subscription_id,
      event_id: job.event_id,
      attempt,
      receive_count: received.receiveCount,
    };

    if (record !== undefined && record.event_id !== job.event_id) {
      // Two (event, subscription) pairs derived one id (docs/data-model.md, "Id collisions": ~6e-5 a
      // year at 1,000 events/s to one subscription): this job is judged by the other event's record.
      this.deps.logger.error("delivery id collision: the record is another event's", {
        ...log,
        record_event_id: record.event_id,
      });
    }
    if (job.shadow === true) return this.shadow(job, subscription, log);
    // Phase 1, the skip checks (pure): whether the job is not to be attempted now; nothing is sent.
    const skip = skipCheck(job, liveJobOf(job, received.messageId), subscription, record, this.clock(), {
      liveJobInBatch: record?.live_job != null && this.tokensInBatch.has(record.live_job),
      settleMs: handOffSettleMs(this.deps.settings.timeoutMs),
    });
    if (skip !== null) return this.applySkip(skip, received, log);
    // skipCheck returns null only for an existing, enabled subscription.
    const target = subscription as SubscriptionWithSecrets;

    // Phases 2 and 3, fairness around the attempt: the lane may hand the job over or put it back to
    // sleep instead (nothing sent, no attempt used), and sets the attempt's timeout.
    const fair = await this.dialFairly(received, target);
    if (fair.outcome === "moved_to_slow_lane") {
      this.deps.logger.info(fair.message, log);
      return fair.outcome;
    }
    if (fair.outcome === "deferred") {
      const dueAt = new Date(this.clock().getTime() + fair.seconds * 1000);
      return this.waitWithoutAttempt(received, dueAt, "deferred", fair.message, log);
    }
    const { attempted } = fair;

    // Phase 4, the decision (pure), and phase 5, applying it.
    const step = this.decide(attempt, target, attempted);
    return this.apply(step, { received, subscription: target, record, attempted, attempt, log });
  }

  /** Phase 4: what the attempt's answer means for the record, the subscription and the queue message. */
  private decide(attempt: number, target: SubscriptionWithSecrets, attempted: Attempted): DeliveryStep {
    const { settings } = this.deps;
    return decideDeliveryStep({
      attempt,
      outcome:
        attempted.result.kind === "response"
          ? { statusCode: attempted.result.statusCode, retryAfter: attempted.result.retryAfter }
          : { error: attempted.result.error },
      schedule: settings.retrySchedule,
      jitter: settings.jitter,
      now: attempted.finishedAt,
      ...(this.deps.random ? { random: this.deps.random } : {}),
      failingSince: target.failing_since,
      autoDisableAfterSeconds: settings.autoDisableAfterSeconds,
      ...(target.delivery_profile === "legacy" ? { profile: "legacy" as const } : {}),
    });
  }

  /**
   * Phase 2, fairness, around phase 3, the attempt: with fair delivery, the batch's lane gate decides and
   * runs the attempt (shared/services/delivery/fair-lanes.ts); without it every job is dialled with
   * the full timeout.
   */
  private async dialFairly(
    received: ReceivedJob,
    target: SubscriptionWithSecrets,
  ): Promise<LanePhase<Attempted>> {
    const { job } = received;
    if (this.gate === null) return { outcome: "attempted", attempted: await this.attempt(job, target) };
    const item = {
      lane: received.lane ?? "main",
      job,
      liveJob: liveJobOf(job, received.messageId),
      url: target.url,
    };
    return this.gate.dial(item, (timeoutMs) => this.attempt(job, target, timeoutMs));
  }

  /** When a hand-off made now has surely settled: its successor's attempt, if any, is over. */
  private settledAfter(now: Date): Date {
    return new Date(now.getTime() + handOffSettleMs(this.deps.settings.timeoutMs));
  }

  /**
   * Keeps this copy on the queue until its delivery's hand-off has settled, then it comes back and
   * resumes the live job if that one never reached the queue. It is hidden until then, not for the
   * queue's whole visibility timeout (6 minutes on AWS): after a crash between a hand-off's record
   * write and its send, the delivery resumes in at most the settle time (2 × the attempt timeout +
   * 10 s). Reported as a batch item failure, not as our error.
   */
  private async keepUntilSettled(received: ReceivedJob, settledAt: Date, log: LogFields): Promise<never> {
    this.deps.logger.info(SKIP_MESSAGES.unsettled, log);
    const seconds = (settledAt.getTime() - this.clock().getTime()) / 1000;
    try {
      await this.deps.queue.hold(received.receiptHandle, seconds);
    } catch (error) {
      // The copy then comes back after the queue's visibility timeout instead: later, never lost.
      this.deps.logger.warn("could not shorten the hidden time of a copy kept until its hand-off settled", {
        ...log,
        error: loggedError(error),
      });
    }
    throw new KeptOnQueueSignal(SKIP_MESSAGES.unsettled);
  }

  private async applySkip(skip: Skip, received: ReceivedJob, log: LogFields): Promise<DeliveryOutcome> {
    const { deps } = this;
    const { job } = received;
    const now = this.clock();
    switch (skip.outcome) {
      case "dropped_deleted":
      case "dropped_disabled":
        await deps.deliveries.close({
          delivery: job,
          reason: skip.close,
          now,
          retentionDays: deps.settings.retentionDays,
          liveJob: liveJobOf(job, received.messageId),
        });
        break;
      case "slept":
        if (skip.sameJob) return this.hop(received, skip.dueAt, log);
        return this.waitWithoutAttempt(received, skip.dueAt, "slept", SKIP_MESSAGES.slept, log);
      case "resumed":
        return this.waitWithoutAttempt(received, skip.dueAt, "slept", SKIP_MESSAGES.resumed, log, {
          successor: skip.successor,
        });
      case "unsettled":
        return this.keepUntilSettled(received, skip.settledAt, log);
      case "dead_letter_resent":
        await this.deadLetter(job, "attempts_exhausted", now);
        break;
      default:
        break;
    }
    deps.logger.info(SKIP_MESSAGES[skip.outcome], log);
    return skip.outcome;
  }

  /**
   * Shadow mode (PRODUCT §11): the request is built and signed exactly as an attempt would build it,
   * and recorded in the shadow log (method, URL, headers, the body's SHA-256) instead of sent. No
   * delivery record is written, so nothing reaches the customer's log, statistics or retries.
   */
  private async shadow(
    job: DeliveryJob,
    subscription: SubscriptionWithSecrets | null,
    log: LogFields,
  ): Promise<DeliveryOutcome> {
    if (subscription === null || subscription.status !== "enabled") {
      this.deps.logger.info("shadow job dropped: subscription deleted or disabled", {
        ...log,
        shadowed: true,
      });
      return subscription === null ? "dropped_deleted" : "dropped_disabled";
    }
    const signedAt = this.clock();
    const request = this.buildRequest(job, subscription, signedAt, this.deps.settings.timeoutMs);
    const createdAt = parseDeliveryId(job.delivery_id)?.createdAt ?? signedAt;
    await this.deps.shadowLog.put(
      {
        at: createdAt.toISOString(),
        signed_at: signedAt.toISOString(),
        customer_id: job.customer_id,
        subscription_id: job.subscription_id,
        event_id: job.event_id,
        event_type: job.event_type,
        delivery_id: job.delivery_id,
        webhook_id: job.webhook_id,
        method: request.method,
        url: withoutPassword(request.url),
        headers: request.headers,
        body_sha256: createHash("sha256").update(job.payload, "utf8").digest("hex"),
        body_bytes: Buffer.byteLength(job.payload, "utf8"),
      },
      this.deps.settings.retentionDays,
    );
    this.deps.logger.info("delivery shadowed: recorded, not sent", { ...log, shadowed: true });
    return "shadowed";
  }

  /** The request of an attempt: the subscription's method and URL, our headers, signed at `sentAt`. */
  private buildRequest(
    job: DeliveryJob,
    subscription: SubscriptionWithSecrets,
    sentAt: Date,
    timeoutMs: number,
  ): HttpAttemptRequest {
    const headers: Record<string, string> = {
      ...subscription.headers,
      "content-type": "application/json",
      "user-agent": USER_AGENT,
      ...(job.test === true ? { [TEST_EVENT_HEADER]: "true" } : {}),
      ...signDelivery({
        webhookId: job.webhook_id,
        timestamp: sentAt,
        body: job.payload,
        secrets: signingSecrets(subscription, sentAt),
      }),
    };
    const legacy = subscription.delivery_profile === "legacy";
    const request: HttpAttemptRequest = {
      url: subscription.url,
      method: subscription.method,
      headers,
      body: job.payload,
      // The legacy profile's transport is VoIPBIN's: 30 s per attempt, response headers within 15 s,
      // redirects followed, http:// and user-info allowed (PRODUCT §11).
      timeoutMs: legacy ? LEGACY_TRANSPORT.timeoutMs : timeoutMs,
      maxResponseBodyBytes: this.deps.settings.maxResponseBodyBytes,
      ...(legacy ? { legacy: LEGACY_TRANSPORT } : {}),
    };
    return request;
  }

  /** Phase 3: sign and send. The signing secrets are those valid at the instant of sending. */
  private async attempt(
    job: DeliveryJob,
    subscription: SubscriptionWithSecrets,
    timeoutMs: number = this.deps.settings.timeoutMs,
  ): Promise<Attempted> {
    const sentAt = this.clock();
    const request = this.buildRequest(job, subscription, sentAt, timeoutMs);
    const result = await this.deps.sender.send(request);
    this.deps.onAttempt?.({
      latencyMs: result.latencyMs,
      statusCode: result.kind === "response" ? result.statusCode : null,
      error: result.kind === "error" ? result.error : null,
    });
    return { sentAt, finishedAt: this.clock(), request, result };
  }

  /**
   * Phase 5: apply the decision with three executors, in this order — the record (and, for a retry,
   * the hand-off to the job that makes the next attempt), the subscription, the queue message — then
   * one log line from ATTEMPT_MESSAGES.
   */
  private async apply(step: DeliveryStep, context: ApplyContext): Promise<DeliveryOutcome> {
    const attemptLog = {
      ...context.log,
      status_code: context.attempted.result.kind === "response" ? context.attempted.result.statusCode : null,
      error: context.attempted.result.kind === "error" ? context.attempted.result.error : null,
      latency_ms: Math.round(context.attempted.result.latencyMs),
    };
    const recorded = await this.applyToRecord(step, context, attemptLog);
    if (recorded.outcome !== "recorded") {
      this.deps.logger.info(ATTEMPT_MESSAGES[recorded.outcome].message, attemptLog);
      return recorded.outcome;
    }
    await this.applyToSubscription(step.subscription, context);
    await this.applyToQueue(step.queue, context);
    const { level, message } = ATTEMPT_MESSAGES[step.outcome];
    this.deps.logger[level](message, {
      ...attemptLog,
      ...(step.queue.kind === "retry"
        ? {
            delay_seconds: step.queue.delaySeconds,
            wait_seconds: recorded.retry?.seconds,
            hop: recorded.retry?.hop,
          }
        : {}),
      ...(step.outcome === "auto_disabled" ? { failing_since: context.subscription.failing_since } : {}),
    });
    return step.outcome;
  }

  /**
   * The record executor: the attempt is recorded with the step's status. A retry names the job that
   * will make the next attempt in the same write (and this one its `prev_job`) before that job's
   * message is sent, so no job is ever received before its record names it; a crash in between leaves
   * the new job on no queue, and this message, deleted only after the send, comes back and re-sends it
   * (docs/delivery.md, "One live job across a re-send").
   */
  private async applyToRecord(
    step: DeliveryStep,
    context: ApplyContext,
    attemptLog: LogFields,
  ): Promise<{ readonly outcome: "recorded"; readonly retry?: Wait } | { readonly outcome: RecordOutcome }> {
    const { deps } = this;
    const { received, attempted } = context;
    const { job } = received;
    const now = attempted.finishedAt;
    const retryToken = step.queue.kind === "retry" ? waitToken(deps.newId ?? randomUUID) : undefined;
    const self = liveJobOf(job, received.messageId);
    const recorded = await this.handingOff(job, self, retryToken, () =>
      deps.deliveries.recordAttempt({
        delivery: job,
        liveJob: self,
        attempt: {
          ...attemptEntry(attempted),
          timing: attemptTiming(context.record, step.nextAttemptAt, received.lane),
        },
        status: step.status,
        deadReason: step.deadReason,
        nextAttemptAt: step.nextAttemptAt?.toISOString() ?? null,
        now,
        redeliverAfter: job.redeliver_after,
        retentionDays: deps.settings.retentionDays,
        existing: context.record,
        ...(retryToken !== undefined ? { handOffTo: retryToken } : {}),
      }),
    );
    if (recorded === "handed_over") {
      // Another receive of this same message recorded its attempt first and named its successor:
      // this message stays until that successor is surely on its queue.
      return this.keepUntilSettled(received, this.settledAfter(now), attemptLog);
    }
    if (recorded !== "recorded") return { outcome: recorded };
    if (retryToken === undefined) return { outcome: "recorded" };
    const { wait } = await this.handingOff(job, self, retryToken, () =>
      this.resend(received, retryToken, step.nextAttemptAt ?? now),
    );
    return { outcome: "recorded", retry: wait };
  }

  /**
   * The subscription executor. The streak's two conditional writes succeed once per streak each: they
   * are what announces it.
   */
  private async applyToSubscription(effect: SubscriptionEffect, context: ApplyContext): Promise<void> {
    const { deps } = this;
    const { received, subscription, attempted } = context;
    const { job } = received;
    switch (effect.kind) {
      case "clear_failing": {
        const since = await deps.subscriptions.clearFailing(subscription.customer_id, subscription.id);
        if (since !== null) await this.warn(recoveredWarning(job, subscription, since, attempted));
        return;
      }
      case "mark_failing": {
        const since = attempted.sentAt.toISOString();
        if (await deps.subscriptions.markFailing(subscription.customer_id, subscription.id, since)) {
          await this.warn(
            failingWarning(job, subscription, since, attempted, deps.settings.autoDisableAfterSeconds),
          );
        }
        return;
      }
      case "disable":
        await this.disable(subscription, effect.reason, attempted.finishedAt);
        return;
      case "none":
        return;
    }
  }

  /**
   * The queue executor. A delete or a retry needs nothing more here (a retry's message was sent by the
   * record executor's hand-off; the mapping deletes the received one); a dead letter is moved by our
   * code, with its reason, and announced.
   */
  private async applyToQueue(effect: QueueEffect, context: ApplyContext): Promise<void> {
    if (effect.kind !== "dead_letter") return;
    const { received, subscription, attempted, attempt } = context;
    const { job } = received;
    await this.deadLetter(job, effect.reason, attempted.finishedAt);
    // Not for the system's own events: two failing endpoints subscribed to each other's exhaustions
    // would otherwise feed each other a new dead delivery every schedule, forever.
    if (!isSystemEventType(job.event_type)) {
      await this.warn(exhaustedWarning(job, subscription, attempt, attempted));
    }
  }

  /**
   * The second step of every wait (the first: the record names `token` the live job): the job goes
   * back to the queue it came from as a new message, delayed until `dueAt` (at most 900 s: a longer
   * wait is reached in hops), with the new identity and everything else — webhook-id, payload,
   * manual-retry floor — as it was. A delayed message is backlog, not in flight (docs/delivery.md,
   * "Waits out of flight"). The received message is deleted only after this send succeeded.
   */
  private async resend(received: ReceivedJob, token: string, dueAt: Date): Promise<{ wait: Wait }> {
    const wait = waitUntil(dueAt, this.clock());
    await this.deps.queue.send({ ...received.job, token }, wait.seconds);
    return { wait };
  }

  /**
   * A middle hop of a long wait: more than 900 s remain, so the job goes back as a new message with
   * the same live-job token, delayed 900 s, and the record is not written — the head already names
   * this token and its due time (written by the attempt or the wait that started the chain). Only the
   * last hop, the one that wakes the job for its attempt, names a new token (`waitWithoutAttempt`).
   * A crash between this send and the delete leaves two messages with the live token; both hop on at
   * no write, and the first to reach its last hop hands the delivery to a new token in a conditional
   * write, so the other finds its token stale there and drops itself: one attempt, as with a write
   * per hop, at one head write per wait instead of one per 900 s (docs/delivery.md, "Hops that do
   * not write").
   */
  private async hop(received: ReceivedJob, dueAt: Date, log: LogFields): Promise<DeliveryOutcome> {
    const wait = waitUntil(dueAt, this.clock());
    await this.deps.queue.send(received.job, wait.seconds);
    this.deps.logger.info(SKIP_MESSAGES.slept, { ...log, wait_seconds: wait.seconds, hop: wait.hop });
    return "slept";
  }

  /**
   * A wait without an attempt (the last hop of a long wait, a breaker's, probe's or cap's deferral,
   * or a resumed hand-off): the record names a new identity the live job (and `dueAt` its next
   * attempt), then the job is re-sent under it, then the received message is deleted. No attempt is
   * used and the delivery never ends here.
   */
  private async waitWithoutAttempt(
    received: ReceivedJob,
    dueAt: Date,
    outcome: "slept" | "deferred",
    message: string,
    log: LogFields,
    resumed?: { readonly successor: string },
  ): Promise<DeliveryOutcome> {
    const { job } = received;
    const self = liveJobOf(job, received.messageId);
    const token = waitToken(this.deps.newId ?? randomUUID);
    const now = this.clock();
    const handedOff = await this.handingOff(job, self, token, () =>
      this.deps.deliveries.handOff({
        delivery: job,
        fromJob: resumed?.successor ?? self,
        toJob: token,
        nextAttemptAt: dueAt.toISOString(),
        now,
        retentionDays: this.deps.settings.retentionDays,
        ...(resumed ? { resumedBy: self } : {}),
        // A deferral is fairness's hold; a hop of a long wait only continues the wait already counted.
        ...(outcome === "deferred" ? { heldMs: Math.max(0, dueAt.getTime() - now.getTime()) } : {}),
      }),
    );
    if (handedOff === "handed_over") {
      // Another receive of this same message handed the delivery over first: this message stays
      // until that successor is surely on its queue.
      return this.keepUntilSettled(received, this.settledAfter(now), log);
    }
    if (handedOff === "stale") {
      // Another job became the live one since the batch read the record (a retry or recovery, or the
      // successor moved on), or the delivery ended: nothing was sent, and this job ends.
      this.deps.logger.info(SKIP_MESSAGES.stale, log);
      return "stale";
    }
    const { wait } = await this.handingOff(job, self, token, () => this.resend(received, token, dueAt));
    this.deps.logger.info(message, { ...log, wait_seconds: wait.seconds, hop: wait.hop });
    return outcome;
  }

  /**
   * A step of a hand-off from `self` to `token` (its record write, or the send of the new message).
   * If it fails, the hand-off is undone where it was written (releaseHandOff), so that this message,
   * back after its visibility timeout, is the live job again and goes on at once; then the error is
   * thrown (the record is reported failed, so the message is not deleted). Where the undo fails too,
   * or the process died, the message finds itself `prev_job` when it comes back and re-sends the
   * successor (skipCheck).
   */
  private async handingOff<T>(
    job: DeliveryJob,
    self: string,
    token: string | undefined,
    step: () => Promise<T>,
  ): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (token !== undefined) {
        await this.deps.deliveries
          .releaseHandOff({ delivery: job, fromJob: self, toJob: token })
          .catch((undo: unknown) =>
            this.deps.logger.warn(
              "could not undo a failed hand-off; the job re-sends it when it comes back",
              {
                delivery_id: job.delivery_id,
                error: loggedError(undo),
              },
            ),
          );
      }
      throw error;
    }
  }

  /** Our own move to the dead-letter queue (with the reason); the message is then deleted. */
  private async deadLetter(job: DeliveryJob, reason: DeadReason, now: Date): Promise<void> {
    await this.deps.deadLetters.send(job, reason);
    await this.deps.deliveries.markDeadLettered(job.customer_id, job.delivery_id, now);
  }

  private clock(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** Puts a warning on the bus; one that cannot be put is an operator's alarm, never a retry of the delivery. */
  private async warn(warning: OperationalWarning): Promise<void> {
    try {
      await this.deps.operationalEvents.warn(warning);
    } catch (error) {
      this.deps.logger.error(`could not announce ${warning.type}`, {
        subscription_id: warning.data.subscription_id,
        error: loggedError(error),
      });
    }
  }

  private async disable(
    subscription: SubscriptionWithSecrets,
    reason: DisabledReason,
    now: Date,
  ): Promise<void> {
    const { deps } = this;
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
 * Phase 1, pure: whether a received job must not be attempted now. null: attempt it (the
 * subscription exists and is enabled, this job is the delivery's live one, and it is due).
 */
export function skipCheck(
  job: DeliveryJob,
  liveJob: string,
  subscription: SubscriptionWithSecrets | null,
  record: DeliveryState | undefined,
  now: Date,
  options: {
    /** The record's live job is in the same batch: its message is on the queue, nothing to resume. */
    readonly liveJobInBatch?: boolean;
    /** handOffSettleMs: how long after its due time the live job's attempt may still be under way. */
    readonly settleMs?: number;
  } = {},
): Skip | null {
  if (record !== undefined && record.live_job !== null && record.live_job !== liveJob) {
    // This job's own hand-off named the live job, and the delivery still waits for it: this message
    // is kept until the live job's is sent, so its coming back means that send may never have
    // happened (a crash after the record write). Dropping it could leave the delivery on no queue;
    // re-sending the live job under a new identity makes a copy that did reach the queue stale —
    // safe while that copy is still delayed (not due) or long past due (it would have moved the
    // record), not while it may be being attempted.
    if (
      record.prev_job === liveJob &&
      (record.status === "pending" || record.status === "failed") &&
      options.liveJobInBatch !== true
    ) {
      const due = record.next_attempt_at ? new Date(record.next_attempt_at) : null;
      if (due === null || wokenEarly(due, now) || now.getTime() - due.getTime() > (options.settleMs ?? 0)) {
        return { outcome: "resumed", successor: record.live_job, dueAt: due ?? now };
      }
      return {
        outcome: "unsettled",
        settledAt: new Date((due?.getTime() ?? now.getTime()) + (options.settleMs ?? 0)),
      };
    }
    return { outcome: "stale" };
  }
  if (
    record?.succeeded_at &&
    (job.redeliver_after === undefined || record.succeeded_at >= job.redeliver_after)
  ) {
    return { outcome: "skipped_already_succeeded" };
  }
  if (record?.status === "dead") {
    // A crash after the record said dead but before the job reached the dead-letter queue.
    return record.dead_reason === "attempts_exhausted" && record.dead_lettered_at === null
      ? { outcome: "dead_letter_resent" }
      : { outcome: "dropped_dead" };
  }
  if (subscription === null) return { outcome: "dropped_deleted", close: "subscription_deleted" };
  if (subscription.status !== "enabled")
    return { outcome: "dropped_disabled", close: "subscription_disabled" };
  const dueAt = record?.next_attempt_at ? new Date(record.next_attempt_at) : null;
  // A job that waited (re-sent, delayed) and woke before its time: a hop of a long wait. A deferred
  // job that never made an attempt has a `pending` head with its due time.
  if ((record?.status === "failed" || record?.status === "pending") && wokenEarly(dueAt, now)) {
    const due = dueAt as Date;
    // Only a token can be re-sent as it is: a `msg:<id>` identity (a job from before tokens) names
    // the message, which a re-send changes.
    const sameJob = job.token !== undefined && record.live_job === job.token && waitUntil(due, now).hop;
    return { outcome: "slept", dueAt: due, sameJob };
  }
  return null;
}

/** What a warning says of the subscription and of the attempt that told us (shared/domain/events/operational.ts). */
function warningParts(job: DeliveryJob, subscription: SubscriptionWithSecrets, attempted: Attempted) {
  const entry = attemptEntry(attempted);
  return {
    subject: {
      subscription_id: job.subscription_id,
      url: entry.request?.url ?? withoutPassword(subscription.url),
      description: subscription.description,
    },
    lastAttempt: { at: entry.at, status_code: entry.status_code, error: entry.error },
  };
}

function failingWarning(
  job: DeliveryJob,
  subscription: SubscriptionWithSecrets,
  since: string,
  attempted: Attempted,
  autoDisableAfterSeconds: number,
): OperationalWarning {
  const { subject, lastAttempt } = warningParts(job, subscription, attempted);
  return {
    type: "webhook_endpoint_failing",
    customerId: job.customer_id,
    data: {
      ...subject,
      failing_since: since,
      auto_disable_at: autoDisableAt(since, autoDisableAfterSeconds),
      delivery_id: job.delivery_id,
      event_type: job.event_type,
      last_attempt: lastAttempt,
    },
  };
}

function exhaustedWarning(
  job: DeliveryJob,
  subscription: SubscriptionWithSecrets,
  attempts: number,
  attempted: Attempted,
): OperationalWarning {
  const { subject, lastAttempt } = warningParts(job, subscription, attempted);
  return {
    type: "webhook_delivery_exhausted",
    customerId: job.customer_id,
    data: {
      ...subject,
      delivery_id: job.delivery_id,
      event_id: job.event_id,
      event_type: job.event_type,
      webhook_id: job.webhook_id,
      attempts,
      created_at: (parseDeliveryId(job.delivery_id)?.createdAt ?? attempted.sentAt).toISOString(),
      last_attempt: lastAttempt,
    },
  };
}

function recoveredWarning(
  job: DeliveryJob,
  subscription: SubscriptionWithSecrets,
  since: string,
  attempted: Attempted,
): OperationalWarning {
  const { subject } = warningParts(job, subscription, attempted);
  const recoveredAt = attempted.sentAt.toISOString();
  return {
    type: "webhook_endpoint_recovered",
    customerId: job.customer_id,
    data: {
      ...subject,
      failing_since: since,
      recovered_at: recoveredAt,
      failing_seconds: failingSeconds(since, recoveredAt),
    },
  };
}

/**
 * What "why was it late" needs of an attempt beyond its time and latency (docs/delivery.md): when it
 * was due, when its failure scheduled the next, the fairness holds before it, whether it waited on the
 * slow lane. Carried in the attempt's own item: no write of its own.
 */
function attemptTiming(record: DeliveryState | undefined, retryAt: Date | null, lane: Lane | undefined) {
  return {
    ...(record?.next_attempt_at ? { due_at: record.next_attempt_at } : {}),
    ...(retryAt !== null ? { retry_at: retryAt.toISOString() } : {}),
    ...(record !== undefined && record.held_ms > 0 ? { held_ms: record.held_ms } : {}),
    ...(lane === "slow" ? { slow_lane: true as const } : {}),
  };
}

/** The attempt as the delivery log stores it: what was sent (the body is the delivery's) and what came back. */
function attemptEntry({ sentAt, request, result }: Attempted): DeliveryAttempt {
  return {
    at: sentAt.toISOString(),
    status_code: result.kind === "response" ? result.statusCode : null,
    error: result.kind === "error" ? `${result.error}: ${result.message}` : null,
    latency_ms: Math.round(result.latencyMs),
    response_body: result.kind === "response" ? result.responseBody : null,
    request: { method: request.method, url: withoutPassword(request.url), headers: { ...request.headers } },
  };
}

/**
 * The URL as the delivery log shows it: a password in its user-info (sent as Basic auth by the legacy
 * profile) is masked, like every other secret.
 */
function withoutPassword(url: string): string {
  if (!url.includes("@")) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = "redacted";
    return parsed.toString();
  } catch {
    return url;
  }
}
