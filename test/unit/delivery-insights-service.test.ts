import { describe, expect, it } from "vitest";
import type { DeliveryAttempt, DeliveryRecord } from "#shared/domain/delivery/delivery.ts";
import { deriveDeliveryIds, deriveLegacyDeliveryIds, uuidv7 } from "#shared/domain/ids.ts";
import { ResourceNotFoundError } from "#shared/domain/subscriptions/errors.ts";
import { newSubscription, type SubscriptionWithSecrets } from "#shared/domain/subscriptions/subscription.ts";
import { DeliveryInsightsService } from "#shared/services/delivery-insights.ts";
import { MemoryDeliveries, MemorySubscriptions } from "../support/memory-stores.ts";

/**
 * The portal's views over the delivery log (statistics, where one event went), over in-memory stores.
 * Mutants left alive on purpose (equivalent): arrays started with a stray element (a string is no
 * attempt in the window and no subscription's delivery), the deadline's `>=`, and the early return
 * for a customer without subscriptions (the lookups it saves find nothing either).
 */

const NOW = new Date("2026-12-01T10:30:00.000Z");
const CUSTOMER = "0190a000-0000-7000-8000-0000000000d1";
const OTHER = "0190a000-0000-7000-8000-0000000000d2";
const FOREVER = () => Date.now() + 600_000;

function setup(settings: { maxStatsDeliveries?: number } = {}) {
  const subscriptions = new MemorySubscriptions();
  const deliveries = new MemoryDeliveries();
  const insights = new DeliveryInsightsService({
    subscriptions,
    deliveries,
    settings: { attemptLookbackSeconds: 3600, ...settings },
    now: () => NOW,
  });
  return { subscriptions, deliveries, insights };
}

function seed(store: MemorySubscriptions, customerId = CUSTOMER): SubscriptionWithSecrets {
  const subscription = newSubscription({ customer_id: customerId, url: "https://hooks.example.com/" });
  store.items.set(`${customerId}/${subscription.id}`, subscription);
  return subscription;
}

const attempt = (minutesAgo: number, status: number | null, latency: number): DeliveryAttempt => ({
  at: new Date(NOW.getTime() - minutesAgo * 60_000).toISOString(),
  status_code: status,
  error: status === null ? "timeout" : null,
  latency_ms: latency,
  response_body: null,
  request: null,
});

function delivery(
  subscription: Pick<SubscriptionWithSecrets, "id" | "customer_id">,
  createdMinutesAgo: number,
  attempts: DeliveryAttempt[],
  id?: string,
): DeliveryRecord {
  const created = new Date(NOW.getTime() - createdMinutesAgo * 60_000);
  const eventId = uuidv7(created.getTime());
  return {
    id: id ?? deriveDeliveryIds(eventId, subscription.id, created).deliveryId,
    subscription_id: subscription.id,
    customer_id: subscription.customer_id,
    event_id: eventId,
    event_type: "call_hangup",
    webhook_id: `msg_${createdMinutesAgo}`,
    status: "succeeded",
    dead_reason: null,
    attempts,
    next_attempt_at: null,
    created_at: created.toISOString(),
    updated_at: created.toISOString(),
    succeeded_at: null,
    chain_attempts: attempts.length,
    live_job: null,
    payload: null,
  };
}

