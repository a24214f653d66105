import { describe, expect, it } from "vitest";
import { quotaRulesFor } from "#shared/config.ts";
import type { DeliveryRecord, DeliveryStatus } from "#shared/domain/delivery/delivery.ts";
import { deriveDeliveryIds, uuidv7 } from "#shared/domain/ids.ts";
import { QuotaExceededError, type QuotaRules } from "#shared/domain/quotas/quota.ts";
import {
  DeliveryNotRetryableError,
  InvalidInputError,
  ResourceNotFoundError,
  SubscriptionDeletedError,
  SubscriptionDisabledError,
} from "#shared/domain/subscriptions/errors.ts";
import { managedSubscriptionId } from "#shared/domain/subscriptions/managed.ts";
import { newSubscription, type SubscriptionWithSecrets } from "#shared/domain/subscriptions/subscription.ts";
import { DeliveryLogService, jobFromRecord, TEST_EVENT_MESSAGE } from "#shared/services/delivery-log.ts";
import { QuotaService } from "#shared/services/quotas.ts";
import {
  MemoryDeliveries,
  MemoryDeliveryQueue,
  MemoryQuotaCounters,
  MemorySubscriptions,
} from "../support/memory-stores.ts";

/**
 * The delivery log and the ways to send again, over in-memory stores: what the API answers, the
 * records written and the jobs put on the delivery queue. Mutants left alive on purpose
 * (equivalent): `Date.now() >= deadline` made `>` (no test can land on the deadline's millisecond).
 */

const NOW = new Date("2026-12-01T10:00:00.000Z");
const CUSTOMER = "0190a000-0000-7000-8000-000000000001";
const OTHER = "0190a000-0000-7000-8000-000000000002";
const FOREVER = () => Date.now() + 600_000;

function setup(
  options: { maxPageBytes?: number; quota?: number; clock?: () => Date; rules?: QuotaRules } = {},
) {
  const subscriptions = new MemorySubscriptions();
  const deliveries = new MemoryDeliveries();
  const queue = new MemoryDeliveryQueue();
  const clock = options.clock ?? (() => NOW);
  const rule = { limit: options.quota ?? 100, windowSeconds: 3600 };
  const quotas = new QuotaService({
    counters: new MemoryQuotaCounters(),
    rules: options.rules ?? { test_event: rule, retry: rule, recover: rule },
    now: clock,
  });
  const log = new DeliveryLogService({
    subscriptions,
    deliveries,
    queue,
    quotas,
    settings: { retentionDays: 30, maxPageBytes: options.maxPageBytes },
    now: clock,
  });
  return { subscriptions, deliveries, queue, log };
}

function seedSubscription(store: MemorySubscriptions, fields: Partial<SubscriptionWithSecrets> = {}) {
  const subscription = newSubscription({
    customer_id: CUSTOMER,
    url: "https://hooks.example.com/in",
    ...fields,
  });
  store.items.set(`${subscription.customer_id}/${subscription.id}`, subscription);
  return subscription;
}

let sequence = 0;
/** A recorded delivery of the subscription, created `minutesAgo` before NOW. */
function record(
  subscription: Pick<SubscriptionWithSecrets, "id" | "customer_id">,
  status: DeliveryStatus,
  minutesAgo: number,
  fields: Partial<DeliveryRecord> = {},
): DeliveryRecord {
  const created = new Date(NOW.getTime() - minutesAgo * 60_000);
  const eventId = uuidv7(created.getTime() + sequence++);
  const ids = deriveDeliveryIds(eventId, subscription.id, created);
  return {
    id: ids.deliveryId,
    subscription_id: subscription.id,
    customer_id: subscription.customer_id,
    event_id: eventId,
    event_type: "call_hangup",
    webhook_id: ids.webhookId,
    status,
    dead_reason: status === "dead" ? "attempts_exhausted" : null,
    attempts: [],
    next_attempt_at: null,
    created_at: created.toISOString(),
    updated_at: created.toISOString(),
    succeeded_at: null,
    chain_attempts: 3,
    live_job: "msg:1",
    payload: `{"type":"call_hangup","data":{"n":${sequence}}}`,
    ...fields,
  };
}

