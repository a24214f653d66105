/**
 * The delivery log of PRODUCT §4/§5 and the ways to send again: the test event, a manual retry and a
 * recovery. Every send goes through the real queue and delivery function, as a job rebuilt from the
 * delivery record (which keeps the exact payload), so a resend carries the same bytes and `webhook-id`.
 */

import { randomUUID } from "node:crypto";
import {
  DELIVERY_STATUSES,
  type DeliveryLogPosition,
  type DeliveryRecord,
  type DeliveryStatus,
  positionOf,
} from "../domain/delivery/delivery.ts";
import type { DeliveryJob } from "../domain/delivery/job.ts";
import { patternMatches } from "../domain/events/catalogue.ts";
import { webhookBody } from "../domain/events/schemas.ts";
import { deriveDeliveryIds } from "../domain/ids.ts";
import { type Clock, systemClock } from "../domain/ports/clock.ts";
import type { DeliveryRepository } from "../domain/ports/deliveries.ts";
import type { DeliveryQueue } from "../domain/ports/queues.ts";
import type { SubscriptionRepository } from "../domain/ports/subscriptions.ts";
import {
  DeliveryNotRetryableError,
  InvalidInputError,
  ResourceNotFoundError,
  SubscriptionDeletedError,
  SubscriptionDisabledError,
} from "../domain/subscriptions/errors.ts";
import { managedSubscriptionId } from "../domain/subscriptions/managed.ts";
import type { SubscriptionWithSecrets } from "../domain/subscriptions/subscription.ts";
import type { QuotaService } from "./quotas.ts";

export interface DeliveryLogSettings {
  readonly retentionDays: number;
  /**
   * Serialised size a page of the log may reach before it is cut short (at least one delivery is
   * always returned). Keeps a page of deliveries with many large attempts under Lambda's 6 MB response.
   */
  readonly maxPageBytes?: number | undefined;
}

export interface DeliveryLogDependencies {
  readonly subscriptions: Pick<SubscriptionRepository, "get">;
  readonly deliveries: Pick<
    DeliveryRepository,
    "get" | "createPending" | "deletePending" | "queryLog" | "requeue" | "revertRequeue"
  >;
  readonly queue: Pick<DeliveryQueue, "enqueue">;
  /** Test events, manual retries and recover calls each take one unit of the customer's quota. */
  readonly quotas: Pick<QuotaService, "consume">;
  readonly settings: DeliveryLogSettings;
  readonly now?: Clock | undefined;
}

export interface DeliveryPage {
  readonly items: DeliveryRecord[];
  readonly next: DeliveryLogPosition | null;
}

export interface RecoverResult {
  /** Deliveries re-enqueued by this call. */
  readonly count: number;
  /** False when the time budget ran out first; call again with `nextSince` to continue. */
  readonly complete: boolean;
  readonly nextSince: string | null;
}

const DEFAULT_MAX_PAGE_BYTES = 1_048_576;
/** Queries one page of the log may take when a status filter leaves most items out. */
const MAX_QUERIES_PER_PAGE = 10;
/** Recovery reads the log this many items at a time ... */
const RECOVER_QUERY_LIMIT = 100;
/** ... and requeues them in groups of one SendMessageBatch. */
const RECOVER_CHUNK = 10;
const RECOVERABLE: readonly DeliveryStatus[] = ["failed", "dead"];

export const TEST_EVENT_MESSAGE = "This is a test event sent by voipbin-webhooks.";

/**
 * The job that sends a recorded delivery again, as its one live job (`token`, the record's
 * `live_job`). `redeliverAfter`: a success before it does not count.
 */
export function jobFromRecord(record: DeliveryRecord, token: string, redeliverAfter?: string): DeliveryJob {
  if (record.payload === null) throw new DeliveryNotRetryableError();
  return {
    v: 1,
    delivery_id: record.id,
    webhook_id: record.webhook_id,
    subscription_id: record.subscription_id,
    customer_id: record.customer_id,
    event_id: record.event_id,
    event_type: record.event_type,
    payload: record.payload,
    token,
    ...(record.test === true ? { test: true as const } : {}),
    ...(record.destination !== undefined ? { destination: { ...record.destination } } : {}),
    ...(redeliverAfter !== undefined ? { redeliver_after: redeliverAfter } : {}),
  };
}

export class DeliveryLogService {
  constructor(private readonly deps: DeliveryLogDependencies) {}

  private now(): Date {
    return (this.deps.now ?? systemClock)();
  }

  private async subscription(customerId: string, subscriptionId: string): Promise<SubscriptionWithSecrets> {
    const subscription = await this.deps.subscriptions.get(customerId, subscriptionId);
    if (subscription === null) throw new ResourceNotFoundError("subscription");
    return subscription;
  }

