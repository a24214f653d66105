import { type AwsClients, createAwsClients } from "./clients.ts";
import type { AppConfig } from "./config.ts";
import type { DeliveryDependencies, DomainLogger } from "./delivery/deliver.ts";
import { SubscriptionCache } from "./delivery/subscription-cache.ts";
import { type AddressResolver, DestinationPolicy } from "./destination-policy.ts";
import { HttpSender } from "./http-sender.ts";
import { OperationalEventPublisher } from "./operational-events.ts";
import { DeliveryQueue, UnroutableQueue } from "./queues/delivery-queue.ts";
import { DeliveryRepository } from "./repositories/deliveries.ts";
import { SubscriptionRepository } from "./repositories/subscriptions.ts";
import { batchGetItems } from "./repositories/table.ts";
import type { RouterDependencies } from "./routing/route-event.ts";

/**
 * The one place where config becomes clients and domain services. Each function builds its
 * dependencies once per cold start from here; tests pass overrides (a resolver, a clock, clients).
 */

export function destinationPolicyFor(config: AppConfig): DestinationPolicy {
  return new DestinationPolicy({ allowHttp: config.ALLOW_HTTP_URLS, allowedCidrs: config.ALLOWED_CIDRS });
}

export function createRouterDependencies(
  config: AppConfig,
  clients: AwsClients = createAwsClients(config),
): RouterDependencies {
  return {
    subscriptions: new SubscriptionRepository(clients.doc, config.TABLE_NAME),
    deliveryQueue: new DeliveryQueue(clients.sqs, config.DELIVERY_QUEUE_URL),
    unroutableQueue: new UnroutableQueue(clients.sqs, config.UNROUTABLE_QUEUE_URL),
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
  const clients = overrides.clients ?? createAwsClients(config);
  const policy = destinationPolicyFor(config);
  return {
    settings: {
      retrySchedule: config.RETRY_SCHEDULE,
      jitter: config.RETRY_JITTER,
      timeoutMs: config.DELIVERY_TIMEOUT_MS,
      maxResponseBodyBytes: config.RESPONSE_BODY_MAX_BYTES,
      autoDisableAfterSeconds: config.AUTO_DISABLE_AFTER_SECONDS,
      retentionDays: config.DELIVERY_RETENTION_DAYS,
    },
    loadItems: (itemKeys) => batchGetItems(clients.doc, config.TABLE_NAME, itemKeys),
    subscriptions: new SubscriptionRepository(clients.doc, config.TABLE_NAME),
    deliveries: new DeliveryRepository(clients.doc, config.TABLE_NAME),
    queue: new DeliveryQueue(clients.sqs, config.DELIVERY_QUEUE_URL),
    sender: new HttpSender({ policy, ...(overrides.resolver ? { resolver: overrides.resolver } : {}) }),
    operationalEvents: new OperationalEventPublisher(clients.eventBridge, config.EVENT_BUS_NAME),
    cache: new SubscriptionCache(config.SUBSCRIPTION_CACHE_TTL_MS),
    logger,
    ...(overrides.now ? { now: overrides.now } : {}),
    ...(overrides.random ? { random: overrides.random } : {}),
  };
}
