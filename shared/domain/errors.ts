/**
 * Named error classes shared by the domain. Handlers map these to outcomes
 * (HTTP status, batch item failure, unroutable queue) instead of parsing messages.
 */

/**
 * The base of every named error of the system: a stable, machine-readable `code` (UPPER_SNAKE, or an
 * errno-style code where Node's networking passes the error on) that logs, metrics and the API's
 * error table branch on. Messages are for people and may change; codes may not.
 */
export abstract class CodedError extends Error {
  abstract readonly code: string;
}

export class ConfigError extends CodedError {
  override readonly name = "ConfigError";
  readonly code = "CONFIG_INVALID";
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

/** An event that can never be routed: retrying it would not help. */
export class UnroutableEventError extends CodedError {
  override readonly name = "UnroutableEventError";
  readonly code = "EVENT_UNROUTABLE";
  constructor(
    readonly reason: string,
    readonly details: readonly string[] = [],
  ) {
    super(details.length > 0 ? `${reason}: ${details.join("; ")}` : reason);
  }
}

/** Some delivery jobs could not be enqueued even after retries; the router invocation must be retried. */
export class EnqueueFailedError extends CodedError {
  override readonly name = "EnqueueFailedError";
  readonly code = "ENQUEUE_FAILED";
  constructor(
    readonly failedCount: number,
    readonly codes: readonly string[],
    /** The delivery ids of the jobs not enqueued (the others were). */
    readonly deliveryIds: readonly string[] = [],
  ) {
    super(`${failedCount} delivery job(s) could not be enqueued (${[...new Set(codes)].join(", ")})`);
  }
}

/** A queued delivery job whose body is not a valid job. It is our bug, not the endpoint's. */
export class InvalidDeliveryJobError extends CodedError {
  override readonly name = "InvalidDeliveryJobError";
  readonly code = "DELIVERY_JOB_INVALID";
}

/** Our own dependency (DynamoDB, SQS, EventBridge) failed; not counted against the endpoint. */
export class DependencyError extends CodedError {
  override readonly name = "DependencyError";
  readonly code = "DEPENDENCY_FAILED";
  constructor(
    readonly dependency: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${dependency}: ${message}`, options);
  }
}

/**
 * Not a failure: the signal that keeps a received message on its queue. Thrown for a copy whose own
 * hand-off named the delivery's live job while that live job may be being attempted right now (due,
 * but not long enough for its attempt to have been recorded), or whose hand-off another receive of
 * the same message has just made: neither dropping this copy (the live job may be on no queue) nor
 * re-sending the live job (it would make an attempt in progress stale, and send a second one) is
 * safe yet. The message is hidden until the hand-off has settled and reported as a batch item
 * failure without counting as our error; it comes back when the live job has moved the record or is
 * surely on no queue (docs/delivery.md, "One live job across a re-send").
 */
export class KeptOnQueueSignal extends CodedError {
  override readonly name = "KeptOnQueueSignal";
  /** The code of its earlier name (HandOffUnsettledError): codes do not change. It says why it is kept. */
  readonly code = "HANDOFF_UNSETTLED";
}
