import { randomUUID } from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Logger } from "@aws-lambda-powertools/logger";
import type { LogItemExtraInput, LogItemMessage } from "@aws-lambda-powertools/logger/types";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { keys } from "#shared/adapters/dynamodb/table.ts";
import { newSubscription } from "#shared/domain/subscriptions/subscription.ts";
import { REPO_ROOT } from "../../local/settings.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { localCredentials } from "../../scripts/lib/local-stack.ts";
import { originalEvent } from "../../scripts/ops/parked-kinds.ts";
import { benchStackSettings, lambdaContext } from "../lib/util.ts";
import { type CrashSummary, runCrashStage } from "./crash.ts";
import { FaultInjector, type FaultRates } from "./faults.ts";
import { bodyMatches, type FuzzCase, fuzzCases } from "./fuzz.ts";
import { type OutageStageOptions, type OutageSummary, runOutageStage } from "./outage.ts";
import { planWorkload, type WorkloadPlan } from "./plan.ts";
import { ReceiverHub, type ReceiverProfile } from "./receivers.ts";
import { failures, type PairKey, pairKey, type Reconciliation, reconcile } from "./reconcile.ts";
import { seedPlannedSubscriptions } from "./seed.ts";

/**
 * The chaos run: the local stack in this process (the real handler modules behind the local
 * EventBridge, Lambda async invocation and SQS event source mapping), misbehaving receivers, AWS faults
 * injected into the SDK (faults.ts), many events put on the bus with PutEvents, then a wait for the
 * system to settle, a re-drive of what the router parked on its on-failure destination, and the
 * reconciliation of what every receiver acknowledged against what should have been delivered.
 * A fuzz stage follows, without faults.
 */

export interface ChaosOptions {
  readonly mode: string;
  /** At least this many expected deliveries. */
  readonly targetDeliveries: number;
  readonly customers: number;
  readonly seed: number;
  readonly rates: FaultRates;
  /** Events of a customer whose routing lookup fails on every attempt (0: no on-failure path). */
  readonly poisonEvents: number;
  /** Fuzz-stage events (0: no fuzz stage). */
  readonly fuzzEvents: number;
  /** RETRY_SCHEDULE of the run (seconds); short so that retries and dead letters settle in seconds. */
  readonly retrySchedule: readonly number[];
  readonly retryJitter: number;
  readonly deliveryTimeoutMs: number;
  /**
   * The delivery queue's visibility timeout for the run: how soon a job whose invocation failed on our
   * side comes back (6 minutes in a deployment). It stays far above the time one batch can take here.
   */
  readonly visibilityTimeoutSeconds: number;
  readonly deliveryConcurrency: number;
  /** How long the black-holing customer's endpoint accepts and never answers, from the start. */
  readonly blackHoleSeconds: number;
  /** Emission pauses while more expected deliveries than this are outstanding. */
  readonly maxBacklog: number;
  /** Upper bound on each settle phase. */
  readonly settleTimeoutMs: number;
  readonly progress: (line: string) => void;
  /** Let the functions' and the stack's logs through (very noisy under faults). */
  readonly verbose?: boolean;
  /**
   * The crash stage (crash.ts), after the main run and the fuzz stage: `npm start` in a child
   * process, killed with kill -9 `kills` times under load and restarted on its data directory.
   * Absent or 0 kills: no crash stage.
   */
  readonly crash?: { readonly kills: number; readonly targetDeliveries: number; readonly customers: number };
  /** The outage stage (outage.ts), last; absent: none. */
  readonly outage?: Omit<OutageStageOptions, "log">;
}

/**
 * The router's retries, scaled down like the delivery schedule: a failed event comes back after the
 * router queue's visibility timeout (local/stack.ts ROUTER_RETRY_DELAYS: as many retries as delays,
 * the longest as the visibility), then goes to the router-failed queue.
 */
const ROUTER_RETRY_DELAYS_MS = [20_000, 20_000];
const ROUTER_RETRY_WINDOW_MS = Math.max(...ROUTER_RETRY_DELAYS_MS) + 5_000;
/** Quiet time (no receiver request) after which a settle phase with an empty queue is over. */
const QUIET_MS = 3_000;

export interface FuzzSummary {
  generated: number;
  by_kind: Record<string, number>;
  rejected_by_bus: number;
  rejected_by_bus_unpredicted: number;
  expected_delivered: number;
  expected_unroutable: number;
  delivered: number;
  /** Delivered bodies whose data differs from what was put on the bus (`__proto__` keys included). */
  delivered_body_mismatch: number;
  unroutable_on_queue: number;
  unroutable_reason_mismatch: number;
  missing: number;
  unexpected_outcome: number;
  router_invocation_failures: number;
  samples: string[];
}

