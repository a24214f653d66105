import { describe, expect, it } from "vitest";
import { DestinationPolicy } from "#shared/domain/subscriptions/destination-policy.ts";
import {
  ConcurrentModificationError,
  InvalidInputError,
  ManagedSubscriptionError,
  ResourceNotFoundError,
  SubscriptionLimitReachedError,
} from "#shared/domain/subscriptions/errors.ts";
import { newSubscription, type SubscriptionWithSecrets } from "#shared/domain/subscriptions/subscription.ts";
import type { CreateSubscriptionInput } from "#shared/domain/subscriptions/validation.ts";
import { ActiveflowDestinationService } from "#shared/services/activeflow-destinations.ts";
import { SubscriptionService } from "#shared/services/subscriptions.ts";
import { testResolver } from "../support/api.ts";
import { MemorySubscriptions } from "../support/memory-stores.ts";

/**
 * The subscriptions use case over an in-memory store: what the API answers and what it stores.
 * Mutants left alive on purpose (equivalent): the rethrow of an error that is not about the URL in
 * `checkUrl`/`urlProblem` (checkDestination turns every resolver failure into one of the four URL
 * errors, so nothing else reaches them), `patch.status !== undefined` (both branches inside compare
 * the status again), and `last !== undefined` (a page that has more is never empty).
 */

const NOW = new Date("2026-12-01T10:00:00.000Z");
const CUSTOMER = "0190a000-0000-7000-8000-000000000001";
const OTHER = "0190a000-0000-7000-8000-000000000002";

function service(options: { allowHttp?: boolean; limit?: number; clock?: () => Date } = {}) {
  const store = new MemorySubscriptions();
  const subscriptions = new SubscriptionService({
    repository: store,
    policy: new DestinationPolicy({ allowHttp: options.allowHttp ?? false, allowedCidrs: [] }),
    resolver: testResolver,
    settings: {
      maxSubscriptionsPerCustomer: options.limit ?? 3,
      secretRotationOverlapSeconds: 3600,
      autoDisableAfterSeconds: 86_400,
    },
    now: options.clock ?? (() => NOW),
  });
  return { store, subscriptions };
}

const input = (fields: Partial<CreateSubscriptionInput> = {}): CreateSubscriptionInput => ({
  url: "https://hooks.example.com/in",
  method: "POST",
  event_types: ["call_*"],
  status: "enabled",
  ...fields,
});

function seed(store: MemorySubscriptions, fields: Partial<SubscriptionWithSecrets> = {}) {
  const subscription = newSubscription(
    { customer_id: CUSTOMER, url: "https://hooks.example.com/in", ...fields },
    new Date("2026-11-01T00:00:00.000Z"),
  );
  store.items.set(`${subscription.customer_id}/${subscription.id}`, subscription);
  return subscription;
}

async function problems(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidInputError);
  return (error as InvalidInputError).problems;
}

