import { describe, expect, it } from "vitest";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import { deriveDeliveryIds } from "#shared/domain/ids.ts";
import type { UnroutableRecord } from "#shared/domain/ports/queues.ts";
import type { ManagedChange, RoutingSubscription } from "#shared/domain/ports/subscriptions.ts";
import type { ActiveflowTarget, ActiveflowVersion } from "#shared/domain/subscriptions/activeflow.ts";
import { activeflowDestinationId } from "#shared/domain/subscriptions/activeflow.ts";
import type { CustomerControl } from "#shared/domain/subscriptions/managed.ts";
import { buildDeliveryJobs, type RouterDependencies, routeEvent } from "#shared/services/route-event.ts";
import { CUSTOMER_A, eventBridgeEvent, fixtureEvent } from "../support/fixtures.ts";
import { MemoryDeliveryQueue, MemoryErasureRequests } from "../support/memory-stores.ts";

/**
 * The router's use case over in-memory ports: the jobs it queues, the body it stores first, what it
 * parks as unroutable, and what a customer control or activeflow event changes. Mutants left alive
 * on purpose (equivalent): the `typeof input === "object"` halves of guards whose other half or the
 * schema refuses the same inputs, and the rethrow of a parse error that is not
 * InvalidCustomerControlError (parseCustomerVersion throws no other).
 */

const NOW = new Date("2026-12-01T10:00:00.000Z");
const TIME = "2026-12-01T09:59:58Z";
const ACTIVEFLOW = "c9d8e7f6-1111-4222-8333-444455556666";

const routing = (fields: Partial<RoutingSubscription> = {}): RoutingSubscription => ({
  id: "0190a000-0000-7000-8000-00000000000a",
  customer_id: CUSTOMER_A,
  event_types: ["*"],
  activeflow_id: null,
  status: "enabled",
  ...fields,
});

function router(
  subscriptions: RoutingSubscription[] = [routing()],
  options: { lookup?: ActiveflowTarget | "none" | "unknown" } = {},
) {
  const log: string[] = [];
  const queue = new MemoryDeliveryQueue();
  const parked: UnroutableRecord[] = [];
  const payloads: {
    customerId: string;
    eventId: string;
    payload: string;
    eventTime: string;
    retentionDays: number;
  }[] = [];
  const managed: CustomerControl[] = [];
  let managedChange: ManagedChange = "created";
  const activeflowVersions: ActiveflowVersion[] = [];
  const inline: { activeflowId: string; target: ActiveflowTarget }[] = [];
  const lookups: string[] = [];
  const erasures = new MemoryErasureRequests();
  const deps: RouterDependencies = {
    subscriptions: {
      listForRouting: async (customerId) => subscriptions.filter((s) => s.customer_id === customerId),
    },
    deliveryQueue: {
      enqueue: async (jobs: readonly DeliveryJob[]) => {
        log.push("enqueue");
        return queue.enqueue(jobs);
      },
    },
    unroutableQueue: { send: async (record) => void parked.push(record) },
    payloads: {
      putPayload: async (customerId, eventId, payload, _now, retentionDays, eventTime) => {
        log.push("putPayload");
        payloads.push({ customerId, eventId, payload, eventTime: eventTime.toISOString(), retentionDays });
      },
    },
    managed: {
      apply: async (control) => {
        managed.push(control);
        return managedChange;
      },
    },
    activeflows: {
      apply: async (_customerId, version) => {
        activeflowVersions.push(version);
        return "applied";
      },
      lookup: async (_customerId, activeflowId) => {
        lookups.push(activeflowId);
        return options.lookup ?? "unknown";
      },
      putInline: async (_customerId, activeflowId, target) => void inline.push({ activeflowId, target }),
    },
    retentionDays: 30,
    erasures,
    erasureGraceDays: 14,
    now: () => NOW,
  };
  return {
    deps,
    log,
    queue,
    parked,
    payloads,
    managed,
    activeflowVersions,
    inline,
    lookups,
    erasures,
    setChange: (change: ManagedChange) => {
      managedChange = change;
    },
  };
}

