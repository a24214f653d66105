import { randomUUID } from "node:crypto";
import { DynamoDBClient, ProvisionedThroughputExceededException } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import {
  ChangeMessageVisibilityCommand,
  RequestThrottled,
  SQSClient,
  SQSServiceException,
} from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DEFAULT_RESOURCE_NAMES } from "#shared/resources.ts";
import { createRandom, type Random } from "./random.ts";

/**
 * Faults of AWS, injected from outside the product code into every AWS SDK client of the process.
 *
 * The handler modules the local stack loads (one module instance per sandbox) share the process's
 * single copy of the AWS SDK, and every client — DynamoDB, the document client, SQS, EventBridge —
 * inherits `send` from the same smithy `Client` class. Patching that one prototype method reaches the
 * clients the functions create at their cold start without touching them. Two layers:
 *
 * - on the wire: a middleware added to each client's stack after the SDK's retry middleware throws
 *   AWS's own throttling errors (ProvisionedThroughputExceededException, RequestThrottled, a 500
 *   InternalError) for a request; the SDK retries them with its backoff, as it would on AWS, and only
 *   a run of them surfaces to the product;
 * - on the call: `send` itself fails after "the SDK's retries", with the same error classes, at the
 *   points where a handler then throws — the router's subscription lookup or its enqueue, the delivery
 *   function's batch load, its record write right after the HTTP call, its retry scheduling, its
 *   subscription update. SendMessageBatch partial failures (entries in `Failed`) and BatchGetItem
 *   `UnprocessedKeys` are produced here as well: the entries are really withheld from the emulator and
 *   reported back the way AWS reports them.
 *
 * Only the functions' calls are faulted: what AWS itself does around them (the event source mapping's
 * receives and deletes, Lambda's on-failure destination) and the chaos driver's own clients are not.
 */

export interface FaultRates {
  /** Per DynamoDB request of a function, on the wire (the SDK retries it). */
  readonly dynamodbThrottle: number;
  /** Per SQS request of a function, on the wire (the SDK retries it). */
  readonly sqsError: number;
  /** Per SendMessageBatch entry: reported in `Failed` (the router retries those entries). */
  readonly sqsBatchEntryFailure: number;
  /** Per BatchGetItem key: returned in `UnprocessedKeys` (the delivery function retries them). */
  readonly dynamodbUnprocessedKey: number;
  /** Per call, after the SDK's retries: the router's subscription lookup fails → the router throws. */
  readonly routerLookup: number;
  /** Per call: a SendMessageBatch of the router fails → the router throws (the async retry re-enqueues). */
  readonly routerEnqueue: number;
  /** Per call: the delivery batch's BatchGetItem fails → the whole batch fails before any HTTP call. */
  readonly deliveryLoad: number;
  /** Per call: the delivery record write right after the HTTP call fails → the job comes back. */
  readonly deliveryRecord: number;
  /**
   * Per re-send of the delivery core (a wait: SendMessage with DelaySeconds to a delivery lane's
   * queue, issued by the delivery function): it fails before reaching SQS → the job comes back.
   */
  readonly deliverySchedule: number;
  /**
   * Per re-send (half at each of its two steps), the function dies before the received message is
   * deleted: right after the record write that names the new job (its hand-off: the new message is
   * never sent, and the received one, back after its visibility timeout, must re-send it), or right
   * after SQS accepted the delayed message (both messages exist: the received one must not make a
   * second chain).
   */
  readonly resendCrash: number;
  /** Per call: the subscription's failing_since update after an attempt fails. */
  readonly deliverySubscriptionUpdate: number;
  /**
   * Per message the event source receives: the receive never reaches the function (a throttled
   * invocation). The message stays received; its visibility then lapses (after a second here, the
   * queue's timeout on AWS) and it comes back with a higher receive count, no attempt made.
   */
  readonly receiveThrottle: number;
  /** Per re-send (a wait) of the delivery function: the job wakes at half its delay, before its time. */
  readonly wakeEarly: number;
  /**
   * Per job our code moves to the dead-letter queue: the send succeeds, then the function fails
   * before the job is deleted (a crash between the DLQ send and the delete); the job comes back.
   */
  readonly deadLetterCrash: number;
}

