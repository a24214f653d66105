import type { DeliveryJob } from "../domain/delivery/job.ts";
import { UnroutableEventError } from "../domain/errors.ts";
import { warningSubjectOf } from "../domain/events/operational.ts";
import { BUILT_IN_CATALOGUE, type EventCatalogue } from "../domain/events/runtime-catalogue.ts";
import {
  MAX_DETAIL_DEPTH,
  parseRoutableEvent,
  type RoutableEvent,
  webhookBody,
} from "../domain/events/schemas.ts";
import { deriveDeliveryIds } from "../domain/ids.ts";
import { cutBelowDepth, nestsDeeperThan } from "../domain/json.ts";
import { type Clock, systemClock } from "../domain/ports/clock.ts";
import type { DeliveryRepository } from "../domain/ports/deliveries.ts";
import type { ErasureRequests } from "../domain/ports/erasure.ts";
import type { DeliveryQueue, UnroutableQueue } from "../domain/ports/queues.ts";
import type {
  ActiveflowDestinationRepository,
  ManagedChange,
  ManagedSubscriptionRepository,
  RoutingSubscription,
} from "../domain/ports/subscriptions.ts";
import {
  type ActiveflowTarget,
  activeflowDestinationId,
  activeflowIdOf,
  activeflowTargetOf,
  isActiveflowEvent,
  parseActiveflowVersion,
} from "../domain/subscriptions/activeflow.ts";
import {
  INVALID_CONTROL_EVENT,
  InvalidCustomerControlError,
  isCustomerControlEvent,
  parseCustomerVersion,
} from "../domain/subscriptions/managed.ts";
import { subscriptionMatches } from "../domain/subscriptions/subscription.ts";

export interface RouterDependencies {
  readonly subscriptions: { listForRouting(customerId: string): Promise<RoutingSubscription[]> };
  readonly deliveryQueue: Pick<DeliveryQueue, "enqueue">;
  readonly unroutableQueue: Pick<UnroutableQueue, "send">;
  /** Stores the event's body once for all its deliveries (manual retries and recoveries resend it). */
  readonly payloads: Pick<DeliveryRepository, "putPayload">;
  /** Keeps managed legacy subscriptions in step with VoIPBIN's customer control events (PRODUCT §11). */
  readonly managed: Pick<ManagedSubscriptionRepository, "apply">;
  /** Activeflow destinations (PRODUCT §11): kept from the flow-manager's events, looked up by key. */
  readonly activeflows: Pick<ActiveflowDestinationRepository, "apply" | "lookup" | "putInline">;
  readonly retentionDays: number;
  /**
   * Where a `customer_deleted` schedules the erasure of the customer's data, `erasureGraceDays` later
   * (docs/security.md). Absent: nothing is scheduled (tests of routing alone).
   */
  readonly erasures?: Pick<ErasureRequests, "request" | "cancel">;
  readonly erasureGraceDays?: number;
  /**
   * The catalogue for an event's type: built in, or added by an operator at run time (read only for
   * types that are not built in; shared/services/event-catalogue.ts). Absent: the built-in one.
   */
  readonly catalogue?: { forType(type: string): Promise<EventCatalogue> };
  readonly now?: Clock;
}

export type RouteOutcome =
  | {
      readonly kind: "routed";
      readonly eventId: string;
      readonly type: string;
      readonly customerId: string;
      readonly subscriptions: number;
      readonly matched: number;
      /** Present on a shadow event (PRODUCT §11): its jobs are recorded, never sent. */
      readonly shadow?: true;
    }
  | {
      /** A customer control event: applied to the customer's managed subscription, never delivered. */
      readonly kind: "control";
      readonly eventId: string;
      readonly type: string;
      readonly customerId: string;
      readonly change: ManagedChange;
    }
  | {
      readonly kind: "unroutable";
      readonly eventId: string | null;
      readonly reason: string;
      readonly details: readonly string[];
    };

/**
 * One delivery job per matching subscription; ids derived from (event id, event time, subscription),
 * so a retried or redriven router (which sees the same event, time included) repeats them.
 */
