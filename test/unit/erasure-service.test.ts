import { describe, expect, it } from "vitest";
import type { ErasableItem, StoredItemKey } from "#shared/domain/ports/erasure.ts";
import { type ErasureProgress, eraseCustomerData, erasePendingCustomers } from "#shared/services/erasure.ts";
import { MemoryErasureRequests, MemoryErasureStore, MemoryParkedQueue } from "../support/memory-stores.ts";

/**
 * Erasure over in-memory ports: what is deleted from the table and the parked queues, what the
 * summary says, and how a pass over deleted customers resumes. Mutants left alive on purpose
 * (equivalent): `item.body !== null` and `item.kind === "activeflow_destination"` forced true (a
 * null body names no resource; only a destination has an `activeflowId`), the `managed_control`
 * check of the count loop (the control item is never among the chosen), and the deadline's `>=`.
 */

const CUSTOMER = "0190a000-0000-7000-8000-0000000000e1";
const OTHER = "0190a000-0000-7000-8000-0000000000e2";
const CALL = "call-123";
const NOW = new Date("2026-12-01T10:00:00.000Z");

const key = (sk: string): StoredItemKey => ({ PK: `CUSTOMER#${CUSTOMER}`, SK: sk });
const body = (data: unknown) => JSON.stringify({ type: "call_hangup", data });

/** A customer with one subscription, two events (one of the call CALL), their deliveries and so on. */
function customerStore() {
  const store = new MemoryErasureStore(CUSTOMER);
  const items: ErasableItem[] = [
    { kind: "subscription", key: key("SUB#1") },
    { kind: "delivery", key: key("DLV#a"), deliveryId: "a", eventId: "e-call" },
    { kind: "payload", key: key("EVT#e-call"), eventId: "e-call", body: body({ id: CALL }) },
    { kind: "delivery", key: key("DLV#b"), deliveryId: "b", eventId: "e-other" },
    { kind: "payload", key: key("EVT#e-other"), eventId: "e-other", body: body({ id: "call-9" }) },
    { kind: "payload", key: key("EVT#old"), eventId: "old", body: null },
    { kind: "shadow", key: key("SHD#1"), eventId: "e-call" },
    { kind: "shadow", key: key("SHD#2"), eventId: "e-other" },
    { kind: "activeflow_destination", key: key("AFD#flow-1"), activeflowId: "flow-1" },
    { kind: "activeflow_destination", key: key("AFD#flow-2"), activeflowId: "flow-2" },
    { kind: "credential", key: key("KEY#1") },
    { kind: "managed_control", key: key("CTL"), version: "v7" },
    { kind: "other", key: key("QUOTA#1") },
  ];
  store.items = items;
  store.attempts.set("a", [key("DLV#a#1"), key("DLV#a#2")]);
  store.attempts.set("b", [key("DLV#b#1")]);
  return store;
}

function queues() {
  const dead = new MemoryParkedQueue("dead-letters", [
    JSON.stringify({ customer_id: CUSTOMER, data: { id: CALL } }),
    JSON.stringify({ customer_id: CUSTOMER, data: { activeflow_id: "flow-2" } }),
    JSON.stringify({ customer_id: OTHER, data: { id: CALL } }),
    "not json",
  ]);
  const ownerOf = (text: string) => {
    try {
      const parsed = JSON.parse(text) as { customer_id: unknown; data: unknown };
      return { customerId: parsed.customer_id, data: parsed.data };
    } catch {
      return null;
    }
  };
  return { dead, list: [{ queue: dead, ownerOf }] };
}

const remaining = (store: MemoryErasureStore) => store.items.map((item) => item.key.SK);

