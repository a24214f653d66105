import type { AppConfig } from "./config.ts";
import { MAX_VISIBILITY_TIMEOUT_SECONDS } from "./domain/aws-limits.ts";

/**
 * What each variable of `configSchema` (shared/config.ts) means, for docs/configuration.md (`npm run
 * docs:config` renders it with the schema's defaults). Typed by the schema's keys: a variable without
 * a line here does not compile. Its own module so that the functions, which import the schema, do not
 * bundle the prose.
 */
export const CONFIG_DESCRIPTIONS: Readonly<Record<keyof AppConfig, string>> = {
  AWS_REGION: "set by Lambda",
  TABLE_NAME:
    "the main DynamoDB table (subscriptions, access keys, counters, portal links, the run-time catalogue; point-in-time recovery)",
  DELIVERIES_TABLE_NAME:
    "the DynamoDB table of delivery records (heads, attempts, event payloads, shadow deliveries; TTL, no point-in-time recovery); records written before it existed are read from TABLE_NAME until they expire",
  DELIVERY_QUEUE_URL: "the SQS delivery queue",
  DELIVERY_DLQ_URL:
    "the delivery dead-letter queue, where the delivery function moves a job after its last attempt",
  DELIVERY_BACKSTOP_QUEUE_URL:
    "the delivery backstop queue: the redrive target of both delivery lanes (SQS moves a job there after 35 receives); the scheduled reconciliation closes each arrival as `dead` (`internal`) and moves it to the dead-letter queue",
  UNROUTABLE_QUEUE_URL: "the SQS queue for unroutable events",
  EVENT_BUS_NAME:
    "where operational events (`webhook_subscription_disabled`, `webhook_endpoint_failing`, `webhook_delivery_exhausted`, `webhook_endpoint_recovered`) go",
  DYNAMODB_ENDPOINT: "endpoint override, for the local stack only",
  SQS_ENDPOINT: "endpoint override, for the local stack only",
  EVENTBRIDGE_ENDPOINT: "endpoint override, for the local stack only",
  RETRY_SCHEDULE: `seconds before attempts 2…n; at most 19 retries, each ≤ ${MAX_VISIBILITY_TIMEOUT_SECONDS}. Attempts are counted on the delivery record; each wait is a delayed re-send of the job, a delay over 900 s is reached in 900 s hops. The queue's \`maxReceiveCount\` backstop (35) does not depend on it`,
  RETRY_JITTER: "± fraction applied to each delay (0–0.5)",
  DELIVERY_TIMEOUT_MS: "per attempt: connect, headers and body (100–60,000)",
  RESPONSE_BODY_MAX_BYTES: "response body kept in the delivery log (0–65,536)",
  ALLOWED_CIDRS: "ranges exempt from the SSRF block list (comma-separated)",
  ALLOW_HTTP_URLS: "accept `http://` subscription URLs",
  DENIED_DESTINATIONS:
    "`<address or CIDR>:<port>` entries (IPv6 in brackets: `[::1]:4012`) never dialled, even inside `ALLOWED_CIDRS`: refused at create/update and at connect time. The local stack adds its own four ports on every loopback spelling",
  AUTO_DISABLE_AFTER_SECONDS: "failing this long (default 5 days) → disabled (`failing`)",
  DELIVERY_RETENTION_DAYS:
    "delivery records (and the stored event bodies) expire this long after they were created",
  CUSTOMER_ERASURE_GRACE_DAYS:
    "days after VoIPBIN's `customer_deleted` before every stored record, attempt and body of the customer is erased (0–365; the delivery function's scheduled pass does it, resuming across passes). The default, 14, is SQS's longest retention: by then every parked queue message of the customer has expired too (docs/security.md)",
  PAYLOAD_RETENTION_DAYS:
    "days an event's body (the payload every delivery of it sends, with its phone numbers and texts) is kept, fewer than DELIVERY_RETENTION_DAYS: after it the records and attempts stay, the body reads as not available and the delivery cannot be retried. Unset: DELIVERY_RETENTION_DAYS + 1 (docs/security.md)",
  MAX_SUBSCRIPTIONS_PER_CUSTOMER: "API limit (exact under concurrency: a conditional counter per customer)",
  QUOTA_TEST_EVENTS_PER_MINUTE:
    'test events a customer may send per minute (429 `QUOTA_EXCEEDED` beyond; docs/api.md, "Quotas")',
  QUOTA_RETRIES_PER_MINUTE: "manual retries a customer may make per minute",
  QUOTA_RECOVERS_PER_HOUR: "recover calls a customer may make per hour",
  SLOW_DELIVERY_QUEUE_URL:
    'fair delivery\'s slow lane (docs/delivery.md, "Fair delivery"); unset: one lane, no breaker (what the tests that poll only the delivery queue use)',
  MAIN_LANE_TIMEOUT_MS:
    "the main lane's attempt budget: an endpoint that has not answered by then is served by the slow lane, with the full DELIVERY_TIMEOUT_MS",
  BREAKER_THRESHOLD:
    "timeouts in a row that open an endpoint's circuit breaker (no dialling until the cooldown, then one probe)",
  BREAKER_COOLDOWN_MS: "first cooldown of an open breaker; each failed probe doubles it",
  BREAKER_MAX_COOLDOWN_MS: "longest cooldown of an open breaker",
  SLOW_LANE_STICKY_MS: "how long an endpoint stays in the slow lane after its last slow answer or timeout",
  ENDPOINT_CONCURRENCY:
    "attempts one slow-lane invocation makes to one endpoint at once; more wait one timeout's length",
  ENDPOINT_HEALTH_CACHE_TTL_MS:
    "how long a delivery instance reuses an endpoint's shared state it read (0 = read every batch)",
  SECRET_ROTATION_OVERLAP_SECONDS: "how long the previous secret keeps signing after a rotation",
  RECOVER_TIME_BUDGET_MS:
    "how long one `POST …/recover` request may spend re-enqueueing before it answers with what it did and where to continue; keep it below the API function's timeout (1,000–900,000)",
  PORTAL_ASSETS_DIR:
    "where the API function finds the customer portal's built files (docs/portal.md); unset: `portal/` beside its bundle, where the CDK app puts them (the local stack sets it to its fresh build)",
};
