import { createHash } from "node:crypto";
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type {
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSMessageAttributes,
  SQSRecord,
  SQSRecordAttributes,
} from "aws-lambda";
import { CodedError } from "#shared/domain/errors.ts";
import { DELIVERY_BATCH, DELIVERY_FUNCTION_TIMEOUT_SECONDS } from "#shared/resources.ts";
import { invokeLambda, LOCAL_ACCOUNT_ID } from "./lambda-runtime.ts";

/**
 * A local stand-in for Lambda's SQS event source mapping: long-polls a queue, invokes the handler
 * with a Lambda-shaped SQSEvent, and deletes what the handler did not report as failed. Failed
 * records are left alone so that their visibility timeout (possibly changed by the handler) and
 * the queue's redrive policy decide what happens next, exactly as on AWS.
 */

// biome-ignore lint/suspicious/noConfusingVoidType: Lambda's own SQSHandler type; `async () => {}` must fit.
export type SqsBatchHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface SqsEventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** Defaults to the queue's QueueArn attribute, read once. */
  queueArn?: string;
  /** Defaults to the SQS client's region. */
  awsRegion?: string;
  handler: SqsBatchHandler;
  /** Records per invocation (1–10, or up to 10 000 with a batching window), default 10. */
  batchSize?: number;
  /** Keep receiving for up to this long to fill a batch, default 0 (invoke as soon as anything arrives). */
  maxBatchingWindowSeconds?: number;
  /** Long-poll wait per ReceiveMessage (0–20), default 1 so that stop() returns within about a second. */
  waitTimeSeconds?: number;
  /**
   * Parallel pollers at most (the mapping's MaximumConcurrency), each running one invocation at a
   * time, default 2. Without `scaling` all of them poll from the start.
   */
  concurrency?: number;
  /**
   * Scale the pollers with the backlog as Lambda does instead of running `concurrency` of them all
   * the time (see PollerScaling). Absent: a fixed set of `concurrency` pollers.
   */
  scaling?: PollerScaling;
  /** The function timeout the Context reports and enforces, default the delivery function's. */
  functionTimeoutMs?: number;
  functionName?: string;
  /** Errors that Lambda would log but not surface: receive failures, handler errors, failed deletes. */
  onError?: (err: unknown) => void;
  /**
   * The function's concurrency, shared by every mapping (and caller) of the function. A batch
   * received when none is free is throttled: not invoked, left in flight, back after its visibility
   * timeout with ApproximateReceiveCount +1, as on Lambda. Without it every poller has a slot.
   */
  functionConcurrency?: FunctionConcurrency;
}

/**
 * A function's concurrency (Lambda's reserved concurrency, or what the account leaves it): how many
 * invocations may run at once. Lambda throttles an invocation beyond it; for an SQS event source
 * mapping the batch stays on the queue and counts as a receive (Lambda Developer Guide, "Handling
 * errors for an SQS event source in Lambda": throttled batches return to the queue after the
 * visibility timeout; aws-facts, SQS: ApproximateReceiveCount grows on throttled receives).
 */
export class FunctionConcurrency {
  private running = 0;
  readonly limit: number;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 0) {
      throw new SqsEventSourceConfigError("function concurrency must be a whole number ≥ 0");
    }
    this.limit = limit;
  }

  get inUse(): number {
    return this.running;
  }

  /** Takes a slot if one is free; the caller must release() it once its invocation ends. */
  tryAcquire(): boolean {
    if (this.running >= this.limit) return false;
    this.running++;
    return true;
  }

  release(): void {
    this.running = Math.max(0, this.running - 1);
  }
}

/**
 * Lambda's scaling of an SQS event source mapping (Lambda Developer Guide, "Configuring scaling
 * behavior for SQS event source mappings", https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html):
 * "When messages are available, Lambda starts processing five batches at a time with five concurrent
 * invocations of your function. If messages are still available, Lambda increases the number of
 * processes that are reading batches by up to 300 more instances per minute. [...] When traffic is
 * low, Lambda scales back the processing to five concurrent batches" (the optimisation down to 2 is
 * "not available when you enable the maximum concurrency setting", which every mapping of ours sets).
 *
 * Locally: `minPollers` poll from the start; a receive that comes back full (as many messages as it
 * asked for: more are likely waiting), or every poller being busy in an invocation (nobody is
 * looking), adds a poller, at most `addPerMinute` a minute and never beyond `concurrency`; a poller whose receive finds no backlog (it came back empty, or short of a full
 * batch while another poller is already waiting on the queue) stops while more than `minPollers`
 * run. Fewer pollers when the queue is short also make the batches fuller, as on AWS.
 */
