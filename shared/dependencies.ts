import { fileURLToPath } from "node:url";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import {
  type AwsClients,
  createEventBridgeClient,
  createSqsClient,
  createTableClients,
} from "./adapters/clients.ts";
import { BackstopQueue, DeadLetterQueue, DeliveryQueue, UnroutableQueue } from "./adapters/delivery-queue.ts";
import { systemResolver } from "./adapters/destination-policy.ts";
import { AccessKeyRepository } from "./adapters/dynamodb/access-keys.ts";
import { ActiveflowDestinationRepository } from "./adapters/dynamodb/activeflow-destinations.ts";
import { DeliveryRepository } from "./adapters/dynamodb/deliveries.ts";
import { createDeliveryBatchLoader } from "./adapters/dynamodb/delivery-batch-loader.ts";
import { DeliveryTables } from "./adapters/dynamodb/delivery-tables.ts";
import { EndpointHealthStore } from "./adapters/dynamodb/endpoint-health.ts";
import { ErasureRepository } from "./adapters/dynamodb/erasure.ts";
import { EventTypeRepository } from "./adapters/dynamodb/event-types.ts";
import { ManagedSubscriptionRepository } from "./adapters/dynamodb/managed-subscriptions.ts";
import { PortalLinkRepository } from "./adapters/dynamodb/portal-links.ts";
import { QuotaCounterRepository } from "./adapters/dynamodb/quotas.ts";
import { ShadowLogRepository } from "./adapters/dynamodb/shadow-log.ts";
import { SubscriptionRepository } from "./adapters/dynamodb/subscriptions.ts";
import { HttpSender } from "./adapters/http-sender.ts";
import { OperationalEventPublisher } from "./adapters/operational-events.ts";
import { loadPortalAssets, type PortalAssets, readJsonDocument } from "./adapters/portal-assets.ts";
import type { ApiSettings } from "./api/app.ts";
import type { ApiServices } from "./api/routes.ts";
import { type AppConfig, type AuthorizerConfig, fairnessPolicyFor, quotaRulesFor } from "./config.ts";
import type { DomainLogger } from "./domain/ports/logger.ts";
import { type AddressResolver, DestinationPolicy } from "./domain/subscriptions/destination-policy.ts";
import type { AccessKeyDependencies } from "./services/access-keys.ts";
import { ActiveflowDestinationService } from "./services/activeflow-destinations.ts";
import type { DeliveryDependencies } from "./services/delivery/deliver.ts";
import { FairLanes } from "./services/delivery/fair-lanes.ts";
import { DeliveryInsightsService } from "./services/delivery-insights.ts";
import { DeliveryLogService } from "./services/delivery-log.ts";
import { CachedEventCatalogue } from "./services/event-catalogue.ts";
import { PortalSessionService } from "./services/portal-sessions.ts";
import { QuotaService } from "./services/quotas.ts";
import type { RouterDependencies } from "./services/route-event.ts";
import { SubscriptionService } from "./services/subscriptions.ts";

/**
 * The one place where config becomes clients and domain services. Each function builds its
 * dependencies once per cold start from here; tests pass overrides (a resolver, a clock, clients).
 * Each factory creates only the clients its function uses (and esbuild bundles only those), so a
 * function pays neither the bundle size nor the config resolution of a client it never calls.
 */

/** A queue's name: the last segment of its URL (and the last part of its ARN). */
/** The two tables (delivery records apart from what PITR protects: docs/data-model.md), once per cold start. */
export function deliveryTablesFor(
  doc: DynamoDBDocumentClient,
  config: Pick<AppConfig, "TABLE_NAME" | "DELIVERIES_TABLE_NAME" | "DELIVERY_RETENTION_DAYS">,
): DeliveryTables {
  return new DeliveryTables(
    doc,
    config.TABLE_NAME,
    config.DELIVERIES_TABLE_NAME,
    config.DELIVERY_RETENTION_DAYS,
  );
}

function queueNameOf(queueUrl: string): string {
  return new URL(queueUrl).pathname.split("/").filter(Boolean).at(-1) ?? queueUrl;
}

export function destinationPolicyFor(config: AppConfig): DestinationPolicy {
  return new DestinationPolicy({
    allowHttp: config.ALLOW_HTTP_URLS,
    allowedCidrs: config.ALLOWED_CIDRS,
    reservedEndpoints: config.DENIED_DESTINATIONS,
  });
}

