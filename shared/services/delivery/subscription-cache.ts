import { subscriptionLookupKey } from "../../adapters/dynamodb/delivery-batch-loader.ts";
import type { SubscriptionWithSecrets } from "../../domain/subscriptions/subscription.ts";

interface Entry {
  readonly subscription: SubscriptionWithSecrets | null;
  readonly fetchedAt: number;
}

/**
 * A short-lived cache of subscriptions (with secrets) across invocations of a warm delivery function.
 * A busy subscription is read once per TTL instead of once per batch; the TTL bounds how long an edit,
 * a rotation or a deletion takes to reach queued jobs. Bounded so a cold spike cannot grow it forever.
 */
export class SubscriptionCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** The same key the batch loader answers with, so its results can be cached as they come. */
  static key(customerId: string, subscriptionId: string): string {
    return subscriptionLookupKey(customerId, subscriptionId);
  }

  /** undefined: unknown or stale (must be read); null: known not to exist. */
  get(key: string, nowMs: number): SubscriptionWithSecrets | null | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (nowMs - entry.fetchedAt >= this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.subscription;
  }

  set(key: string, subscription: SubscriptionWithSecrets | null, nowMs: number): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { subscription, fetchedAt: nowMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