describe("creating a subscription", () => {
  it("stores exactly what the customer asked for, enabled, with a fresh secret and the request's time", async () => {
    const { store, subscriptions } = service();
    const created = await subscriptions.create(CUSTOMER, input({ method: "PUT" }));
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7/),
      customer_id: CUSTOMER,
      url: "https://hooks.example.com/in",
      method: "PUT",
      event_types: ["call_*"],
      activeflow_id: null,
      description: null,
      headers: {},
      status: "enabled",
      disabled_reason: null,
      created_at: NOW.toISOString(),
      updated_at: NOW.toISOString(),
      failing_since: null,
      secret: expect.stringMatching(/^whsec_/),
      previous_secret: null,
      previous_secret_expires_at: null,
    });
    // The id's UUIDv7 time is the request's: ids sort by creation.
    expect(Number.parseInt(created.id.replaceAll("-", "").slice(0, 12), 16)).toBe(NOW.getTime());
    expect(store.items.get(`${CUSTOMER}/${created.id}`)).toEqual(created);
    expect(store.slots.get(CUSTOMER)).toBe(1);
    const second = await subscriptions.create(CUSTOMER, input());
    expect(second.secret).not.toBe(created.secret);
  });

  it("keeps the optional fields given, and a subscription created disabled is disabled by hand", async () => {
    const { subscriptions } = service();
    const filter = { status: "hangup" };
    const created = await subscriptions.create(
      CUSTOMER,
      input({
        activeflow_id: "0190a000-0000-7000-8000-0000000000af",
        description: "calls",
        headers: { "x-team": "ops" },
        filter,
        status: "disabled",
      }),
    );
    expect(created).toMatchObject({
      activeflow_id: "0190a000-0000-7000-8000-0000000000af",
      description: "calls",
      headers: { "x-team": "ops" },
      filter,
      status: "disabled",
      disabled_reason: "manual",
    });
    const cleared = await subscriptions.create(CUSTOMER, input({ filter: null, headers: null }));
    expect("filter" in cleared).toBe(false);
    expect("filter" in (await subscriptions.create(CUSTOMER, input()))).toBe(false);
    expect(cleared.headers).toEqual({});
  });

  it("refuses a URL that is blocked, does not resolve or breaks the deployment's scheme rule, naming the field", async () => {
    const { store, subscriptions } = service();
    expect(await problems(subscriptions.create(CUSTOMER, input({ url: "https://x.blocked.test/" })))).toEqual(
      [{ path: "url", message: "host is or resolves to a blocked address" }],
    );
    expect(
      await problems(subscriptions.create(CUSTOMER, input({ url: "https://a.nxdomain.test/" }))),
    ).toEqual([{ path: "url", message: "host does not resolve (ENOTFOUND)" }]);
    const [scheme] = await problems(
      subscriptions.create(CUSTOMER, input({ url: "http://hooks.example.com/" })),
    );
    expect(scheme?.path).toBe("url");
    expect(scheme?.message).toMatch(/https/);
    // Nothing stored, no slot taken.
    expect(store.items.size).toBe(0);
    expect(store.calls).toEqual([]);
  });

  it("answers the limit once every slot is taken, and gives the slot back when the write fails", async () => {
    const { store, subscriptions } = service({ limit: 2 });
    await subscriptions.create(CUSTOMER, input());
    await subscriptions.create(CUSTOMER, input());
    const refused = await subscriptions.create(CUSTOMER, input()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SubscriptionLimitReachedError);
    expect((refused as SubscriptionLimitReachedError).message).toContain("at most 2 subscriptions");
    // Another customer's slots are its own.
    await subscriptions.create(OTHER, input());

    const failing = service({ limit: 2 });
    failing.store.create = async () => {
      throw new Error("table unavailable");
    };
    await expect(failing.subscriptions.create(CUSTOMER, input())).rejects.toThrow("table unavailable");
    expect(failing.store.slots.get(CUSTOMER)).toBe(0);
    expect(failing.store.calls).toEqual(["reserveSlot", "releaseSlot"]);
    expect(store.slots.get(CUSTOMER)).toBe(2);
  });
});

describe("reading subscriptions", () => {
  it("answers one without its secrets, and 404 for another customer's or a missing one", async () => {
    const { store, subscriptions } = service();
    const stored = seed(store, {
      previous_secret: "whsec_old",
      previous_secret_expires_at: NOW.toISOString(),
    });
    const read = await subscriptions.get(CUSTOMER, stored.id);
    const { secret: _s, previous_secret: _p, previous_secret_expires_at: _e, ...visible } = stored;
    expect(read).toEqual(visible);
    expect(await subscriptions.getSecret(CUSTOMER, stored.id)).toBe(stored.secret);
    await expect(subscriptions.get(OTHER, stored.id)).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(subscriptions.getSecret(OTHER, stored.id)).rejects.toThrow("subscription not found");
  });

  it("pages by id, the next page starting after the last one shown, and no cursor on the last page", async () => {
    const { store, subscriptions } = service();
    const ids = [seed(store), seed(store), seed(store), seed(store)].map((s) => s.id).sort();
    seed(store, { customer_id: OTHER });
    const first = await subscriptions.list(CUSTOMER, { limit: 3 });
    expect(first.items.map((s) => s.id)).toEqual(ids.slice(0, 3));
    expect(first.nextAfterId).toBe(ids[2]);
    expect(first.items.every((s) => !("secret" in s))).toBe(true);
    const last = await subscriptions.list(CUSTOMER, { limit: 3, afterId: first.nextAfterId ?? "" });
    expect(last.items.map((s) => s.id)).toEqual(ids.slice(3));
    expect(last.nextAfterId).toBeNull();
    expect(await subscriptions.list("0190a000-0000-7000-8000-0000000000ff", { limit: 2 })).toEqual({
      items: [],
      nextAfterId: null,
    });
  });

  it("shows a failing streak of an enabled subscription with when auto-disable ends it, and none otherwise", () => {
    const { subscriptions } = service();
    expect(subscriptions.failingOf({ status: "enabled", failing_since: "2026-12-01T00:00:00.000Z" })).toEqual(
      {
        since: "2026-12-01T00:00:00.000Z",
        auto_disable_at: "2026-12-02T00:00:00.000Z",
      },
    );
    expect(subscriptions.failingOf({ status: "enabled", failing_since: null })).toBeNull();
    expect(
      subscriptions.failingOf({ status: "disabled", failing_since: "2026-12-01T00:00:00.000Z" }),
    ).toBeNull();
  });

  it("lists a URL's form problems without DNS, and none for a non-string or a good URL", () => {
    const { subscriptions } = service();
    expect(subscriptions.urlFormProblems(42)).toEqual([]);
    expect(subscriptions.urlFormProblems("https://hooks.example.com/x")).toEqual([]);
    // A name that would not resolve is not a form problem: DNS is create time's business.
    expect(subscriptions.urlFormProblems("https://a.nxdomain.test/")).toEqual([]);
    expect(subscriptions.urlFormProblems("https://127.0.0.1/")).toEqual([
      { path: "url", message: "host is or resolves to a blocked address" },
    ]);
    const [problem] = subscriptions.urlFormProblems("ftp://hooks.example.com/");
    expect(problem?.path).toBe("url");
    expect(problem?.message.length).toBeGreaterThan(0);
  });
});