export interface PollerScaling {
  /** Pollers that always run (Lambda: 5), capped at `concurrency`. */
  readonly minPollers: number;
  /** Pollers added per minute at most while messages are still available (Lambda: 300). */
  readonly addPerMinute: number;
}

/** Lambda's numbers (see PollerScaling). */
export const LAMBDA_SQS_SCALING: PollerScaling = { minPollers: 5, addPerMinute: 300 };

export interface PollResult {
  /** Records received (handed to the handler unless throttled). */
  received: number;
  /** Records left on the queue (reported as failed, the whole batch when the invocation failed or was throttled). */
  failed: number;
  /** Records of a batch received while the function had no free concurrency (never invoked); absent when none. */
  throttled?: number;
}

/** A cycle's result for the scaling: whether its last receive came back with all it asked for (more are likely waiting). */
type CycleResult = PollResult & { readonly full: boolean };

export class SqsEventSourceConfigError extends CodedError {
  override readonly name = "SqsEventSourceConfigError";
  readonly code = "SQS_EVENT_SOURCE_CONFIG_INVALID";
}

/** The handler returned a batch response Lambda would reject; the whole batch is treated as failed. */
export class InvalidBatchResponseError extends CodedError {
  override readonly name = "InvalidBatchResponseError";
  readonly code = "BATCH_RESPONSE_INVALID";
}

/** SQS returned a message without a system attribute every Lambda SQS record carries. */
export class IncompleteMessageError extends CodedError {
  override readonly name = "IncompleteMessageError";
  readonly code = "SQS_MESSAGE_INCOMPLETE";
}

const MAX_RECEIVE = 10;
const RECEIVE_ERROR_BACKOFF_MS = 1000;
/** A poller whose batch was throttled waits before its next receive, as Lambda's pollers back off. */
const THROTTLE_BACKOFF_MS = 1000;

export class SqsEventSource {
  private readonly sqs: SQSClient;
  private readonly queueUrl: string;
  private readonly handler: SqsBatchHandler;
  private readonly batchSize: number;
  private readonly batchingWindowMs: number;
  private readonly waitTimeSeconds: number;
  private readonly concurrency: number;
  private readonly functionTimeoutMs: number;
  private readonly functionName: string;
  private readonly onError: (err: unknown) => void;
  private readonly functionConcurrency: FunctionConcurrency | undefined;
  private readonly scaling: PollerScaling | undefined;
  private queueArn: string | undefined;
  private awsRegion: string | undefined;

  private running = false;
  private readonly pollers = new Set<Promise<void>>();
  /** When the last poller was added by scaling (ms since epoch). */
  private lastScaleUpAt = 0;
  private peakPollers = 0;
  /** Pollers waiting in a receive right now. */
  private receiving = 0;
  private scalingTimer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private abortController = new AbortController();

