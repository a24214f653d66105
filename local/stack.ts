import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { HeapInfo } from "node:v8";
import type { Logger } from "@aws-lambda-powertools/logger";
import { GetQueueAttributesCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type {
  APIGatewayProxyEventV2,
  APIGatewayRequestAuthorizerEventV2,
  Context,
  ScheduledEvent,
  SQSBatchResponse,
  SQSEvent,
} from "aws-lambda";
import { registerLocalEndpoint } from "#shared/adapters/local-endpoints.ts";
import { DepthBoundedLogger, SecretSafeLogFormatter } from "#shared/adapters/observability.ts";
import { PORTAL_ROUTES } from "#shared/api/portal.ts";
import { ROUTES } from "#shared/api/routes.ts";
import { loadConfig } from "#shared/config.ts";
import { CodedError } from "#shared/domain/errors.ts";
import { routerRules } from "#shared/domain/events/catalogue.ts";
import { loggedError } from "#shared/domain/ports/logger.ts";
import { loopbackReservedEndpoints } from "#shared/domain/reserved-endpoints.ts";
import {
  BACKSTOP_RECONCILE_MINUTES,
  DEFAULT_RESOURCE_NAMES,
  DELIVERY_BATCH,
  deliveryQueueSettings,
  FUNCTION_TIMEOUT_SECONDS,
  ROUTER_QUEUE,
  TERMINAL_QUEUE_RETENTION_SECONDS,
} from "#shared/resources.ts";
import { materializePortal } from "../portal/build.ts";
import { advertiseStackKey, LOCAL_CREDENTIALS, LOCAL_DEFAULTS } from "../scripts/lib/local-stack.ts";
import { AsyncInvoker, asyncQueueAttributes, LAMBDA_ASYNC_RETRY_DELAYS_MS } from "./async-invoker.ts";
import { DynaliteStartError, type ProcessUsage, startDynaliteProcess } from "./dynalite-process.ts";
import { type BusEvent, eventBridgeRequestListener, LocalEventBus } from "./eventbridge.ts";
import { sqsRuleTarget } from "./eventbridge-sqs-target.ts";
import {
  answerClientError,
  HTTP_API_MAX_HEADER_BYTES,
  type HttpApiRoute,
  type LambdaHandler,
  LocalHttpApi,
} from "./http-api.ts";
import { type InvocableFunction, isLambdaInvokeRequest, lambdaInvokeRequestListener } from "./lambda-api.ts";
import { invokeLambda, LOCAL_ACCOUNT_ID, SandboxPool } from "./lambda-runtime.ts";
import {
  createLocalClients,
  ensureDeliveriesTable,
  ensureQueue,
  ensureQueues,
  ensureTable,
  type LocalClients,
  type QueueUrls,
} from "./provision.ts";
import { type LocalStackSettings, REPO_ROOT } from "./settings.ts";
import { LocalSqsStartError, startLocalSqs } from "./sqs/index.ts";
import {
  FunctionConcurrency,
  LAMBDA_SQS_SCALING,
  type SqsBatchHandler,
  SqsEventSource,
} from "./sqs-event-source.ts";
import { newStackKey, requireStackKey } from "./stack-key.ts";
import { checkTableFiles, DamagedTableError, recordCleanStop, type TableFilesCheck } from "./table-files.ts";

/**
 * The whole system on one machine (PRODUCT §7): dynalite in a child process, our SQS (local/sqs, SQLite) in a worker thread, the table and
 * queues provisioned from shared/resources.ts, and the real handler modules behind local stand-ins
 * for what AWS runs around them — an EventBridge bus and rule, Lambda's asynchronous invocation with
 * its on-failure destination, the SQS event source mapping, and the API Gateway HTTP API with its
 * Lambda authorizer. Only endpoints and configuration differ from a deployment.
 */

/** Function timeouts of the deployed functions (shared/resources.ts), applied to the local invocations. */
export const FUNCTION_TIMEOUTS_MS = {
  router: FUNCTION_TIMEOUT_SECONDS.router * 1000,
  delivery: FUNCTION_TIMEOUT_SECONDS.delivery * 1000,
  api: FUNCTION_TIMEOUT_SECONDS.api * 1000,
  authorizer: FUNCTION_TIMEOUT_SECONDS.authorizer * 1000,
} as const;

/**
 * The router's fair queue (the bus rules' target, read by the router's event source mapping) and its
 * dead-letter queue, the router-failed queue (docs/delivery.md, "Fair routing").
 */
export const ROUTER_QUEUE_NAME = DEFAULT_RESOURCE_NAMES.routerQueue;
export const ROUTER_FAILED_QUEUE_NAME = DEFAULT_RESOURCE_NAMES.routerFailedQueue;
/**
 * Lambda's asynchronous invocation queue of the router (InvocationType Event through the local
 * Lambda Invoke API), which AWS keeps inside Lambda: locally a queue of our SQS, so that an accepted
 * invocation and its scheduled retries survive a kill -9 (docs/local.md, "Persistence"). Not a
 * resource of a deployment.
 */
export const ROUTER_ASYNC_QUEUE_NAME = "voipbin-webhooks-local-router-async";

/**
 * The router's pollers at most (its event source mapping's maximum concurrency), each running one batch
 * at a time in a sandbox of its own; they scale from Lambda's 5 with the backlog (LAMBDA_SQS_SCALING).
 * Fewer than a deployment's ROUTER_QUEUE.maxConcurrency: the laptop has few cores.
 */
const ROUTER_CONCURRENCY = 8;
/** API and authorizer sandboxes; a request beyond waits for one to be free. */
const API_CONCURRENCY = 16;

/** Queued work is drained for at most this long on shutdown; a stuck endpoint must not block Ctrl-C. */
const DRAIN_TIMEOUT_MS = 8_000;
/** Deliveries get one attempt's timeout (DELIVERY_TIMEOUT_MS) plus this to record it, on Ctrl-C. */
const DELIVERY_DRAIN_MARGIN_MS = 3_000;
/** The local SQS's SQLite file under DATA_DIR. */
export const LOCAL_SQS_FILE = "sqs.sqlite";

export class LocalStackError extends CodedError {
  override readonly name = "LocalStackError";
  readonly code = "LOCAL_STACK_FAILED";
}

export interface LocalStackEndpoints {
  readonly api: string;
  readonly events: string;
  readonly dynamodb: string;
  readonly sqs: string;
}

export interface LocalStack {
  readonly settings: LocalStackSettings;
  readonly endpoints: LocalStackEndpoints;
  readonly queues: QueueUrls & {
    readonly routerFailedQueueUrl: string;
    /** The router's fair queue, the bus rules' target (ROUTER_QUEUE_NAME). */
    readonly routerQueueUrl: string;
    /** Lambda's asynchronous invocation queue of the router (local only: ROUTER_ASYNC_QUEUE_NAME). */
    readonly routerAsyncQueueUrl: string;
  };
  readonly tableName: string;
  /** The delivery records' table (docs/data-model.md, "Splitting the delivery records out"). */
  readonly deliveriesTableName: string;
  readonly eventBusName: string;
  /**
   * The access key id the emulators require (local/stack-key.ts): the stack's own clients sign with
   * it, and so must the AWS CLI or an SDK pointed at them.
   */
  readonly stackKey: string;
  /** The environment the functions were loaded with (what a handler reads at cold start). */
  readonly functionEnv: Readonly<Record<string, string>>;
  /** The stack's child processes (the emulators that run out of this process), for monitoring. */
  readonly childProcesses: readonly LocalChildProcess[];
  /** The V8 heaps of the stack's worker threads (the local SQS's), for monitoring: part of this process's RSS. */
  workerHeaps(): Promise<Record<string, HeapInfo>>;
  /** Stops taking work, drains what is in flight, closes everything. Idempotent. */
  stop(): Promise<void>;
}

export interface LocalChildProcess {
  readonly name: string;
  readonly pid: number;
  /** Its memory (RSS, heap, off-heap) and CPU time so far, as the child measures them. */
  usage(): Promise<ProcessUsage>;
}

type Closer = () => Promise<void>;

/** The four functions the stack runs. */
export type LocalFunctionName = "router" | "delivery" | "api" | "authorizer";

/** One invocation of a function, as Lambda would report it: the handler's run in its sandbox. */
export interface LocalInvocation {
  readonly functionName: LocalFunctionName;
  /** Wall-clock time of the handler, from the call to its settling (waiting for a free sandbox excluded). */
  readonly durationMs: number;
  /** The handler threw (for the delivery function a batch with failed items still counts as success). */
  readonly failed: boolean;
}

/**
 * What a tool running the stack in its own process (the bench, the chaos run) may watch, instead of
 * patching the stack's classes: told synchronously, so it must not throw or block.
 */
export interface RoutedEvent {
  readonly json: string;
  /** The router queue's SentTimestamp (epoch ms). */
  readonly sentAt: number;
  /** The router queue's ApproximateFirstReceiveTimestamp (epoch ms). */
  readonly firstReceivedAt: number;
}

export interface LocalStackObserver {
  onInvocation?(invocation: LocalInvocation): void;
  /**
   * Events the router finished with (routed or parked), as the JSON its queue held, when it did, with
   * the router queue's own times (epoch ms): when the message was sent to it and first received.
   */
  onRouted?(events: readonly RoutedEvent[]): void;
}

export async function startLocalStack(
  settings: LocalStackSettings,
  logger = createStackLogger(),
  observer: LocalStackObserver = {},
): Promise<LocalStack> {
  const closers: { name: string; close: Closer }[] = [];
  const cleanup = async () => {
    for (const { name, close } of closers.splice(0).reverse()) {
      await close().catch((error: unknown) =>
        logger.warn(`could not close ${name}`, { error: loggedError(error) }),
      );
    }
  };
  try {
    return await start(settings, logger, observer, closers, cleanup);
  } catch (error) {
    await cleanup();
    throw error;
  }
}

export function createStackLogger(
  options: { readonly logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR" } = {},
): Logger {
  // Depth-bounded: the stack logs foreign data (an event whose routing failed, with its payload).
  return new DepthBoundedLogger({
    serviceName: "local-stack",
    logFormatter: new SecretSafeLogFormatter(),
    ...options,
  });
}

/**
 * Starts the stack bottom-up, one phase at a time; each phase pushes a closer for what it started,
 * so that a failure in a later phase stops what the earlier ones started (startLocalStack).
 */
async function start(
  settings: LocalStackSettings,
  logger: Logger,
  observer: LocalStackObserver,
  closers: { name: string; close: Closer }[],
  cleanup: () => Promise<void>,
): Promise<LocalStack> {
  const ctx: StartContext = { settings, logger, observer, closers, generation: ++stacksStarted };
  // Every busy port in one answer, before anything starts (a listen failing later names only its own).
  await assertPortsFree(settings.host, [
    { variable: "API_PORT", port: settings.ports.api },
    { variable: "EVENTS_PORT", port: settings.ports.events },
    { variable: "DYNAMODB_PORT", port: settings.ports.dynamodb },
    { variable: "SQS_PORT", port: settings.ports.sqs },
  ]);
  const storage = await startStorage(ctx);
  const resources = await provisionResources(ctx, storage);
  const front = await openFrontDoors(ctx, storage, resources);
  const { functionEnv, deliveryDrainMs } = setFunctionEnvironment(ctx, storage.stackKey, resources, front);
  await startRouterFunction(ctx, storage.clients, resources.queues, front.invocable);
  await startDeliveryFunction(ctx, storage.clients, resources.queues, deliveryDrainMs);
  front.serve(await startApiFunctions(ctx));

  // Reordered for shutdown: stop taking requests, let deliveries finish (they may still put events on
  // the bus), then the router, then the emulators underneath.
  reorderForShutdown(closers);
  let stopping: Promise<void> | undefined;
  return {
    settings,
    endpoints: front.endpoints,
    queues: resources.queues,
    tableName: resources.tableName,
    deliveriesTableName: resources.deliveriesTableName,
    eventBusName: settings.eventBusName,
    functionEnv,
    stackKey: storage.stackKey,
    childProcesses: [{ name: "dynalite", pid: storage.dynamo.pid, usage: () => storage.dynamo.usage() }],
    workerHeaps: async () => ({ sqs: await storage.localSqs.heapStatistics() }),
    stop: () => {
      stopping ??= cleanup();
      return stopping;
    },
  };
}

/** What every start phase shares. */
interface StartContext {
  readonly settings: LocalStackSettings;
  readonly logger: Logger;
  readonly observer: LocalStackObserver;
  /** A phase pushes a closer for each thing it started; stop runs them in reverse (reorderForShutdown). */
  readonly closers: { name: string; close: Closer }[];
  /** This stack's number in the process: its function modules are instances of their own. */
  readonly generation: number;
}

interface Storage {
  readonly stackKey: string;
  readonly dynamo: Awaited<ReturnType<typeof startDynaliteProcess>>;
  readonly localSqs: Awaited<ReturnType<typeof startLocalSqs>>;
  readonly endpoints: { readonly dynamodb: string; readonly sqs: string };
  readonly clients: LocalClients;
}

interface Resources {
  readonly tableName: string;
  readonly deliveriesTableName: string;
  readonly queues: LocalStack["queues"];
}

interface FrontDoors {
  readonly endpoints: LocalStackEndpoints;
  /** Every port the stack listens on (none of them is ever a webhook's destination). */
  readonly ports: readonly number[];
  /** The functions the Lambda Invoke endpoint serves, filled in as they start. */
  readonly invocable: Map<string, InvocableFunction>;
  /** Gives the listening API its routes and functions. */
  serve(api: LocalHttpApi): void;
}

/**
 * Phase 1: the emulators underneath — the data directory's lock and checks, the stack key, dynalite
 * in its child process, our SQS in its worker thread — and the stack's SDK clients for them.
 */
async function startStorage(ctx: StartContext): Promise<Storage> {
  const { settings, logger, closers } = ctx;
  const { host, region } = settings;
  const tableDir = path.join(settings.dataDir, "dynamodb");
  let stackKey = newStackKey();
  if (!settings.inMemory) {
    mkdirSync(settings.dataDir, { recursive: true });
    closers.push({ name: "the data directory lock", close: lockDataDir(settings.dataDir) });
    // A damaged table file stops the start here, before LevelDB would silently drop what it cannot read.
    let check: TableFilesCheck;
    try {
      check = checkTableFiles(tableDir);
    } catch (error) {
      if (error instanceof DamagedTableError) throw new LocalStackError(error.message, { cause: error });
      throw error;
    }
    for (const warning of check.warnings) logger.warn(warning);
    stackKey = persistedStackKey(settings.dataDir, stackKey);
    // Runs after dynalite has closed its files (closers run in reverse): the record the next start compares.
    closers.push({ name: "the table files' checksums", close: async () => recordCleanStop(tableDir) });
  }
  // dynalite in a child process: another core for the table, and its memory out of this process.
  const dynamo = await startDynaliteProcess({
    host,
    port: settings.ports.dynamodb,
    ...(settings.inMemory ? {} : { path: tableDir }),
    stackKey,
    onExit: (code, signal) =>
      logger.error("DynamoDB (dynalite) exited: the stack has no table until it is restarted", {
        exit_code: code,
        signal,
      }),
  }).catch((error: unknown) => {
    if (error instanceof DynaliteStartError && error.code === "EADDRINUSE") {
      throw new LocalStackError(
        `${host}:${settings.ports.dynamodb} is already in use: stop what runs there or set DYNAMODB_PORT`,
      );
    }
    throw error;
  });
  const dynamodbPort = dynamo.port;
  closers.push({ name: "DynamoDB (dynalite)", close: () => dynamo.stop() });

  // Our SQS (local/sqs): SQLite-backed, durable under DATA_DIR, in a worker thread of its own.
  const localSqs = await startLocalSqs({
    host,
    port: settings.ports.sqs,
    region,
    file: settings.inMemory ? ":memory:" : path.join(settings.dataDir, LOCAL_SQS_FILE),
    inFlightLimit: settings.sqsInFlightLimit ?? LOCAL_DEFAULTS.SQS_INFLIGHT_LIMIT,
    stackKey,
  }).catch((error: unknown) => {
    if (error instanceof LocalSqsStartError && error.code === "EADDRINUSE") {
      throw new LocalStackError(
        `${host}:${settings.ports.sqs} is already in use: stop what runs there or set SQS_PORT`,
      );
    }
    throw error;
  });
  const sqsPort = localSqs.port;
  closers.push({ name: "SQS (local/sqs)", close: () => localSqs.close() });

  const endpoints = {
    dynamodb: `http://${host}:${dynamodbPort}`,
    sqs: `http://${host}:${sqsPort}`,
  };
  // The stack's own clients (its pollers, the bus's target, the functions') reach its stand-ins
  // without SigV4, the SQS in-process and dynalite by IPC (shared/adapters/local-endpoints.ts); others over HTTP.
  closers.push({
    name: "the in-process endpoints",
    close: async () => {
      withdrawDynamodb();
      withdrawSqs();
    },
  });
  const withdrawDynamodb = registerLocalEndpoint(endpoints.dynamodb, { transport: dynamo.transport });
  const withdrawSqs = registerLocalEndpoint(endpoints.sqs, { transport: localSqs.transport });
  const clients: LocalClients = createLocalClients({
    dynamodbEndpoint: endpoints.dynamodb,
    sqsEndpoint: endpoints.sqs,
    region,
    stackKey,
  });
  closers.push({
    name: "the SDK clients",
    close: async () => {
      clients.dynamodb.destroy();
      clients.sqs.destroy();
    },
  });

  return { stackKey, dynamo, localSqs, endpoints, clients };
}

/**
 * Phase 2: the table and the queues, with the shapes a deployment gives them (shared/resources.ts);
 * then what the previous run had received and was working on is due again.
 */
async function provisionResources(ctx: StartContext, storage: Storage): Promise<Resources> {
  const { settings, logger } = ctx;
  const { clients, localSqs } = storage;
  const tableName = DEFAULT_RESOURCE_NAMES.table;
  await ensureTable(clients.dynamodb, tableName);
  const deliveriesTableName = DEFAULT_RESOURCE_NAMES.deliveriesTable;
  await ensureDeliveriesTable(clients.dynamodb, deliveriesTableName);
  const queues = await ensureQueues(
    clients.sqs,
    {
      deliveryQueue: DEFAULT_RESOURCE_NAMES.deliveryQueue,
      deliveryDlq: DEFAULT_RESOURCE_NAMES.deliveryDlq,
      deliveryBackstop: DEFAULT_RESOURCE_NAMES.deliveryBackstop,
      unroutableQueue: DEFAULT_RESOURCE_NAMES.unroutableQueue,
      slowDeliveryQueue: DEFAULT_RESOURCE_NAMES.slowDeliveryQueue,
    },
    deliveryQueueSettings(settings.retrySchedule),
  );
  const routerFailedQueueUrl = await ensureQueue(clients.sqs, ROUTER_FAILED_QUEUE_NAME, {
    MessageRetentionPeriod: String(TERMINAL_QUEUE_RETENTION_SECONDS),
  });
  // The router queue: the router-failed queue is its dead-letter queue. ROUTER_RETRY_DELAYS (local
  // only) shortens the retries for tests: as many retries as delays, the longest as the visibility.
  const routerRetries = settings.routerRetryDelaysMs;
  const { Attributes: routerFailedAttributes } = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: routerFailedQueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const routerQueueUrl = await ensureQueue(clients.sqs, ROUTER_QUEUE_NAME, {
    VisibilityTimeout: String(
      routerRetries === undefined
        ? ROUTER_QUEUE.visibilityTimeoutSeconds
        : Math.max(1, Math.ceil(Math.max(0, ...routerRetries) / 1000)),
    ),
    MessageRetentionPeriod: String(TERMINAL_QUEUE_RETENTION_SECONDS),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: routerFailedAttributes?.QueueArn,
      maxReceiveCount: routerRetries === undefined ? ROUTER_QUEUE.maxReceiveCount : routerRetries.length + 1,
    }),
  });
  const routerAsyncQueueUrl = await ensureQueue(
    clients.sqs,
    ROUTER_ASYNC_QUEUE_NAME,
    asyncQueueAttributes(FUNCTION_TIMEOUTS_MS.router, TERMINAL_QUEUE_RETENTION_SECONDS),
  );
  // Jobs and router invocations the previous run had received and was working on (its process is
  // gone) are due again now, as they would be once their visibility timeout ran out on AWS;
  // scheduled retries (a visibility set on purpose) keep their time.
  const released = await localSqs.releaseUnchangedReceives([
    DEFAULT_RESOURCE_NAMES.deliveryQueue,
    DEFAULT_RESOURCE_NAMES.slowDeliveryQueue,
    ROUTER_QUEUE_NAME,
    ROUTER_ASYNC_QUEUE_NAME,
  ]);
  if (released > 0) {
    logger.info("jobs and router invocations in flight when the stack last stopped are due again", {
      messages: released,
    });
  }

  return {
    tableName,
    deliveriesTableName,
    queues: { ...queues, routerFailedQueueUrl, routerQueueUrl, routerAsyncQueueUrl },
  };
}