export function createRouterDependencies(
  config: AppConfig,
  clients: Pick<AwsClients, "doc" | "sqs"> = {
    doc: createTableClients(config).doc,
    sqs: createSqsClient(config),
  },
): RouterDependencies {
  const tables = deliveryTablesFor(clients.doc, config);
  return {
    subscriptions: new SubscriptionRepository(clients.doc, config.TABLE_NAME),
    deliveryQueue: new DeliveryQueue(clients.sqs, config.DELIVERY_QUEUE_URL),
    unroutableQueue: new UnroutableQueue(clients.sqs, config.UNROUTABLE_QUEUE_URL),
    payloads: new DeliveryRepository(clients.doc, tables, config.PAYLOAD_RETENTION_DAYS),
    managed: new ManagedSubscriptionRepository(clients.doc, config.TABLE_NAME),
    activeflows: new ActiveflowDestinationRepository(clients.doc, config.TABLE_NAME),
    erasures: new ErasureRepository(clients.doc, tables),
    erasureGraceDays: config.CUSTOMER_ERASURE_GRACE_DAYS,
    retentionDays: config.DELIVERY_RETENTION_DAYS,
    catalogue: new CachedEventCatalogue(new EventTypeRepository(clients.doc, config.TABLE_NAME)),
  };
}

export interface DeliveryDependencyOverrides {
  readonly clients?: AwsClients;
  readonly resolver?: AddressResolver;
  readonly now?: () => Date;
  readonly random?: () => number;
}

export function createDeliveryDependencies(
  config: AppConfig,
  logger: DomainLogger,
  overrides: DeliveryDependencyOverrides = {},
): DeliveryDependencies {
  const given = overrides.clients;
  const doc = given?.doc ?? createTableClients(config).doc;
  const sqs = given?.sqs ?? createSqsClient(config);
  // Only an auto-disable puts an event on the bus: the client is created then, not at cold start.
  const eventBridge = given ? () => given.eventBridge : once(() => createEventBridgeClient(config));
  const policy = destinationPolicyFor(config);
  const tables = deliveryTablesFor(doc, config);
  const fairLanes =
    config.SLOW_DELIVERY_QUEUE_URL !== undefined
      ? new FairLanes({
          policy: fairnessPolicyFor(config),
          health: new EndpointHealthStore(doc, config.TABLE_NAME, config.ENDPOINT_HEALTH_CACHE_TTL_MS),
          slowLane: new DeliveryQueue(sqs, config.SLOW_DELIVERY_QUEUE_URL),
          slowQueueName: queueNameOf(config.SLOW_DELIVERY_QUEUE_URL),
          logger,
          ...(overrides.now ? { now: overrides.now } : {}),
        })
      : undefined;
  return {
    settings: {
      retrySchedule: config.RETRY_SCHEDULE,
      jitter: config.RETRY_JITTER,
      timeoutMs: config.DELIVERY_TIMEOUT_MS,
      maxResponseBodyBytes: config.RESPONSE_BODY_MAX_BYTES,
      autoDisableAfterSeconds: config.AUTO_DISABLE_AFTER_SECONDS,
      retentionDays: config.DELIVERY_RETENTION_DAYS,
    },
    loadBatch: createDeliveryBatchLoader(doc, tables, overrides.now),
    subscriptions: new SubscriptionRepository(doc, config.TABLE_NAME),
    deliveries: new DeliveryRepository(doc, tables, config.PAYLOAD_RETENTION_DAYS),
    queue: new DeliveryQueue(sqs, config.DELIVERY_QUEUE_URL),
    deadLetters: new DeadLetterQueue(sqs, config.DELIVERY_DLQ_URL),
    backstop: new BackstopQueue(sqs, config.DELIVERY_BACKSTOP_QUEUE_URL),
    sender: new HttpSender({ policy, ...(overrides.resolver ? { resolver: overrides.resolver } : {}) }),
    shadowLog: new ShadowLogRepository(doc, tables),
    operationalEvents: new OperationalEventPublisher(eventBridge, config.EVENT_BUS_NAME),
    logger,
    ...(fairLanes ? { lanes: fairLanes } : {}),
    ...(overrides.now ? { now: overrides.now } : {}),
    ...(overrides.random ? { random: overrides.random } : {}),
  };
}

export interface ApiDependencies {
  readonly services: ApiServices;
  readonly settings: ApiSettings;
  /** The portal's built files, read on the first portal request; null where there are none. */
  readonly portalAssets: () => PortalAssets | null;
  /** The OpenAPI document GET /openapi.json answers, read on first use. */
  readonly openApiDocument: () => Record<string, unknown>;
}

export interface ApiDependencyOverrides {
  readonly clients?: Pick<AwsClients, "doc" | "sqs">;
  /** Resolver for the create/update-time destination check (tests, the local stack). */
  readonly resolver?: AddressResolver;
  readonly now?: () => Date;
  /** Where the portal's files are when PORTAL_ASSETS_DIR is unset (the entry point's bundle folder). */
  readonly portalAssetsDir?: string;
  /**
   * The OpenAPI document's file: the one the CDK app ships beside the bundle. Default: the committed
   * docs/openapi.json, for runs from the sources (tests, the local stack), which the unit tests and
   * `npm run openapi:check` keep equal to what shared/api/openapi.ts generates.
   */
  readonly openApiDocumentFile?: string;
}