  private async enabledSubscription(
    customerId: string,
    subscriptionId: string,
  ): Promise<SubscriptionWithSecrets> {
    const subscription = await this.subscription(customerId, subscriptionId);
    if (subscription.status !== "enabled") throw new SubscriptionDisabledError();
    return subscription;
  }

  /**
   * Sends a test event to this subscription only: `webhook_test`, or `sample` (a catalogue type's
   * example, PRODUCT §12) in VoIPBIN's envelope when the subscription selects that type. A pending
   * record first (so the returned id can be looked up at once), then the job, marked `test` so that
   * every attempt carries TEST_EVENT_HEADER. If the job cannot be enqueued the record goes again.
   */
  async sendTestEvent(
    customerId: string,
    subscriptionId: string,
    sample?: { readonly type: string; readonly data: Readonly<Record<string, unknown>> },
  ): Promise<{ deliveryId: string }> {
    const subscription = await this.enabledSubscription(customerId, subscriptionId);
    if (sample !== undefined && !subscription.event_types.some((p) => patternMatches(p, sample.type))) {
      // Checked before the quota: a refused request should not use up the customer's test events.
      throw new InvalidInputError([
        {
          path: "event_type",
          message: `the subscription does not select "${sample.type}" (its event_types: ${subscription.event_types.join(", ")}); send a type it selects`,
        },
      ]);
    }
    await this.deps.quotas.consume(customerId, "test_event");
    const now = this.now();
    const eventId = randomUUID();
    const { deliveryId, webhookId } = deriveDeliveryIds(eventId, subscription.id, now);
    const identity = {
      delivery_id: deliveryId,
      webhook_id: webhookId,
      subscription_id: subscription.id,
      customer_id: customerId,
      event_id: eventId,
      event_type: sample?.type ?? "webhook_test",
      payload:
        sample === undefined
          ? webhookBody("webhook_test", {
              subscription_id: subscription.id,
              message: TEST_EVENT_MESSAGE,
              created_at: now.toISOString(),
            })
          : webhookBody(sample.type, sample.data),
      test: true,
    } as const;
    const token = randomUUID();
    await this.deps.deliveries.createPending(identity, now, this.deps.settings.retentionDays, token);
    try {
      await this.deps.queue.enqueue([{ v: 1, ...identity, token }]);
    } catch (error) {
      await this.deps.deliveries.deletePending(customerId, deliveryId).catch(() => undefined);
      throw error;
    }
    return { deliveryId };
  }

  async get(customerId: string, deliveryId: string): Promise<DeliveryRecord> {
    const record = await this.deps.deliveries.get(customerId, deliveryId, this.now());
    // Another customer's delivery does not exist for this one.
    if (record === null || record.customer_id !== customerId) throw new ResourceNotFoundError("delivery");
    return record;
  }

  /**
   * One page of a subscription's log, newest first. With a status filter several queries may be
   * needed to fill the page; after MAX_QUERIES_PER_PAGE the page is returned short, with a position.
   */
  async list(
    customerId: string,
    subscriptionId: string,
    options: { limit: number; status?: DeliveryStatus | undefined; after?: DeliveryLogPosition | undefined },
  ): Promise<DeliveryPage> {
    await this.subscription(customerId, subscriptionId);
    const now = this.now();
    const items: DeliveryRecord[] = [];
    let after = options.after;
    let next: DeliveryLogPosition | null = null;
    for (let query = 0; query < MAX_QUERIES_PER_PAGE; query++) {
      const need = options.limit - items.length;
      // One more than needed, so that a full page knows whether anything follows it.
      const page = await this.deps.deliveries.queryLog(
        {
          customerId,
          subscriptionId,
          order: "newest_first",
          limit: need + 1,
          after,
          statuses: options.status === undefined ? undefined : [options.status],
        },
        now,
      );
      if (page.records.length > need) {
        items.push(...page.records.slice(0, need));
        next = positionOf(items[items.length - 1] as DeliveryRecord);
        break;
      }
      items.push(...page.records);
      next = page.next;
      if (next === null || items.length === options.limit) break;
      after = next;
    }
    return this.withinByteBudget(items, next);
  }

  private withinByteBudget(items: DeliveryRecord[], next: DeliveryLogPosition | null): DeliveryPage {
    const budget = this.deps.settings.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES;
    let bytes = 0;
    for (let i = 0; i < items.length; i++) {
      bytes += Buffer.byteLength(JSON.stringify(items[i]));
      if (bytes > budget && i > 0) {
        const kept = items.slice(0, i);
        return { items: kept, next: positionOf(kept[kept.length - 1] as DeliveryRecord) };
      }
    }
    return { items, next };
  }

