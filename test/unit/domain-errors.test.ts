/**
 * The named errors of the domain as callers see them: the stable `code` the API's error body, the
 * logs and the metrics carry, the `name` in a structured log line, and the message a person reads
 * (shared/domain/errors.ts: codes never change; the messages listed here are the ones the API
 * answers with or an operator reads). Written for the mutation run over shared/ (docs/benchmarks.md,
 * "Mutation testing"): an emptied code or message would otherwise reach users unnoticed.
 */
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  DependencyError,
  EnqueueFailedError,
  InvalidDeliveryJobError,
  KeptOnQueueSignal,
  UnroutableEventError,
} from "#shared/domain/errors.ts";
import { InvalidSecretError, NoSigningSecretError } from "#shared/domain/signing.ts";
import {
  ConcurrentModificationError,
  DeliveryNotRetryableError,
  InvalidInputError,
  ManagedSubscriptionError,
  ResourceNotFoundError,
  SubscriptionDeletedError,
  SubscriptionDisabledError,
  SubscriptionLimitReachedError,
} from "#shared/domain/subscriptions/errors.ts";

describe("the domain's named errors", () => {
  it.each([
    [
      () => new ConfigError(["A: is required", "B: must be a number"]),
      "ConfigError",
      "CONFIG_INVALID",
      "Invalid configuration:\n  - A: is required\n  - B: must be a number",
    ],
    [
      () => new UnroutableEventError("not an event", ["detail: missing", "type: empty"]),
      "UnroutableEventError",
      "EVENT_UNROUTABLE",
      "not an event: detail: missing; type: empty",
    ],
    [
      () => new UnroutableEventError("not an event"),
      "UnroutableEventError",
      "EVENT_UNROUTABLE",
      "not an event",
    ],
    [
      () => new EnqueueFailedError(3, ["Throttled", "Throttled", "InternalError"]),
      "EnqueueFailedError",
      "ENQUEUE_FAILED",
      "3 delivery job(s) could not be enqueued (Throttled, InternalError)",
    ],
    [
      () => new InvalidDeliveryJobError("job.attempt: must be a number"),
      "InvalidDeliveryJobError",
      "DELIVERY_JOB_INVALID",
      "job.attempt: must be a number",
    ],
    [
      () => new DependencyError("DynamoDB", "throttled"),
      "DependencyError",
      "DEPENDENCY_FAILED",
      "DynamoDB: throttled",
    ],
    [
      () => new InvalidSecretError(1),
      "InvalidSecretError",
      "SECRET_INVALID",
      "signing secret #1 is not a well-formed whsec_ secret",
    ],
    [
      () => new NoSigningSecretError(),
      "NoSigningSecretError",
      "SECRET_MISSING",
      "at least one signing secret is required",
    ],
    [
      () =>
        new InvalidInputError([
          { path: "url", message: "must not be empty" },
          { path: "headers.x", message: "is a reserved header name" },
        ]),
      "InvalidInputError",
      "VALIDATION_FAILED",
      "url: must not be empty; headers.x: is a reserved header name",
    ],
    [() => new ResourceNotFoundError("delivery"), "ResourceNotFoundError", "NOT_FOUND", "delivery not found"],
    [
      () => new SubscriptionLimitReachedError(20),
      "SubscriptionLimitReachedError",
      "SUBSCRIPTION_LIMIT_REACHED",
      "a customer may have at most 20 subscriptions; delete one first",
    ],
    [
      () => new SubscriptionDisabledError(),
      "SubscriptionDisabledError",
      "SUBSCRIPTION_DISABLED",
      "the subscription is disabled; enable it first (PATCH status=enabled)",
    ],
    [
      () => new SubscriptionDeletedError(),
      "SubscriptionDeletedError",
      "SUBSCRIPTION_DELETED",
      "the delivery's subscription was deleted; it cannot be sent again",
    ],
    [
      () => new DeliveryNotRetryableError(),
      "DeliveryNotRetryableError",
      "DELIVERY_NOT_RETRYABLE",
      "this delivery does not keep its payload and cannot be sent again",
    ],
    [
      () => new ConcurrentModificationError("the subscription"),
      "ConcurrentModificationError",
      "CONCURRENT_MODIFICATION",
      "the subscription was changed concurrently; try again",
    ],
    [
      () => new ManagedSubscriptionError("voipbin"),
      "ManagedSubscriptionError",
      "MANAGED_SUBSCRIPTION",
      "this subscription is managed by voipbin (your VoIPBIN webhook settings) and cannot be changed, rotated or deleted here; change the webhook in VoIPBIN",
    ],
    [
      () => new KeptOnQueueSignal("kept until its hand-off has settled"),
      "KeptOnQueueSignal",
      "HANDOFF_UNSETTLED",
      "kept until its hand-off has settled",
    ],
  ])("answers with its name, code and message (row %#)", (make, name, code, message) => {
    // Built inside the test, not in the table: a mutation run activates its mutant per test, after
    // the file's module-level code has run.
    const error = make();
    expect(error).toBeInstanceOf(Error);
    expect({ name: error.name, code: error.code, message: error.message }).toEqual({ name, code, message });
  });
});
