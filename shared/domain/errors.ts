/**
 * Named error classes shared by the domain. Handlers map these to outcomes
 * (HTTP status, batch item failure, unroutable queue) instead of parsing messages.
 */

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

/** An event that can never be routed: retrying it would not help. */
export class UnroutableEventError extends Error {
  override readonly name = "UnroutableEventError";
  constructor(
    readonly reason: string,
    readonly details: readonly string[] = [],
  ) {
    super(details.length > 0 ? `${reason}: ${details.join("; ")}` : reason);
  }
}

/** Some delivery jobs could not be enqueued even after retries; the router invocation must be retried. */
export class EnqueueFailedError extends Error {
  override readonly name = "EnqueueFailedError";
  constructor(
    readonly failedCount: number,
    readonly codes: readonly string[],
  ) {
    super(`${failedCount} delivery job(s) could not be enqueued (${[...new Set(codes)].join(", ")})`);
  }
}

/** A queued delivery job whose body is not a valid job. It is our bug, not the endpoint's. */
export class InvalidDeliveryJobError extends Error {
  override readonly name = "InvalidDeliveryJobError";
}

/**
 * The endpoint failed and the job stays on the queue: for a retry after the visibility timeout the
 * delivery set, or for the dead-letter queue after the last attempt. Reported as a batch item failure.
 */
export class RetryScheduledError extends Error {
  override readonly name = "RetryScheduledError";
  constructor(
    readonly deliveryId: string,
    readonly outcome: string,
  ) {
    super(`delivery ${deliveryId} not completed (${outcome}); the job stays on the queue`);
  }
}

/** Our own dependency (DynamoDB, SQS, EventBridge) failed; not counted against the endpoint. */
export class DependencyError extends Error {
  override readonly name = "DependencyError";
  constructor(
    readonly dependency: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${dependency}: ${message}`, options);
  }
}