  /**
   * Sends a delivery again now, whatever its status (a `succeeded` one too): the job carries
   * `redeliver_after` = now, so the delivery function sends it even though it succeeded before. The
   * new job replaces any scheduled retry (its token becomes the record's live job; the old job sees
   * another and stops), so a delivery never has two chains.
   */
  async retry(customerId: string, deliveryId: string): Promise<{ deliveryId: string }> {
    const record = await this.get(customerId, deliveryId);
    if (record.payload === null) throw new DeliveryNotRetryableError();
    // An activeflow destination's delivery is sent with the managed legacy subscription's secret and
    // profile (deliver.ts signingSubscriptionId): retryable while that one is, like its own deliveries.
    const subscription = await this.deps.subscriptions.get(
      customerId,
      record.destination === undefined ? record.subscription_id : managedSubscriptionId(customerId),
    );
    if (subscription === null) throw new SubscriptionDeletedError();
    if (subscription.status !== "enabled") throw new SubscriptionDisabledError();
    await this.deps.quotas.consume(customerId, "retry");
    const now = this.now();
    const token = randomUUID();
    const requeued = await this.deps.deliveries.requeue(customerId, deliveryId, {
      from: DELIVERY_STATUSES,
      token,
      now,
    });
    if (requeued.kind === "skipped") throw new ResourceNotFoundError("delivery");
    try {
      await this.deps.queue.enqueue([jobFromRecord(requeued.previous, token, now.toISOString())]);
    } catch (error) {
      await this.deps.deliveries.revertRequeue(requeued, token).catch(() => undefined);
      throw error;
    }
    return { deliveryId };
  }

  /**
   * Re-enqueues every `failed` or `dead` delivery of the subscription created at or after `since`,
   * oldest first, each at most once per call. Each is first switched to `pending` by a conditional
   * write that names this call's job its only live one: a scheduled retry is replaced, not doubled,
   * and a second recovery while these jobs are queued finds them `pending` and adds nothing. The
   * count is what was enqueued. Stops when `deadline` (epoch ms) passes and says where to continue.
   */
  async recover(
    customerId: string,
    subscriptionId: string,
    since: Date,
    options: { deadline: number },
  ): Promise<RecoverResult> {
    await this.enabledSubscription(customerId, subscriptionId);
    const now = this.now();
    if (since.getTime() > now.getTime()) {
      throw new InvalidInputError([{ path: "since", message: "must not be in the future" }]);
    }
    await this.deps.quotas.consume(customerId, "recover");
    const redeliverAfter = now.toISOString();
    let count = 0;
    let after: DeliveryLogPosition | undefined;
    for (;;) {
      const page = await this.deps.deliveries.queryLog(
        {
          customerId,
          subscriptionId,
          order: "oldest_first",
          limit: RECOVER_QUERY_LIMIT,
          after,
          since: since.toISOString(),
          statuses: RECOVERABLE,
        },
        now,
      );
      // Read from the log, which never holds payloads: requeue returns each full record.
      const records = page.records;
      for (let start = 0; start < records.length; start += RECOVER_CHUNK) {
        const chunk = records.slice(start, start + RECOVER_CHUNK);
        if (Date.now() >= options.deadline) {
          return { count, complete: false, nextSince: (chunk[0] as DeliveryRecord).created_at };
        }
        count += await this.requeueChunk(chunk, redeliverAfter, now);
      }
      if (page.next === null) return { count, complete: true, nextSince: null };
      if (Date.now() >= options.deadline) {
        return { count, complete: false, nextSince: page.next.created_at };
      }
      after = page.next;
    }
  }

  private async requeueChunk(
    chunk: readonly DeliveryRecord[],
    redeliverAfter: string,
    now: Date,
  ): Promise<number> {
    // One token per delivery: each record names its own job.
    const results = await Promise.all(
      chunk.map(async (record) => {
        const token = randomUUID();
        const result = await this.deps.deliveries.requeue(record.customer_id, record.id, {
          from: RECOVERABLE,
          token,
          now,
        });
        return result.kind === "requeued" ? [{ requeued: result, previous: result.previous, token }] : [];
      }),
    );
    const won = results.flat();
    // A record written before payloads were kept cannot be resent; put it back at once.
    const unsendable = won.filter(({ previous }) => previous.payload === null);
    await Promise.all(
      unsendable.map(({ requeued, token }) =>
        this.deps.deliveries.revertRequeue(requeued, token).catch(() => undefined),
      ),
    );
    const sendable = won.filter(({ previous }) => previous.payload !== null);
    if (sendable.length === 0) return 0;
    try {
      await this.deps.queue.enqueue(
        sendable.map(({ previous, token }) => jobFromRecord(previous, token, redeliverAfter)),
      );
    } catch (error) {
      // Put them back to failed/dead, so that the next recovery picks them up instead of leaving
      // them `pending` with no job behind them.
      await Promise.all(
        sendable.map(({ requeued, token }) =>
          this.deps.deliveries.revertRequeue(requeued, token).catch(() => undefined),
        ),
      );
      throw error;
    }
    return sendable.length;
  }
}
