/**
 * The subscriptions of PRODUCT §3 as the API manages them: create, read, list, change, delete, and
 * their secrets. Knows nothing of HTTP: it takes validated input and a customer id, and throws the
 * named errors of ./errors.ts.
 */

import { autoDisableAt } from "../domain/events/operational.ts";
import { uuidv7 } from "../domain/ids.ts";
import { type Clock, systemClock } from "../domain/ports/clock.ts";
import type { SubscriptionChange, SubscriptionRepository } from "../domain/ports/subscriptions.ts";
import { generateSecret } from "../domain/signing.ts";
import {
  type AddressResolver,
  BlockedDestinationError,
  checkDestination,
  type DestinationPolicy,
  InvalidDestinationError,
  ReservedDestinationError,
  UnresolvableDestinationError,
} from "../domain/subscriptions/destination-policy.ts";
import {
  ConcurrentModificationError,
  InvalidInputError,
  ManagedSubscriptionError,
  ResourceNotFoundError,
  SubscriptionLimitReachedError,
} from "../domain/subscriptions/errors.ts";
import type { Subscription, SubscriptionWithSecrets } from "../domain/subscriptions/subscription.ts";
import type { CreateSubscriptionInput, UpdateSubscriptionInput } from "../domain/subscriptions/validation.ts";

export interface SubscriptionSettings {
  readonly maxSubscriptionsPerCustomer: number;
  readonly secretRotationOverlapSeconds: number;
  /** AUTO_DISABLE_AFTER_SECONDS: how long a failing streak lasts before `failing` disables it. */
  readonly autoDisableAfterSeconds: number;
}

/** A subscription's failing streak as the API and portal show it (docs/delivery.md, "Warnings before loss"). */
export interface FailingView {
  readonly since: string;
  readonly auto_disable_at: string;
}

export interface SubscriptionServiceDependencies {
  readonly repository: Pick<
    SubscriptionRepository,
    "get" | "create" | "delete" | "reserveSlot" | "releaseSlot" | "listPage" | "update" | "rotateSecret"
  >;
  readonly policy: DestinationPolicy;
  /** The system resolver (shared/adapters/destination-policy.ts) unless a test or the local stack injects one. */
  readonly resolver: AddressResolver;
  readonly settings: SubscriptionSettings;
  readonly now?: Clock | undefined;
}

export interface SubscriptionPage {
  readonly items: Subscription[];
  /** The id the next page starts after; null on the last page. */
  readonly nextAfterId: string | null;
}

const ROTATION_ATTEMPTS = 3;

/** The message a client sees for a refused URL; never which internal address a name resolved to. */
function urlProblem(error: unknown): string {
  if (error instanceof InvalidDestinationError || error instanceof ReservedDestinationError) {
    return error.message;
  }
  if (error instanceof BlockedDestinationError) return "host is or resolves to a blocked address";
  if (error instanceof UnresolvableDestinationError) return `host does not resolve (${error.code})`;
  throw error;
}

/** Strips the secrets (and nothing else) off a stored subscription. */
function withoutSecrets(subscription: SubscriptionWithSecrets): Subscription {
  const {
    secret: _secret,
    previous_secret: _previous,
    previous_secret_expires_at: _until,
    ...rest
  } = subscription;
  return rest;
}

export class SubscriptionService {
  constructor(private readonly deps: SubscriptionServiceDependencies) {}

  private now(): Date {
    return (this.deps.now ?? systemClock)();
  }

  /** The failing streak of an enabled subscription, with when auto-disable ends it; null when none. */
  failingOf(subscription: Pick<Subscription, "status" | "failing_since">): FailingView | null {
    if (subscription.status !== "enabled" || subscription.failing_since === null) return null;
    return {
      since: subscription.failing_since,
      auto_disable_at: autoDisableAt(subscription.failing_since, this.deps.settings.autoDisableAfterSeconds),
    };
  }

  /**
   * What is wrong with a URL's form (scheme, user-info, length, an IP-literal or reserved host),
   * without DNS: the API reports it together with every other invalid field. Not a string: nothing
   * here (the schema says so).
   */
  urlFormProblems(url: unknown): { path: string; message: string }[] {
    if (typeof url !== "string") return [];
    try {
      this.deps.policy.checkUrl(url);
      return [];
    } catch (error) {
      return [{ path: "url", message: urlProblem(error) }];
    }
  }

  /**
   * The create/update-time half of PRODUCT §6: the URL's form, then every address its host resolves
   * to. (The connect-time half is the delivery function's guarded lookup.)
   */
  private async checkUrl(url: string): Promise<void> {
    try {
      await checkDestination(url, this.deps.policy, this.deps.resolver);
    } catch (error) {
      if (
        error instanceof InvalidDestinationError ||
        error instanceof BlockedDestinationError ||
        error instanceof UnresolvableDestinationError ||
        error instanceof ReservedDestinationError
      ) {
        throw new InvalidInputError([{ path: "url", message: urlProblem(error) }]);
      }
      throw error;
    }
  }

