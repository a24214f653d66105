/**
 * What the subscriptions and delivery-log services refuse, as named errors. The API maps each class
 * to a status by its `code` (the API's own error code); messages are written for the customer and
 * never carry secrets.
 */
import { CodedError } from "../errors.ts";

export interface InputProblem {
  /** Dotted path of the offending field, e.g. `url` or `headers.x-token`. */
  readonly path: string;
  readonly message: string;
}

/** Input that passed the schema but breaks a rule that needs the system (DNS, the clock, the table). */
export class InvalidInputError extends CodedError {
  override readonly name = "InvalidInputError";
  readonly code = "VALIDATION_FAILED";
  constructor(readonly problems: readonly InputProblem[]) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join("; "));
  }
}

/** The resource does not exist for this customer (which includes: it belongs to another one). */
export class ResourceNotFoundError extends CodedError {
  override readonly name = "ResourceNotFoundError";
  readonly code = "NOT_FOUND";
  constructor(readonly resource: "subscription" | "delivery" | "event type") {
    super(`${resource} not found`);
  }
}

export class SubscriptionLimitReachedError extends CodedError {
  override readonly name = "SubscriptionLimitReachedError";
  readonly code = "SUBSCRIPTION_LIMIT_REACHED";
  constructor(readonly limit: number) {
    super(`a customer may have at most ${limit} subscriptions; delete one first`);
  }
}

/** The request needs an enabled subscription (its jobs would be dropped otherwise). */
export class SubscriptionDisabledError extends CodedError {
  override readonly name = "SubscriptionDisabledError";
  readonly code = "SUBSCRIPTION_DISABLED";
  constructor() {
    super("the subscription is disabled; enable it first (PATCH status=enabled)");
  }
}

/** A delivery whose subscription was deleted can be read but not sent again. */
export class SubscriptionDeletedError extends CodedError {
  override readonly name = "SubscriptionDeletedError";
  readonly code = "SUBSCRIPTION_DELETED";
  constructor() {
    super("the delivery's subscription was deleted; it cannot be sent again");
  }
}

/** A delivery record written before payloads were kept cannot be rebuilt into a job. */
export class DeliveryNotRetryableError extends CodedError {
  override readonly name = "DeliveryNotRetryableError";
  readonly code = "DELIVERY_NOT_RETRYABLE";
  constructor() {
    super("this delivery does not keep its payload and cannot be sent again");
  }
}

/** A concurrent change won (e.g. two rotations at once) and retrying inside the request did not help. */
export class ConcurrentModificationError extends CodedError {
  override readonly name = "ConcurrentModificationError";
  readonly code = "CONCURRENT_MODIFICATION";
  constructor(what: string) {
    super(`${what} was changed concurrently; try again`);
  }
}

/**
 * A managed subscription (PRODUCT §11) is kept in step by VoIPBIN's control events: the customer
 * reads it but cannot change, rotate or delete it.
 */
export class ManagedSubscriptionError extends CodedError {
  override readonly name = "ManagedSubscriptionError";
  readonly code = "MANAGED_SUBSCRIPTION";
  constructor(managedBy: string) {
    super(
      `this subscription is managed by ${managedBy} (your VoIPBIN webhook settings) and cannot be changed, rotated or deleted here; change the webhook in VoIPBIN`,
    );
  }
}