describe("erasing a customer", () => {
  it("deletes every item of the customer with the deliveries' attempts, and its parked messages", async () => {
    const store = customerStore();
    const { dead, list } = queues();
    const progress: ErasureProgress[] = [];
    const summary = await eraseCustomerData(
      { store, queues: list, now: () => NOW, onProgress: (p) => progress.push(p) },
      { customerId: CUSTOMER, dryRun: false },
    );
    expect(summary).toEqual({
      customerId: CUSTOMER,
      resourceId: null,
      dryRun: false,
      counts: {
        subscriptions: 1,
        deliveries: 2,
        attempts: 3,
        payloads: 3,
        shadow: 2,
        activeflowDestinations: 2,
        credentials: 1,
        // The quota item and the control item's data.
        other: 2,
        queueMessages: 2,
      },
      scannedItems: 13 + 5 * 2,
      messagesRead: 4,
      queueFailures: [],
    });
    // The control item stays, with its version only (a later older control event must stay ignored).
    expect(remaining(store)).toEqual(["CTL"]);
    expect(store.controlKept).toEqual([{ customerId: CUSTOMER, version: "v7", now: NOW.toISOString() }]);
    expect(store.deleted.flat().map((k) => k.SK)).toEqual(
      expect.arrayContaining(["DLV#a#1", "DLV#a#2", "DLV#b#1", "SUB#1", "KEY#1", "QUOTA#1"]),
    );
    expect(dead.messages.map((m) => m.body)).toEqual([
      JSON.stringify({ customer_id: OTHER, data: { id: CALL } }),
      "not json",
    ]);
    expect(dead.released).toEqual([[{ body: dead.messages[0]?.body }, { body: "not json" }]]);
    expect(progress.filter((p) => p.phase === "scan")).toEqual(
      [5, 10, 15, 20, 23].map((done) => ({ phase: "scan", done, detail: "items read" })),
    );
    expect(progress.filter((p) => p.phase === "attempts")).toEqual(
      [1, 2].map((done) => ({ phase: "attempts", done, detail: "deliveries' attempts listed" })),
    );
    expect(progress.filter((p) => p.phase === "delete")).toEqual([
      { phase: "delete", done: 15, detail: "items deleted" },
    ]);
    expect(progress.filter((p) => p.phase === "queues").at(-1)).toEqual({
      phase: "queues",
      done: 4,
      detail: "messages read (dead-letters)",
    });
  });

  it("in a dry run counts the same and changes nothing, releasing every message it read", async () => {
    const store = customerStore();
    const { dead, list } = queues();
    const before = remaining(store);
    const summary = await eraseCustomerData({ store, queues: list }, { customerId: CUSTOMER, dryRun: true });
    expect(summary.dryRun).toBe(true);
    expect(summary.counts).toMatchObject({ deliveries: 2, attempts: 3, queueMessages: 2, other: 2 });
    expect(remaining(store)).toEqual(before);
    expect(store.deleted).toEqual([]);
    expect(store.controlKept).toEqual([]);
    expect(dead.messages).toHaveLength(4);
    expect(dead.released[0]).toHaveLength(4);
  });

  it("deletes in batches of 500 keys", async () => {
    const store = new MemoryErasureStore(CUSTOMER);
    store.pageSize = 400;
    store.items = Array.from({ length: 1201 }, (_, i) => ({ kind: "other" as const, key: key(`Q#${i}`) }));
    const summary = await eraseCustomerData({ store, queues: [] }, { customerId: CUSTOMER, dryRun: false });
    expect(store.deleted.map((batch) => batch.length)).toEqual([500, 500, 201]);
    expect(summary.counts.other).toBe(1201);
    expect(store.items).toEqual([]);
  });

  it("keeps the control item alone when it has no version, and counts it", async () => {
    const store = new MemoryErasureStore(CUSTOMER);
    store.items = [{ kind: "managed_control", key: key("CTL"), version: null }];
    const summary = await eraseCustomerData({ store, queues: [] }, { customerId: CUSTOMER, dryRun: false });
    expect(store.controlKept).toEqual([]);
    expect(summary.counts.other).toBe(1);
    expect(store.deleted).toEqual([]);
  });

  it("reports a queue it could not read to the end, releases what it kept, and goes on with the next", async () => {
    const store = customerStore();
    const { dead, list } = queues();
    dead.failAfter = 3;
    const second = new MemoryParkedQueue("unroutable", [JSON.stringify({ customer_id: CUSTOMER, data: {} })]);
    const summary = await eraseCustomerData(
      { store, queues: [...list, { queue: second, ownerOf: (list[0] as (typeof list)[number]).ownerOf }] },
      { customerId: CUSTOMER, dryRun: false },
    );
    expect(summary.queueFailures).toEqual([{ queue: "dead-letters", error: "dead-letters unavailable" }]);
    expect(summary.counts.queueMessages).toBe(3);
    expect(summary.messagesRead).toBe(4);
    expect(dead.released).toEqual([[{ body: JSON.stringify({ customer_id: OTHER, data: { id: CALL } }) }]]);
    expect(second.messages).toEqual([]);
  });

  it("names a queue failure that is not an Error by its text", async () => {
    const broken = {
      name: "router-failures",
      async *read(): AsyncIterable<{ body: string }> {
        yield* [];
        throw "socket closed";
      },
      delete: async () => undefined,
      release: async () => undefined,
    };
    const summary = await eraseCustomerData(
      { store: new MemoryErasureStore(CUSTOMER), queues: [{ queue: broken, ownerOf: () => null }] },
      { customerId: CUSTOMER, dryRun: true },
    );
    expect(summary.queueFailures).toEqual([{ queue: "router-failures", error: "socket closed" }]);
  });
});

