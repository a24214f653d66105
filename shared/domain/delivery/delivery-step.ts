/**
 * The pure decision of one delivery attempt (PRODUCT §4): from what the endpoint answered, the
 * subscription's profile, the attempt number and the subscription's failure streak, what the record,
 * the subscription and the queue message become. No I/O: the delivery service applies the step. Its
 * edges of the state machine in docs/delivery.md are each a row of test/unit/delivery-state-machine.test.ts.
 */
import type { DisabledReason } from "../subscriptions/subscription.ts";
import type { DeadReason, DeliveryStatus } from "./delivery.ts";
import {
  type AttemptOutcome,
  autoDisableDue,
  legacyRetries,
  type RetryInput,
  retryDelaySeconds,
} from "./retry-policy.ts";

export interface StepInput extends RetryInput {
  /** When the subscription's current failure streak began; null when its last attempt succeeded. */
  readonly failingSince: string | null;
  readonly autoDisableAfterSeconds: number;
  /**
   * The subscription's delivery profile. `legacy` (PRODUCT §11): VoIPBIN's outcome rules — only 5xx
   * and failures to get an answer are retried, any other status closes the delivery as `dead`
   * (`endpoint_rejected`, not dead-lettered), 410 is not special, and nothing is ever auto-disabled
   * (no failing clock). @default "standard"
   */
  readonly profile?: "standard" | "legacy";
}

/** What happens to the subscription after the attempt. */
export type SubscriptionEffect =
  | { readonly kind: "none" }
  | { readonly kind: "clear_failing" }
  | { readonly kind: "mark_failing" }
  | { readonly kind: "disable"; readonly reason: DisabledReason };

/** What happens to the job on the queue after the attempt. */
export type QueueEffect =
  | { readonly kind: "delete" }
  | { readonly kind: "retry"; readonly delaySeconds: number }
  /** Our code moves the job to the dead-letter queue (with the reason), then deletes it. */
  | { readonly kind: "dead_letter"; readonly reason: DeadReason };

export type StepOutcome =
  | "succeeded"
  | "retry_scheduled"
  | "dead"
  | "endpoint_gone"
  | "auto_disabled"
  | "endpoint_rejected";

export interface DeliveryStep {
  readonly outcome: StepOutcome;
  readonly status: Exclude<DeliveryStatus, "pending">;
  /** Set when `status` is `dead`. */
  readonly deadReason: DeadReason | null;
  readonly nextAttemptAt: Date | null;
  readonly subscription: SubscriptionEffect;
  readonly queue: QueueEffect;
}

/** What an answer is under a profile's rules, before the schedule is consulted. */
type Verdict = "delivered" | "gone" | "rejected" | "failed";

function verdictOf(outcome: AttemptOutcome, legacy: boolean): Verdict {
  if ("statusCode" in outcome && outcome.statusCode >= 200 && outcome.statusCode <= 299) return "delivered";
  // Legacy: 410 is not special, and any 1xx/3xx/4xx (a redirect left after the hop limit) is final.
  if (legacy) return legacyRetries(outcome) ? "failed" : "rejected";
  if ("statusCode" in outcome && outcome.statusCode === 410) return "gone";
  // Redirects are not followed, so 3xx is a failure like any other non-2xx.
  return "failed";
}

export function decideDeliveryStep(input: StepInput): DeliveryStep {
  const { attempt } = input;
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be a whole number from 1, got ${attempt}`);
  }
  const legacy = input.profile === "legacy";
  switch (verdictOf(input.outcome, legacy)) {
    case "delivered":
      return {
        outcome: "succeeded",
        status: "succeeded",
        deadReason: null,
        nextAttemptAt: null,
        subscription: input.failingSince !== null ? { kind: "clear_failing" } : { kind: "none" },
        queue: { kind: "delete" },
      };
    case "rejected":
      return {
        outcome: "endpoint_rejected",
        status: "dead",
        deadReason: "endpoint_rejected",
        nextAttemptAt: null,
        subscription: { kind: "none" },
        queue: { kind: "delete" },
      };
    case "gone":
      return {
        outcome: "endpoint_gone",
        status: "dead",
        deadReason: "endpoint_gone",
        nextAttemptAt: null,
        subscription: { kind: "disable", reason: "endpoint_gone" },
        queue: { kind: "delete" },
      };
    case "failed":
      break;
  }
  const failingSince = input.failingSince === null || legacy ? null : new Date(input.failingSince);
  if (!legacy && autoDisableDue(failingSince, input.now, input.autoDisableAfterSeconds)) {
    return {
      outcome: "auto_disabled",
      status: "dead",
      deadReason: "subscription_disabled",
      nextAttemptAt: null,
      subscription: { kind: "disable", reason: "failing" },
      queue: { kind: "delete" },
    };
  }
  // The legacy profile keeps no failing clock: it never auto-disables.
  const streak: SubscriptionEffect =
    legacy || failingSince !== null ? { kind: "none" } : { kind: "mark_failing" };
  const delaySeconds = retryDelaySeconds(input);
  if (delaySeconds !== null) {
    return {
      outcome: "retry_scheduled",
      status: "failed",
      deadReason: null,
      nextAttemptAt: new Date(input.now.getTime() + delaySeconds * 1000),
      subscription: streak,
      queue: { kind: "retry", delaySeconds },
    };
  }
  return {
    outcome: "dead",
    status: "dead",
    deadReason: "attempts_exhausted",
    nextAttemptAt: null,
    subscription: streak,
    queue: { kind: "dead_letter", reason: "attempts_exhausted" },
  };
}