export interface ChaosResult extends Reconciliation {
  mode: string;
  seed: number;
  started_at: string;
  duration_s: number;
  events: number;
  subscriptions: number;
  faults_injected: number;
  faults: Record<string, number>;
  receiver: {
    requests: number;
    acks: number;
    signature_failures: number;
    unattributed: number;
    overlapping: number;
  };
  always_failing: { expected: number; dead_lettered: number; delivered: number };
  /** The black-holing customer's deliveries: each delivered or dead-lettered, none lost. */
  black_hole: { expected: number; dead_lettered: number; delivered: number; swallowed_requests: number };
  router_failed: { events: number; redriven: number; expected_deliveries: number; left_on_queue: number };
  unroutable_left: number;
  dlq_messages: number;
  router_invocation_failures: number;
  /** Delivery records in the table at the end, by status (a cross-check of the DLQ and the receivers). */
  records_by_status: Record<string, number>;
  /**
   * Status of the delivery record of each dead-lettered job: `dead` unless the job's last receive hit
   * an error of our own (then the record still says `failed`, with a next attempt that never comes).
   */
  dlq_record_status: Record<string, number>;
  /** For a few unexplained duplicates: what the receiver saw and what the delivery record says. */
  duplicate_diagnostics: unknown[];
  /** Errors the local event source mapping reported (receives, deletes, invocations that threw). */
  event_source_errors: number;
  calls_by_site: Record<string, number>;
  config: Record<string, unknown>;
  fuzz: FuzzSummary | null;
  /** kill -9 of the whole local stack under load, restarts, reconciliation (null: not run). */
  crash: CrashSummary | null;
  outage: OutageSummary | null;
  passed: boolean;
  failures: string[];
  warnings: string[];
}

/** The stack's own logger, quiet, counting what the local AWS stand-ins report. */
class StackLogWatcher extends Logger {
  routerInvocationFailures = 0;
  /** When the router last failed an event: it comes back after the router queue's visibility timeout. */
  lastRouterFailureAt = 0;
  routerDestinationRecords = 0;
  eventSourceErrors = 0;

  constructor(private readonly verbose: boolean) {
    super({ serviceName: "local-stack", logLevel: verbose ? "INFO" : "SILENT" });
  }

  override warn(message: LogItemMessage, ...extra: LogItemExtraInput): void {
    if (
      typeof message === "string" &&
      (message.startsWith("asynchronous invocation failed") ||
        message.startsWith("routing failed for events")) &&
      (extra[0] as { function_name?: unknown } | undefined)?.function_name === "router"
    ) {
      this.routerInvocationFailures++;
      this.lastRouterFailureAt = Date.now();
    }
    if (this.verbose) super.warn(message, ...extra);
  }