  constructor(opts: SqsEventSourceOptions) {
    this.sqs = opts.sqs;
    this.queueUrl = opts.queueUrl;
    this.queueArn = opts.queueArn;
    this.awsRegion = opts.awsRegion;
    this.handler = opts.handler;
    this.batchSize = opts.batchSize ?? DELIVERY_BATCH.batchSize;
    this.batchingWindowMs = (opts.maxBatchingWindowSeconds ?? DELIVERY_BATCH.maxBatchingWindowSeconds) * 1000;
    this.waitTimeSeconds = opts.waitTimeSeconds ?? 1;
    this.concurrency = opts.concurrency ?? 2;
    this.functionTimeoutMs = opts.functionTimeoutMs ?? DELIVERY_FUNCTION_TIMEOUT_SECONDS * 1000;
    this.functionName = opts.functionName ?? "local-sqs-consumer";
    this.onError = opts.onError ?? ((err) => console.error("[sqs-event-source]", err));
    this.functionConcurrency = opts.functionConcurrency;
    this.scaling = opts.scaling;

    const problems = [
      Number.isInteger(this.batchSize) && this.batchSize >= 1 && this.batchSize <= 10_000
        ? undefined
        : "batchSize must be 1–10000",
      // Lambda refuses the same combination: without a window one receive (10 at most) makes a batch.
      this.batchSize > MAX_RECEIVE && this.batchingWindowMs === 0
        ? "batchSize above 10 needs maxBatchingWindowSeconds"
        : undefined,
      this.batchingWindowMs >= 0 && this.batchingWindowMs <= 300_000
        ? undefined
        : "maxBatchingWindowSeconds must be 0–300",
      Number.isInteger(this.waitTimeSeconds) && this.waitTimeSeconds >= 0 && this.waitTimeSeconds <= 20
        ? undefined
        : "waitTimeSeconds must be a whole number 0–20",
      Number.isInteger(this.concurrency) && this.concurrency >= 1
        ? undefined
        : "concurrency must be at least 1",
      this.functionTimeoutMs > 0 ? undefined : "functionTimeoutMs must be positive",
      this.scaling === undefined ||
      (Number.isInteger(this.scaling.minPollers) && this.scaling.minPollers >= 1)
        ? undefined
        : "scaling.minPollers must be a whole number ≥ 1",
      this.scaling === undefined || this.scaling.addPerMinute > 0
        ? undefined
        : "scaling.addPerMinute must be positive",
    ].filter((problem) => problem !== undefined);
    if (problems.length > 0) throw new SqsEventSourceConfigError(problems.join("; "));
  }

  /** Starts the pollers; a no-op when already running. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.abortController = new AbortController();
    this.peakPollers = 0;
    for (let i = 0; i < this.minPollers; i++) this.addPoller();
    if (this.scaling !== undefined) {
      // Every poller busy in an invocation: nobody sees whether messages wait, so one more looks
      // (at the scaling's pace). Without it, pollers held by a black-holing endpoint's jobs would
      // leave the queue unread until their timeout.
      const timer = setInterval(() => {
        if (this.receiving === 0) this.scaleUp();
      }, 60_000 / this.scaling.addPerMinute);
      timer.unref();
      this.scalingTimer = timer;
    }
  }

  /** Pollers running now. */
  get pollerCount(): number {
    return this.pollers.size;
  }

  /** The most pollers that ran at once since start(). */
  get peakPollerCount(): number {
    return this.peakPollers;
  }

  private get minPollers(): number {
    return Math.min(this.concurrency, this.scaling?.minPollers ?? this.concurrency);
  }

  private addPoller(): void {
    const poller = this.pollLoop().finally(() => this.pollers.delete(poller));
    this.pollers.add(poller);
    this.peakPollers = Math.max(this.peakPollers, this.pollers.size);
  }

  /**
   * A poller above the minimum stops when its receive found no backlog: it came back empty, or short
   * of a full batch while another poller is already waiting on the queue (which takes what comes next).
   */
  private redundant(received: number): boolean {
    if (this.scaling === undefined || this.pollers.size <= this.minPollers) return false;
    return received === 0 || this.receiving > 0;
  }

  /** One more poller when messages are still available, at the scaling's pace and up to the cap. */
  private scaleUp(): void {
    const scaling = this.scaling;
    if (scaling === undefined || !this.running || this.pollers.size >= this.concurrency) return;
    const now = Date.now();
    if (now - this.lastScaleUpAt < 60_000 / scaling.addPerMinute) return;
    this.lastScaleUpAt = now;
    this.addPoller();
  }

  /**
   * Stops polling and resolves once every in-flight invocation (and its deletes) has finished.
   * By default each poller's current long poll is allowed to finish (at most waitTimeSeconds):
   * aborting it client-side may leave the server-side poll alive, and SQS may then hand the next
   * message to that dead request, hiding it for a whole visibility timeout (the local SQS drops a
   * poll whose client left, AWS promises nothing). Pass
   * `abortReceives` for a fast shutdown of a process that will not poll this queue again.
   */
  async stop(options: { abortReceives?: boolean } = {}): Promise<void> {
    this.running = false;
    clearInterval(this.scalingTimer);
    if (options.abortReceives) this.abortController.abort();
    // A poller may add another while its last cycle ends: wait until none is left.
    while (this.pollers.size > 0) await Promise.allSettled([...this.pollers]);
    await Promise.allSettled([...this.inFlight]);
  }

