/**
 * The one description of the table and queues, used by the CDK stack, the local stack and the
 * test setup, so that names, keys, redrive counts and timeouts cannot drift apart.
 * See docs/data-model.md for the key design.
 */
export const TABLE_KEYS = {
  partitionKey: "PK",
  sortKey: "SK",
  ttlAttribute: "expires_at",
  gsi1: {
    indexName: "GSI1",
    partitionKey: "GSI1PK",
    sortKey: "GSI1SK",
    /**
     * What GSI1 copies besides the keys: everything its readers (the delivery log, a customer's access
     * keys) show, but not a delivery's payload — the largest attribute, read only through the table.
     * Every index write is billed by the size of the projected item, so this halves what a delivery
     * costs the index (docs/data-model.md, "Item sizes"). test/unit/table-projection.test.ts keeps it
     * in step with the item mappers.
     */
    projectedAttributes: [
      "entity",
      "id",
      "subscription_id",
      "customer_id",
      "event_id",
      "event_type",
      "webhook_id",
      "status",
      "attempts",
      "attempt_count",
      "next_attempt_at",
      "created_at",
      "updated_at",
      "succeeded_at",
      "expires_at",
      "key_id",
      "key_hash",
      "name",
      "key_expires_at",
      "revoked_at",
    ],
  },
} as const;

/**
 * Base names of the named resources. The local stack uses them as they are; a deployment appends its
 * stage to every one (`resourceNamesFor`), so that stages can share an account: bus, queue, table,
 * function, API, alarm, dashboard, topic and log group names are account- and region-unique.
 */
export const DEFAULT_RESOURCE_NAMES = {
  table: "voipbin-webhooks",
  /** Delivery records apart, without point-in-time recovery (docs/data-model.md, "Splitting the delivery records out"). */
  deliveriesTable: "voipbin-webhooks-deliveries",
  deliveryQueue: "voipbin-webhooks-delivery",
  deliveryDlq: "voipbin-webhooks-delivery-dlq",
  /**
   * The redrive target of both delivery lanes (SQS's `maxReceiveCount` backstop), apart from the
   * dead-letter queue so that the reconciliation long-polls only backstop arrivals
   * (docs/delivery.md, "The backstop").
   */
  deliveryBackstop: "voipbin-webhooks-delivery-backstop",
  slowDeliveryQueue: "voipbin-webhooks-delivery-slow",
  unroutableQueue: "voipbin-webhooks-unroutable",
  /**
   * The router's trigger: a fair queue (MessageGroupId = the event's customer id) that the bus rule
   * sends every event to, read by the router's event source mapping (docs/delivery.md, "Fair routing").
   */
  routerQueue: "voipbin-webhooks-router",
  /** The router queue's dead-letter queue: events the router failed on after its retries. */
  routerFailedQueue: "voipbin-webhooks-router-failed",
  /** The EventBridge rule target's dead-letter queue. */
  ingestDlq: "voipbin-webhooks-ingest-dlq",
  eventBus: "voipbin-events",
} as const;

/** The Lambda functions of the system, `functions/<name>.ts`. */
export const FUNCTION_NAMES = ["router", "delivery", "api", "authorizer"] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/**
 * How long each function may run for one invocation: the deployed functions' timeouts, and the local
 * stack's for the same functions.
 * - router: a Query and a few SendMessageBatch calls; generous for a slow DynamoDB.
 * - delivery: one batch of up to 10 concurrent attempts of at most `MAX_DELIVERY_TIMEOUT_MS` each,
 *   plus recording them; it bounds the delivery queue's visibility timeout (6x).
 * - api: under API Gateway's 30 s integration limit, with room for the recover route's time budget
 *   (RECOVER_TIME_BUDGET_MS, 20 s by default; the handler also stops at the remaining time).
 * - authorizer: one GetItem.
 */
export const FUNCTION_TIMEOUT_SECONDS: Readonly<Record<FunctionName, number>> = {
  router: 30,
  delivery: 60,
  api: 29,
  authorizer: 5,
};

/**
 * Memory (MiB) of each deployed function, chosen from measurement (docs/decisions.md, "Function
 * memory from measurement"; `npm run bench -- --only cost` reports the modelled cost and CPU time of
 * each size). On arm64 a function gets CPU in proportion to its memory (1,769 MB = one vCPU, Lambda
 * Developer Guide, "Configuring Lambda function memory"), so CPU-bound time stretches as memory
 * shrinks, while time spent waiting on an endpoint or DynamoDB does not.
 */
export const FUNCTION_MEMORY_MB: Readonly<Record<FunctionName, number>> = {
  // The router's CPU is most of its billed time (128 MB would double its time per event and its cold
  // start for ~$0.015 per million at 10 M a month); the delivery function mostly waits on endpoints,
  // billed by the GB-second, so 128 MB halves that part of its cost for ~0.17 s more CPU per full
  // batch and a ~1 s cold start (docs/decisions.md, "Cost, round 4").
  router: 256,
  delivery: 128,
  api: 512,
  authorizer: 512,
};