export function buildDeliveryJobs(
  event: RoutableEvent,
  subscriptions: readonly RoutingSubscription[],
  catalogue: EventCatalogue = BUILT_IN_CATALOGUE,
  destination: ActiveflowDestination | null = null,
): DeliveryJob[] {
  // A warning is never sent to the subscription it is about (PRODUCT §12).
  const subject = warningSubjectOf(event.type, event.data);
  const matching = subscriptions.filter(
    (subscription) =>
      subscription.id !== subject && subscriptionMatches(subscription, event.type, event.data, catalogue),
  );
  if (matching.length === 0 && destination === null) return [];
  const payload = webhookBody(event.type, event.data);
  const createdAt = eventTimeOf(event);
  const jobFor = (subscriptionId: string): DeliveryJob => {
    const { deliveryId, webhookId } = deriveDeliveryIds(event.id, subscriptionId, createdAt);
    return {
      v: 1,
      delivery_id: deliveryId,
      webhook_id: webhookId,
      subscription_id: subscriptionId,
      customer_id: event.customerId,
      event_id: event.id,
      event_type: event.type,
      payload,
      ...(event.shadow ? { shadow: true as const } : {}),
    };
  };
  const jobs = matching.map((subscription) => jobFor(subscription.id));
  if (destination !== null) {
    jobs.push({
      ...jobFor(activeflowDestinationId(destination.activeflowId)),
      destination: {
        kind: "activeflow",
        activeflow_id: destination.activeflowId,
        url: destination.target.url,
        method: destination.target.method,
      },
    });
  }
  return jobs;
}

/** Where an event's activeflow also wants its events (PRODUCT §11). */
export interface ActiveflowDestination {
  readonly activeflowId: string;
  readonly target: ActiveflowTarget;
}

/**
 * Keeps activeflow destinations in step with the flow-manager's events, and finds the destination of
 * the event's own activeflow: one GetItem, and only for an event whose data names an activeflow. An
 * activeflow nothing is known of yet takes the destination the event carries inline (the race of a
 * call event arriving before `activeflow_created`).
 */
async function activeflowDestinationOf(
  event: RoutableEvent,
  deps: RouterDependencies,
  now: Date,
  signable: boolean,
): Promise<ActiveflowDestination | null> {
  if (isActiveflowEvent(event.source, event.type)) {
    const version = parseActiveflowVersion(event.type, event.data);
    if (version !== null) await deps.activeflows.apply(event.customerId, version, now);
  }
  const activeflowId = activeflowIdOf(event.data);
  if (activeflowId === null || !signable) return null;
  const found = await deps.activeflows.lookup(event.customerId, activeflowId, now);
  if (found === "none") return null;
  if (found !== "unknown") return { activeflowId, target: found };
  const inline = event.activeflowWebhook
    ? activeflowTargetOf(event.activeflowWebhook.uri, event.activeflowWebhook.method)
    : null;
  if (inline === null) return null;
  await deps.activeflows.putInline(event.customerId, activeflowId, inline, now);
  return { activeflowId, target: inline };
}

/** The event's `time` (EventBridge sets it when the event is put; the envelope schema checks it parses). */
export const eventTimeOf = (event: RoutableEvent): Date => new Date(event.time);

/**
 * Routes one EventBridge event: unroutable events are parked with their reason (and not retried);
 * routable ones become one delivery job per matching, enabled subscription. Throws when jobs could
 * not be enqueued, so that the invocation is retried.
 */