export function createApiDependencies(
  config: AppConfig,
  overrides: ApiDependencyOverrides = {},
): ApiDependencies {
  const clients = overrides.clients ?? { doc: createTableClients(config).doc, sqs: createSqsClient(config) };
  const subscriptions = new SubscriptionRepository(clients.doc, config.TABLE_NAME);
  const deliveries = new DeliveryRepository(
    clients.doc,
    deliveryTablesFor(clients.doc, config),
    config.PAYLOAD_RETENTION_DAYS,
  );
  return {
    services: {
      subscriptions: new SubscriptionService({
        repository: subscriptions,
        policy: destinationPolicyFor(config),
        resolver: overrides.resolver ?? systemResolver,
        settings: {
          maxSubscriptionsPerCustomer: config.MAX_SUBSCRIPTIONS_PER_CUSTOMER,
          secretRotationOverlapSeconds: config.SECRET_ROTATION_OVERLAP_SECONDS,
          autoDisableAfterSeconds: config.AUTO_DISABLE_AFTER_SECONDS,
        },
        now: overrides.now,
      }),
      activeflowDestinations: new ActiveflowDestinationService({
        repository: new ActiveflowDestinationRepository(clients.doc, config.TABLE_NAME),
        now: overrides.now,
      }),
      deliveryLog: new DeliveryLogService({
        subscriptions,
        deliveries,
        queue: new DeliveryQueue(clients.sqs, config.DELIVERY_QUEUE_URL),
        quotas: new QuotaService({
          counters: new QuotaCounterRepository(clients.doc, config.TABLE_NAME),
          rules: quotaRulesFor(config),
          now: overrides.now,
        }),
        settings: { retentionDays: config.DELIVERY_RETENTION_DAYS },
        now: overrides.now,
      }),
      eventTypes: new CachedEventCatalogue(new EventTypeRepository(clients.doc, config.TABLE_NAME)),
      insights: new DeliveryInsightsService({
        subscriptions,
        deliveries,
        settings: { attemptLookbackSeconds: attemptLookbackSeconds(config) },
        now: overrides.now,
      }),
      portalSessions: new PortalSessionService({
        portalLinks: new PortalLinkRepository(clients.doc, config.TABLE_NAME),
        accessKeys: new AccessKeyRepository(clients.doc, config.TABLE_NAME),
        now: overrides.now,
      }),
    },
    settings: { recoverTimeBudgetMs: config.RECOVER_TIME_BUDGET_MS },
    portalAssets: once(() => {
      const dir = config.PORTAL_ASSETS_DIR ?? overrides.portalAssetsDir;
      return dir === undefined ? null : loadPortalAssets(dir);
    }),
    openApiDocument: once(() =>
      readJsonDocument(
        overrides.openApiDocumentFile ?? fileURLToPath(new URL("../docs/openapi.json", import.meta.url)),
      ),
    ),
  };
}

/**
 * A value computed on first use and kept for the cold start: clients a function needs only on a rare
 * path, documents it builds once. The one memoizer: it remembers `undefined` too.
 */
function once<T>(compute: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = compute();
      done = true;
    }
    return value;
  };
}

/** How long after its creation a delivery may still be attempted: the retry schedule at its longest jitter. */
export function attemptLookbackSeconds(config: Pick<AppConfig, "RETRY_SCHEDULE" | "RETRY_JITTER">): number {
  const schedule = config.RETRY_SCHEDULE.reduce((sum, seconds) => sum + seconds, 0);
  return Math.ceil(schedule * (1 + config.RETRY_JITTER));
}

/** The erasure of deleted customers' data, for the delivery function's scheduled pass (docs/security.md). */
export function createErasureRepository(
  config: Pick<
    AppConfig,
    "AWS_REGION" | "DYNAMODB_ENDPOINT" | "TABLE_NAME" | "DELIVERIES_TABLE_NAME" | "DELIVERY_RETENTION_DAYS"
  >,
  doc: DynamoDBDocumentClient = createTableClients(config).doc,
): ErasureRepository {
  return new ErasureRepository(doc, deliveryTablesFor(doc, config));
}

/** A document client for the table alone: what the authorizer and the operator CLI need. */
export function createTableClient(
  config: Pick<AuthorizerConfig, "AWS_REGION" | "DYNAMODB_ENDPOINT">,
): DynamoDBDocumentClient {
  return createTableClients(config, 3).doc;
}

export function createAuthorizerDependencies(
  config: AuthorizerConfig,
  overrides: { doc?: DynamoDBDocumentClient; now?: () => Date } = {},
): AccessKeyDependencies {
  return {
    accessKeys: new AccessKeyRepository(overrides.doc ?? createTableClient(config), config.TABLE_NAME),
    ...(overrides.now ? { now: overrides.now } : {}),
  };
}