export const NO_FAULTS: FaultRates = {
  dynamodbThrottle: 0,
  sqsError: 0,
  sqsBatchEntryFailure: 0,
  dynamodbUnprocessedKey: 0,
  routerLookup: 0,
  routerEnqueue: 0,
  deliveryLoad: 0,
  deliveryRecord: 0,
  deliverySchedule: 0,
  resendCrash: 0,
  deliverySubscriptionUpdate: 0,
  receiveThrottle: 0,
  wakeEarly: 0,
  deadLetterCrash: 0,
};

/** Where a call comes from, read from its operation and input. */
export type CallSite =
  | "router.lookup"
  | "router.enqueue"
  | "router.unroutable"
  | "delivery.load"
  | "delivery.record"
  | "delivery.read"
  | "delivery.subscription"
  | "delivery.schedule"
  | "delivery.deadletter"
  | "esm.receive"
  | "other";

export interface DescribedCall {
  readonly service: string;
  readonly operation: string;
  readonly site: CallSite;
  /**
   * For delivery.record: the status being written (`attempt` for an attempt item, whose outcome is
   * compressed inside it) and the delivery's webhook id and delivery id.
   */
  readonly recordStatus?: string | undefined;
  readonly webhookId?: string | undefined;
  readonly deliveryId?: string | undefined;
  /** For router.lookup: the customer. */
  readonly customerId?: string | undefined;
}

/** A string attribute in either the document client's native form or DynamoDB's `{S: …}` form. */
function text(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && typeof (value as { S?: unknown }).S === "string") {
    return (value as { S: string }).S;
  }
  return undefined;
}

type Input = Record<string, unknown>;

const field = (input: Input, name: string): Input =>
  typeof input[name] === "object" && input[name] !== null ? (input[name] as Input) : {};

/**
 * The delivery id a delivery head's key names, or undefined for any other key: `DELIVERY#<id>` /
 * `DELIVERY` (layout 2) or `LOG#…` / `<created_at>#<id>` (layout 3, docs/data-model.md).
 */
function headDeliveryId(pk: string | undefined, sk: string | undefined): string | undefined {
  if (pk?.startsWith("DELIVERY#") && !sk?.startsWith("A#")) return pk.slice("DELIVERY#".length);
  if (pk?.startsWith("LOG#") && sk !== undefined) return sk.slice(sk.lastIndexOf("#") + 1);
  return undefined;
}