/**
 * Phase 3: the bus and the API listen before the functions are loaded, so that their endpoints are
 * known to the functions' environment. The API answers 503 until `serve` gives it its routes.
 */
async function openFrontDoors(
  ctx: StartContext,
  storage: Storage,
  resources: Resources,
): Promise<FrontDoors> {
  const { settings, logger, closers } = ctx;
  const { host, region } = settings;
  const { clients, stackKey, endpoints } = storage;
  const { routerQueueUrl } = resources.queues;
  // The rules send every voipbin.* event to the router's fair queue, grouped by customer, as
  // EventBridge's SQS target does on AWS (infra/constructs/event-ingest.ts).
  const bus = new LocalEventBus({
    busName: settings.eventBusName,
    region,
    rules: routerRules().map((rule) => ({
      name: rule.id,
      eventPattern: rule.eventPattern,
      target: sqsRuleTarget({
        sqs: clients.sqs,
        queueUrl: routerQueueUrl,
        ...(rule.messageGroupIdPath === undefined ? {} : { messageGroupIdPath: rule.messageGroupIdPath }),
      }),
    })),
    onDropped: (event, reason, busName) => {
      if (reason === "unknown_bus") {
        logger.warn(
          "event put on a bus that does not exist here: accepted and dropped, as EventBridge does",
          {
            event_id: event.id,
            bus: busName,
            local_bus: settings.eventBusName,
          },
        );
      } else {
        logger.info("event matched no rule (the router takes sources voipbin.*): dropped", {
          event_id: event.id,
          source: event.source,
        });
      }
    },
  });
  // The one local AWS control endpoint: EventBridge's PutEvents, and Lambda's Invoke for the
  // functions invoked directly (the router, for the operators' id-preserving redrive).
  const invocable = new Map<string, InvocableFunction>();
  const putEvents = eventBridgeRequestListener(bus);
  const invoke = lambdaInvokeRequestListener(invocable);
  const eventsServer = createServer((req, res) =>
    isLambdaInvokeRequest(req) ? invoke(req, res) : putEvents(req, res),
  );
  requireStackKey(eventsServer, stackKey);
  const eventsPort = await listen(eventsServer, settings.ports.events, host, "EVENTS_PORT");
  closers.push({ name: "the EventBridge endpoint", close: () => closeServer(eventsServer) });
  const withdrawEvents = registerLocalEndpoint(`http://${host}:${eventsPort}`, {});
  closers.push({ name: "the EventBridge endpoint's registration", close: async () => withdrawEvents() });

  let api: LocalHttpApi | undefined;
  const apiServer = createServer({ maxHeaderSize: HTTP_API_MAX_HEADER_BYTES }, (req, res) => {
    if (api === undefined) {
      res.writeHead(503, { "content-type": "application/json" }).end('{"message":"Service Unavailable"}');
      return;
    }
    api.requestListener(req, res);
  });
  apiServer.on("clientError", answerClientError);
  const apiPort = await listen(apiServer, settings.ports.api, host, "API_PORT");
  closers.push({ name: "the API", close: () => closeServer(apiServer) });

  const allEndpoints: LocalStackEndpoints = {
    ...endpoints,
    events: `http://${host}:${eventsPort}`,
    api: `http://${host}:${apiPort}`,
  };
  // Where the repository's CLIs in other terminals find the key for these ports.
  const withdrawKey = advertiseStackKey([eventsPort, storage.dynamo.port, storage.localSqs.port], stackKey);
  closers.push({ name: "the stack key's files", close: async () => withdrawKey() });

  return {
    endpoints: allEndpoints,
    ports: [apiPort, eventsPort, storage.dynamo.port, storage.localSqs.port],
    invocable,
    serve: (routes) => {
      api = routes;
    },
  };
}