/** How long the delivery Lambda may run for one batch; it bounds the queue's visibility timeout. */
export const DELIVERY_FUNCTION_TIMEOUT_SECONDS = FUNCTION_TIMEOUT_SECONDS.delivery;

/**
 * The delivery queue's own visibility timeout: six times the function timeout (AWS's guidance for
 * event source mappings, Lambda Developer Guide, "Using Lambda with Amazon SQS").
 */
export const DELIVERY_QUEUE_VISIBILITY_TIMEOUT_SECONDS = 6 * DELIVERY_FUNCTION_TIMEOUT_SECONDS;

/**
 * How often the backstop reconciliation runs (shared/services/delivery/backstop.ts): an EventBridge
 * schedule on AWS, a timer in the local stack. A backstop arrival is closed within this much time.
 */
export const BACKSTOP_RECONCILE_MINUTES = 5;

/**
 * The deployed delivery mappings' default `MaximumBatchingWindowInSeconds` (the `deliveryBatchingWindowSeconds`
 * setting): docs/decisions.md, "A batching window for the delivery mapping", has the measured trade-off.
 * The local stack keeps `DELIVERY_BATCH.maxBatchingWindowSeconds` (0): its pollers are not Lambda's.
 */
export const DELIVERY_BATCHING_WINDOW_SECONDS = 1;

/** Event source mapping batch settings, shared by CDK and the local poller. */
export const DELIVERY_BATCH = {
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
} as const;

/**
 * The deployment's default `maxConcurrency` of each delivery lane's event source mapping (2–1000;
 * Lambda Developer Guide, "Configuring maximum concurrency for Amazon SQS event sources",
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html). The local stack runs as
 * many pollers per lane by default, so that an endpoint that never answers holds the same share of a
 * lane on a laptop as on AWS: with fewer local pollers, the first jobs of a new black hole (dialled
 * before the main lane's budget marks it slow) held every poller for the full timeout.
 */
export const DELIVERY_LANE_CONCURRENCY = { main: 20, slow: 5 } as const;

/**
 * `MaximumMessageSize` of every queue: 1 MiB, SQS's maximum since 2025 (SQS Developer Guide, quotas).
 * Set explicitly on every queue rather than trusting a default, which older references and tools
 * still give as 256 KiB; the local SQS stand-in applies the same limit.
 */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

/**
 * The router's fair queue and its event source mapping (docs/delivery.md, "Fair routing").
 * - visibility: six times the router's timeout (AWS's guidance for event source mappings, Lambda
 *   Developer Guide, "Using Lambda with Amazon SQS"); a failed event is retried when it runs out;
 * - maxReceiveCount 5: the Lambda Developer Guide's advice for a mapping's source queue (a throttled
 *   batch is a receive too); an event the router failed on five times goes to the router-failed queue;
 * - batch of 10; no batching window here (the local stack's poller): a deployment's mapping gathers
 *   for ROUTER_BATCHING_WINDOW_SECONDS;
 * - maxConcurrency 20: the mapping's cap (2–1,000); the router's reserved concurrency, when set, must
 *   be at least this (a throttled batch costs its events a receive).
 */
export const ROUTER_QUEUE = {
  visibilityTimeoutSeconds: 6 * FUNCTION_TIMEOUT_SECONDS.router,
  maxReceiveCount: 5,
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  maxConcurrency: 20,
} as const;

/**
 * The deployed router mapping's default `MaximumBatchingWindowInSeconds` (the
 * `routerBatchingWindowSeconds` setting): a batch's events share their SendMessageBatch requests
 * (shared/services/shared-enqueue.ts), so fewer router invocations, deletes, sends and delivery
 * receives per event at volume, for up to a second before an event is routed (docs/decisions.md,
 * "Cost, round 3", has the measured trade-off). The local stack keeps `ROUTER_QUEUE`'s 0.
 */
export const ROUTER_BATCHING_WINDOW_SECONDS = 1;

/** The longest SQS keeps a message (SQS Developer Guide, quotas: 60 s to 14 days). */
const SQS_MAX_RETENTION_SECONDS = 14 * 24 * 3600;

/**
 * Queues where failed or unroutable work waits for an operator (the delivery DLQ, the unroutable,
 * router-failed and ingest DLQ queues) keep it as long as SQS allows. On a standard queue a dead
 * letter's retention counts from its original enqueue (SQS Developer Guide, dead-letter queues), so
 * the oldest-dead-letter alarm fires well before that.
 */
export const TERMINAL_QUEUE_RETENTION_SECONDS = SQS_MAX_RETENTION_SECONDS;

export interface QueueSettings {
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  readonly dlqRetentionSeconds: number;
  readonly maxReceiveCount: number;
}

/**
 * Delivery queue settings derived from the retry schedule: retention outlives the whole retry
 * window, the redrive count is the backstop (`DELIVERY_MAX_RECEIVE_COUNT`), and the visibility timeout is at least six
 * times the function timeout (AWS's guidance for event source mappings).
 */