  /**
   * Creates a subscription with a fresh secret. A slot of the per-customer limit is reserved first
   * (an atomic conditional counter) and given back if the write fails, so the limit is exact under
   * concurrent creates (docs/api.md, "Limits").
   */
  async create(customerId: string, input: CreateSubscriptionInput): Promise<SubscriptionWithSecrets> {
    await this.checkUrl(input.url);
    const limit = this.deps.settings.maxSubscriptionsPerCustomer;
    const now = this.now();
    if (!(await this.deps.repository.reserveSlot(customerId, limit, now))) {
      throw new SubscriptionLimitReachedError(limit);
    }
    const nowIso = now.toISOString();
    const disabled = input.status === "disabled";
    const subscription: SubscriptionWithSecrets = {
      id: uuidv7(now.getTime()),
      customer_id: customerId,
      url: input.url,
      method: input.method,
      event_types: input.event_types,
      activeflow_id: input.activeflow_id ?? null,
      description: input.description ?? null,
      headers: input.headers ?? {},
      ...(input.filter !== undefined && input.filter !== null ? { filter: input.filter } : {}),
      status: disabled ? "disabled" : "enabled",
      disabled_reason: disabled ? "manual" : null,
      created_at: nowIso,
      updated_at: nowIso,
      failing_since: null,
      secret: generateSecret(),
      previous_secret: null,
      previous_secret_expires_at: null,
    };
    try {
      await this.deps.repository.create(subscription);
    } catch (error) {
      await this.deps.repository.releaseSlot(customerId, this.now()).catch(() => undefined);
      throw error;
    }
    return subscription;
  }

  async getWithSecrets(customerId: string, subscriptionId: string): Promise<SubscriptionWithSecrets> {
    const subscription = await this.deps.repository.get(customerId, subscriptionId);
    if (subscription === null) throw new ResourceNotFoundError("subscription");
    return subscription;
  }

  async get(customerId: string, subscriptionId: string): Promise<Subscription> {
    return withoutSecrets(await this.getWithSecrets(customerId, subscriptionId));
  }

  async list(
    customerId: string,
    options: { limit: number; afterId?: string | undefined },
  ): Promise<SubscriptionPage> {
    const page = await this.deps.repository.listPage(customerId, options);
    const last = page.items.at(-1);
    return {
      items: page.items.map(withoutSecrets),
      nextAfterId: page.hasMore && last !== undefined ? last.id : null,
    };
  }

  /** Refuses a change to a managed subscription (404 first: another customer's does not exist). */
  private async refuseManaged(customerId: string, subscriptionId: string): Promise<SubscriptionWithSecrets> {
    const current = await this.getWithSecrets(customerId, subscriptionId);
    if (current.managed_by !== undefined) throw new ManagedSubscriptionError(current.managed_by);
    return current;
  }

  async update(
    customerId: string,
    subscriptionId: string,
    patch: UpdateSubscriptionInput,
  ): Promise<Subscription> {
    const current = await this.refuseManaged(customerId, subscriptionId);
    if (patch.url !== undefined) await this.checkUrl(patch.url);
    const set: SubscriptionChange["set"] & Record<string, unknown> = {};
    const remove: SubscriptionChange["remove"][number][] = [];
    if (patch.url !== undefined) set.url = patch.url;
    if (patch.method !== undefined) set.method = patch.method;
    if (patch.event_types !== undefined) set.event_types = patch.event_types;
    for (const field of ["activeflow_id", "description", "headers", "filter"] as const) {
      const value = patch[field];
      if (value === null) remove.push(field);
      else if (value !== undefined) set[field] = value;
    }
    if (patch.status !== undefined) {
      if (patch.status === "enabled" && current.status === "disabled") {
        // A fresh start: the reason goes, and so does the failing clock, or a subscription re-enabled
        // after an outage would be disabled again by its very next failure.
        set.status = "enabled";
        remove.push("disabled_reason", "failing_since");
      } else if (patch.status === "disabled" && current.status === "enabled") {
        // Only a change of status records a reason: disabling what the system disabled keeps its reason.
        set.status = "disabled";
        set.disabled_reason = "manual";
      }
    }
    set.updated_at = this.now().toISOString();
    // A subscription is managed or not for life (a managed one's id is derived, of another UUID
    // version than the customer's), so the check above cannot be overtaken.
    const updated = await this.deps.repository.update(customerId, subscriptionId, { set, remove });
    if (updated === null) throw new ResourceNotFoundError("subscription");
    return withoutSecrets(updated);
  }

  /** Deletes it; the delivery function then drops its queued jobs. */
  async delete(customerId: string, subscriptionId: string): Promise<void> {
    await this.refuseManaged(customerId, subscriptionId);
    if (!(await this.deps.repository.delete(customerId, subscriptionId))) {
      throw new ResourceNotFoundError("subscription");
    }
    await this.deps.repository.releaseSlot(customerId, this.now());
  }

  async getSecret(customerId: string, subscriptionId: string): Promise<string> {
    return (await this.getWithSecrets(customerId, subscriptionId)).secret;
  }

  /**
   * A new secret; the replaced one keeps signing (as a second `v1,` signature) for the overlap. A
   * second rotation within the overlap replaces the previous secret: only the last two are ever valid.
   */
  async rotateSecret(customerId: string, subscriptionId: string): Promise<string> {
    for (let attempt = 1; attempt <= ROTATION_ATTEMPTS; attempt++) {
      const current = await this.refuseManaged(customerId, subscriptionId);
      const now = this.now();
      const newSecret = generateSecret();
      const outcome = await this.deps.repository.rotateSecret(customerId, subscriptionId, {
        expectedSecret: current.secret,
        newSecret,
        previousExpiresAt: new Date(
          now.getTime() + this.deps.settings.secretRotationOverlapSeconds * 1000,
        ).toISOString(),
        now: now.toISOString(),
      });
      if (outcome === "rotated") return newSecret;
      if (outcome === "not_found") throw new ResourceNotFoundError("subscription");
    }
    throw new ConcurrentModificationError("the subscription's secret");
  }
}
