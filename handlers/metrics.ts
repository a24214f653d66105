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
  // model"). Events routed: FanOut's SampleCount (one value per routed event); HTTP attempts:
  // DeliveryLatency's SampleCount (one value per attempt); API and authorizer requests: the functions'
  // AWS/Lambda Invocations.
  router: {
    /** One per event parked on the unroutable queue. */
    unroutable: "EventsUnroutable",
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
  api: {
    serverErrors: "Api5xx",
    clientErrors: "Api4xx",
  },
  authorizer: {
    /** The key lookup failed (DynamoDB): the request is answered 503/429. */
    errors: "AuthorizerErrors",
    /** A key was presented and refused (unknown, revoked, expired). */
    authenticationFailures: "AuthenticationFailures",
  },
} as const;

/** One per finished job, by its outcome (`Delivery_succeeded`, `Delivery_dead`, …). */
export function deliveryOutcomeMetric<O extends DeliveryOutcome>(outcome: O): `Delivery_${O}` {
  return `Delivery_${outcome}`;
}