/** The sample call_hangup as EventBridge hands it over, its detail typed for the tests' edits. */
const callHangup = () => {
  const event = eventBridgeEvent(fixtureEvent("call_hangup"), { time: TIME });
  return { ...event, detail: event.detail as { customer_id: string; data: Record<string, unknown> } };
};

describe("routing a customer's event", () => {
  it("stores the body, then queues one job per matching subscription, and says what it did", async () => {
    const subscriptions = [
      routing(),
      routing({ id: "0190a000-0000-7000-8000-00000000000b", event_types: ["message_*"] }),
      routing({
        id: "0190a000-0000-7000-8000-00000000000c",
        customer_id: "0190a000-0000-7000-8000-0000000000ff",
      }),
    ];
    const r = router(subscriptions);
    const event = callHangup();
    const outcome = await routeEvent(event, r.deps);
    expect(outcome).toEqual({
      kind: "routed",
      eventId: event.id,
      type: "call_hangup",
      customerId: CUSTOMER_A,
      subscriptions: 2,
      matched: 1,
    });
    expect(r.log).toEqual(["putPayload", "enqueue"]);
    const body = `{"type":"call_hangup","data":${JSON.stringify(event.detail.data)}}`;
    expect(r.payloads).toEqual([
      {
        customerId: CUSTOMER_A,
        eventId: event.id,
        payload: body,
        eventTime: "2026-12-01T09:59:58.000Z",
        retentionDays: 30,
      },
    ]);
    const ids = deriveDeliveryIds(event.id, (subscriptions[0] as RoutingSubscription).id, new Date(TIME));
    expect(r.queue.batches).toEqual([
      [
        {
          v: 1,
          delivery_id: ids.deliveryId,
          webhook_id: ids.webhookId,
          subscription_id: (subscriptions[0] as RoutingSubscription).id,
          customer_id: CUSTOMER_A,
          event_id: event.id,
          event_type: "call_hangup",
          payload: body,
        },
      ],
    ]);
    expect(r.parked).toEqual([]);
  });

  it("stores and queues nothing when no subscription matches", async () => {
    const r = router([routing({ event_types: ["message_*"] })]);
    expect(await routeEvent(callHangup(), r.deps)).toMatchObject({
      kind: "routed",
      subscriptions: 1,
      matched: 0,
    });
    expect(r.log).toEqual([]);
  });

  it("records a shadow event's jobs without storing its body", async () => {
    const r = router();
    const event = callHangup();
    const outcome = await routeEvent(
      { ...event, detail: { ...event.detail, delivery_mode: "shadow" } },
      r.deps,
    );
    expect(outcome).toMatchObject({ kind: "routed", matched: 1, shadow: true });
    expect(r.log).toEqual(["enqueue"]);
    expect(r.queue.jobs[0]?.shadow).toBe(true);
    const live = router();
    const routed = await routeEvent(callHangup(), live.deps);
    expect("shadow" in routed).toBe(false);
    expect("shadow" in (live.queue.jobs[0] ?? {})).toBe(false);
  });

  it("parks an event it cannot route with the reason, its id and the time, and queues nothing", async () => {
    const r = router();
    const event = { ...callHangup(), "detail-type": "no_such_type" };
    const outcome = await routeEvent(event, r.deps);
    expect(outcome).toMatchObject({ kind: "unroutable", eventId: event.id });
    expect(r.parked).toEqual([
      {
        reason: (outcome as { reason: string }).reason,
        details: (outcome as { details: readonly string[] }).details,
        received_at: NOW.toISOString(),
        event,
      },
    ]);
    expect(r.log).toEqual([]);
    expect(await routeEvent("not an event", r.deps)).toMatchObject({ kind: "unroutable", eventId: null });
    expect(await routeEvent({ ...event, id: 42 }, r.deps)).toMatchObject({
      kind: "unroutable",
      eventId: null,
    });
    expect(r.parked[1]?.event).toBe("not an event");
    expect(await routeEvent(null, r.deps)).toMatchObject({ kind: "unroutable", eventId: null });
    const asked: unknown[] = [];
    const { BUILT_IN_CATALOGUE } = await import("#shared/domain/events/runtime-catalogue.ts");
    const withCatalogue = {
      ...r.deps,
      catalogue: {
        forType: async (type: string) => {
          asked.push(type);
          return BUILT_IN_CATALOGUE;
        },
      },
    };
    await routeEvent({ ...event, "detail-type": 7 }, withCatalogue);
    await routeEvent(null, withCatalogue);
    expect(asked).toEqual([]);
  });

  it("lets a failure that is not about the event through, so the invocation is retried", async () => {
    const r = router();
    r.deps.subscriptions.listForRouting = async () => {
      throw new Error("table unavailable");
    };
    await expect(routeEvent(callHangup(), r.deps)).rejects.toThrow("table unavailable");
    const failing = router();
    const deps = {
      ...failing.deps,
      catalogue: { forType: async () => Promise.reject(new Error("catalogue down")) },
    };
    await expect(routeEvent(callHangup(), deps)).rejects.toThrow("catalogue down");
    expect(failing.parked).toEqual([]);
  });

  it("routes a type an operator added at run time through the catalogue it gets for that type", async () => {
    const r = router();
    const asked: string[] = [];
    const { BUILT_IN_CATALOGUE } = await import("#shared/domain/events/runtime-catalogue.ts");
    const deps = {
      ...r.deps,
      catalogue: {
        forType: async (type: string) => {
          asked.push(type);
          return BUILT_IN_CATALOGUE;
        },
      },
    };
    await routeEvent(callHangup(), deps);
    expect(asked).toEqual(["call_hangup"]);
    expect(r.queue.jobs).toHaveLength(1);
  });
});

