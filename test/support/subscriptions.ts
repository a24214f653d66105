import type { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { uuidv7 } from "#shared/domain/ids.ts";
import { generateSecret } from "#shared/domain/signing.ts";
import type { SubscriptionWithSecrets } from "#shared/domain/subscriptions/subscription.ts";

/** Stores a subscription as the API would create it, with any field overridden. */
export async function seedSubscription(
  repository: SubscriptionRepository,
  fields: Partial<SubscriptionWithSecrets> & Pick<SubscriptionWithSecrets, "customer_id" | "url">,
): Promise<SubscriptionWithSecrets> {
  const now = new Date().toISOString();
  const subscription: SubscriptionWithSecrets = {
    id: uuidv7(),
    method: "POST",
    event_types: ["*"],
    activeflow_id: null,
    description: null,
    headers: {},
    status: "enabled",
    disabled_reason: null,
    created_at: now,
    updated_at: now,
    failing_since: null,
    secret: generateSecret(),
    previous_secret: null,
    previous_secret_expires_at: null,
    ...fields,
  };
  await repository.create(subscription);
  return subscription;
}