/**
 * Phase 4: the functions' environment, set before their modules are loaded (they read it at cold
 * start), and checked whole by the one config schema.
 */
function setFunctionEnvironment(
  ctx: StartContext,
  stackKey: string,
  resources: Resources,
  front: FrontDoors,
): { readonly functionEnv: Record<string, string>; readonly deliveryDrainMs: number } {
  const { settings } = ctx;
  const { region } = settings;
  const { tableName, deliveriesTableName, queues } = resources;
  const { endpoints, ports } = front;
  const functionEnv: Record<string, string> = {
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: stackKey,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    TABLE_NAME: tableName,
    DELIVERIES_TABLE_NAME: deliveriesTableName,
    DELIVERY_QUEUE_URL: queues.deliveryQueueUrl,
    DELIVERY_DLQ_URL: queues.deliveryDlqUrl,
    DELIVERY_BACKSTOP_QUEUE_URL: queues.deliveryBackstopUrl,
    UNROUTABLE_QUEUE_URL: queues.unroutableQueueUrl,
    SLOW_DELIVERY_QUEUE_URL: queues.slowDeliveryQueueUrl,
    EVENT_BUS_NAME: settings.eventBusName,
    DYNAMODB_ENDPOINT: endpoints.dynamodb,
    SQS_ENDPOINT: endpoints.sqs,
    EVENTBRIDGE_ENDPOINT: endpoints.events,
    RETRY_SCHEDULE: settings.retrySchedule.join(","),
    ALLOWED_CIDRS: process.env.ALLOWED_CIDRS ?? LOCAL_DEFAULTS.ALLOWED_CIDRS,
    ALLOW_HTTP_URLS: process.env.ALLOW_HTTP_URLS || LOCAL_DEFAULTS.ALLOW_HTTP_URLS,
    // The stack's own ports are never a webhook target, whatever ALLOWED_CIDRS says: a subscription
    // to the SQS port could otherwise read other customers' dead letters (docs/security.md).
    DENIED_DESTINATIONS: [
      ...loopbackReservedEndpoints(ports),
      ...(process.env.DENIED_DESTINATIONS ?? "").split(",").filter((entry) => entry.trim() !== ""),
    ].join(","),
    // CloudWatch EMF lines on stdout would drown the logs; there is no CloudWatch here to read them.
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED || "true",
    // The customer portal, built from portal/src now (esbuild, ~0.1 s), served by the api function.
    PORTAL_ASSETS_DIR: materializePortal(),
  };
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  Object.assign(process.env, functionEnv);
  // Every configuration problem at once, before any module fails on the first one.
  const functionConfig = loadConfig(process.env);
  const deliveryDrainMs = functionConfig.DELIVERY_TIMEOUT_MS + DELIVERY_DRAIN_MARGIN_MS;

  return { functionEnv, deliveryDrainMs };
}