describe("the test event", () => {
  it("writes a pending test record and queues its one job with the same identity and token", async () => {
    const { subscriptions, deliveries, queue, log } = setup();
    const subscription = seedSubscription(subscriptions);
    const { deliveryId } = await log.sendTestEvent(CUSTOMER, subscription.id);
    const stored = await log.get(CUSTOMER, deliveryId);
    expect(stored).toMatchObject({
      id: deliveryId,
      status: "pending",
      subscription_id: subscription.id,
      customer_id: CUSTOMER,
      event_type: "webhook_test",
      test: true,
      created_at: NOW.toISOString(),
    });
    expect(JSON.parse(stored.payload ?? "")).toEqual({
      type: "webhook_test",
      data: { subscription_id: subscription.id, message: TEST_EVENT_MESSAGE, created_at: NOW.toISOString() },
    });
    expect(queue.batches).toEqual([
      [
        {
          v: 1,
          delivery_id: deliveryId,
          webhook_id: stored.webhook_id,
          subscription_id: subscription.id,
          customer_id: CUSTOMER,
          event_id: stored.event_id,
          event_type: "webhook_test",
          payload: stored.payload,
          test: true,
          token: stored.live_job,
        },
      ],
    ]);
    // The ids are the ones the router would derive: the log finds it where it looks.
    expect(deriveDeliveryIds(stored.event_id, subscription.id, NOW)).toEqual({
      deliveryId,
      webhookId: stored.webhook_id,
    });
    expect(deliveries.records.size).toBe(1);
  });

  it("sends a catalogue sample in VoIPBIN's envelope when the subscription selects its type", async () => {
    const { subscriptions, queue, log } = setup();
    const subscription = seedSubscription(subscriptions, { event_types: ["call_*", "message_created"] });
    await log.sendTestEvent(CUSTOMER, subscription.id, { type: "call_hangup", data: { id: "c1" } });
    expect(queue.jobs[0]).toMatchObject({
      event_type: "call_hangup",
      payload: '{"type":"call_hangup","data":{"id":"c1"}}',
      test: true,
    });
    const refused = await log
      .sendTestEvent(CUSTOMER, subscription.id, { type: "queue_created", data: {} })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidInputError);
    expect((refused as InvalidInputError).problems).toEqual([
      {
        path: "event_type",
        message:
          'the subscription does not select "queue_created" (its event_types: call_*, message_created); send a type it selects',
      },
    ]);
    expect(queue.jobs).toHaveLength(1);
  });

  it("refuses a disabled, missing or other customer's subscription, and a spent quota, before writing", async () => {
    const { subscriptions, deliveries, queue, log } = setup({ quota: 1 });
    const disabled = seedSubscription(subscriptions, { status: "disabled", disabled_reason: "manual" });
    await expect(log.sendTestEvent(CUSTOMER, disabled.id)).rejects.toBeInstanceOf(SubscriptionDisabledError);
    const enabled = seedSubscription(subscriptions);
    await expect(log.sendTestEvent(OTHER, enabled.id)).rejects.toThrow(
      new ResourceNotFoundError("subscription"),
    );
    // A refused sample does not use up the quota of one.
    await expect(
      log.sendTestEvent(CUSTOMER, enabled.id, { type: "webhook_x", data: {} }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(log.sendTestEvent(CUSTOMER, enabled.id)).resolves.toBeDefined();
    await expect(log.sendTestEvent(CUSTOMER, enabled.id)).rejects.toBeInstanceOf(QuotaExceededError);
    expect(deliveries.records.size).toBe(1);
    expect(queue.jobs).toHaveLength(1);
  });

  it("removes the pending record again when the job cannot be queued", async () => {
    const { subscriptions, deliveries, queue, log } = setup();
    const subscription = seedSubscription(subscriptions);
    queue.failNext = new Error("queue unavailable");
    await expect(log.sendTestEvent(CUSTOMER, subscription.id)).rejects.toThrow("queue unavailable");
    expect(deliveries.records.size).toBe(0);
  });
});

describe("reading the log", () => {
  it("answers 404 for another customer's delivery even where the store finds it by id alone (layout 2)", async () => {
    const { subscriptions, deliveries, log } = setup();
    const theirs = deliveries.put(
      record(seedSubscription(subscriptions, { customer_id: OTHER }), "failed", 5),
    );
    await expect(log.get(CUSTOMER, theirs.id)).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(log.get(CUSTOMER, "0190a000-0000-7000-8000-00000000dead")).rejects.toThrow(
      "delivery not found",
    );
    expect(await log.get(OTHER, theirs.id)).toEqual(theirs);
  });

  it("pages newest first, one more read than shown so a full page knows what follows", async () => {
    const { subscriptions, deliveries, log } = setup();
    const subscription = seedSubscription(subscriptions);
    const all = [1, 2, 3, 4, 5].map((m) => deliveries.put(record(subscription, "succeeded", m)));
    const first = await log.list(CUSTOMER, subscription.id, { limit: 2 });
    expect(first.items.map((r) => r.id)).toEqual([all[0]?.id, all[1]?.id]);
    expect(first.next).toEqual({ created_at: all[1]?.created_at, id: all[1]?.id });
    expect(deliveries.queries[0]).toMatchObject({ order: "newest_first", limit: 3, customerId: CUSTOMER });
    const rest = await log.list(CUSTOMER, subscription.id, { limit: 3, after: first.next ?? undefined });
    expect(rest.items.map((r) => r.id)).toEqual([all[2]?.id, all[3]?.id, all[4]?.id]);
    expect(rest.next).toBeNull();
    await expect(log.list(OTHER, subscription.id, { limit: 2 })).rejects.toBeInstanceOf(
      ResourceNotFoundError,
    );
  });

  it("fills a filtered page over several queries, and stops short after ten with where to go on", async () => {
    const { subscriptions, deliveries, log } = setup();
    const subscription = seedSubscription(subscriptions);
    // Newest first: two failures among successes, one near the top and one further down.
    const failedNew = deliveries.put(record(subscription, "failed", 2));
    for (let m = 3; m < 15; m++) deliveries.put(record(subscription, "succeeded", m));
    const failedOld = deliveries.put(record(subscription, "failed", 15));
    deliveries.put(record(subscription, "failed", 16));
    for (let m = 17; m < 45; m++) deliveries.put(record(subscription, "succeeded", m));
    const page = await log.list(CUSTOMER, subscription.id, { limit: 2, status: "failed" });
    expect(page.items.map((r) => r.id)).toEqual([failedNew.id, failedOld.id]);
    // A third failure follows: the page is full and resumes after the second.
    expect(page.next).toEqual({ created_at: failedOld.created_at, id: failedOld.id });
    expect(deliveries.queries.every((q) => q.statuses?.[0] === "failed")).toBe(true);
    expect(deliveries.queries.length).toBeGreaterThan(2);

    const sparse = setup();
    const quiet = seedSubscription(sparse.subscriptions);
    for (let m = 1; m <= 60; m++) sparse.deliveries.put(record(quiet, "succeeded", m));
    const short = await sparse.log.list(CUSTOMER, quiet.id, { limit: 1, status: "dead" });
    expect(short.items).toEqual([]);
    expect(sparse.deliveries.queries).toHaveLength(10);
    // Ten queries of two read the twenty newest: the page resumes after the twentieth.
    expect(short.next?.created_at).toBe(new Date(NOW.getTime() - 20 * 60_000).toISOString());
  });

  it("ends a filtered page as soon as it is full, resuming after what the last query read", async () => {
    const { subscriptions, deliveries, log } = setup();
    const subscription = seedSubscription(subscriptions);
    const failed = deliveries.put(record(subscription, "failed", 2));
    const read = deliveries.put(record(subscription, "succeeded", 3));
    for (let m = 4; m < 30; m++) deliveries.put(record(subscription, "succeeded", m));
    const page = await log.list(CUSTOMER, subscription.id, { limit: 1, status: "failed" });
    expect(page.items.map((r) => r.id)).toEqual([failed.id]);
    expect(page.next).toEqual({ created_at: read.created_at, id: read.id });
    expect(deliveries.queries).toHaveLength(1);
  });

  it("keeps a page whose size is exactly the byte budget", async () => {
    const first = setup();
    const subscription = seedSubscription(first.subscriptions);
    const records = [1, 2, 3].map((m) => record(subscription, "failed", m));
    for (const r of records) first.deliveries.put(r);
    const all = await first.log.list(CUSTOMER, subscription.id, { limit: 3 });
    const [a, b] = all.items.map((r) => Buffer.byteLength(JSON.stringify(r)));
    const exact = setup({ maxPageBytes: (a ?? 0) + (b ?? 0) });
    exact.subscriptions.items.set(`${CUSTOMER}/${subscription.id}`, subscription);
    for (const r of records) exact.deliveries.put(r);
    const page = await exact.log.list(CUSTOMER, subscription.id, { limit: 3 });
    expect(page.items).toHaveLength(2);
    expect(page.next).toEqual({ created_at: records[1]?.created_at, id: records[1]?.id });
  });

  it("cuts a page at its byte budget, keeping at least one delivery and saying where to resume", async () => {
    const { subscriptions, deliveries, log } = setup({ maxPageBytes: 1500 });
    const subscription = seedSubscription(subscriptions);
    const big = (m: number) =>
      deliveries.put(
        record(subscription, "failed", m, {
          attempts: [
            {
              at: NOW.toISOString(),
              status_code: 500,
              error: null,
              latency_ms: 3,
              response_body: "x".repeat(900),
              request: null,
            },
          ],
        }),
      );
    const [a, b] = [big(1), big(2), big(3)];
    const page = await log.list(CUSTOMER, subscription.id, { limit: 3 });
    expect(page.items.map((r) => r.id)).toEqual([a?.id]);
    expect(page.next).toEqual({ created_at: a?.created_at, id: a?.id });
    const tiny = setup({ maxPageBytes: 10 });
    const s = seedSubscription(tiny.subscriptions);
    const only = tiny.deliveries.put(record(s, "failed", 1));
    tiny.deliveries.put(record(s, "failed", 2));
    const one = await tiny.log.list(CUSTOMER, s.id, { limit: 5 });
    expect(one.items.map((r) => r.id)).toEqual([only.id]);
    expect(b).toBeDefined();
  });
});

describe("a manual retry", () => {
  it("queues the recorded payload again as the delivery's one live job, to be sent even after a success", async () => {
    const { subscriptions, deliveries, queue, log } = setup();
    const subscription = seedSubscription(subscriptions);
    const done = deliveries.put(record(subscription, "succeeded", 5, { test: true }));
    expect(await log.retry(CUSTOMER, done.id)).toEqual({ deliveryId: done.id });
    const live = deliveries.records.get(done.id);
    expect(live?.status).toBe("pending");
    expect(queue.batches).toEqual([
      [
        {
          v: 1,
          delivery_id: done.id,
          webhook_id: done.webhook_id,
          subscription_id: subscription.id,
          customer_id: CUSTOMER,
          event_id: done.event_id,
          event_type: done.event_type,
          payload: done.payload,
          token: live?.live_job,
          test: true,
          redeliver_after: NOW.toISOString(),
        },
      ],
    ]);
  });

  it("refuses what cannot be sent again: no payload, deleted or disabled subscription, another customer's", async () => {
    const { subscriptions, deliveries, queue, log } = setup({ quota: 1 });
    const subscription = seedSubscription(subscriptions);
    const old = deliveries.put(record(subscription, "failed", 5, { payload: null }));
    await expect(log.retry(CUSTOMER, old.id)).rejects.toBeInstanceOf(DeliveryNotRetryableError);
    // Refused before the quota and before the record was touched.
    expect(deliveries.records.get(old.id)).toEqual(old);
    await log.retry(CUSTOMER, deliveries.put(record(subscription, "failed", 4)).id);
    queue.batches.length = 0;
    const orphan = deliveries.put(
      record({ id: "0190a000-0000-7000-8000-0000000000aa", customer_id: CUSTOMER }, "failed", 5),
    );
    await expect(log.retry(CUSTOMER, orphan.id)).rejects.toBeInstanceOf(SubscriptionDeletedError);
    const disabled = seedSubscription(subscriptions, { status: "disabled", disabled_reason: "failing" });
    const held = deliveries.put(record(disabled, "dead", 5));
    await expect(log.retry(CUSTOMER, held.id)).rejects.toBeInstanceOf(SubscriptionDisabledError);
    const mine = deliveries.put(record(subscription, "failed", 6));
    await expect(log.retry(OTHER, mine.id)).rejects.toBeInstanceOf(ResourceNotFoundError);
    expect(queue.jobs).toEqual([]);
    expect(deliveries.records.get(mine.id)?.status).toBe("failed");
  });

  it("sends an activeflow destination's delivery while the managed subscription is enabled", async () => {
    const { subscriptions, deliveries, queue, log } = setup();
    const destination = {
      kind: "activeflow" as const,
      activeflow_id: "0190a000-0000-7000-8000-0000000000af",
      url: "https://flow.example.com/",
      method: "PUT" as const,
    };
    const owner = { id: "0190a000-0000-7000-8000-0000000000bb", customer_id: CUSTOMER };
    const delivery = deliveries.put(record(owner, "failed", 5, { destination }));
    await expect(log.retry(CUSTOMER, delivery.id)).rejects.toBeInstanceOf(SubscriptionDeletedError);
    seedSubscription(subscriptions, { id: managedSubscriptionId(CUSTOMER), managed_by: "voipbin" });
    await log.retry(CUSTOMER, delivery.id);
    expect(queue.jobs[0]?.destination).toEqual(destination);
  });

  it("answers 404 when the delivery went meanwhile, and puts the record back when the job cannot be queued", async () => {
    const { subscriptions, deliveries, queue, log } = setup({ quota: 1 });
    const subscription = seedSubscription(subscriptions);
    const failed = deliveries.put(record(subscription, "failed", 5));
    deliveries.requeue = async () => ({ kind: "skipped" });
    await expect(log.retry(CUSTOMER, failed.id)).rejects.toThrow(new ResourceNotFoundError("delivery"));

    const again = setup();
    const s = seedSubscription(again.subscriptions);
    const f = again.deliveries.put(record(s, "dead", 5));
    again.queue.failNext = new Error("queue unavailable");
    await expect(again.log.retry(CUSTOMER, f.id)).rejects.toThrow("queue unavailable");
    expect(again.deliveries.records.get(f.id)).toEqual(f);
    expect(queue.jobs).toEqual([]);
    // The quota of one was taken by the refused retry's request.
    await expect(log.retry(CUSTOMER, failed.id)).rejects.toBeInstanceOf(QuotaExceededError);
  });
});

describe("recover", () => {
  it("re-enqueues every failed or dead delivery since the time given, that instant included, oldest first", async () => {
    const { subscriptions, deliveries, queue, log } = setup();
    const subscription = seedSubscription(subscriptions);
    const before = deliveries.put(record(subscription, "failed", 61));
    const atSince = deliveries.put(record(subscription, "dead", 60));
    const ok = deliveries.put(record(subscription, "succeeded", 50));
    const pending = deliveries.put(record(subscription, "pending", 40));
    const failed = deliveries.put(record(subscription, "failed", 30));
    const since = new Date(atSince.created_at);
    const result = await log.recover(CUSTOMER, subscription.id, since, { deadline: FOREVER() });
    expect(result).toEqual({ count: 2, complete: true, nextSince: null });
    expect(queue.jobs.map((j) => j.delivery_id)).toEqual([atSince.id, failed.id]);
    for (const job of queue.jobs) {
      expect(job.redeliver_after).toBe(NOW.toISOString());
      expect(deliveries.records.get(job.delivery_id)?.live_job).toBe(job.token);
      // The full record's payload, not the log's (which has none).
      expect(job.payload).toBe(deliveries.records.get(job.delivery_id)?.payload);
    }
    expect(new Set(queue.jobs.map((j) => j.token)).size).toBe(2);
    expect(deliveries.records.get(before.id)?.status).toBe("failed");
    expect(deliveries.records.get(ok.id)?.status).toBe("succeeded");
    expect(deliveries.records.get(pending.id)?.live_job).toBe("msg:1");
    // A second call finds them pending: nothing doubled.
    expect(await log.recover(CUSTOMER, subscription.id, since, { deadline: FOREVER() })).toEqual({
      count: 0,
      complete: true,
      nextSince: null,
    });
  });

  it("queues in batches of ten and reads the log a hundred at a time", async () => {
    const { subscriptions, deliveries, queue, log } = setup();
    const subscription = seedSubscription(subscriptions);
    for (let m = 1; m <= 125; m++) deliveries.put(record(subscription, "failed", m));
    const result = await log.recover(CUSTOMER, subscription.id, new Date(NOW.getTime() - 3 * 3600_000), {
      deadline: FOREVER(),
    });
    expect(result).toEqual({ count: 125, complete: true, nextSince: null });
    expect(queue.batches.map((b) => b.length)).toEqual([...Array(12).fill(10), 5]);
    expect(deliveries.queries.map((q) => [q.order, q.limit])).toEqual([
      ["oldest_first", 100],
      ["oldest_first", 100],
    ]);
    expect(deliveries.queries[0]?.statuses).toEqual(["failed", "dead"]);
  });

  it("stops at the deadline and says where to continue", async () => {
    const { subscriptions, deliveries, queue, log } = setup();
    const subscription = seedSubscription(subscriptions);
    const oldest = deliveries.put(record(subscription, "failed", 9));
    deliveries.put(record(subscription, "failed", 8));
    const since = new Date(NOW.getTime() - 3600_000);
    expect(await log.recover(CUSTOMER, subscription.id, since, { deadline: 0 })).toEqual({
      count: 0,
      complete: false,
      nextSince: oldest.created_at,
    });
    expect(queue.jobs).toEqual([]);

    // Out of time between two pages: the next call starts at the next page.
    const paged = setup();
    const s = seedSubscription(paged.subscriptions);
    for (let m = 1; m <= 101; m++) paged.deliveries.put(record(s, "failed", 200 - m));
    let calls = 0;
    const query = paged.deliveries.queryLog.bind(paged.deliveries);
    let deadline = FOREVER();
    paged.deliveries.queryLog = async (q) => {
      const page = await query(q);
      if (++calls === 1) deadline = 0;
      return page;
    };
    const stopped = await paged.log.recover(CUSTOMER, s.id, new Date(NOW.getTime() - 300 * 60_000), {
      get deadline() {
        return deadline;
      },
    });
    expect(stopped.complete).toBe(false);
    expect(stopped.count).toBe(0);
    expect(stopped.nextSince).toBe(new Date(NOW.getTime() - 199 * 60_000).toISOString());
  });

  it("stops between two pages when the deadline passes after a page's last batch", async () => {
    const { subscriptions, deliveries, queue, log } = setup();
    const subscription = seedSubscription(subscriptions);
    const all = Array.from({ length: 130 }, (_, i) =>
      deliveries.put(record(subscription, "failed", 300 - i)),
    );
    let deadline = FOREVER();
    const enqueue = queue.enqueue.bind(queue);
    queue.enqueue = async (jobs) => {
      const result = await enqueue(jobs);
      if (queue.batches.length === 10) deadline = 0;
      return result;
    };
    const result = await log.recover(CUSTOMER, subscription.id, new Date(NOW.getTime() - 400 * 60_000), {
      get deadline() {
        return deadline;
      },
    });
    expect(result).toEqual({ count: 100, complete: false, nextSince: all[99]?.created_at });
  });

  it("counts only the deliveries it won: one a concurrent retry took is left to that retry", async () => {
    const { subscriptions, deliveries, queue, log } = setup();
    const subscription = seedSubscription(subscriptions);
    const taken = deliveries.put(record(subscription, "failed", 9));
    const mine = deliveries.put(record(subscription, "failed", 8));
    const requeue = deliveries.requeue.bind(deliveries);
    deliveries.requeue = async (customerId, deliveryId, options) =>
      deliveryId === taken.id ? { kind: "skipped" } : requeue(customerId, deliveryId, options);
    const result = await log.recover(CUSTOMER, subscription.id, new Date(NOW.getTime() - 3600_000), {
      deadline: FOREVER(),
    });
    expect(result.count).toBe(1);
    expect(queue.jobs.map((j) => j.delivery_id)).toEqual([mine.id]);
  });

  it("puts back records that keep no payload, and the whole batch when the queue refuses it", async () => {
    const { subscriptions, deliveries, queue, log } = setup();
    const subscription = seedSubscription(subscriptions);
    const old = deliveries.put(record(subscription, "dead", 10, { payload: null }));
    const fine = deliveries.put(record(subscription, "failed", 9));
    const since = new Date(NOW.getTime() - 3600_000);
    expect(await log.recover(CUSTOMER, subscription.id, since, { deadline: FOREVER() })).toMatchObject({
      count: 1,
    });
    expect(deliveries.records.get(old.id)).toEqual(old);
    expect(queue.jobs.map((j) => j.delivery_id)).toEqual([fine.id]);

    const refused = setup();
    const s = seedSubscription(refused.subscriptions);
    const a = refused.deliveries.put(record(s, "failed", 10));
    const b = refused.deliveries.put(record(s, "dead", 9));
    refused.queue.failNext = new Error("queue unavailable");
    await expect(refused.log.recover(CUSTOMER, s.id, since, { deadline: FOREVER() })).rejects.toThrow(
      "queue unavailable",
    );
    expect(refused.deliveries.records.get(a.id)).toEqual(a);
    expect(refused.deliveries.records.get(b.id)).toEqual(b);
    // Nothing sendable, nothing sent: no empty batch.
    const none = setup();
    const n = seedSubscription(none.subscriptions);
    none.deliveries.put(record(n, "failed", 3, { payload: null }));
    expect(await none.log.recover(CUSTOMER, n.id, since, { deadline: FOREVER() })).toMatchObject({
      count: 0,
    });
    expect(none.queue.batches).toEqual([]);
  });

  it("refuses a time in the future, a disabled subscription and a spent hourly quota", async () => {
    let now = NOW;
    // The deployment's rules as the config sets them: one recover call an hour.
    const rules = quotaRulesFor({
      QUOTA_TEST_EVENTS_PER_MINUTE: 1,
      QUOTA_RETRIES_PER_MINUTE: 1,
      QUOTA_RECOVERS_PER_HOUR: 1,
    });
    const { subscriptions, log } = setup({ rules, clock: () => now });
    const subscription = seedSubscription(subscriptions);
    const future = await log
      .recover(CUSTOMER, subscription.id, new Date(NOW.getTime() + 1000), { deadline: FOREVER() })
      .catch((e: unknown) => e);
    expect((future as InvalidInputError).problems).toEqual([
      { path: "since", message: "must not be in the future" },
    ]);
    await log.recover(CUSTOMER, subscription.id, NOW, { deadline: FOREVER() });
    // The window is the hour: a minute later the quota is still spent, the next hour it is back.
    now = new Date(NOW.getTime() + 61_000);
    await expect(log.recover(CUSTOMER, subscription.id, NOW, { deadline: FOREVER() })).rejects.toBeInstanceOf(
      QuotaExceededError,
    );
    now = new Date(NOW.getTime() + 3600_000);
    await expect(log.recover(CUSTOMER, subscription.id, NOW, { deadline: FOREVER() })).resolves.toMatchObject(
      {
        complete: true,
      },
    );
    const disabled = seedSubscription(subscriptions, { status: "disabled", disabled_reason: "manual" });
    await expect(log.recover(CUSTOMER, disabled.id, NOW, { deadline: FOREVER() })).rejects.toBeInstanceOf(
      SubscriptionDisabledError,
    );
  });
});

describe("jobFromRecord", () => {
  it("refuses a record without its payload, and carries test, destination and redeliver_after only when set", () => {
    const subscription = { id: "0190a000-0000-7000-8000-0000000000cc", customer_id: CUSTOMER };
    expect(() => jobFromRecord(record(subscription, "failed", 1, { payload: null }), "t")).toThrow(
      DeliveryNotRetryableError,
    );
    const plain = jobFromRecord(record(subscription, "failed", 1), "t");
    expect(plain.token).toBe("t");
    expect("test" in plain || "destination" in plain || "redeliver_after" in plain).toBe(false);
  });
});