describe("a subscription's statistics", () => {
  it("counts every attempt of the window, reading back as far as the retry lookback", async () => {
    const { subscriptions, deliveries, insights } = setup();
    const subscription = seed(subscriptions);
    deliveries.put(delivery(subscription, 10, [attempt(10, 500, 40), attempt(5, 200, 20)]));
    // Created before the window, within the lookback: its retry inside the window counts.
    deliveries.put(
      delivery(subscription, 24 * 60 + 30, [attempt(24 * 60 + 30, null, 9000), attempt(60, 204, 30)]),
    );
    // Created before the lookback: not read.
    deliveries.put(delivery(subscription, 26 * 60, [attempt(50, 200, 10)]));
    const stats = await insights.stats(CUSTOMER, subscription.id, "24h", { deadline: FOREVER() });
    expect(stats).toMatchObject({
      window: "24h",
      attempts: 3,
      succeeded: 2,
      failed: 1,
      complete: true,
      to: NOW.toISOString(),
    });
    expect(deliveries.queries[0]).toMatchObject({
      order: "newest_first",
      limit: 100,
      since: new Date(NOW.getTime() - 25 * 3600_000).toISOString(),
    });
    await expect(insights.stats(OTHER, subscription.id, "24h", { deadline: FOREVER() })).rejects.toThrow(
      new ResourceNotFoundError("subscription"),
    );
  });

  it("reads the log a page at a time and says when it stopped short at the cap or the deadline", async () => {
    const { subscriptions, deliveries, insights } = setup({ maxStatsDeliveries: 200 });
    const subscription = seed(subscriptions);
    for (let i = 0; i < 250; i++)
      deliveries.put(delivery(subscription, 1 + i / 10, [attempt(1 + i / 10, 200, 5)]));
    const capped = await insights.stats(CUSTOMER, subscription.id, "7d", { deadline: FOREVER() });
    expect(capped.complete).toBe(false);
    expect(capped.attempts).toBe(200);
    expect(deliveries.queries.map((q) => q.after === undefined)).toEqual([true, false]);

    const all = setup({ maxStatsDeliveries: 300 });
    const s = seed(all.subscriptions);
    for (let i = 0; i < 250; i++) all.deliveries.put(delivery(s, 1 + i / 10, [attempt(1 + i / 10, 200, 5)]));
    const whole = await all.insights.stats(CUSTOMER, s.id, "7d", { deadline: FOREVER() });
    expect(whole).toMatchObject({ complete: true, attempts: 250 });
    const late = await all.insights.stats(CUSTOMER, s.id, "7d", { deadline: 0 });
    expect(late).toMatchObject({ complete: false, attempts: 100 });

    const exact = setup({ maxStatsDeliveries: 100 });
    const e = seed(exact.subscriptions);
    for (let i = 0; i < 100; i++)
      exact.deliveries.put(delivery(e, 1 + i / 10, [attempt(1 + i / 10, 200, 5)]));
    // Exactly the cap, and nothing after it: complete.
    expect(await exact.insights.stats(CUSTOMER, e.id, "24h", { deadline: 0 })).toMatchObject({
      complete: true,
    });
  });
});

describe("where one event went", () => {
  it("finds the event's delivery to each of the customer's subscriptions, oldest first", async () => {
    const { subscriptions, deliveries, insights } = setup();
    const a = seed(subscriptions);
    const b = seed(subscriptions);
    seed(subscriptions);
    const eventId = uuidv7(NOW.getTime() - 60_000);
    const eventTime = new Date(NOW.getTime() - 60_000);
    deliveries.eventTimes.set(`${CUSTOMER}|${eventId}`, eventTime);
    const toB = deliveries.put({
      ...delivery(b, 1, [], deriveDeliveryIds(eventId, b.id, eventTime).deliveryId),
      event_id: eventId,
    });
    const toA = deliveries.put({
      ...delivery(a, 2, [], deriveDeliveryIds(eventId, a.id, eventTime).deliveryId),
      event_id: eventId,
    });
    expect((await insights.eventDeliveries(CUSTOMER, eventId)).map((r) => r.id)).toEqual([toA.id, toB.id]);
    expect(await insights.eventDeliveries(OTHER, eventId)).toEqual([]);
  });

  it("finds an event stored before layout 3 by the earlier id derivation", async () => {
    const { subscriptions, deliveries, insights } = setup();
    const a = seed(subscriptions);
    const eventId = uuidv7(NOW.getTime() - 60_000);
    const legacy = deliveries.put({
      ...delivery(a, 1, [], deriveLegacyDeliveryIds(eventId, a.id).deliveryId),
      event_id: eventId,
    });
    expect(await insights.eventDeliveries(CUSTOMER, eventId)).toEqual([legacy]);
  });

  it("looks through every page of subscriptions, and never answers another customer's delivery", async () => {
    const { subscriptions, deliveries, insights } = setup();
    const many = Array.from({ length: 205 }, () => seed(subscriptions));
    const last = many
      .map((s) => s.id)
      .sort()
      .at(-1) as string;
    const eventId = uuidv7(NOW.getTime() - 60_000);
    const eventTime = new Date(NOW.getTime() - 60_000);
    deliveries.eventTimes.set(`${CUSTOMER}|${eventId}`, eventTime);
    const found = deliveries.put({
      ...delivery(
        { id: last, customer_id: CUSTOMER },
        1,
        [],
        deriveDeliveryIds(eventId, last, eventTime).deliveryId,
      ),
      event_id: eventId,
    });
    expect((await insights.eventDeliveries(CUSTOMER, eventId)).map((r) => r.id)).toEqual([found.id]);
    expect(subscriptions.calls.filter((c) => c === "listPage")).toHaveLength(3);

    // The store finds a delivery by id alone (layout 2): another customer's is still not answered.
    const theirs = setup();
    const mine = seed(theirs.subscriptions);
    const legacyId = deriveLegacyDeliveryIds(eventId, mine.id).deliveryId;
    theirs.deliveries.put({
      ...delivery({ id: mine.id, customer_id: OTHER }, 1, [], legacyId),
      event_id: eventId,
    });
    expect(await theirs.insights.eventDeliveries(CUSTOMER, eventId)).toEqual([]);
  });
});