/**
 * Phase 5: the router (the module Lambda runs), behind Lambda's asynchronous invocation (with its
 * on-failure destination) and its event source mapping on the fair router queue.
 */
async function startRouterFunction(
  ctx: StartContext,
  clients: LocalClients,
  queues: Resources["queues"],
  invocable: Map<string, InvocableFunction>,
): Promise<void> {
  const { settings, logger, observer, closers, generation } = ctx;
  const { region } = settings;
  const { routerAsyncQueueUrl, routerFailedQueueUrl, routerQueueUrl } = queues;
  const router = await functionSandboxes<BusEvent>("router", ROUTER_CONCURRENCY, observer, generation);
  const routerInvoker = new AsyncInvoker<BusEvent>({
    spec: { functionName: "router", awsRegion: region, timeoutMs: FUNCTION_TIMEOUTS_MS.router },
    handler: router.handler,
    queue: { sqs: clients.sqs, queueUrl: routerAsyncQueueUrl },
    concurrency: ROUTER_CONCURRENCY,
    retryDelaysMs: settings.routerRetryDelaysMs ?? LAMBDA_ASYNC_RETRY_DELAYS_MS,
    onFailure: async (_record, recordJson) => {
      await clients.sqs.send(
        new SendMessageCommand({ QueueUrl: routerFailedQueueUrl, MessageBody: recordJson }),
      );
    },
    logger,
  });
  routerInvoker.start();
  invocable.set("router", {
    spec: { functionName: "router", awsRegion: region, timeoutMs: FUNCTION_TIMEOUTS_MS.router },
    handler: router.handler as InvocableFunction["handler"],
    invokeAsync: (payloadJson) => routerInvoker.invoke(payloadJson),
  });
  closers.push({
    name: "the router",
    close: () => withDeadline(routerInvoker.stop(), "router invocations", logger),
  });
  // The router's event source mapping on its fair queue: batches of events, several pollers.
  const routerSource = new SqsEventSource({
    sqs: clients.sqs,
    queueUrl: routerQueueUrl,
    handler: async (event, context) => {
      const response = (await router.handler(event as unknown as BusEvent, context)) as
        | SQSBatchResponse
        | undefined;
      const failed = response?.batchItemFailures?.length ?? 0;
      if (observer.onRouted !== undefined) {
        const failedIds = new Set(response?.batchItemFailures?.map((failure) => failure.itemIdentifier));
        observer.onRouted(
          event.Records.filter((record) => !failedIds.has(record.messageId)).map((record) => ({
            json: record.body,
            sentAt: Number(record.attributes.SentTimestamp),
            firstReceivedAt: Number(record.attributes.ApproximateFirstReceiveTimestamp),
          })),
        );
      }
      if (failed > 0) {
        // What Lambda's console shows as a partial batch failure; SQS brings the events back.
        logger.warn("routing failed for events of a batch; the router queue retries them", {
          function_name: "router",
          failed,
          of: event.Records.length,
        });
      }
      return response;
    },
    batchSize: ROUTER_QUEUE.batchSize,
    maxBatchingWindowSeconds: ROUTER_QUEUE.maxBatchingWindowSeconds,
    waitTimeSeconds: 20,
    // The cap (Lambda's MaximumConcurrency); below it the pollers scale as Lambda's do: 5 batches at a
    // time when messages arrive, one more per 200 ms while they keep coming or every poller is busy
    // (so a quiet customer's event finds one), back to 5 when the backlog is gone. A burst's first
    // second is routed by 5 batches at a time, as on AWS, not by every sandbox at once.
    concurrency: ROUTER_CONCURRENCY,
    scaling: LAMBDA_SQS_SCALING,
    functionTimeoutMs: FUNCTION_TIMEOUTS_MS.router,
    functionName: "router",
    onError: (error) => logger.error("router event source", { error: loggedError(error) }),
  });
  routerSource.start();
  closers.push({
    name: "the router event source",
    // An event cut short stays queued and is routed again after the restart (released at start).
    close: () => withDeadline(routerSource.stop({ abortReceives: true }), "routed events", logger),
  });
}