describe("erasing one resource of a customer", () => {
  it("deletes only the events naming it, their deliveries, attempts and shadow records, and its messages", async () => {
    const store = customerStore();
    const { dead, list } = queues();
    const summary = await eraseCustomerData(
      { store, queues: list },
      { customerId: CUSTOMER, resourceId: CALL, dryRun: false },
    );
    expect(summary.resourceId).toBe(CALL);
    expect(summary.counts).toEqual({
      subscriptions: 0,
      deliveries: 1,
      attempts: 2,
      payloads: 1,
      shadow: 1,
      activeflowDestinations: 0,
      credentials: 0,
      other: 0,
      queueMessages: 1,
    });
    expect(remaining(store)).toEqual([
      "SUB#1",
      "DLV#b",
      "EVT#e-other",
      "EVT#old",
      "SHD#2",
      "AFD#flow-1",
      "AFD#flow-2",
      "KEY#1",
      "CTL",
      "QUOTA#1",
    ]);
    expect(store.attempts.get("b")).toHaveLength(1);
    expect(store.controlKept).toEqual([]);
    expect(dead.messages).toHaveLength(3);
  });

  it("takes an activeflow's destination and the messages of its events", async () => {
    const store = customerStore();
    const { dead, list } = queues();
    const summary = await eraseCustomerData(
      { store, queues: list },
      { customerId: CUSTOMER, resourceId: "flow-2", dryRun: false },
    );
    expect(summary.counts).toMatchObject({
      activeflowDestinations: 1,
      payloads: 0,
      deliveries: 0,
      queueMessages: 1,
    });
    expect(remaining(store)).not.toContain("AFD#flow-2");
    expect(remaining(store)).toContain("AFD#flow-1");
    expect(dead.messages.map((m) => m.body)).not.toContain(
      JSON.stringify({ customer_id: CUSTOMER, data: { activeflow_id: "flow-2" } }),
    );
  });
});

describe("the pass over deleted customers", () => {
  it("erases a due customer whole, page by page, and closes its request", async () => {
    const store = customerStore();
    const requests = new MemoryErasureRequests();
    await requests.request(CUSTOMER, new Date(NOW.getTime() - 1000), NOW);
    await requests.request(OTHER, new Date(NOW.getTime() + 86_400_000), NOW);
    const result = await erasePendingCustomers({
      store,
      requests,
      now: NOW,
      deadlineMs: Date.now() + 60_000,
    });
    expect(result).toEqual({ erased: [CUSTOMER], resumable: [], itemsDeleted: 12 + 3 });
    expect(remaining(store)).toEqual(["CTL"]);
    expect(store.controlKept).toEqual([{ customerId: CUSTOMER, version: "v7", now: NOW.toISOString() }]);
    expect(requests.finished).toEqual([CUSTOMER]);
    expect([...requests.pending.keys()]).toEqual([OTHER]);
  });

  it("leaves a control item without a version as it is", async () => {
    const store = new MemoryErasureStore(CUSTOMER);
    store.items = [
      { kind: "managed_control", key: key("CTL"), version: null },
      { kind: "subscription", key: key("SUB#1") },
    ];
    const requests = new MemoryErasureRequests();
    await requests.request(CUSTOMER, NOW, NOW);
    const result = await erasePendingCustomers({
      store,
      requests,
      now: NOW,
      deadlineMs: Date.now() + 60_000,
    });
    expect(result).toEqual({ erased: [CUSTOMER], resumable: [], itemsDeleted: 1 });
    expect(store.controlKept).toEqual([]);
    expect(remaining(store)).toEqual(["CTL"]);
  });

  it("stops at the deadline after the page in hand and resumes where it stopped", async () => {
    const store = customerStore();
    const requests = new MemoryErasureRequests();
    await requests.request(CUSTOMER, NOW, NOW);
    const first = await erasePendingCustomers({ store, requests, now: NOW, deadlineMs: Date.now() - 1 });
    expect(first).toEqual({ erased: [], resumable: [CUSTOMER], itemsDeleted: 0 });
    expect(store.deleted).toEqual([]);

    // One page, then out of time: the cursor is saved and the next pass starts after it.
    let deadline = Date.now() + 60_000;
    const saveCursor = requests.saveCursor.bind(requests);
    requests.saveCursor = async (customerId, cursor) => {
      deadline = 0;
      return saveCursor(customerId, cursor);
    };
    const second = await erasePendingCustomers({
      store,
      requests,
      now: NOW,
      get deadlineMs() {
        return deadline;
      },
    });
    // The first page in key order: two activeflow destinations and the control item, which stays.
    expect(second).toEqual({ erased: [], resumable: [CUSTOMER], itemsDeleted: 2 });
    expect(requests.pending.get(CUSTOMER)?.cursor).toBe("CTL");

    requests.saveCursor = saveCursor;
    const third = await erasePendingCustomers({ store, requests, now: NOW, deadlineMs: Date.now() + 60_000 });
    expect(third.erased).toEqual([CUSTOMER]);
    expect(remaining(store)).toEqual(["CTL"]);
  });

  it("stops erasing a customer whose request was withdrawn (it came back) and neither closes nor resumes it", async () => {
    const store = customerStore();
    const requests = new MemoryErasureRequests();
    await requests.request(CUSTOMER, NOW, NOW);
    requests.saveCursor = async () => false;
    const result = await erasePendingCustomers({
      store,
      requests,
      now: NOW,
      deadlineMs: Date.now() + 60_000,
    });
    expect(result).toEqual({ erased: [], resumable: [], itemsDeleted: 2 });
    expect(store.items).toHaveLength(11);
    expect(requests.finished).toEqual([]);
  });
});