describe("a warning about a subscription", () => {
  it("goes to the customer's other subscriptions, never to the one it is about", () => {
    const about = routing({ id: "0190a000-0000-7000-8000-0000000000a1" });
    const other = routing({ id: "0190a000-0000-7000-8000-0000000000a2" });
    const jobs = buildDeliveryJobs(
      {
        id: "0d9b2c1e-7f3a-4b2c-9e1d-0000000000f1",
        type: "webhook_endpoint_failing",
        source: "voipbin.webhooks",
        time: TIME,
        customerId: CUSTOMER_A,
        data: { subscription_id: about.id },
        shadow: false,
      },
      [about, other],
    );
    expect(jobs.map((j) => j.subscription_id)).toEqual([other.id]);
  });
});

describe("an activeflow destination", () => {
  const legacy = () => [routing({ delivery_profile: "legacy" })];

  it("is looked up only for a customer with a legacy subscription, and gets a job of its own", async () => {
    const target: ActiveflowTarget = { url: "https://flow.example.com/hook", method: "PUT" };
    const none = router([routing()], { lookup: target });
    await routeEvent(callHangup(), none.deps);
    expect(none.lookups).toEqual([]);
    expect(none.queue.jobs).toHaveLength(1);

    const r = router(legacy(), { lookup: target });
    const event = callHangup();
    expect(await routeEvent(event, r.deps)).toMatchObject({ matched: 2 });
    expect(r.lookups).toEqual([ACTIVEFLOW]);
    const job = r.queue.jobs[1];
    expect(job).toMatchObject({
      subscription_id: activeflowDestinationId(ACTIVEFLOW),
      destination: { kind: "activeflow", activeflow_id: ACTIVEFLOW, url: target.url, method: "PUT" },
    });
  });

  it("gets a job even when no subscription matches, and is looked up when any one subscription is legacy", async () => {
    const target: ActiveflowTarget = { url: "https://flow.example.com/hook", method: "POST" };
    const r = router(
      [
        routing(),
        routing({
          id: "0190a000-0000-7000-8000-00000000000d",
          delivery_profile: "legacy",
          event_types: ["message_*"],
        }),
      ],
      {
        lookup: target,
      },
    );
    expect(await routeEvent(callHangup(), r.deps)).toMatchObject({ matched: 2 });
    const only = router([routing({ delivery_profile: "legacy", event_types: ["message_*"] })], {
      lookup: target,
    });
    expect(await routeEvent(callHangup(), only.deps)).toMatchObject({ matched: 1 });
    expect(only.queue.jobs.map((j) => j.subscription_id)).toEqual([activeflowDestinationId(ACTIVEFLOW)]);
    expect(only.log).toEqual(["putPayload", "enqueue"]);
    // A call event is not an activeflow's version, whatever ids and times its data has.
    expect(only.activeflowVersions).toEqual([]);
  });

  it("is not looked up for an event that names no activeflow", async () => {
    const r = router(legacy(), { lookup: { url: "https://flow.example.com/", method: "POST" } });
    const event = callHangup();
    const { activeflow_id: _gone, ...data } = event.detail.data;
    expect(await routeEvent({ ...event, detail: { ...event.detail, data } }, r.deps)).toMatchObject({
      matched: 1,
    });
    expect(r.lookups).toEqual([]);
  });

  it("takes the destination an event carries inline when nothing is known of its activeflow, and keeps it", async () => {
    const r = router(legacy(), { lookup: "unknown" });
    const event = callHangup();
    const withInline = {
      ...event,
      detail: {
        ...event.detail,
        activeflow_webhook: { uri: "https://inline.example.com/x", method: "POST" },
      },
    };
    await routeEvent(withInline, r.deps);
    expect(r.inline).toEqual([
      { activeflowId: ACTIVEFLOW, target: { url: "https://inline.example.com/x", method: "POST" } },
    ]);
    expect(r.queue.jobs.at(-1)?.destination?.url).toBe("https://inline.example.com/x");

    const bare = router(legacy(), { lookup: "unknown" });
    expect(await routeEvent(callHangup(), bare.deps)).toMatchObject({ matched: 1 });
    expect(bare.inline).toEqual([]);
    const bad = router(legacy(), { lookup: "unknown" });
    await routeEvent(
      { ...event, detail: { ...event.detail, activeflow_webhook: { uri: "not a url", method: "POST" } } },
      bad.deps,
    );
    expect(bad.inline).toEqual([]);
    const gone = router(legacy(), { lookup: "none" });
    await routeEvent(withInline, gone.deps);
    expect(gone.queue.jobs).toHaveLength(1);
  });

  it("applies the flow-manager's activeflow events as they pass", async () => {
    const r = router([]);
    const event = {
      ...callHangup(),
      source: "voipbin.flow-manager",
      "detail-type": "activeflow_updated",
      detail: {
        customer_id: CUSTOMER_A,
        data: {
          id: ACTIVEFLOW,
          customer_id: CUSTOMER_A,
          tm_update: "2026-12-01T09:00:00Z",
          webhook_uri: "https://flow.example.com/a",
          webhook_method: "POST",
        },
      },
    };
    const outcome = await routeEvent(event, r.deps);
    expect(outcome).toMatchObject({ kind: "routed", type: "activeflow_updated", matched: 0 });
    expect(r.activeflowVersions).toEqual([
      expect.objectContaining({
        activeflowId: ACTIVEFLOW,
        target: { url: "https://flow.example.com/a", method: "POST" },
      }),
    ]);
  });
});

