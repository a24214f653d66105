import type { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { newSubscription } from "#shared/domain/subscriptions/subscription.ts";
import type { PlannedSubscription } from "./plan.ts";
import type { ReceiverHub } from "./receivers.ts";

/**
 * Stores every planned subscription, each pointing at its receiver profile, and tells the hub its
 * secret (so that the hub verifies what arrives): the chaos run's and the crash stage's seeding.
 */
export async function seedPlannedSubscriptions(
  repository: Pick<SubscriptionRepository, "create">,
  hub: ReceiverHub,
  subscriptions: readonly PlannedSubscription[],
): Promise<void> {
  for (const planned of subscriptions) {
    const seeded = newSubscription({
      id: planned.id,
      customer_id: planned.customerId,
      url: hub.urlFor(planned.profile, planned.id),
      event_types: [...planned.eventTypes],
      activeflow_id: planned.activeflowId,
    });
    await repository.create(seeded);
    hub.register(seeded.id, seeded.secret);
  }
}
