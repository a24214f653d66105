import type { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { newSubscription, type SubscriptionWithSecrets } from "#shared/domain/subscriptions/subscription.ts";

/** Stores a subscription as the API would create it, with any field overridden. */
export async function seedSubscription(
  repository: SubscriptionRepository,
  fields: Partial<SubscriptionWithSecrets> & Pick<SubscriptionWithSecrets, "customer_id" | "url">,
): Promise<SubscriptionWithSecrets> {
  const subscription = newSubscription(fields);
  await repository.create(subscription);
  return subscription;
}