/**
 * Phase 6: the delivery function (the module Lambda runs) behind its two event source mappings and
 * the backstop reconciliation's schedule.
 */
async function startDeliveryFunction(
  ctx: StartContext,
  clients: LocalClients,
  queues: Resources["queues"],
  deliveryDrainMs: number,
): Promise<void> {
  const { settings, logger, observer, closers, generation } = ctx;
  const { region } = settings;
  const slowLaneConcurrency = settings.slowLaneConcurrency ?? LOCAL_DEFAULTS.SLOW_LANE_CONCURRENCY;
  // One pool for both mappings, as on Lambda: the same function, its instances shared by the lanes.
  const delivery = await functionSandboxes<SQSEvent>(
    "delivery",
    settings.deliveryConcurrency + slowLaneConcurrency,
    observer,
    generation,
  );

  // The SQS event source mappings: the delivery queue, and fair delivery's slow lane (docs/delivery.md)
  // with its own, small, concurrency, so slow and black-holing endpoints never take the main lane's
  // pollers. Both invoke the same function's sandboxes, as two mappings of one function do on AWS.
  // The function's concurrency, shared by both mappings: as many as the two mappings' pollers, so
  // nothing is throttled unless a caller takes slots (a batch received without a free slot is
  // throttled: not invoked, back after its visibility timeout with its receive count +1, as on Lambda).
  const deliveryConcurrency = new FunctionConcurrency(settings.deliveryConcurrency + slowLaneConcurrency);
  const eventSource = (queueUrl: string, concurrency: number, name: string, what: string) => {
    const source = new SqsEventSource({
      functionConcurrency: deliveryConcurrency,
      sqs: clients.sqs,
      queueUrl,
      handler: delivery.handler as SqsBatchHandler,
      batchSize: DELIVERY_BATCH.batchSize,
      maxBatchingWindowSeconds: DELIVERY_BATCH.maxBatchingWindowSeconds,
      // Lambda's pollers long-poll for 20 s; stop() cuts the poll short (the SQS drops a poll whose client left).
      waitTimeSeconds: 20,
      // `concurrency` is the mapping's MaximumConcurrency: 5 pollers, more while a backlog lasts (as Lambda scales).
      concurrency,
      scaling: LAMBDA_SQS_SCALING,
      functionTimeoutMs: FUNCTION_TIMEOUTS_MS.delivery,
      functionName: "delivery",
      onError: (error) => logger.error(name, { error: loggedError(error) }),
    });
    source.start();
    closers.push({
      name: `the ${name}`,
      // At least one whole attempt's time: an attempt cut short stays on the queue and is sent again
      // after the restart (its job is released at start), so nothing in flight is lost either way.
      close: () => withDeadline(source.stop({ abortReceives: true }), what, logger, deliveryDrainMs),
    });
  };
  eventSource(queues.deliveryQueueUrl, settings.deliveryConcurrency, "delivery event source", "deliveries");
  eventSource(
    queues.slowDeliveryQueueUrl,
    slowLaneConcurrency,
    "slow lane event source",
    "slow-lane deliveries",
  );

  // The backstop reconciliation's schedule, as the BackstopReconcile rule runs it on AWS
  // (infra/constructs/delivery.ts): the delivery function invoked with EventBridge's Scheduled Event
  // every BACKSTOP_RECONCILE_MINUTES, one pass at a time (docs/delivery.md, "The backstop").
  const reconcileSpec = {
    functionName: "delivery",
    awsRegion: region,
    timeoutMs: FUNCTION_TIMEOUTS_MS.delivery,
  };
  let reconciling: Promise<unknown> | undefined;
  const reconcileTimer = setInterval(() => {
    if (reconciling !== undefined) return;
    const now = new Date();
    const scheduled: ScheduledEvent = {
      version: "0",
      id: randomUUID(),
      "detail-type": "Scheduled Event",
      source: "aws.events",
      account: LOCAL_ACCOUNT_ID,
      time: `${now.toISOString().slice(0, 19)}Z`,
      region,
      resources: [`arn:aws:events:${region}:${LOCAL_ACCOUNT_ID}:rule/backstop-reconcile`],
      detail: {},
    };
    reconciling = invokeLambda(
      reconcileSpec,
      delivery.handler as unknown as (event: ScheduledEvent, context: Context) => Promise<unknown>,
      scheduled,
    )
      .catch((error: unknown) =>
        logger.error("backstop reconciliation pass failed", { error: loggedError(error) }),
      )
      .finally(() => {
        reconciling = undefined;
      });
  }, BACKSTOP_RECONCILE_MINUTES * 60_000);
  reconcileTimer.unref();
  closers.push({
    name: "the backstop reconciliation",
    close: async () => {
      clearInterval(reconcileTimer);
      await reconciling;
    },
  });
}

