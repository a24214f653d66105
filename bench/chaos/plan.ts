import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { EVENT_CATALOGUE } from "#shared/domain/events/catalogue.ts";
import { createRandom, type Random } from "./random.ts";
import type { ReceiverProfile } from "./receivers.ts";
import { type ExpectedDelivery, type PairKey, pairKey } from "./reconcile.ts";

/**
 * The workload of a chaos run, decided up front from a seed: customers, their subscriptions (each
 * pointing at a receiver profile), the events to put on the bus, and — computed here from what was
 * subscribed, with its own reading of the matching rules rather than the router's code — the set of
 * (event, subscription) pairs that must be delivered.
 */

export interface PlannedSubscription {
  readonly id: string;
  readonly customerId: string;
  readonly profile: ReceiverProfile;
  readonly eventTypes: readonly string[];
  readonly activeflowId: string | null;
}

export interface PlannedEvent {
  /** data.chaos_key: how receivers, the DLQ and the on-failure destination name the event. */
  readonly key: string;
  readonly customerId: string;
  readonly type: string;
  readonly source: string;
  readonly data: Record<string, unknown>;
}

export interface WorkloadPlan {
  readonly subscriptions: readonly PlannedSubscription[];
  /** Events of the poison customers first (their routing fails on every attempt), then the rest. */
  readonly events: readonly PlannedEvent[];
  readonly expected: ReadonlyMap<PairKey, ExpectedDelivery>;
  readonly pairsByEvent: ReadonlyMap<string, readonly PairKey[]>;
  readonly poisonCustomers: readonly string[];
}

export interface PlanOptions {
  /** At least this many expected deliveries. */
  readonly targetDeliveries: number;
  readonly customers: number;
  readonly seed: number;
  /** Events of one extra customer whose subscription lookup always fails (0: none). */
  readonly poisonEvents: number;
}

const RESOURCE_BY_TYPE = new Map<string, string>(EVENT_CATALOGUE.map((e) => [e.type, e.resource]));
/** What VoIPBIN services emit: the catalogue without the service's own webhook_* types. */
const EMITTED_TYPES = EVENT_CATALOGUE.map((e) => e.type as string).filter((t) => !t.startsWith("webhook_"));
const RESOURCES = [...new Set(EMITTED_TYPES.map((t) => RESOURCE_BY_TYPE.get(t) as string))];

/** The chaos run's own reading of PRODUCT §3 matching: `*`, exact types, `<resource>_*`, activeflow filter. */
export function expectedToMatch(
  subscription: Pick<PlannedSubscription, "eventTypes" | "activeflowId">,
  type: string,
  data: Record<string, unknown>,
): boolean {
  const resource = RESOURCE_BY_TYPE.get(type);
  if (resource === undefined) return false;
  if (subscription.activeflowId !== null) {
    const activeflow = data.activeflow_id;
    if (typeof activeflow !== "string" || activeflow.toLowerCase() !== subscription.activeflowId)
      return false;
  }
  return subscription.eventTypes.some(
    (pattern) => pattern === "*" || pattern === type || pattern === `${resource}_*`,
  );
}

const FIXTURES = path.resolve(import.meta.dirname, "../../local/fixtures/voipbin-events");

function fixtureData(type: string): Record<string, unknown> | undefined {
  const file = path.join(FIXTURES, `${type}.json`);
  if (!existsSync(file)) return undefined;
  const entry = JSON.parse(readFileSync(file, "utf8")) as { Detail: string };
  return (JSON.parse(entry.Detail) as { data: Record<string, unknown> }).data;
}

const FIXTURE_DATA = new Map(
  EMITTED_TYPES.map((type) => [type, fixtureData(type)] as const).filter(
    (entry): entry is readonly [string, Record<string, unknown>] => entry[1] !== undefined,
  ),
);