  /** One receive, invoke and delete cycle. Receive errors propagate; handler failures are counted. */
  async pollOnce(): Promise<PollResult> {
    const { full: _full, ...result } = await this.track(this.cycle());
    return result;
  }

  private async pollLoop(): Promise<void> {
    while (this.running) {
      try {
        const { received, throttled = 0, full } = await this.track(this.cycle());
        if (throttled > 0) await this.pause(THROTTLE_BACKOFF_MS);
        else if (full) this.scaleUp();
        else if (this.redundant(received)) return;
      } catch (err) {
        if (!this.running) return;
        this.onError(err);
        await this.pause(RECEIVE_ERROR_BACKOFF_MS);
      }
    }
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const untrack = () => this.inFlight.delete(work);
    work.then(untrack, untrack);
    return work;
  }

  private async pause(ms: number): Promise<void> {
    const signal = this.abortController.signal;
    if (signal.aborted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }

  private async cycle(): Promise<CycleResult> {
    this.receiving++;
    let received: { messages: Message[]; full: boolean };
    try {
      received = await this.receiveBatch();
    } finally {
      this.receiving--;
    }
    const { messages, full } = received;
    if (messages.length === 0) return { received: 0, failed: 0, full };

    // No free concurrency: the batch was received (its receive counted) but is not invoked; its
    // messages come back after their visibility timeout, as a throttled batch does on Lambda.
    const concurrency = this.functionConcurrency;
    if (concurrency !== undefined && !concurrency.tryAcquire()) {
      return { received: messages.length, failed: messages.length, throttled: messages.length, full };
    }
    try {
      const [eventSourceARN, awsRegion] = await Promise.all([this.resolveQueueArn(), this.resolveRegion()]);
      const records = messages.map((message) => toSqsRecord(message, eventSourceARN, awsRegion));

      let failedIds: ReadonlySet<string>;
      try {
        failedIds = await this.invoke(records);
      } catch (err) {
        // Lambda retries the whole batch: nothing is deleted, every record reappears after its visibility timeout.
        this.onError(err);
        return { received: records.length, failed: records.length, full };
      }

      const toDelete = records.filter((record) => !failedIds.has(record.messageId));
      await this.deleteRecords(toDelete);
      return { received: records.length, failed: records.length - toDelete.length, full };
    } finally {
      concurrency?.release();
    }
  }

  private async receiveBatch(): Promise<{ messages: Message[]; full: boolean }> {
    const messages: Message[] = [];
    let full = false;
    const windowEnds = Date.now() + this.batchingWindowMs;
    do {
      const remainingWindowMs = windowEnds - Date.now();
      // Once something has arrived, only wait as long as the batching window has left.
      const waitTimeSeconds =
        messages.length === 0
          ? this.waitTimeSeconds
          : Math.min(20, Math.max(0, Math.floor(remainingWindowMs / 1000)));
      const maxNumberOfMessages = Math.min(MAX_RECEIVE, this.batchSize - messages.length);
      const { Messages } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: maxNumberOfMessages,
          WaitTimeSeconds: waitTimeSeconds,
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
        { abortSignal: this.abortController.signal },
      );
      messages.push(...(Messages ?? []));
      full = (Messages ?? []).length >= maxNumberOfMessages;
      if (messages.length === 0) return { messages, full };
      // Under a second of window left and nothing more came: invoke now rather than spin on short polls.
      if (waitTimeSeconds === 0 && (Messages ?? []).length === 0) break;
    } while (messages.length < this.batchSize && Date.now() < windowEnds);
    return { messages, full };
  }

  /**
   * Runs the handler under the function timeout; resolves to the message ids to leave on the queue.
   * A timeout (FunctionTimeoutError) fails the whole batch, as on Lambda.
   */
  private async invoke(records: SQSRecord[]): Promise<ReadonlySet<string>> {
    const spec = {
      functionName: this.functionName,
      awsRegion: records[0]?.awsRegion ?? "us-east-1",
      timeoutMs: this.functionTimeoutMs,
    };
    const response = await invokeLambda(spec, this.handler, { Records: records });
    return failedMessageIds(response, records);
  }