describe("changing a subscription", () => {
  it("changes only the fields given, clears those set to null, and stamps the change", async () => {
    const { store, subscriptions } = service();
    const stored = seed(store, { description: "old", headers: { "x-a": "1" }, activeflow_id: null });
    const updated = await subscriptions.update(CUSTOMER, stored.id, {
      url: "https://other.example.com/in",
      method: "PUT",
      event_types: ["message_*"],
      description: null,
      headers: { "x-b": "2" },
    });
    expect(updated).toMatchObject({
      id: stored.id,
      url: "https://other.example.com/in",
      method: "PUT",
      event_types: ["message_*"],
      description: null,
      headers: { "x-b": "2" },
      status: "enabled",
      created_at: stored.created_at,
      updated_at: NOW.toISOString(),
    });
    expect("secret" in updated).toBe(false);
    // What the store was asked to write: a cleared field is removed, not set to null.
    expect(store.changes).toEqual([
      {
        set: {
          url: "https://other.example.com/in",
          method: "PUT",
          event_types: ["message_*"],
          headers: { "x-b": "2" },
          updated_at: NOW.toISOString(),
        },
        remove: ["description"],
      },
    ]);
    const unchanged = await subscriptions.update(CUSTOMER, stored.id, { description: "new" });
    expect(unchanged.url).toBe("https://other.example.com/in");
    expect(unchanged.method).toBe("PUT");
    expect(unchanged.event_types).toEqual(["message_*"]);
    expect(unchanged.headers).toEqual({ "x-b": "2" });
  });

  it("re-enabling clears the reason and the failing clock; disabling by hand records `manual`", async () => {
    const { store, subscriptions } = service();
    const failed = seed(store, {
      status: "disabled",
      disabled_reason: "failing",
      failing_since: "2026-11-30T00:00:00.000Z",
    });
    const enabled = await subscriptions.update(CUSTOMER, failed.id, { status: "enabled" });
    expect(enabled).toMatchObject({ status: "enabled", disabled_reason: null, failing_since: null });
    const disabled = await subscriptions.update(CUSTOMER, failed.id, { status: "disabled" });
    expect(disabled).toMatchObject({ status: "disabled", disabled_reason: "manual" });

    // Disabling what the system disabled keeps the system's reason; enabling the enabled keeps its clock.
    const gone = seed(store, { status: "disabled", disabled_reason: "endpoint_gone" });
    expect(await subscriptions.update(CUSTOMER, gone.id, { status: "disabled" })).toMatchObject({
      status: "disabled",
      disabled_reason: "endpoint_gone",
    });
    const streak = seed(store, { failing_since: "2026-11-30T00:00:00.000Z" });
    expect(await subscriptions.update(CUSTOMER, streak.id, { status: "enabled" })).toMatchObject({
      status: "enabled",
      failing_since: "2026-11-30T00:00:00.000Z",
    });
  });

  it("checks a new URL like create does, and leaves the subscription as it was when refused", async () => {
    const { store, subscriptions } = service();
    const stored = seed(store);
    expect(
      await problems(subscriptions.update(CUSTOMER, stored.id, { url: "https://x.blocked.test/" })),
    ).toEqual([{ path: "url", message: "host is or resolves to a blocked address" }]);
    expect(store.items.get(`${CUSTOMER}/${stored.id}`)).toEqual(stored);
  });

  it("answers 404 for another customer's, and refuses every change to a managed one", async () => {
    const { store, subscriptions } = service();
    const stored = seed(store);
    await expect(subscriptions.update(OTHER, stored.id, { description: "x" })).rejects.toBeInstanceOf(
      ResourceNotFoundError,
    );
    const managed = seed(store, { managed_by: "voipbin" });
    for (const attempt of [
      () => subscriptions.update(CUSTOMER, managed.id, { description: "x" }),
      () => subscriptions.delete(CUSTOMER, managed.id),
      () => subscriptions.rotateSecret(CUSTOMER, managed.id),
    ]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ManagedSubscriptionError);
      expect((error as Error).message).toContain("managed by voipbin");
    }
    expect(store.items.get(`${CUSTOMER}/${managed.id}`)).toEqual(managed);
  });

  it("answers 404 when the subscription goes between the read and the write", async () => {
    const { store, subscriptions } = service();
    const stored = seed(store);
    store.update = async () => null;
    await expect(subscriptions.update(CUSTOMER, stored.id, { description: "x" })).rejects.toThrow(
      new ResourceNotFoundError("subscription"),
    );
  });
});