describe("a customer control event", () => {
  const control = (type: string, data: Record<string, unknown>, fields: Record<string, unknown> = {}) => ({
    ...callHangup(),
    source: "voipbin.customer-manager",
    "detail-type": type,
    detail: { customer_id: CUSTOMER_A, data: { id: CUSTOMER_A, ...data } },
    ...fields,
  });

  it("applies the customer's version to its managed subscription and delivers nothing", async () => {
    const r = router();
    const event = control("customer_updated", {
      tm_update: "2026-12-01T09:00:00Z",
      webhook_uri: "https://legacy.example.com/hook",
      webhook_method: "POST",
      webhook_secret: "a".repeat(64),
    });
    const outcome = await routeEvent(event, r.deps);
    expect(outcome).toEqual({
      kind: "control",
      eventId: event.id,
      type: "customer_updated",
      customerId: CUSTOMER_A,
      change: "created",
    });
    expect(r.managed).toEqual([
      expect.objectContaining({
        kind: "upsert",
        customerId: CUSTOMER_A,
        url: "https://legacy.example.com/hook",
      }),
    ]);
    expect(r.log).toEqual([]);
  });

  it("schedules the erasure a grace period after a deletion, and withdraws it when the customer is created again", async () => {
    const r = router();
    r.setChange("removed");
    await routeEvent(control("customer_deleted", { tm_delete: "2026-12-01T09:00:00Z" }), r.deps);
    expect([...r.erasures.pending.values()]).toEqual([
      { customerId: CUSTOMER_A, dueAt: "2026-12-15T10:00:00.000Z", cursor: null },
    ]);
    r.setChange("updated");
    await routeEvent(control("customer_updated", { tm_update: "2026-12-01T09:30:00Z" }), r.deps);
    expect(r.erasures.pending.size).toBe(1);
    r.setChange("created");
    await routeEvent(control("customer_updated", { tm_update: "2026-12-01T09:40:00Z" }), r.deps);
    expect(r.erasures.pending.size).toBe(0);

    // An update that removes the webhook is no deletion: nothing scheduled.
    const update = router();
    update.setChange("removed");
    await routeEvent(control("customer_updated", { tm_update: "2026-12-01T09:00:00Z" }), update.deps);
    expect(update.erasures.pending.size).toBe(0);
    // Without an erasure store (routing alone) a deletion and a re-creation are applied all the same.
    const bare = router();
    const { erasures: _none, ...withoutErasures } = bare.deps;
    bare.setChange("removed");
    expect(
      await routeEvent(control("customer_deleted", { tm_delete: "2026-12-01T09:00:00Z" }), withoutErasures),
    ).toMatchObject({
      kind: "control",
      change: "removed",
    });
    bare.setChange("created");
    expect(
      await routeEvent(control("customer_updated", { tm_update: "2026-12-01T09:00:00Z" }), withoutErasures),
    ).toMatchObject({
      kind: "control",
      change: "created",
    });
    // A deletion older than what was applied schedules nothing.
    const late = router();
    late.setChange("ignored_older");
    await routeEvent(control("customer_deleted", { tm_delete: "2026-11-01T09:00:00Z" }), late.deps);
    expect(late.erasures.pending.size).toBe(0);
    // Without a grace period configured the erasure is due at once.
    const now = router();
    now.setChange("removed");
    await routeEvent(control("customer_deleted", { tm_delete: "2026-12-01T09:00:00Z" }), {
      ...now.deps,
      erasureGraceDays: undefined,
    });
    expect(now.erasures.pending.get(CUSTOMER_A)?.dueAt).toBe(NOW.toISOString());
  });

  it("parks a control event without an id or an object detail, or whose customer is malformed, with every problem", async () => {
    const r = router();
    const noId = await routeEvent(
      control("customer_updated", { tm_update: "2026-12-01T09:00:00Z" }, { id: "" }),
      r.deps,
    );
    expect(noId).toMatchObject({
      kind: "unroutable",
      reason: "invalid_control_event",
      details: ["id: must be a non-empty string"],
    });
    const badDetail = await routeEvent(control("customer_updated", {}, { detail: [1] }), r.deps);
    expect(badDetail).toMatchObject({ details: ["detail: must be an object {customer_id, data}"] });
    const numberId = await routeEvent(
      control("customer_updated", { tm_update: "2026-12-01T09:00:00Z" }, { id: 42 }),
      r.deps,
    );
    expect(numberId).toMatchObject({ kind: "unroutable", reason: "invalid_control_event", eventId: null });
    const textDetail = await routeEvent(control("customer_updated", {}, { detail: "x" }), r.deps);
    expect(textDetail).toMatchObject({ details: ["detail: must be an object {customer_id, data}"] });
    let deep: unknown = {};
    for (let i = 0; i < 70; i++) deep = { a: deep };
    const tooDeep = await routeEvent(
      control("customer_updated", { tm_update: "2026-12-01T09:00:00Z", deep }),
      r.deps,
    );
    expect(tooDeep).toMatchObject({ kind: "unroutable", reason: "too_deep" });
    const nullDetail = await routeEvent(control("customer_updated", {}, { detail: null }), r.deps);
    expect(nullDetail).toMatchObject({ details: ["detail: must be an object {customer_id, data}"] });
    const bad = await routeEvent(
      control("customer_updated", { id: "nope", tm_update: "yesterday" }, {}),
      r.deps,
    );
    expect(bad).toMatchObject({ kind: "unroutable", reason: "invalid_control_event" });
    expect((bad as { details: readonly string[] }).details.length).toBeGreaterThanOrEqual(2);
    expect(r.managed).toEqual([]);
    expect(r.parked).toHaveLength(7);
  });
});