/** Classifies one SDK call. Pure: unit-tested on the commands the product sends. */
export function describeCall(service: string, operation: string, input: Input): DescribedCall {
  const base = { service, operation };
  if (service === "DynamoDB") {
    const values = field(input, "ExpressionAttributeValues");
    switch (operation) {
      case "Query": {
        const customerKey = Object.values(values)
          .map(text)
          .find((v) => v?.startsWith("CUSTOMER#"));
        return input.IndexName === undefined && customerKey !== undefined
          ? { ...base, site: "router.lookup", customerId: customerKey.slice("CUSTOMER#".length) }
          : { ...base, site: "other" };
      }
      case "BatchGetItem":
        return { ...base, site: "delivery.load" };
      case "PutItem": {
        const item = field(input, "Item");
        const pk = text(item.PK);
        if (pk?.startsWith("DELIVERY#") && text(item.SK)?.startsWith("A#")) {
          return { ...base, site: "delivery.record", recordStatus: "attempt", deliveryId: pk.slice(9) };
        }
        const headId = headDeliveryId(pk, text(item.SK));
        return headId !== undefined && text(item.status) !== "pending"
          ? {
              ...base,
              site: "delivery.record",
              recordStatus: text(item.status),
              webhookId: text(item.webhook_id),
              deliveryId: headId,
            }
          : { ...base, site: "other" };
      }
      case "UpdateItem": {
        const pk = text(field(input, "Key").PK);
        const headId = headDeliveryId(pk, text(field(input, "Key").SK));
        if (headId !== undefined) {
          return {
            ...base,
            site: "delivery.record",
            recordStatus: text(values[":status"]) ?? text(values[":dead"]),
            webhookId: text(values[":webhook_id"]),
            deliveryId: headId,
          };
        }
        if (pk?.startsWith("CUSTOMER#")) return { ...base, site: "delivery.subscription" };
        return { ...base, site: "other" };
      }
      case "GetItem":
        return headDeliveryId(text(field(input, "Key").PK), text(field(input, "Key").SK)) !== undefined
          ? { ...base, site: "delivery.read" }
          : { ...base, site: "other" };
      default:
        return { ...base, site: "other" };
    }
  }
  if (service === "SQS") {
    const queueUrl = typeof input.QueueUrl === "string" ? input.QueueUrl : "";
    switch (operation) {
      case "SendMessageBatch":
        return queueUrl.endsWith(`/${DEFAULT_RESOURCE_NAMES.deliveryQueue}`)
          ? { ...base, site: "router.enqueue" }
          : { ...base, site: "other" };
      case "SendMessage":
        if (queueUrl.endsWith(`/${DEFAULT_RESOURCE_NAMES.deliveryDlq}`))
          return { ...base, site: "delivery.deadletter" };
        // A wait of the delivery core: the job re-sent, delayed, to the lane it came from. A move to
        // the slow lane (no delay) is not a wait.
        if (
          input.DelaySeconds !== undefined &&
          (queueUrl.endsWith(`/${DEFAULT_RESOURCE_NAMES.deliveryQueue}`) ||
            queueUrl.endsWith(`/${DEFAULT_RESOURCE_NAMES.slowDeliveryQueue}`))
        )
          return { ...base, site: "delivery.schedule" };
        return queueUrl.endsWith(`/${DEFAULT_RESOURCE_NAMES.unroutableQueue}`)
          ? { ...base, site: "router.unroutable" }
          : { ...base, site: "other" };
      case "ReceiveMessage":
        return queueUrl.endsWith(`/${DEFAULT_RESOURCE_NAMES.deliveryQueue}`)
          ? { ...base, site: "esm.receive" }
          : { ...base, site: "other" };
      default:
        return { ...base, site: "other" };
    }
  }
  return { ...base, site: "other" };
}

/** The live-job token a re-sent job carries (its SendMessage body), if readable. */
/**
 * A head write that hands the delivery to a new job (a retry's attempt record, a hop's or a
 * deferral's hand-off): it names the job that hands over `prev_job` (shared/adapters/dynamodb/deliveries.ts).
 */
function isHandOffWrite(input: Input): boolean {
  if (field(input, "Item").prev_job !== undefined) return true;
  return /\bprev_job\s*=/.test(String(input.UpdateExpression ?? ""));
}

/** Sites whose calls may fail on the wire (everything the functions call, except announcing on the bus). */
const WIRE_SITES: ReadonlySet<CallSite> = new Set<CallSite>([
  "router.lookup",
  "router.enqueue",
  "delivery.load",
  "delivery.record",
  "delivery.read",
  "delivery.subscription",
  "delivery.schedule",
]);

interface SdkCommand {
  input: Input;
  readonly clientCommand?: object;
}

interface SdkClient {
  readonly config: { serviceId?: string };
  readonly middlewareStack: {
    add(middleware: unknown, options: { step: "finalizeRequest"; name: string; priority: "low" }): void;
  };
}

type Send = (this: SdkClient, command: SdkCommand, ...rest: unknown[]) => unknown;

interface ClientPrototype {
  send: Send;
}