function subscriptionsFor(customerId: string, activeflowId: string, index: number, random: Random) {
  const someTypes = (n: number) => Array.from({ length: n }, () => random.pick(EMITTED_TYPES));
  const someResources = (n: number) => Array.from({ length: n }, () => `${random.pick(RESOURCES)}_*`);
  const specs: Omit<PlannedSubscription, "id" | "customerId">[] = [
    { profile: "healthy", eventTypes: ["*"], activeflowId: null },
    { profile: "flaky", eventTypes: ["call_*", "message_*", ...someResources(2)], activeflowId: null },
    { profile: "slow", eventTypes: [...new Set(someTypes(12))], activeflowId: null },
    { profile: "resetting", eventTypes: ["*"], activeflowId },
    { profile: "slow_body", eventTypes: [...new Set(someResources(4))], activeflowId: null },
    { profile: "chaotic", eventTypes: ["*"], activeflowId: null },
  ];
  // The second customer's own endpoint black-holes for the first part of the run (it holds many of
  // its deliveries, as a customer's one webhook does): the others must not notice.
  if (index === 1) specs.push({ profile: "black_hole", eventTypes: ["*"], activeflowId: null });
  // One customer in five also has an endpoint that never answers 2xx.
  if (index % 5 === 0) specs.push({ profile: "always_failing", eventTypes: ["*"], activeflowId: null });
  // Some customers fan out past one SendMessageBatch (10 jobs), so that a failed enqueue can leave
  // part of an event's jobs on the queue and the router's retry enqueues them again.
  if (index % 7 === 1) {
    for (let i = 0; i < 8; i++) specs.push({ profile: "healthy", eventTypes: ["*"], activeflowId: null });
  }
  return specs.map((spec) => ({ ...spec, id: random.uuid(), customerId }));
}

function makeEvent(key: string, customerId: string, activeflowId: string, random: Random): PlannedEvent {
  // Half the events are the bundled samples' types (realistic payloads), half any catalogue type.
  const sampleTypes = [...FIXTURE_DATA.keys()];
  const type =
    random.chance(0.5) && sampleTypes.length > 0 ? random.pick(sampleTypes) : random.pick(EMITTED_TYPES);
  const base = FIXTURE_DATA.get(type) ?? { status: "updated" };
  const roll = random.next();
  const data: Record<string, unknown> = {
    ...base,
    id: random.uuid(),
    customer_id: customerId,
    chaos_key: key,
  };
  if (roll < 0.5) data.activeflow_id = activeflowId;
  else if (roll < 0.7) data.activeflow_id = activeflowId.toUpperCase();
  else if (roll < 0.85) data.activeflow_id = random.uuid();
  else delete data.activeflow_id;
  const resource = RESOURCE_BY_TYPE.get(type) ?? "unknown";
  return { key, customerId, type, source: `voipbin.${resource}-manager`, data };
}

export function planWorkload(options: PlanOptions): WorkloadPlan {
  const random = createRandom(options.seed);
  const customers = Array.from({ length: Math.max(1, options.customers) }, () => ({
    id: random.uuid(),
    activeflowId: random.uuid(),
  }));
  const subscriptions: PlannedSubscription[] = customers.flatMap((customer, i) =>
    subscriptionsFor(customer.id, customer.activeflowId, i, random),
  );
  const poisonCustomers: string[] = [];
  const events: PlannedEvent[] = [];
  const expected = new Map<PairKey, ExpectedDelivery>();
  const pairsByEvent = new Map<string, PairKey[]>();
  const bySubscriptionCustomer = new Map<string, PlannedSubscription[]>();
  const add = (event: PlannedEvent) => {
    events.push(event);
    const pairs: PairKey[] = [];
    for (const subscription of bySubscriptionCustomer.get(event.customerId) ?? []) {
      if (!expectedToMatch(subscription, event.type, event.data)) continue;
      const key = pairKey(event.key, subscription.id);
      pairs.push(key);
      expected.set(key, {
        eventKey: event.key,
        subscriptionId: subscription.id,
        profile: subscription.profile,
      });
    }
    pairsByEvent.set(event.key, pairs);
  };

  if (options.poisonEvents > 0) {
    const poison = { id: random.uuid(), activeflowId: random.uuid() };
    poisonCustomers.push(poison.id);
    subscriptions.push(
      { id: random.uuid(), customerId: poison.id, profile: "healthy", eventTypes: ["*"], activeflowId: null },
      { id: random.uuid(), customerId: poison.id, profile: "flaky", eventTypes: ["*"], activeflowId: null },
    );
    for (const subscription of subscriptions) {
      const list = bySubscriptionCustomer.get(subscription.customerId) ?? [];
      list.push(subscription);
      bySubscriptionCustomer.set(subscription.customerId, list);
    }
    for (let i = 0; i < options.poisonEvents; i++)
      add(makeEvent(`p${i}`, poison.id, poison.activeflowId, random));
  } else {
    for (const subscription of subscriptions) {
      const list = bySubscriptionCustomer.get(subscription.customerId) ?? [];
      list.push(subscription);
      bySubscriptionCustomer.set(subscription.customerId, list);
    }
  }
  for (let i = 0; expected.size < options.targetDeliveries; i++) {
    const customer = random.pick(customers);
    add(makeEvent(`e${i}`, customer.id, customer.activeflowId, random));
  }
  return { subscriptions, events, expected, pairsByEvent, poisonCustomers };
}