  override error(message: LogItemMessage, ...extra: LogItemExtraInput): void {
    if (
      typeof message === "string" &&
      message.startsWith("asynchronous invocation failed on every attempt")
    ) {
      this.routerDestinationRecords++;
    }
    if (message === "delivery event source") this.eventSourceErrors++;
    if (this.verbose) super.error(message, ...extra);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface DrainedQueue {
  readonly messages: Map<string, Message>;
}

/** The SDK clients of the driver itself (exempt from the injected faults: they are the operator's). */
interface DriverClients {
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  readonly events: EventBridgeClient;
}

/** What the operator's re-drive of the router's on-failure destination did. */
interface Redrive {
  readonly events: number;
  readonly expectedDeliveries: number;
  readonly redriven: number;
}

/** The end state, read once the system has settled (and before the fuzz stage adds to it). */
interface EndState {
  readonly reconciliation: Reconciliation;
  readonly alwaysFailing: ReturnType<typeof alwaysFailingCounts>;
  readonly routerInvocationFailures: number;
  readonly recordsByStatus: Record<string, number>;
  readonly dlqRecordStatus: Record<string, number>;
  readonly unroutableLeft: number;
  readonly routerFailedLeft: { visible: number; inFlight: number };
}

/**
 * The run, phase by phase: start (receivers, faults, the local stack) → seed the subscriptions →
 * emit under faults → settle → re-drive the router's on-failure destination → read the end state
 * and reconcile → fuzz stage (no faults) → the result. `close` undoes everything start did.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const t0 = Date.now();
  const run = new ChaosRun(options);
  let result: ChaosResult;
  try {
    await run.start();
    await run.seedSubscriptions();
    await run.emitUnderFaults();
    const settled = await run.settle("settling");
    await run.progress("settled", true);
    run.log(`phase 1: ${settled}`);
    const redrive = await run.redriveRouterFailures();
    const end = await run.readEndState();
    const fuzz = await run.fuzzStage();
    result = await run.result(redrive, end, fuzz);
  } finally {
    await run.close();
  }
  if (options.crash !== undefined && options.crash.kills > 0) {
    // After the in-process stack stopped and the faults were removed: the stage has the machine.
    const crash = await runCrashStage({
      seed: options.seed + 100,
      targetDeliveries: options.crash.targetDeliveries,
      customers: options.crash.customers,
      kills: options.crash.kills,
      retrySchedule: options.retrySchedule,
      retryJitter: options.retryJitter,
      deliveryTimeoutMs: options.deliveryTimeoutMs,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
      maxBacklog: options.maxBacklog,
      settleTimeoutMs: Math.min(options.settleTimeoutMs, 180_000),
      log: options.progress,
      ...(options.verbose === undefined ? {} : { verbose: options.verbose }),
    });
    result = {
      ...result,
      crash,
      failures: [...result.failures, ...crash.failures],
      warnings: [...result.warnings, ...crash.warnings],
    };
  }
  if (options.outage !== undefined) {
    const outage = await runOutageStage({ ...options.outage, log: options.progress });
    result = {
      ...result,
      outage,
      failures: [...result.failures, ...outage.failures],
      warnings: [...result.warnings, ...outage.warnings],
    };
  }
  return {
    ...result,
    duration_s: Math.round((Date.now() - t0) / 100) / 10,
    passed: result.failures.length === 0,
  };
}

class ChaosRun {
  readonly #options: ChaosOptions;
  readonly #startedAt = new Date();
  readonly #t0 = Date.now();
  readonly #plan: WorkloadPlan;
  readonly #fuzzCustomer = "0f5a2c8e-4b7d-4e21-9c3a-5d6e7f8a9b0c";
  readonly #fuzz: readonly FuzzCase[];
  readonly #injector: FaultInjector;
  readonly #watcher: StackLogWatcher;
  #hub: ReceiverHub | undefined;
  #stack: LocalStack | undefined;
  #clients: DriverClients | undefined;
  #restore: (() => void)[] = [];

  /** Dead-lettered (event, subscription) pairs, read from the DLQ. */
  readonly #dead = new Set<PairKey>();
  readonly #dlq: DrainedQueue = { messages: new Map() };
  readonly #routerFailed: DrainedQueue = { messages: new Map() };
  /** Chaos keys of the events on the router's on-failure destination, not re-driven yet. */
  readonly #failedEventKeys = new Set<string>();
  #emittedEvents = 0;
  #lastProgress = 0;

  constructor(options: ChaosOptions) {
    this.#options = options;
    this.#plan = planWorkload({
      targetDeliveries: options.targetDeliveries,
      customers: options.customers,
      seed: options.seed,
      poisonEvents: options.poisonEvents,
    });
    this.#fuzz =
      options.fuzzEvents > 0 ? fuzzCases(options.fuzzEvents, options.seed, this.#fuzzCustomer) : [];
    this.#injector = new FaultInjector({
      rates: options.rates,
      seed: options.seed + 2,
      poisonCustomers: this.#plan.poisonCustomers,
    });
    this.#watcher = new StackLogWatcher(options.verbose ?? false);
  }

  log(line: string): void {
    this.#options.progress(`[chaos ${((Date.now() - this.#t0) / 1000).toFixed(0)}s] ${line}`);
  }

  get #running(): { stack: LocalStack; hub: ReceiverHub; clients: DriverClients } {
    if (this.#stack === undefined || this.#hub === undefined || this.#clients === undefined) {
      throw new Error("the chaos run has not started");
    }
    return { stack: this.#stack, hub: this.#hub, clients: this.#clients };
  }

  /** Receivers, the fault injector, a quiet environment for the functions, the local stack, clients. */
  async start(): Promise<void> {
    const options = this.#options;
    const plan = this.#plan;
    const profiles = [...new Set<ReceiverProfile>([...plan.subscriptions.map((s) => s.profile), "healthy"])];
    this.log(
      `plan: ${plan.events.length} events, ${plan.subscriptions.length} subscriptions, ${plan.expected.size} expected deliveries` +
        (plan.poisonCustomers.length > 0 ? `, ${options.poisonEvents} events of a poisoned customer` : "") +
        (this.#fuzz.length > 0 ? `; then ${this.#fuzz.length} fuzz events` : ""),
    );
    this.#hub = await ReceiverHub.start({
      profiles,
      senderTimeoutMs: options.deliveryTimeoutMs,
      seed: options.seed + 1,
      blackHoleForMs: options.blackHoleSeconds * 1000,
    });
    this.#restore.push(this.#injector.install());
    this.#restore.push(quietFunctions(options));

    this.#stack = await startLocalStack(
      benchStackSettings({
        dataDir: path.join(REPO_ROOT, ".data", "chaos-unused"),
        retrySchedule: options.retrySchedule,
        deliveryConcurrency: options.deliveryConcurrency,
        routerRetryDelaysMs: ROUTER_RETRY_DELAYS_MS,
      }),
      this.#watcher,
    );
    const { endpoints, settings } = this.#stack;
    const dynamodb = new DynamoDBClient({
      endpoint: endpoints.dynamodb,
      region: settings.region,
      credentials: localCredentials(endpoints.dynamodb),
    });
    this.#clients = {
      sqs: new SQSClient({
        endpoint: endpoints.sqs,
        region: settings.region,
        credentials: localCredentials(endpoints.sqs),
        useQueueUrlAsEndpoint: false,
      }),
      dynamodb,
      doc: DynamoDBDocumentClient.from(dynamodb),
      events: new EventBridgeClient({
        endpoint: endpoints.events,
        region: settings.region,
        credentials: localCredentials(endpoints.events),
      }),
    };
    for (const client of Object.values(this.#clients)) this.#injector.exemptClient(client);
    for (const queueUrl of [this.#stack.queues.deliveryQueueUrl, this.#stack.queues.slowDeliveryQueueUrl]) {
      await this.#clients.sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: queueUrl,
          Attributes: { VisibilityTimeout: String(options.visibilityTimeoutSeconds) },
        }),
      );
    }
  }

  /** Both delivery lanes: jobs waiting out a breaker sleep on the slow lane. */
  async #deliveryDepth(): Promise<{ visible: number; inFlight: number }> {
    const { stack } = this.#running;
    // The router's own queue too: since routing reads a fair queue, an event waiting there (a router
    // batch that failed and waits out its visibility timeout) is work still to come, not a stuck run.
    const depths = await Promise.all([
      this.#queueDepth(stack.queues.deliveryQueueUrl),
      this.#queueDepth(stack.queues.slowDeliveryQueueUrl),
      this.#queueDepth(stack.queues.routerQueueUrl),
    ]);
    return {
      visible: depths.reduce((sum, depth) => sum + depth.visible, 0),
      inFlight: depths.reduce((sum, depth) => sum + depth.inFlight, 0),
    };
  }

  get #repository(): SubscriptionRepository {
    const { stack, clients } = this.#running;
    return new SubscriptionRepository(clients.doc, stack.tableName);
  }

  /** Every planned subscription, pointing at its receiver profile, its secret known to the hub. */
  async seedSubscriptions(): Promise<void> {
    await seedPlannedSubscriptions(this.#repository, this.#running.hub, this.#plan.subscriptions);
  }

  // --- queues as an operator sees them ----------------------------------------------------------

  /** Reads every message of a queue once; they stay hidden (not deleted) for the rest of the run. */
  async #drain(queueUrl: string, into: DrainedQueue, onMessage: (m: Message) => void): Promise<void> {
    const { sqs } = this.#running.clients;
    for (let i = 0; i < 200; i++) {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          VisibilityTimeout: 43_200,
        }),
      );
      if (!Messages || Messages.length === 0) return;
      for (const message of Messages) {
        if (message.MessageId === undefined || into.messages.has(message.MessageId)) continue;
        into.messages.set(message.MessageId, message);
        onMessage(message);
      }
    }
  }

  #drainDlq(): Promise<void> {
    return this.#drain(this.#running.stack.queues.deliveryDlqUrl, this.#dlq, (message) => {
      try {
        const job = JSON.parse(message.Body ?? "") as { subscription_id: string; payload: string };
        const data = (JSON.parse(job.payload) as { data?: { chaos_key?: unknown } }).data;
        if (typeof data?.chaos_key === "string") this.#dead.add(pairKey(data.chaos_key, job.subscription_id));
      } catch {
        // not a job of this run
      }
    });
  }

  #drainRouterFailed(): Promise<void> {
    return this.#drain(this.#running.stack.queues.routerFailedQueueUrl, this.#routerFailed, (message) => {
      const key = routerFailedEventKey(message);
      if (key !== undefined) this.#failedEventKeys.add(key);
    });
  }

  async #queueDepth(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
    const { Attributes = {} } = await this.#running.clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: [
          "ApproximateNumberOfMessages",
          "ApproximateNumberOfMessagesNotVisible",
          "ApproximateNumberOfMessagesDelayed",
        ],
      }),
    );
    const n = (name: string) => Number(Attributes[name as keyof typeof Attributes] ?? 0);
    return {
      visible: n("ApproximateNumberOfMessages"),
      inFlight: n("ApproximateNumberOfMessagesNotVisible") + n("ApproximateNumberOfMessagesDelayed"),
    };
  }

  #accounted(key: PairKey): boolean {
    return (this.#running.hub.received.get(key)?.acks ?? 0) > 0 || this.#dead.has(key);
  }

  /** Expected deliveries of the events emitted so far (of the `window` last ones) not yet accounted for. */
  #outstanding(window = Number.POSITIVE_INFINITY): number {
    let n = 0;
    const from = Number.isFinite(window) ? Math.max(0, this.#emittedEvents - window) : 0;
    for (const event of this.#plan.events.slice(from, this.#emittedEvents)) {
      if (this.#failedEventKeys.has(event.key)) continue;
      for (const key of this.#plan.pairsByEvent.get(event.key) ?? []) if (!this.#accounted(key)) n++;
    }
    return n;
  }

  /** A progress line at most every 5 s (or now, when forced). */
  async progress(phase: string, force = false): Promise<void> {
    if (!force && Date.now() - this.#lastProgress < 5_000) return;
    this.#lastProgress = Date.now();
    const { hub } = this.#running;
    const depth = await this.#deliveryDepth();
    let acked = 0;
    for (const key of this.#plan.expected.keys()) if ((hub.received.get(key)?.acks ?? 0) > 0) acked++;
    this.log(
      `${phase}: events ${this.#emittedEvents}/${this.#plan.events.length} | delivered ${acked}/${this.#plan.expected.size} | dead-lettered ${this.#dead.size}` +
        ` | router-failed ${this.#failedEventKeys.size} | faults ${this.#injector.total + sumValues(hub.faultCounts())}` +
        ` | queue ${depth.visible} visible, ${depth.inFlight} in flight`,
    );
  }

  // --- the phases -------------------------------------------------------------------------------

  /** Puts every planned event on the bus, 10 per PutEvents, keeping a bounded backlog, faults on. */
  async emitUnderFaults(): Promise<void> {
    const { stack, clients } = this.#running;
    const events = this.#plan.events;
    this.#injector.enabled = true;
    let putFailures = 0;
    for (let start = 0; start < events.length; start += 10) {
      const batch = events.slice(start, start + 10);
      // Keep a bounded backlog, as a steady producer would, rather than a queue of the whole run.
      while (this.#outstanding(4 * this.#options.maxBacklog) >= this.#options.maxBacklog) {
        await sleep(100);
        await this.progress("emitting");
      }
      const response = await clients.events.send(
        new PutEventsCommand({
          Entries: batch.map((event) => ({
            EventBusName: stack.eventBusName,
            Source: event.source,
            DetailType: event.type,
            Detail: JSON.stringify({ customer_id: event.customerId, data: event.data }),
          })),
        }),
      );
      putFailures += response.FailedEntryCount ?? 0;
      this.#emittedEvents += batch.length;
      await this.progress("emitting");
    }
    if (putFailures > 0) throw new Error(`${putFailures} chaos events were refused by PutEvents`);
    this.log(`all ${events.length} events emitted; settling`);
  }

  /**
   * Waits until every expected delivery is accounted for and the queue is empty and quiet; or the
   * queue is empty, nothing happened for a while and the router cannot retry anymore (stuck); or the
   * phase's time is up. Says which.
   */
  async settle(phase: string): Promise<string> {
    const { hub } = this.#running;
    const deadline = Date.now() + this.#options.settleTimeoutMs;
    for (;;) {
      await this.#drainDlq();
      await this.#drainRouterFailed();
      const depth = await this.#deliveryDepth();
      const empty = depth.visible === 0 && depth.inFlight === 0;
      const quietFor = Date.now() - Math.max(hub.lastRequestAt, this.#t0);
      const left = this.#outstanding();
      await this.progress(phase);
      if (left === 0 && empty && quietFor > 1_500) return "settled";
      const lastRouterFailure = Math.max(
        this.#injector.lastRouterFailureAt,
        this.#watcher.lastRouterFailureAt,
      );
      const routerMayRetry = Date.now() - lastRouterFailure < ROUTER_RETRY_WINDOW_MS;
      if (empty && quietFor > QUIET_MS && !routerMayRetry && left > 0)
        return `stuck with ${left} outstanding`;
      if (Date.now() > deadline) return `timed out with ${left} outstanding`;
      await sleep(1_000);
    }
  }

  /**
   * The incident over (faults off), the operator re-drives the router-failed queue: `aws lambda
   * invoke` with each message's event (the body), the same event with the same id, so the
   * deliveries it enqueued before failing are not doubled. Then the system settles again.
   */
  async redriveRouterFailures(): Promise<Redrive> {
    const { stack, clients } = this.#running;
    this.#injector.enabled = false;
    const events = this.#failedEventKeys.size;
    let expectedDeliveries = 0;
    for (const key of this.#failedEventKeys)
      expectedDeliveries += this.#plan.pairsByEvent.get(key)?.length ?? 0;
    let redriven = 0;
    if (this.#routerFailed.messages.size > 0) {
      this.log(
        `re-driving ${this.#routerFailed.messages.size} records of the router's on-failure destination`,
      );
      const url = pathToFileURL(path.join(REPO_ROOT, "functions", "router.ts")).href;
      const router = (await import(`${url}?sandbox=chaos-redrive`)) as {
        handler: (event: unknown, context: unknown) => Promise<unknown>;
      };
      for (const message of this.#routerFailed.messages.values()) {
        await router.handler(originalEvent("router-failed", message.Body ?? ""), lambdaContext("router"));
        await clients.sqs.send(
          new DeleteMessageCommand({
            QueueUrl: stack.queues.routerFailedQueueUrl,
            ReceiptHandle: message.ReceiptHandle,
          }),
        );
        redriven++;
      }
      this.#failedEventKeys.clear();
      this.log(`phase 2: ${await this.settle("settling after re-drive")}`);
    }
    return { events, expectedDeliveries, redriven };
  }

  /** The queues, the table and the receivers at the end, and their reconciliation. */
  async readEndState(): Promise<EndState> {
    const { stack, hub, clients } = this.#running;
    await this.#drainDlq();
    await this.#drainRouterFailed();
    const heldForOperator = new Set<PairKey>();
    for (const key of this.#failedEventKeys)
      for (const pair of this.#plan.pairsByEvent.get(key) ?? []) heldForOperator.add(pair);

    const recordsByStatus = await countRecords(clients.doc, stack.deliveriesTableName);
    const dlqRecordStatus: Record<string, number> = {};
    for (const message of this.#dlq.messages.values()) {
      let status = "unreadable";
      try {
        const job = JSON.parse(message.Body ?? "") as { delivery_id: string; customer_id: string };
        const { Item } = await clients.doc.send(
          new GetCommand({
            TableName: stack.deliveriesTableName,
            Key: keys.deliveryHead(job.customer_id, job.delivery_id),
            ConsistentRead: true,
          }),
        );
        status = Item === undefined ? "no_record" : String(Item.status);
      } catch {
        // counted as unreadable
      }
      dlqRecordStatus[status] = (dlqRecordStatus[status] ?? 0) + 1;
    }
    const reconciliation = reconcile({
      expected: this.#plan.expected,
      received: hub.received,
      deadLettered: this.#dead,
      faultedAfterHttp: this.#injector.faultedSuccessRecords,
      heldForOperator,
    });
    this.log(
      `reconciled: expected ${reconciliation.expected}, delivered ${reconciliation.delivered_unique}, dead-lettered ${reconciliation.dead_lettered}, lost ${reconciliation.lost}, duplicates ${reconciliation.duplicates}`,
    );
    return {
      reconciliation,
      alwaysFailing: alwaysFailingCounts(this.#plan, hub, this.#dead),
      // Retried invocations (warned) plus those that exhausted their retries (sent to the destination).
      routerInvocationFailures:
        this.#watcher.routerInvocationFailures + this.#watcher.routerDestinationRecords,
      recordsByStatus,
      dlqRecordStatus,
      unroutableLeft: (await this.#queueDepth(stack.queues.unroutableQueueUrl)).visible,
      routerFailedLeft: await this.#queueDepth(stack.queues.routerFailedQueueUrl),
    };
  }

  /** Hostile and odd events through the whole pipeline, faults off (fuzz.ts). */
  async fuzzStage(): Promise<FuzzSummary | null> {
    if (this.#fuzz.length === 0) return null;
    const { stack, hub, clients } = this.#running;
    return runFuzzStage({
      cases: this.#fuzz,
      customerId: this.#fuzzCustomer,
      stack,
      sqs: clients.sqs,
      repository: this.#repository,
      hub,
      watcher: this.#watcher,
      put: (entry) =>
        clients.events.send(
          new PutEventsCommand({ Entries: [{ ...entry, EventBusName: stack.eventBusName }] }),
        ),
      log: (line) => this.log(line),
      timeoutMs: Math.min(this.#options.settleTimeoutMs, 90_000),
    });
  }

  async result(redrive: Redrive, end: EndState, fuzz: FuzzSummary | null): Promise<ChaosResult> {
    const options = this.#options;
    const { stack, hub, clients } = this.#running;
    const { reconciliation, alwaysFailing } = end;
    const duplicateDiagnostics = await diagnoseDuplicates(
      clients.doc,
      stack.deliveriesTableName,
      reconciliation.samples.unexplained_duplicates,
      hub,
    );
    const problems = failures(reconciliation);
    if (hub.signatureFailures > 0)
      problems.push(`${hub.signatureFailures} requests failed signature verification`);
    if (alwaysFailing.delivered > 0)
      problems.push(`${alwaysFailing.delivered} deliveries acknowledged by the always-failing endpoint`);
    if (fuzz) problems.push(...fuzzFailures(fuzz));
    const warnings: string[] = [];
    if (reconciliation.duplicates_unexplained > 0) {
      warnings.push(
        `${reconciliation.duplicates_unexplained} duplicates without an injected fault between the HTTP call and its record, e.g. ${reconciliation.samples.unexplained_duplicates.slice(0, 3).join(", ")}`,
      );
    }
    if (end.unroutableLeft > 0) warnings.push(`${end.unroutableLeft} chaos events on the unroutable queue`);
    return {
      mode: options.mode,
      seed: options.seed,
      started_at: this.#startedAt.toISOString(),
      duration_s: Math.round((Date.now() - this.#t0) / 100) / 10,
      events: this.#plan.events.length,
      subscriptions: this.#plan.subscriptions.length,
      ...reconciliation,
      faults_injected: this.#injector.total + sumValues(hub.faultCounts()),
      faults: { ...this.#injector.snapshot(), ...hub.faultCounts() },
      receiver: {
        requests: hub.requests,
        acks: hub.acks,
        signature_failures: hub.signatureFailures,
        unattributed: hub.unattributed,
        overlapping: hub.overlapping,
      },
      always_failing: alwaysFailing,
      black_hole: {
        ...profileCounts("black_hole", this.#plan, hub, this.#dead),
        swallowed_requests: hub.blackHoled,
      },
      router_failed: {
        events: redrive.events,
        redriven: redrive.redriven,
        expected_deliveries: redrive.expectedDeliveries,
        left_on_queue:
          end.routerFailedLeft.visible +
          end.routerFailedLeft.inFlight -
          (this.#routerFailed.messages.size - redrive.redriven),
      },
      unroutable_left: end.unroutableLeft,
      dlq_messages: this.#dlq.messages.size,
      router_invocation_failures: end.routerInvocationFailures,
      records_by_status: end.recordsByStatus,
      dlq_record_status: end.dlqRecordStatus,
      duplicate_diagnostics: duplicateDiagnostics,
      event_source_errors: this.#watcher.eventSourceErrors,
      calls_by_site: Object.fromEntries(this.#injector.callsBySite),
      config: {
        retry_schedule: options.retrySchedule.join(","),
        retry_jitter: options.retryJitter,
        delivery_timeout_ms: options.deliveryTimeoutMs,
        visibility_timeout_s: options.visibilityTimeoutSeconds,
        delivery_concurrency: options.deliveryConcurrency,
        customers: options.customers,
        poison_events: options.poisonEvents,
        fault_rates: options.rates,
      },
      fuzz,
      crash: null,
      outage: null,
      passed: problems.length === 0,
      failures: problems,
      warnings,
    };
  }

  /** Stops the stack and the receivers, removes the faults and gives the process its environment back. */
  async close(): Promise<void> {
    this.#injector.enabled = false;
    if (this.#clients !== undefined) for (const client of Object.values(this.#clients)) client.destroy();
    await this.#stack?.stop();
    for (const restore of this.#restore.splice(0).reverse()) restore();
    await this.#hub?.close();
  }
}

/**
 * The functions' environment for the run, read at their cold start inside startLocalStack, and a
 * console without Powertools Metrics' warning for every invocation that added no metric (metrics are
 * disabled here). Returns what puts the process back as it was.
 */
function quietFunctions(options: ChaosOptions): () => void {
  const savedEnv = { ...process.env };
  const savedWarn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].startsWith("No application metrics to publish")) return;
    savedWarn(...args);
  };
  Object.assign(process.env, {
    RETRY_JITTER: String(options.retryJitter),
    DELIVERY_TIMEOUT_MS: String(options.deliveryTimeoutMs),
    // Fair delivery at the run's time scale: the breaker opens after 3 timeouts and probes after
    // 2 s (at most 8 s), so the black hole's deliveries settle within the run once it answers
    // again. The main lane's budget is the full timeout here (its early mark is exercised by
    // test/e2e/fairness.test.ts and the bench's fairness section).
    MAIN_LANE_TIMEOUT_MS: String(options.deliveryTimeoutMs),
    BREAKER_THRESHOLD: "3",
    BREAKER_COOLDOWN_MS: "2000",
    BREAKER_MAX_COOLDOWN_MS: "8000",
    SLOW_LANE_STICKY_MS: "5000",
    POWERTOOLS_LOG_LEVEL: options.verbose ? "INFO" : "SILENT",
    POWERTOOLS_METRICS_DISABLED: "true",
    // Makes Powertools write through the global console (filtered above) instead of its own.
    POWERTOOLS_DEV: "true",
  });
  return () => {
    console.warn = savedWarn;
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  };
}

/** Every delivery record of the table (all pages), projected; `#status` stands for `status`. */
async function* scanDeliveryRecords(
  doc: DynamoDBDocumentClient,
  tableName: string,
  projection: string,
): AsyncGenerator<Record<string, unknown>> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: "entity = :delivery",
        ExpressionAttributeValues: { ":delivery": "delivery" },
        ExpressionAttributeNames: { "#status": "status" },
        ProjectionExpression: projection,
        ExclusiveStartKey: startKey,
      }),
    );
    yield* page.Items ?? [];
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
}

async function countRecords(doc: DynamoDBDocumentClient, tableName: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for await (const item of scanDeliveryRecords(doc, tableName, "#status")) {
    const status = String(item.status);
    counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}

async function diagnoseDuplicates(
  doc: DynamoDBDocumentClient,
  tableName: string,
  pairs: readonly PairKey[],
  hub: ReceiverHub,
): Promise<unknown[]> {
  if (pairs.length === 0) return [];
  const byWebhookId = new Map<string, PairKey>();
  for (const pair of pairs)
    for (const id of hub.received.get(pair)?.webhookIds ?? []) byWebhookId.set(id, pair);
  const found: unknown[] = [];
  const projection = "webhook_id, #status, attempts, attempt_count";
  for await (const item of scanDeliveryRecords(doc, tableName, projection)) {
    const pair = byWebhookId.get(String(item.webhook_id));
    if (pair === undefined) continue;
    const received = hub.received.get(pair);
    found.push({
      pair,
      webhook_id: item.webhook_id,
      receiver: { requests: received?.requests, acks: received?.acks },
      record: {
        status: item.status,
        attempt_count: item.attempt_count,
        attempts: (
          (item.attempts as {
            at: string;
            status_code: number | null;
            error: string | null;
            latency_ms: number;
          }[]) ?? []
        ).map((a) => ({ at: a.at, status_code: a.status_code, error: a.error, latency_ms: a.latency_ms })),
      },
    });
  }
  return found;
}

function sumValues(record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}

/** The chaos key of the event of one router-failed message. */
function routerFailedEventKey(message: Message): string | undefined {
  const event = originalEvent("router-failed", message.Body ?? "") as
    | { detail?: { data?: { chaos_key?: unknown } } }
    | undefined;
  const key = event?.detail?.data?.chaos_key;
  return typeof key === "string" ? key : undefined;
}

function alwaysFailingCounts(plan: WorkloadPlan, hub: ReceiverHub, dead: ReadonlySet<PairKey>) {
  return profileCounts("always_failing", plan, hub, dead);
}

function profileCounts(
  profile: ReceiverProfile,
  plan: WorkloadPlan,
  hub: ReceiverHub,
  dead: ReadonlySet<PairKey>,
) {
  let expected = 0;
  let deadLettered = 0;
  let delivered = 0;
  for (const [key, delivery] of plan.expected) {
    if (delivery.profile !== profile) continue;
    expected++;
    if (dead.has(key)) deadLettered++;
    if ((hub.received.get(key)?.acks ?? 0) > 0) delivered++;
  }
  return { expected, dead_lettered: deadLettered, delivered };
}

interface FuzzStageInput {
  readonly cases: readonly FuzzCase[];
  readonly customerId: string;
  readonly stack: LocalStack;
  readonly sqs: SQSClient;
  readonly repository: SubscriptionRepository;
  readonly hub: ReceiverHub;
  readonly watcher: StackLogWatcher;
  readonly put: (entry: PutEventsRequestEntry) => Promise<{ FailedEntryCount?: number | undefined }>;
  readonly log: (line: string) => void;
  readonly timeoutMs: number;
}

async function runFuzzStage(input: FuzzStageInput): Promise<FuzzSummary> {
  const { cases, hub, sqs, stack, watcher, log } = input;
  const id = randomUUID();
  const subscription = newSubscription({
    id,
    customer_id: input.customerId,
    url: hub.urlFor("healthy", id),
    event_types: ["*"],
  });
  await input.repository.create(subscription);
  const fuzzSubscriptionId = subscription.id;
  hub.register(fuzzSubscriptionId, subscription.secret, true);
  return runFuzzCases(input, fuzzSubscriptionId, cases, hub, sqs, stack, watcher, log);
}

async function runFuzzCases(
  input: FuzzStageInput,
  subscriptionId: string,
  cases: readonly FuzzCase[],
  hub: ReceiverHub,
  sqs: SQSClient,
  stack: LocalStack,
  watcher: StackLogWatcher,
  log: (line: string) => void,
): Promise<FuzzSummary> {
  const failuresBefore = watcher.routerInvocationFailures;
  const byKind: Record<string, number> = {};
  let rejected = 0;
  let rejectedUnpredicted = 0;
  const accepted: FuzzCase[] = [];
  for (const fuzzCase of cases) {
    byKind[fuzzCase.kind] = (byKind[fuzzCase.kind] ?? 0) + 1;
    let refused = false;
    try {
      const response = await input.put(fuzzCase.entry);
      refused = (response.FailedEntryCount ?? 0) > 0;
    } catch {
      refused = true;
    }
    if (refused) {
      rejected++;
      if (fuzzCase.expect.outcome !== "rejected_by_bus") rejectedUnpredicted++;
    } else {
      accepted.push(fuzzCase);
    }
  }
  log(`fuzz: ${cases.length} events put, ${rejected} refused by the bus; waiting for their outcomes`);
  const unroutable = new Map<string, string>();
  const readUnroutable = async () => {
    for (let i = 0; i < 100; i++) {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: stack.queues.unroutableQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          VisibilityTimeout: 43_200,
        }),
      );
      if (!Messages || Messages.length === 0) return;
      for (const message of Messages) {
        try {
          const record = JSON.parse(message.Body ?? "") as {
            reason?: string;
            event?: { detail?: { fuzz_key?: unknown } };
          };
          const key = record.event?.detail?.fuzz_key;
          if (typeof key === "string") unroutable.set(key, String(record.reason));
        } catch {
          // not a fuzz event
        }
      }
    }
  };
  const outcomeSeen = (c: FuzzCase) =>
    c.expect.outcome === "delivered"
      ? hub.bodies.has(pairKey(c.key, subscriptionId))
      : c.expect.outcome === "unroutable"
        ? unroutable.has(c.key)
        : true;
  const deadline = Date.now() + input.timeoutMs;
  let quietSince = Date.now();
  for (;;) {
    await readUnroutable();
    const missing = accepted.filter((c) => !outcomeSeen(c)).length;
    if (missing === 0) break;
    if (watcher.routerInvocationFailures > failuresBefore && Date.now() - quietSince > 10_000) break;
    if (Date.now() > deadline) break;
    if (watcher.routerInvocationFailures === failuresBefore) quietSince = Date.now();
    await sleep(500);
  }
  const summary: FuzzSummary = {
    generated: cases.length,
    by_kind: byKind,
    rejected_by_bus: rejected,
    rejected_by_bus_unpredicted: rejectedUnpredicted,
    expected_delivered: 0,
    expected_unroutable: 0,
    delivered: 0,
    delivered_body_mismatch: 0,
    unroutable_on_queue: 0,
    unroutable_reason_mismatch: 0,
    missing: 0,
    unexpected_outcome: 0,
    router_invocation_failures: watcher.routerInvocationFailures - failuresBefore,
    samples: [],
  };
  const note = (text: string) => {
    if (summary.samples.length < 10) summary.samples.push(text);
  };
  for (const c of accepted) {
    const body = hub.bodies.get(pairKey(c.key, subscriptionId));
    const reason = unroutable.get(c.key);
    if (c.expect.outcome === "delivered") {
      summary.expected_delivered++;
      if (body !== undefined) {
        summary.delivered++;
        if (!bodyMatches(body, c.expect)) {
          summary.delivered_body_mismatch++;
          note(`${c.key} (${c.kind}): delivered body differs from the event's data`);
        }
      } else if (reason !== undefined) {
        summary.unexpected_outcome++;
        note(`${c.key} (${c.kind}): expected a delivery, parked as ${reason}`);
      } else {
        summary.missing++;
        note(`${c.key} (${c.kind}): expected a delivery, none arrived`);
      }
    } else if (c.expect.outcome === "unroutable") {
      summary.expected_unroutable++;
      if (reason !== undefined) {
        summary.unroutable_on_queue++;
        if (reason !== c.expect.reason) {
          summary.unroutable_reason_mismatch++;
          note(`${c.key} (${c.kind}): parked as ${reason}, expected ${c.expect.reason}`);
        }
      } else if (body !== undefined) {
        summary.unexpected_outcome++;
        note(`${c.key} (${c.kind}): expected unroutable (${c.expect.reason}), was delivered`);
      } else {
        summary.missing++;
        note(`${c.key} (${c.kind}): expected on the unroutable queue, not there`);
      }
    }
  }
  log(
    `fuzz: ${summary.delivered}/${summary.expected_delivered} delivered, ${summary.unroutable_on_queue}/${summary.expected_unroutable} unroutable parked, ${summary.router_invocation_failures} router failures`,
  );
  return summary;
}

export function fuzzFailures(summary: FuzzSummary): string[] {
  const problems: string[] = [];
  if (summary.router_invocation_failures > 0) {
    problems.push(
      `fuzz: the router failed ${summary.router_invocation_failures} invocations (it must never crash)`,
    );
  }
  if (summary.missing > 0 || summary.unexpected_outcome > 0) {
    problems.push(
      `fuzz: ${summary.missing} events without their outcome, ${summary.unexpected_outcome} with the wrong one (${summary.samples.slice(0, 3).join("; ")})`,
    );
  }
  if (summary.delivered_body_mismatch > 0) {
    problems.push(
      `fuzz: ${summary.delivered_body_mismatch} delivered bodies differ from the data put on the bus`,
    );
  }
  if (summary.unroutable_reason_mismatch > 0) {
    problems.push(
      `fuzz: ${summary.unroutable_reason_mismatch} unroutable events parked with an unexpected reason`,
    );
  }
  return problems;
}
