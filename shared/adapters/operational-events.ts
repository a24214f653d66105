import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { DependencyError } from "../domain/errors.ts";
import type { OperationalWarning } from "../domain/events/operational.ts";
import {
  type DisabledReason,
  publicSubscription,
  type Subscription,
} from "../domain/subscriptions/subscription.ts";
import { type BackoffPolicy, retryWithBackoff } from "./backoff.ts";

export const OPERATIONAL_EVENT_SOURCE = "voipbin.webhooks";

/**
 * The `data` of a `webhook_subscription_disabled` event: the subscription without its secrets, and
 * the reason. Custom header values are redacted: they often hold the customer's own credentials and
 * this event reaches VoIPBIN services and other endpoints.
 */
export function subscriptionDisabledData(subscription: Subscription, reason: DisabledReason) {
  const view = publicSubscription(subscription);
  const headers = Object.fromEntries(Object.keys(view.headers).map((name) => [name, "[redacted]"]));
  return { ...view, headers, reason };
}

/** Three calls; the waits before the retries are at most 0.4 and 0.8 s. */
const PUT_EVENTS_RETRY: BackoffPolicy = { attempts: 3, baseDelayMs: 400, maxDelayMs: 2000 };

/** Puts the system's own events on the bus, where they are routed like any other VoIPBIN event. */
export class OperationalEventPublisher {
  private readonly client: () => EventBridgeClient;

  /** `eventBridge` may be a function that creates the client on first use (see dependencies.ts). */
  constructor(
    eventBridge: EventBridgeClient | (() => EventBridgeClient),
    private readonly eventBusName: string,
    private readonly retry: BackoffPolicy = PUT_EVENTS_RETRY,
  ) {
    this.client = typeof eventBridge === "function" ? eventBridge : () => eventBridge;
  }

  async subscriptionDisabled(subscription: Subscription, reason: DisabledReason): Promise<void> {
    await this.put(
      "webhook_subscription_disabled",
      subscription.customer_id,
      subscriptionDisabledData(subscription, reason),
    );
  }

  /** A warning before loss (shared/domain/events/operational.ts). */
  async warn(warning: OperationalWarning): Promise<void> {
    await this.put(warning.type, warning.customerId, warning.data);
  }

  private async put(type: string, customerId: string, data: unknown): Promise<void> {
    const detail = JSON.stringify({ customer_id: customerId, data });
    let lastProblem = "";
    const put = async (): Promise<boolean> => {
      try {
        const response = await this.client().send(
          new PutEventsCommand({
            Entries: [
              {
                EventBusName: this.eventBusName,
                Source: OPERATIONAL_EVENT_SOURCE,
                DetailType: type,
                Detail: detail,
                Resources: [],
              },
            ],
          }),
        );
        if ((response.FailedEntryCount ?? 0) === 0) return true;
        lastProblem = response.Entries?.[0]?.ErrorCode ?? "failed entry";
      } catch (error) {
        lastProblem = error instanceof Error ? error.name : "error";
      }
      return false;
    };
    if (await retryWithBackoff(this.retry, put)) return;
    throw new DependencyError("eventbridge", `could not put ${type} (${lastProblem})`);
  }
}