  private async deleteRecords(records: SQSRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += MAX_RECEIVE) {
      const chunk = records.slice(start, start + MAX_RECEIVE);
      try {
        const { Failed } = await this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: chunk.map((record, i) => ({ Id: `r${start + i}`, ReceiptHandle: record.receiptHandle })),
          }),
        );
        // A record that could not be deleted is processed again, as on AWS; the handler must be idempotent.
        if (Failed && Failed.length > 0) {
          this.onError(
            new Error(`DeleteMessageBatch failed for ${Failed.map((f) => `${f.Id} (${f.Code})`).join(", ")}`),
          );
        }
      } catch (err) {
        this.onError(err);
      }
    }
  }

  private async resolveQueueArn(): Promise<string> {
    if (this.queueArn === undefined) {
      const { Attributes } = await this.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ["QueueArn"] }),
      );
      this.queueArn =
        Attributes?.QueueArn ??
        `arn:aws:sqs:${await this.resolveRegion()}:${LOCAL_ACCOUNT_ID}:${queueName(this.queueUrl)}`;
    }
    return this.queueArn;
  }

  private async resolveRegion(): Promise<string> {
    this.awsRegion ??= await this.sqs.config.region();
    return this.awsRegion;
  }
}

/**
 * Lambda's reading of a partial batch response: no response or an empty list means all succeeded;
 * an identifier that is missing, empty or not a message of this batch fails the whole batch.
 */
function failedMessageIds(response: unknown, records: SQSRecord[]): ReadonlySet<string> {
  if (response === undefined || response === null) return new Set();
  if (typeof response !== "object")
    throw new InvalidBatchResponseError("handler returned a non-object response");
  const failures: unknown = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) throw new InvalidBatchResponseError("batchItemFailures is not an array");
  const batchIds = new Set(records.map((record) => record.messageId));
  const failed = new Set<string>();
  for (const failure of failures as unknown[]) {
    const id: unknown =
      typeof failure === "object" && failure !== null
        ? (failure as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof id !== "string" || !batchIds.has(id)) {
      throw new InvalidBatchResponseError(
        `invalid itemIdentifier ${JSON.stringify(id)}: not a message id of this batch`,
      );
    }
    failed.add(id);
  }
  return failed;
}

/** The record exactly as Lambda builds it from a ReceiveMessage result (camelCase, base64 binaries). */
export function toSqsRecord(message: Message, eventSourceARN: string, awsRegion: string): SQSRecord {
  const attrs = message.Attributes ?? {};
  const required = (name: keyof SQSRecordAttributes): string => {
    const value = attrs[name as keyof typeof attrs];
    if (value === undefined) {
      throw new IncompleteMessageError(`message ${message.MessageId} has no ${name} attribute`);
    }
    return value;
  };
  const attributes: SQSRecordAttributes = {
    ApproximateReceiveCount: required("ApproximateReceiveCount"),
    SentTimestamp: required("SentTimestamp"),
    SenderId: required("SenderId"),
    ApproximateFirstReceiveTimestamp: required("ApproximateFirstReceiveTimestamp"),
  };
  for (const name of [
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "DeadLetterQueueSourceArn",
  ] as const) {
    const value = attrs[name];
    if (value !== undefined) attributes[name] = value;
  }

  if (message.MessageId === undefined || message.ReceiptHandle === undefined) {
    throw new IncompleteMessageError("message without MessageId or ReceiptHandle");
  }
  const body = message.Body ?? "";
  const record: SQSRecord = {
    messageId: message.MessageId,
    receiptHandle: message.ReceiptHandle,
    body,
    attributes,
    messageAttributes: toLambdaMessageAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? createHash("md5").update(body, "utf8").digest("hex"),
    eventSource: "aws:sqs",
    eventSourceARN,
    awsRegion,
  };
  if (message.MD5OfMessageAttributes !== undefined)
    record.md5OfMessageAttributes = message.MD5OfMessageAttributes;
  return record;
}

function toLambdaMessageAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): SQSMessageAttributes {
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
  return Object.fromEntries(
    Object.entries(attributes ?? {}).map(([name, value]) => [
      name,
      {
        ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
        ...(value.BinaryValue !== undefined && { binaryValue: base64(value.BinaryValue) }),
        stringListValues: value.StringListValues ?? [],
        binaryListValues: (value.BinaryListValues ?? []).map(base64),
        dataType: value.DataType ?? "String",
      },
    ]),
  );
}

function queueName(queueUrl: string): string {
  return new URL(queueUrl).pathname.split("/").filter(Boolean).at(-1) ?? queueUrl;
}