/** Phase 7: the API and its authorizer (the modules Lambda runs) behind the HTTP API's route table. */
async function startApiFunctions(ctx: StartContext): Promise<LocalHttpApi> {
  const { settings, logger, observer, generation } = ctx;
  const { region } = settings;
  const apiFunction = await functionSandboxes<APIGatewayProxyEventV2>(
    "api",
    API_CONCURRENCY,
    observer,
    generation,
  );
  const authorizer = await functionSandboxes<APIGatewayRequestAuthorizerEventV2>(
    "authorizer",
    API_CONCURRENCY,
    observer,
    generation,
  );
  // The same route table the API function dispatches on (and the CDK construct mirrors), without
  // loading aws-cdk-lib into the local stack.
  const routes: HttpApiRoute[] = [
    ...ROUTES.map((route) => ({ routeKey: `${route.method} ${route.path}`, authorized: route.auth })),
    ...PORTAL_ROUTES.map((route) => ({ routeKey: `${route.method} ${route.path}`, authorized: false })),
    { routeKey: "$default", authorized: true },
  ];
  return new LocalHttpApi({
    routes,
    integration: {
      spec: { functionName: "api", awsRegion: region, timeoutMs: FUNCTION_TIMEOUTS_MS.api },
      handler: apiFunction.handler,
    },
    authorizer: {
      spec: { functionName: "authorizer", awsRegion: region, timeoutMs: FUNCTION_TIMEOUTS_MS.authorizer },
      handler: authorizer.handler,
      identitySources: [],
    },
    region,
    log: (level, message, extra) => logger[level](message, extra),
  });
}