export async function routeEvent(input: unknown, deps: RouterDependencies): Promise<RouteOutcome> {
  const now = deps.now ?? systemClock;
  let event: RoutableEvent;
  let catalogue = BUILT_IN_CATALOGUE;
  try {
    const control = controlEventOf(input);
    const type =
      typeof input === "object" && input !== null
        ? (input as Record<string, unknown>)["detail-type"]
        : undefined;
    if (deps.catalogue !== undefined && typeof type === "string")
      catalogue = await deps.catalogue.forType(type);
    if (control !== null) {
      const applied = await applyControlEvent(control, deps, now());
      // Delivered as well only if an operator made the type customer-facing (PRODUCT §11).
      if (!catalogue.has(control.type)) return applied;
    }
    event = parseRoutableEvent(input, catalogue);
  } catch (error) {
    if (!(error instanceof UnroutableEventError)) throw error;
    const eventId =
      typeof input === "object" && input !== null && typeof (input as { id?: unknown }).id === "string"
        ? (input as { id: string }).id
        : null;
    await deps.unroutableQueue.send({
      reason: error.reason,
      details: error.details,
      received_at: now().toISOString(),
      // Parked whole when it can be serialised; a too-deep event with its deepest parts cut off.
      event: cutBelowDepth(input, MAX_DETAIL_DEPTH + 1),
    });
    return { kind: "unroutable", eventId, reason: error.reason, details: error.details };
  }
  const subscriptions = await deps.subscriptions.listForRouting(event.customerId);
  // An activeflow destination signs with the customer's managed legacy subscription: a customer
  // without one pays no lookup (PRODUCT §11: at most one key read per routed event).
  const destination = await activeflowDestinationOf(
    event,
    deps,
    now(),
    subscriptions.some((subscription) => subscription.delivery_profile === "legacy"),
  );
  const jobs = buildDeliveryJobs(event, subscriptions, catalogue, destination);
  const first = jobs[0];
  if (first !== undefined) {
    // Before the jobs: a job on the queue always has its body stored (a retried router rewrites it).
    // A shadow event is never retried or recovered: its body is recorded by its hash only.
    if (!event.shadow)
      await deps.payloads.putPayload(
        event.customerId,
        event.id,
        first.payload,
        now(),
        deps.retentionDays,
        eventTimeOf(event),
      );
    await deps.deliveryQueue.enqueue(jobs);
  }
  return {
    kind: "routed",
    eventId: event.id,
    type: event.type,
    customerId: event.customerId,
    subscriptions: subscriptions.length,
    matched: jobs.length,
    ...(event.shadow ? { shadow: true as const } : {}),
  };
}

interface ControlEvent {
  readonly id: string;
  readonly type: "customer_created" | "customer_updated" | "customer_deleted";
  readonly detail: unknown;
}

/**
 * A customer control event (source `voipbin.customer-manager`, PRODUCT §11), or null for any other
 * event. These types are not in the customer catalogue, so they are recognised before the catalogue
 * check and never become deliveries.
 */
function controlEventOf(input: unknown): ControlEvent | null {
  if (typeof input !== "object" || input === null) return null;
  const envelope = input as Record<string, unknown>;
  const type = envelope["detail-type"];
  if (!isCustomerControlEvent(envelope.source, type)) return null;
  if (nestsDeeperThan(input, MAX_DETAIL_DEPTH + 1)) return null; // parseRoutableEvent parks it as too_deep
  if (typeof envelope.id !== "string" || envelope.id === "") {
    throw new UnroutableEventError(INVALID_CONTROL_EVENT, ["id: must be a non-empty string"]);
  }
  return { id: envelope.id, type, detail: envelope.detail };
}

async function applyControlEvent(
  event: ControlEvent,
  deps: RouterDependencies,
  now: Date,
): Promise<RouteOutcome> {
  const detail = event.detail;
  if (typeof detail !== "object" || detail === null || Array.isArray(detail)) {
    throw new UnroutableEventError(INVALID_CONTROL_EVENT, ["detail: must be an object {customer_id, data}"]);
  }
  const { customer_id: customerId, data } = detail as Record<string, unknown>;
  let control: ReturnType<typeof parseCustomerVersion>;
  try {
    control = parseCustomerVersion(event.type, data, customerId);
  } catch (error) {
    if (error instanceof InvalidCustomerControlError) {
      throw new UnroutableEventError(INVALID_CONTROL_EVENT, error.problems);
    }
    throw error;
  }
  const change = await deps.managed.apply(control, now);
  // A deletion (not an older version arriving late) starts the grace period before erasure.
  if (event.type === "customer_deleted" && change !== "ignored_older" && deps.erasures !== undefined) {
    const graceMs = (deps.erasureGraceDays ?? 0) * 86_400_000;
    await deps.erasures.request(control.customerId, new Date(now.getTime() + graceMs), now);
  }
  // A customer created again by a version newer than its deletion is a live customer: a pending
  // erasure would remove the subscription just made, and every delivery to it, when its grace ends.
  if (change === "created" && deps.erasures !== undefined) await deps.erasures.cancel(control.customerId);
  return { kind: "control", eventId: event.id, type: event.type, customerId: control.customerId, change };
}