/** The one smithy Client prototype every AWS SDK client here inherits `send` from. */
export function sharedClientPrototype(): ClientPrototype {
  const prototypes = [DynamoDBClient, SQSClient, EventBridgeClient, DynamoDBDocumentClient].map(
    (ctor) => Object.getPrototypeOf(ctor.prototype) as ClientPrototype,
  );
  const [first] = prototypes;
  if (first === undefined || prototypes.some((p) => p !== first) || typeof first.send !== "function") {
    throw new Error(
      "the AWS SDK clients do not share one smithy Client class (several @smithy/core copies?): " +
        "faults cannot be injected into every client (check `npm ls @smithy/core`)",
    );
  }
  return first;
}

const metadata = (attempts: number) => ({
  httpStatusCode: 400,
  requestId: randomUUID(),
  attempts,
  totalRetryDelay: attempts > 1 ? 150 * (attempts - 1) : 0,
});

/** AWS's errors, with the SDK's own classes, so that retry classification and `instanceof` behave. */
function dynamodbThrottle(attempts: number): Error {
  return new ProvisionedThroughputExceededException({
    message:
      "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
    $metadata: metadata(attempts),
  });
}

function sqsThrottle(attempts: number): Error {
  return new RequestThrottled({ message: "Request is throttled.", $metadata: metadata(attempts) });
}

function sqsInternalError(attempts: number): Error {
  const error = new SQSServiceException({
    name: "InternalError",
    $fault: "server",
    message: "We encountered an internal error. Please try again.",
    $metadata: { ...metadata(attempts), httpStatusCode: 500 },
  });
  Object.assign(error, { Code: "AWS.SimpleQueueService.InternalError" });
  return error;
}

/** Counts that detail or follow from another fault, not faults of their own. */
const DERIVED_COUNTS: ReadonlySet<string> = new Set([
  "sqs_send_batch_failed_entries",
  "dynamodb_unprocessed_keys",
  "sdk_retries_exhausted",
]);

/** The SDK gives up after maxAttempts (4 in shared/adapters/clients.ts): a call-level fault looks like that. */
const SDK_MAX_ATTEMPTS = 4;

export interface FaultInjectorOptions {
  readonly rates: FaultRates;
  readonly seed: number;
  /** Customers whose routing lookup fails on every attempt (their events end on the on-failure destination). */
  readonly poisonCustomers?: readonly string[];
}

export class FaultInjector {
  /** Injected faults by kind. */
  readonly counts = new Map<string, number>();
  /** Webhook ids whose success record write failed (an injected fault between the HTTP call and the record). */
  readonly faultedSuccessRecords = new Set<string>();
  /** Calls by site (faulted or not), to show what was exposed to faults. */
  readonly callsBySite = new Map<CallSite, number>();
  /** When a router call last failed (injected or not): the router will be retried after Lambda's delays. */
  lastRouterFailureAt = 0;
  enabled = false;
  private rates: FaultRates;
  private readonly random: Random;
  private readonly poison: Set<string>;
  private readonly exempt = new WeakSet<object>();
  /** Delivery id → webhook id, learned from the head writes (attempt items carry neither in clear). */
  private readonly webhookByDelivery = new Map<string, string>();
  private readonly instrumentedStacks = new WeakSet<object>();
  private readonly injectedErrors = new WeakSet<object>();
  private uninstall: (() => void) | undefined;

  constructor(options: FaultInjectorOptions) {
    this.rates = options.rates;
    this.random = createRandom(options.seed);
    this.poison = new Set(options.poisonCustomers ?? []);
  }

  /** Faults injected: every count but the details (entries, keys) and consequences (the SDK giving up). */
  get total(): number {
    let sum = 0;
    for (const [kind, n] of this.counts) if (!DERIVED_COUNTS.has(kind)) sum += n;
    return sum;
  }

  setRates(rates: FaultRates): void {
    this.rates = rates;
  }

  /** The driver's own clients (emitting, inspecting queues) are never faulted. */
  exemptClient(client: object): void {
    this.exempt.add(client);
  }