export function deliveryQueueSettings(retryScheduleSeconds: readonly number[]): QueueSettings {
  const fourDays = 4 * 24 * 3600;
  // Each delay at its longest (Retry-After may double it), reached in hops if over 12 hours.
  const retryWindow = retryScheduleSeconds.reduce((sum, s) => sum + s * 2, 0);
  return {
    visibilityTimeoutSeconds: DELIVERY_QUEUE_VISIBILITY_TIMEOUT_SECONDS,
    retentionSeconds: Math.min(SQS_MAX_RETENTION_SECONDS, Math.max(fourDays, retryWindow + 24 * 3600)),
    dlqRetentionSeconds: TERMINAL_QUEUE_RETENTION_SECONDS,
    maxReceiveCount: DELIVERY_MAX_RECEIVE_COUNT,
  };
}

/**
 * Receives of one delivery-queue message after which SQS itself moves it away (its redrive policy):
 * only a backstop (PRODUCT §4), independent of the retry schedule. Every wait is a new message (a
 * re-send resets SQS's count; shared/domain/delivery/waits.ts), so a message is normally received
 * once, and its count grows only by receives that went wrong: batches Lambda throttled (each a
 * receive; Lambda Developer Guide, "Using Lambda with Amazon SQS" advises at least 5), errors of our
 * own (back after the 6-minute visibility timeout), crashes and timeouts. 35 rides out about three
 * hours of our own dependencies failing (30 × 6 min) plus five throttled receives, and is not below
 * round 2's 34, so messages sleeping in flight at the upgrade are not moved earlier than before
 * (docs/delivery.md, "The backstop").
 */
export const DELIVERY_MAX_RECEIVE_COUNT = 35;

/** The physical name of every named resource of one deployment stage. */
export interface StageResourceNames {
  readonly table: string;
  readonly deliveriesTable: string;
  readonly deliveryQueue: string;
  readonly deliveryDlq: string;
  /** Where SQS's own redrive moves a delivery job after `maxReceiveCount` receives. */
  readonly deliveryBackstop: string;
  /** Fair delivery's slow lane (docs/delivery.md). */
  readonly slowDeliveryQueue: string;
  readonly unroutableQueue: string;
  readonly routerQueue: string;
  readonly routerFailedQueue: string;
  readonly ingestDlq: string;
  /** The way back (optional): the queue VoIPBIN polls for operational events, and its target's DLQ. */
  readonly wayBackQueue: string;
  readonly wayBackDlq: string;
  /** The bus the stack creates (unless the deployment names another one or attaches to one). */
  readonly eventBus: string;
  readonly functions: Readonly<Record<FunctionName, string>>;
  /** Each function's log group (`/aws/lambda/<function name>`, where Lambda would log anyway). */
  readonly functionLogGroups: Readonly<Record<FunctionName, string>>;
  readonly httpApi: string;
  readonly apiAccessLogGroup: string;
  readonly dashboard: string;
  readonly alarmTopic: string;
  /** An alarm's name: the stage's prefix and the alarm's id. */
  alarm(id: string): string;
}

/**
 * Every named resource of a stage carries the stage, so that stages can share an account
 * (names of buses, queues, tables, functions, APIs, alarms, dashboards, topics and log groups are
 * unique per account and region). The ops CLI derives the names it acts on from here as well.
 */
export function resourceNamesFor(stage: string): StageResourceNames {
  const named = (base: string) => `${base}-${stage}`;
  const functions = Object.fromEntries(
    FUNCTION_NAMES.map((fn) => [fn, named(`voipbin-webhooks-${fn}`)]),
  ) as Record<FunctionName, string>;
  return {
    table: named(DEFAULT_RESOURCE_NAMES.table),
    deliveriesTable: named(DEFAULT_RESOURCE_NAMES.deliveriesTable),
    deliveryQueue: named(DEFAULT_RESOURCE_NAMES.deliveryQueue),
    deliveryDlq: named(DEFAULT_RESOURCE_NAMES.deliveryDlq),
    deliveryBackstop: named(DEFAULT_RESOURCE_NAMES.deliveryBackstop),
    slowDeliveryQueue: named(DEFAULT_RESOURCE_NAMES.slowDeliveryQueue),
    unroutableQueue: named(DEFAULT_RESOURCE_NAMES.unroutableQueue),
    routerQueue: named(DEFAULT_RESOURCE_NAMES.routerQueue),
    routerFailedQueue: named(DEFAULT_RESOURCE_NAMES.routerFailedQueue),
    ingestDlq: named(DEFAULT_RESOURCE_NAMES.ingestDlq),
    wayBackQueue: named("voipbin-webhooks-way-back"),
    wayBackDlq: named("voipbin-webhooks-way-back-dlq"),
    eventBus: named(DEFAULT_RESOURCE_NAMES.eventBus),
    functions,
    functionLogGroups: Object.fromEntries(
      FUNCTION_NAMES.map((fn) => [fn, `/aws/lambda/${functions[fn]}`]),
    ) as Record<FunctionName, string>,
    httpApi: named("voipbin-webhooks"),
    apiAccessLogGroup: `/aws/vendedlogs/apigateway/${named("voipbin-webhooks")}`,
    dashboard: named("voipbin-webhooks"),
    alarmTopic: named("voipbin-webhooks-alarms"),
    alarm: (id) => `voipbin-webhooks-${stage}-${id}`,
  };
}