/**
 * Closers run in reverse order of this list. Started bottom-up (storage first), the system must
 * stop top-down: the API, then deliveries, then the bus with the router, then the emulators.
 */
function reorderForShutdown(closers: { name: string; close: Closer }[]): void {
  const rank = (name: string) =>
    [
      "the API",
      "the slow lane event source",
      "the delivery event source",
      "the EventBridge endpoint",
      "the router event source",
      "the router",
    ].indexOf(name);
  const ranked = closers.filter((closer) => rank(closer.name) !== -1);
  const rest = closers.filter((closer) => rank(closer.name) === -1);
  ranked.sort((a, b) => rank(b.name) - rank(a.name));
  closers.splice(0, closers.length, ...rest, ...ranked);
}

/**
 * A pool of sandboxes of one function module (functions/<name>.ts), the first one loaded now. Each
 * sandbox's handler reports its invocations to the observer.
 */
/**
 * Stacks started in this process so far. A function module reads its configuration (endpoints,
 * queue URLs) once, at cold start; each stack loads its own instances (a URL of its own), so that a
 * second stack in one process (the bench's sections, one after the other) does not run the first
 * one's functions against the first one's stopped endpoints.
 */
let stacksStarted = 0;

async function functionSandboxes<TEvent>(
  functionName: LocalFunctionName,
  max: number,
  observer: LocalStackObserver,
  generation: number,
): Promise<SandboxPool<TEvent, unknown>> {
  const file = `${functionName}.ts`;
  const url = pathToFileURL(path.join(REPO_ROOT, "functions", file)).href;
  const pool = new SandboxPool<TEvent, unknown>(async (sandbox) => {
    // A query string makes a separate module instance: the sandbox's own top-level state.
    const module = (await import(`${url}?stack=${generation}&sandbox=${sandbox}`)) as { handler?: unknown };
    if (typeof module.handler !== "function") {
      throw new LocalStackError(`functions/${file} does not export a handler function`);
    }
    const handler = module.handler as LambdaHandler<TEvent, unknown>;
    const onInvocation = observer.onInvocation?.bind(observer);
    if (onInvocation === undefined) return handler;
    return async (event, context) => {
      const started = performance.now();
      let failed = true;
      try {
        const result = await handler(event, context);
        failed = false;
        return result;
      } finally {
        onInvocation({ functionName, durationMs: performance.now() - started, failed });
      }
    };
  }, max);
  await pool.warm();
  return pool;
}

