import type { DeliveryOutcome } from "#shared/services/delivery/deliver.ts";

/**
 * Every CloudWatch metric the handlers emit (Powertools EMF, namespace `METRICS_NAMESPACE`,
 * dimension `service` = the function's POWERTOOLS_SERVICE_NAME), declared once: the handlers emit
 * these names and the dashboard and alarms (infra/constructs/observability.ts) read them.
 * test/unit/metric-names.test.ts checks that no handler emits a name from anywhere else, and
 * test/infra/stack.test.ts that the template reads only these names and shows each of them.
 */
export const METRIC_NAMES = {
  // Each metric is billed $0.30 a month (CloudWatch custom metrics): one that another metric or AWS's
  // own free metrics already tell is not emitted (docs/decisions.md, "Lean defaults from the cost
  // model", and "CloudWatch's fixed costs"). Events routed: FanOut's SampleCount (one value per routed
  // event); HTTP attempts: DeliveryLatency's SampleCount (one value per attempt); API and authorizer
  // requests: the functions' AWS/Lambda Invocations; the API's 4xx and 5xx answers: API Gateway's own
  // 4xx/5xx stage metrics; unroutable events: the unroutable queue's NumberOfMessagesSent.
  router: {
    /** Delivery jobs enqueued for one event, one value per routed event (its SampleCount: events routed). */
    fanOut: "FanOut",
  },
  delivery: {
    /** Milliseconds of one HTTP attempt, one value per attempt (its SampleCount: attempts). */
    latency: "DeliveryLatency",
    /**
     * One per job that failed on our side (DynamoDB, SQS, a job we cannot parse): nothing was sent and
     * the job comes back. The handler never throws (batch item failures), so Lambda's `Errors` metric
     * cannot see these: this one is alarmed.
     */
    internalErrors: "DeliveryInternalErrors",
    /**
     * One per dead letter SQS's redrive backstop moved by itself (no reason attribute) that the
     * scheduled reconciliation closed (`dead`, reason `internal`) and re-queued with the reason.
     */
    backstopReconciled: "DeliveryBackstopReconciled",
  },
  authorizer: {
    /** The key lookup failed (DynamoDB): the request is answered 503/429. */
    errors: "AuthorizerErrors",
    /** A key was presented and refused (unknown, revoked, expired). */
    authenticationFailures: "AuthenticationFailures",
  },
} as const;

/**
 * The outcomes that have a metric of their own (`Delivery_succeeded`, `Delivery_dead`, …): the ones
 * the dashboard shows and an operator acts on. Every other outcome (superseded, stale, dropped_…,
 * skipped, deferred, moved to the slow lane, …) is on the delivery's record and in the logs, but
 * would cost $0.30 a month as a metric that nothing reads (docs/decisions.md, "CloudWatch's fixed
 * costs: metrics and alarms that earn their price").
 */
export const METERED_OUTCOMES = [
  "succeeded",
  "retry_scheduled",
  "dead",
  "endpoint_gone",
  "auto_disabled",
] as const satisfies readonly DeliveryOutcome[];
export type MeteredOutcome = (typeof METERED_OUTCOMES)[number];

/** The metric of a metered outcome. */
export function deliveryOutcomeMetric<O extends MeteredOutcome>(outcome: O): `Delivery_${O}` {
  return `Delivery_${outcome}`;
}

/** Whether a finished job's outcome has a metric of its own. */
export function isMeteredOutcome(outcome: DeliveryOutcome): outcome is MeteredOutcome {
  return (METERED_OUTCOMES as readonly string[]).includes(outcome);
}