describe("deleting a subscription", () => {
  it("removes it and gives its slot back; a second delete and another customer's answer 404", async () => {
    const { store, subscriptions } = service({ limit: 1 });
    const created = await subscriptions.create(CUSTOMER, input());
    await expect(subscriptions.delete(OTHER, created.id)).rejects.toBeInstanceOf(ResourceNotFoundError);
    await subscriptions.delete(CUSTOMER, created.id);
    expect(store.items.size).toBe(0);
    expect(store.slots.get(CUSTOMER)).toBe(0);
    await expect(subscriptions.delete(CUSTOMER, created.id)).rejects.toBeInstanceOf(ResourceNotFoundError);
    // The slot is free again: a limit of one admits a new subscription.
    await subscriptions.create(CUSTOMER, input());
  });

  it("keeps the slot when the store found nothing to delete (a concurrent delete gave it back)", async () => {
    const { store, subscriptions } = service();
    const stored = seed(store);
    store.slots.set(CUSTOMER, 1);
    store.delete = async () => false;
    await expect(subscriptions.delete(CUSTOMER, stored.id)).rejects.toThrow("subscription not found");
    expect(store.slots.get(CUSTOMER)).toBe(1);
  });
});

describe("rotating a secret", () => {
  it("signs with the new secret and keeps the old one for the overlap", async () => {
    const { store, subscriptions } = service();
    const stored = seed(store);
    const secret = await subscriptions.rotateSecret(CUSTOMER, stored.id);
    expect(secret).toMatch(/^whsec_/);
    expect(store.items.get(`${CUSTOMER}/${stored.id}`)).toMatchObject({
      secret,
      previous_secret: stored.secret,
      previous_secret_expires_at: "2026-12-01T11:00:00.000Z",
      updated_at: NOW.toISOString(),
    });
  });

  it("retries a lost race up to three times, then answers a concurrent modification", async () => {
    const { store, subscriptions } = service();
    const stored = seed(store);
    store.rotationOutcomes.push("conflict", "conflict");
    const secret = await subscriptions.rotateSecret(CUSTOMER, stored.id);
    expect(store.items.get(`${CUSTOMER}/${stored.id}`)?.secret).toBe(secret);
    expect(store.calls.filter((c) => c === "rotateSecret")).toHaveLength(3);

    store.rotationOutcomes.push("conflict", "conflict", "conflict");
    const error = await subscriptions.rotateSecret(CUSTOMER, stored.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrentModificationError);
    expect((error as Error).message).toBe("the subscription's secret was changed concurrently; try again");
    expect(store.items.get(`${CUSTOMER}/${stored.id}`)?.secret).toBe(secret);

    store.rotationOutcomes.push("not_found");
    await expect(subscriptions.rotateSecret(CUSTOMER, stored.id)).rejects.toBeInstanceOf(
      ResourceNotFoundError,
    );
    await expect(subscriptions.rotateSecret(OTHER, stored.id)).rejects.toBeInstanceOf(ResourceNotFoundError);
  });
});

describe("listing activeflow destinations", () => {
  it("asks the store for the page at the clock's time, with the caller's limit and cursor", async () => {
    const asked: unknown[] = [];
    const service = new ActiveflowDestinationService({
      repository: {
        listPage: async (customerId, options) => {
          asked.push({ customerId, ...options });
          return { items: [], nextAfterId: null };
        },
      },
      now: () => NOW,
    });
    expect(await service.list(CUSTOMER, { limit: 5, afterId: "a" })).toEqual({
      items: [],
      nextAfterId: null,
    });
    expect(asked).toEqual([{ customerId: CUSTOMER, limit: 5, afterId: "a", now: NOW }]);
    // Without an injected clock: the machine's.
    const system = new ActiveflowDestinationService({
      repository: {
        listPage: async (_customerId, options) => {
          asked.push(options.now);
          return { items: [], nextAfterId: null };
        },
      },
    });
    const before = Date.now();
    await system.list(CUSTOMER, { limit: 1 });
    expect((asked.at(-1) as Date).getTime()).toBeGreaterThanOrEqual(before);
  });
});