/** Tries every fixed port at once and throws one LocalStackError naming each one in use. */
async function assertPortsFree(
  host: string,
  ports: readonly { readonly variable: string; readonly port: number }[],
): Promise<void> {
  const busy = (
    await Promise.all(
      ports
        .filter(({ port }) => port !== 0)
        .map(
          ({ variable, port }) =>
            new Promise<string | undefined>((resolve, reject) => {
              const probe = createNetServer();
              probe.once("error", (error: NodeJS.ErrnoException) =>
                error.code === "EADDRINUSE" || error.code === "EACCES"
                  ? resolve(
                      `${host}:${port} (${variable}) is ${error.code === "EACCES" ? "not allowed" : "already in use"}`,
                    )
                  : reject(error),
              );
              probe.listen(port, host, () => probe.close(() => resolve(undefined)));
            }),
        ),
    )
  ).filter((problem) => problem !== undefined);
  if (busy.length > 0) {
    throw new LocalStackError(
      `${busy.join("; ")}: stop what runs there or set ${busy.length === 1 ? "that variable" : "those variables"} (0 picks a free port)`,
    );
  }
}

async function listen(server: Server, port: number, host: string, variable: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new LocalStackError(`${host}:${port} is already in use: stop what runs there or set ${variable}`)
          : error,
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : port;
}

/** Stops accepting connections, lets requests in flight finish, then drops idle keep-alive sockets. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), DRAIN_TIMEOUT_MS);
    force.unref();
  });
}

async function withDeadline(
  work: Promise<void>,
  what: string,
  logger: Logger,
  timeoutMs = DRAIN_TIMEOUT_MS,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const outcome = await Promise.race([work.then(() => "done" as const), deadline]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    logger.warn(`shutting down without waiting longer for ${what} in flight`, {
      waited_ms: timeoutMs,
    });
  }
}

/**
 * One local stack per data directory: two dynalite processes on the same LevelDB files corrupt
 * each other's view, and the second one crashes with an obscure iterator error.
 */
function lockDataDir(dataDir: string): Closer {
  const lockFile = path.join(dataDir, "local-stack.pid");
  const holder = readLockHolder(lockFile);
  if (holder !== undefined && holder !== process.pid && isRunning(holder)) {
    throw new LocalStackError(
      `another local stack (pid ${holder}) is using ${dataDir}: stop it, or start this one with --in-memory or another DATA_DIR`,
    );
  }
  writeFileSync(lockFile, String(process.pid));
  return async () => {
    if (readLockHolder(lockFile) === process.pid) rmSync(lockFile, { force: true });
  };
}

function readLockHolder(lockFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockFile, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the lock's holder still runs. A process killed with -9 whose parent has not reaped it yet
 * (a container whose init does not reap, a supervisor that does not wait) is a zombie: kill(pid, 0)
 * still succeeds, but it holds no port and no file and will never run again, so it holds no lock.
 * Linux says so in /proc/<pid>/stat (state Z, or X while being reaped); elsewhere kill(pid, 0) decides.
 */
function isRunning(pid: number): boolean {
  const state = processState(pid);
  if (state === "Z" || state === "X" || state === "gone") return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The state letter of /proc/<pid>/stat ("gone" when Linux has no such process; undefined off Linux). */
function processState(pid: number): string | "gone" | undefined {
  if (process.platform !== "linux") return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? "gone" : undefined;
  }
  // "pid (comm) state …": comm may hold spaces and parentheses, so the state follows the last ")".
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) || undefined;
}

/**
 * The stack key of a data directory: kept in DATA_DIR/stack-key (mode 0600), so that a service or a
 * shell configured with it keeps working across restarts; `fresh` the first time.
 */
function persistedStackKey(dataDir: string, fresh: string): string {
  const file = path.join(dataDir, "stack-key");
  try {
    const kept = readFileSync(file, "utf8").trim();
    if (/^[A-Z0-9]{16,128}$/.test(kept)) return kept;
  } catch {
    // None yet.
  }
  writeFileSync(file, fresh, { mode: 0o600 });
  return fresh;
}