  /** Patches the shared Client.prototype.send; returns the function that restores it. */
  install(): () => void {
    if (this.uninstall) return this.uninstall;
    const prototype = sharedClientPrototype();
    const original = prototype.send;
    const injector = this;
    prototype.send = function chaosSend(this: SdkClient, command: SdkCommand, ...rest: unknown[]) {
      return injector.intercept(this, command, rest, original);
    };
    this.uninstall = () => {
      prototype.send = original;
      this.uninstall = undefined;
    };
    return this.uninstall;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  private count(kind: string, n = 1): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + n);
  }

  private intercept(client: SdkClient, command: SdkCommand, rest: unknown[], original: Send): unknown {
    const passThrough = () => original.call(client, command, ...rest);
    // Callback-style sends and exempt clients go straight through.
    if (this.exempt.has(client) || typeof rest[rest.length - 1] === "function") return passThrough();
    const service = client.config?.serviceId ?? "unknown";
    this.instrument(client, service);
    const inner = (command.clientCommand ?? command) as object;
    const operation = inner.constructor.name.replace(/Command$/, "");
    const call = describeCall(service, operation, command.input ?? {});
    if (call.site === "other") return passThrough();
    if (call.deliveryId !== undefined && call.webhookId !== undefined) {
      this.webhookByDelivery.set(call.deliveryId, call.webhookId);
    }
    this.callsBySite.set(call.site, (this.callsBySite.get(call.site) ?? 0) + 1);
    if (!this.enabled) return passThrough();

    const callFault = this.drawCallFault(call);
    if (callFault !== undefined) {
      this.count(callFault.kind);
      this.noteFailure(call);
      return Promise.reject(callFault.error);
    }
    let result: Promise<unknown>;
    if (call.site === "esm.receive" && this.rates.receiveThrottle > 0) {
      result = this.throttledReceive(client, command, rest, original);
    } else if (call.site === "delivery.schedule" && this.random.chance(this.rates.resendCrash / 2)) {
      this.count("crash_after_resend");
      result = (passThrough() as Promise<unknown>).then(() => {
        throw sqsInternalError(1);
      });
    } else if (
      call.site === "delivery.record" &&
      isHandOffWrite(command.input) &&
      this.random.chance(this.rates.resendCrash / 2)
    ) {
      this.count("crash_after_handoff_recorded");
      result = (passThrough() as Promise<unknown>).then(() => {
        throw dynamodbThrottle(SDK_MAX_ATTEMPTS);
      });
    } else if (call.site === "delivery.schedule" && this.random.chance(this.rates.wakeEarly)) {
      const seconds = Number(command.input.DelaySeconds ?? 0);
      if (seconds >= 2) {
        this.count("job_woken_early");
        command.input = { ...command.input, DelaySeconds: Math.floor(seconds / 2) };
      }
      result = passThrough() as Promise<unknown>;
    } else if (call.site === "delivery.deadletter" && this.random.chance(this.rates.deadLetterCrash)) {
      this.count("crash_after_dead_letter_send");
      result = (passThrough() as Promise<unknown>).then(() => {
        throw sqsInternalError(1);
      });
    } else if (call.operation === "SendMessageBatch" && this.rates.sqsBatchEntryFailure > 0) {
      result = this.partialSendMessageBatch(client, command, rest, original);
    } else if (call.operation === "BatchGetItem" && this.rates.dynamodbUnprocessedKey > 0) {
      result = this.partialBatchGet(client, command, rest, original);
    } else {
      result = passThrough() as Promise<unknown>;
    }
    return result.then(undefined, (error: unknown) => {
      // A run of wire faults the SDK gave up on surfaces here, like any other failed call.
      if (typeof error === "object" && error !== null && this.injectedErrors.has(error)) {
        this.count("sdk_retries_exhausted");
        this.noteFailure(call);
      } else if (call.site.startsWith("router.")) {
        this.lastRouterFailureAt = Date.now();
      }
      throw error;
    });
  }

  private noteFailure(call: DescribedCall): void {
    if (call.site.startsWith("router.")) this.lastRouterFailureAt = Date.now();
    if (call.site !== "delivery.record") return;
    // An attempt item is written before the head: its outcome is inside the compressed blob, so a
    // fault on it may follow a 2xx (and a failed attempt cannot make a duplicate anyway).
    const webhookId =
      call.webhookId ??
      (call.deliveryId !== undefined ? this.webhookByDelivery.get(call.deliveryId) : undefined);
    if ((call.recordStatus === "succeeded" || call.recordStatus === "attempt") && webhookId) {
      this.faultedSuccessRecords.add(webhookId);
    }
  }

  private drawCallFault(call: DescribedCall): { kind: string; error: Error } | undefined {
    const r = this.rates;
    switch (call.site) {
      case "router.lookup":
        if (call.customerId !== undefined && this.poison.has(call.customerId)) {
          return { kind: "router_lookup_poisoned", error: dynamodbThrottle(SDK_MAX_ATTEMPTS) };
        }
        return this.random.chance(r.routerLookup)
          ? { kind: "router_lookup_failed", error: dynamodbThrottle(SDK_MAX_ATTEMPTS) }
          : undefined;
      case "router.enqueue":
        return this.random.chance(r.routerEnqueue)
          ? { kind: "router_enqueue_failed", error: sqsInternalError(SDK_MAX_ATTEMPTS) }
          : undefined;
      case "delivery.load":
        return this.random.chance(r.deliveryLoad)
          ? { kind: "delivery_load_failed", error: dynamodbThrottle(SDK_MAX_ATTEMPTS) }
          : undefined;
      case "delivery.record":
        if (!this.random.chance(r.deliveryRecord)) return undefined;
        return {
          kind:
            call.recordStatus === "succeeded"
              ? "delivery_record_failed_after_2xx"
              : "delivery_record_failed_after_failed_attempt",
          error: dynamodbThrottle(SDK_MAX_ATTEMPTS),
        };
      case "delivery.subscription":
        return this.random.chance(r.deliverySubscriptionUpdate)
          ? { kind: "delivery_subscription_update_failed", error: dynamodbThrottle(SDK_MAX_ATTEMPTS) }
          : undefined;
      case "delivery.schedule":
        return this.random.chance(r.deliverySchedule)
          ? { kind: "delivery_resend_failed", error: sqsInternalError(SDK_MAX_ATTEMPTS) }
          : undefined;
      default:
        return undefined;
    }
  }

  /** Adds the wire-fault middleware to a client's stack once (the document client shares its client's stack). */
  private instrument(client: SdkClient, service: string): void {
    const stack = client.middlewareStack as object;
    if (this.instrumentedStacks.has(stack)) return;
    this.instrumentedStacks.add(stack);
    const middleware =
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: { input?: Input }) => {
        if (!this.enabled) return next(args);
        const operation = String(context.commandName ?? "").replace(/Command$/, "");
        const call = describeCall(service, operation, args.input ?? {});
        if (!WIRE_SITES.has(call.site)) return next(args);
        let error: Error | undefined;
        if (service === "DynamoDB" && this.random.chance(this.rates.dynamodbThrottle)) {
          this.count("dynamodb_throttled");
          error = dynamodbThrottle(1);
        } else if (service === "SQS" && this.random.chance(this.rates.sqsError)) {
          const throttled = this.random.chance(0.5);
          this.count(throttled ? "sqs_throttled" : "sqs_internal_error");
          error = throttled ? sqsThrottle(1) : sqsInternalError(1);
        }
        if (error === undefined) return next(args);
        this.injectedErrors.add(error);
        throw error;
      };
    // After the SDK's retry middleware (priority high in the same step), so every attempt can be hit.
    client.middlewareStack.add(middleware, {
      step: "finalizeRequest",
      name: "chaosWireFaults",
      priority: "low",
    });
  }

  /**
   * A receive whose messages never reach the function: they are held back from the result, as
   * Lambda holds a batch it cannot invoke, and become visible again a second later (on AWS, when the
   * queue's visibility timeout lapses), one receive count higher.
   */
  private async throttledReceive(
    client: SdkClient,
    command: SdkCommand,
    rest: unknown[],
    original: Send,
  ): Promise<unknown> {
    const output = (await original.call(client, command, ...rest)) as {
      Messages?: { ReceiptHandle?: string }[];
    };
    const messages = output.Messages ?? [];
    const held = messages.filter(() => this.random.chance(this.rates.receiveThrottle));
    if (held.length === 0) return output;
    this.count("receive_throttled", held.length);
    for (const message of held) {
      void (
        original.call(
          client,
          new ChangeMessageVisibilityCommand({
            QueueUrl: command.input.QueueUrl as string,
            ReceiptHandle: message.ReceiptHandle as string,
            VisibilityTimeout: 1,
          }) as unknown as SdkCommand,
        ) as Promise<unknown>
      ).catch(() => undefined);
    }
    return { ...output, Messages: messages.filter((message) => !held.includes(message)) };
  }

  private async partialSendMessageBatch(
    client: SdkClient,
    command: SdkCommand,
    rest: unknown[],
    original: Send,
  ): Promise<unknown> {
    const entries = (command.input.Entries as { Id?: string }[] | undefined) ?? [];
    const failed = entries.filter(() => this.random.chance(this.rates.sqsBatchEntryFailure));
    if (failed.length === 0) return original.call(client, command, ...rest);
    this.count("sqs_send_batch_partial_failure");
    this.count("sqs_send_batch_failed_entries", failed.length);
    const kept = entries.filter((entry) => !failed.includes(entry));
    const Command = command.constructor as new (input: Input) => SdkCommand;
    const output = (
      kept.length > 0
        ? await original.call(client, new Command({ ...command.input, Entries: kept }), ...rest)
        : { $metadata: { httpStatusCode: 200, requestId: randomUUID(), attempts: 1 }, Successful: [] }
    ) as { Failed?: unknown[] };
    return {
      ...output,
      Failed: [
        ...(output.Failed ?? []),
        ...failed.map((entry) => ({
          Id: entry.Id,
          SenderFault: false,
          Code: "InternalError",
          Message: "We encountered an internal error. Please try again.",
        })),
      ],
    };
  }

  private async partialBatchGet(
    client: SdkClient,
    command: SdkCommand,
    rest: unknown[],
    original: Send,
  ): Promise<unknown> {
    const requestItems = field(command.input, "RequestItems") as Record<string, { Keys?: unknown[] }>;
    const kept: Record<string, { Keys?: unknown[] }> = {};
    const unprocessed: Record<string, { Keys: unknown[] }> = {};
    let withheld = 0;
    let remaining = 0;
    for (const [table, request] of Object.entries(requestItems)) {
      const keys = request.Keys ?? [];
      const out = keys.filter(() => this.random.chance(this.rates.dynamodbUnprocessedKey));
      // DynamoDB processes at least one key of a request it accepts.
      if (out.length === keys.length && out.length > 0) out.pop();
      const inKeys = keys.filter((key) => !out.includes(key));
      if (out.length > 0) unprocessed[table] = { ...request, Keys: out };
      if (inKeys.length > 0) kept[table] = { ...request, Keys: inKeys };
      withheld += out.length;
      remaining += inKeys.length;
    }
    if (withheld === 0 || remaining === 0) return original.call(client, command, ...rest);
    this.count("dynamodb_batch_get_unprocessed");
    this.count("dynamodb_unprocessed_keys", withheld);
    const Command = command.constructor as new (input: Input) => SdkCommand;
    const output = (await original.call(
      client,
      new Command({ ...command.input, RequestItems: kept }),
      ...rest,
    )) as {
      UnprocessedKeys?: Record<string, { Keys?: unknown[] }>;
    };
    const merged: Record<string, { Keys?: unknown[] }> = { ...(output.UnprocessedKeys ?? {}) };
    for (const [table, request] of Object.entries(unprocessed)) {
      merged[table] = { ...request, Keys: [...(merged[table]?.Keys ?? []), ...request.Keys] };
    }
    return { ...output, UnprocessedKeys: merged };
  }
}
