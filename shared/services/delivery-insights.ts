/**
 * Read-only views over the delivery log that the portal needs (PRODUCT §9): a subscription's
 * statistics over a window, and where one event went. Both read through the same repository
 * interfaces as the delivery log itself (a subscription's log, a delivery by id), so they
 * follow whatever layout the repository gives the records.
 */

import type { DeliveryLogPosition, DeliveryRecord } from "../domain/delivery/delivery.ts";
import {
  type AttemptSample,
  computeDeliveryStats,
  type DeliveryStats,
  STATS_WINDOWS,
  type StatsWindow,
} from "../domain/delivery/stats.ts";
import { deriveDeliveryIds, deriveLegacyDeliveryIds } from "../domain/ids.ts";
import { type Clock, systemClock } from "../domain/ports/clock.ts";
import type { DeliveryRepository } from "../domain/ports/deliveries.ts";
import type { SubscriptionRepository } from "../domain/ports/subscriptions.ts";
import { ResourceNotFoundError } from "../domain/subscriptions/errors.ts";

export interface DeliveryInsightsSettings {
  /**
   * How long before a window a delivery may have been created and still be attempted inside it: the
   * whole retry schedule with its jitter. Deliveries created that long before the window are read too.
   */
  readonly attemptLookbackSeconds: number;
  /** Deliveries one stats request reads at most; past it the answer says `complete: false`. */
  readonly maxStatsDeliveries?: number | undefined;
}

export interface DeliveryInsightsDependencies {
  readonly subscriptions: Pick<SubscriptionRepository, "get" | "listPage">;
  readonly deliveries: Pick<DeliveryRepository, "get" | "queryLog" | "eventTimeOf">;
  readonly settings: DeliveryInsightsSettings;
  readonly now?: Clock | undefined;
}

export interface SubscriptionStats extends DeliveryStats {
  /** False when the log was too large (or the time budget too short) to read whole: the newest part was counted. */
  readonly complete: boolean;
}

const DEFAULT_MAX_STATS_DELIVERIES = 5000;
// Each page reads its deliveries' heads in one batch and their stored attempts one query each.
const STATS_QUERY_LIMIT = 100;
const SUBSCRIPTIONS_PAGE = 100;

export class DeliveryInsightsService {
  constructor(private readonly deps: DeliveryInsightsDependencies) {}

  private now(): Date {
    return (this.deps.now ?? systemClock)();
  }

  /**
   * Every attempt of the subscription in the window, counted. Reads the log newest first from now
   * back to the window's start less the retry lookback; stops at `deadline` (epoch ms) or the
   * delivery cap and says so with `complete: false`.
   */
  async stats(
    customerId: string,
    subscriptionId: string,
    window: StatsWindow,
    options: { deadline: number },
  ): Promise<SubscriptionStats> {
    if ((await this.deps.subscriptions.get(customerId, subscriptionId)) === null) {
      throw new ResourceNotFoundError("subscription");
    }
    const now = this.now();
    const since = new Date(
      now.getTime() - (STATS_WINDOWS[window] + this.deps.settings.attemptLookbackSeconds) * 1000,
    ).toISOString();
    const cap = this.deps.settings.maxStatsDeliveries ?? DEFAULT_MAX_STATS_DELIVERIES;
    const attempts: AttemptSample[] = [];
    let read = 0;
    let complete = true;
    let after: DeliveryLogPosition | undefined;
    for (;;) {
      const page = await this.deps.deliveries.queryLog(
        { customerId, subscriptionId, order: "newest_first", limit: STATS_QUERY_LIMIT, after, since },
        now,
      );
      for (const record of page.records) attempts.push(...record.attempts);
      read += page.records.length;
      if (page.next === null) break;
      if (read >= cap || Date.now() >= options.deadline) {
        complete = false;
        break;
      }
      after = page.next;
    }
    return { ...computeDeliveryStats(attempts, window, now), complete };
  }

  /**
   * Which of the customer's subscriptions an event reached. A delivery's id is derived from the event
   * id, the event's time (kept on the event's payload item) and the subscription id
   * (shared/domain/ids.ts), so this is one lookup per subscription, and a subscription of another
   * customer is never looked at. Deliveries of deleted subscriptions are not found (their
   * subscription is no longer listed). An event stored before layout 3 has no time on its payload
   * item: its deliveries have ids of the earlier derivation.
   */
  async eventDeliveries(customerId: string, eventId: string): Promise<DeliveryRecord[]> {
    const now = this.now();
    const subscriptionIds: string[] = [];
    let afterId: string | undefined;
    for (;;) {
      const page = await this.deps.subscriptions.listPage(customerId, { limit: SUBSCRIPTIONS_PAGE, afterId });
      subscriptionIds.push(...page.items.map((subscription) => subscription.id));
      const last = page.items.at(-1);
      if (!page.hasMore || last === undefined) break;
      afterId = last.id;
    }
    if (subscriptionIds.length === 0) return [];
    const eventTime = await this.deps.deliveries.eventTimeOf(customerId, eventId);
    const records = await Promise.all(
      subscriptionIds.map((subscriptionId) =>
        this.deps.deliveries.get(
          customerId,
          eventTime === null
            ? deriveLegacyDeliveryIds(eventId, subscriptionId).deliveryId
            : deriveDeliveryIds(eventId, subscriptionId, eventTime).deliveryId,
          now,
        ),
      ),
    );
    return records
      .filter((record): record is DeliveryRecord => record !== null && record.customer_id === customerId)
      .sort((a, b) => a.created_at.localeCompare(b.created_at));
  }
}
