import { randomUUID } from "node:crypto";
import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { CodedError } from "#shared/domain/errors.ts";
import { sqsSafeJsonText } from "#shared/domain/json.ts";
import { loggedError } from "#shared/domain/ports/logger.ts";
import { functionArn, invokeLambda, type LambdaFunctionSpec } from "./lambda-runtime.ts";
import { SqsEventSource } from "./sqs-event-source.ts";

/**
 * Lambda's asynchronous invocation, the way EventBridge invokes a rule's Lambda target: the caller
 * does not wait; a function error (a throw, or the function timeout) is retried after a delay, by
 * default twice (one minute, then two), and when the retries are exhausted the event goes to the
 * on-failure destination as Lambda's invocation record.
 *
 * Lambda keeps asynchronous invocations in a queue of its own and answers the caller once the event
 * is queued ("Invoking a Lambda function asynchronously",
 * https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html; "How Lambda handles errors
 * and retries with asynchronous invocation",
 * https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html). Here that
 * queue is a queue of the local SQS (durable in SQLite unless --in-memory): `invoke` resolves once
 * the invocation is committed there, a retry is the message's visibility set to the retry's delay
 * (kept across a kill -9 and a restart, at its schedule), and an invocation is deleted only once it
 * succeeded or its record is on the destination. An attempt cut short by a crash is run again after
 * the restart (the stack releases what the dead process had received), and counts as an attempt:
 * Lambda's queue is at-least-once too ("…it's possible for it to receive the same event from Lambda
 * multiple times"), and the router is idempotent per event id.
 */

/** Lambda's defaults for asynchronous invocation: two retries, one and two minutes apart. */
export const LAMBDA_ASYNC_RETRY_DELAYS_MS: readonly number[] = [60_000, 120_000];

/** Time beyond the function timeout an attempt's message stays hidden (it then comes back, one receive more). */
const VISIBILITY_MARGIN_SECONDS = 30;

/** The attributes of the queue behind the invocations of a function with this timeout. */
export function asyncQueueAttributes(
  functionTimeoutMs: number,
  retentionSeconds: number,
): Record<string, string> {
  return {
    VisibilityTimeout: String(Math.ceil(functionTimeoutMs / 1000) + VISIBILITY_MARGIN_SECONDS),
    MessageRetentionPeriod: String(retentionSeconds),
  };
}

/** What Lambda sends to an on-failure destination (the invocation record). */
export interface AsyncFailureRecord {
  readonly version: "1.0";
  readonly timestamp: string;
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: "RetriesExhausted";
    readonly approximateInvokeCount: number;
  };
  readonly requestPayload: unknown;
  readonly responseContext: {
    readonly statusCode: 200;
    readonly executedVersion: "$LATEST";
    readonly functionError: "Unhandled";
  };
  readonly responsePayload: {
    readonly errorType: string;
    readonly errorMessage: string;
    readonly trace: string[];
  };
}

export interface AsyncInvokerLogger {
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}

/** The queue that holds the invocations (created by the caller with asyncQueueAttributes). */
export interface AsyncInvocationQueue {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
}

export interface AsyncInvokerOptions<TEvent> {
  readonly spec: LambdaFunctionSpec;
  readonly handler: (event: TEvent, context: Context) => Promise<unknown>;
  readonly queue: AsyncInvocationQueue;
  /**
   * Delay before each retry; its length is the number of retries. Applied as the message's
   * visibility, so in whole seconds (rounded up), as SQS counts it.
   */
  readonly retryDelaysMs?: readonly number[];
  /**
   * The on-failure destination, given the record and its JSON text (SQS-safe, the payload as it was
   * queued). If it throws, the invocation stays queued and comes back after the visibility timeout.
   */
  readonly onFailure: (record: AsyncFailureRecord, recordJson: string) => Promise<void>;
  /** Invocations running at once (Lambda's concurrency); more wait their turn. Default 8. */
  readonly concurrency?: number;
  readonly logger: AsyncInvokerLogger;
}

export class AsyncInvokerStoppedError extends CodedError {
  override readonly name = "AsyncInvokerStoppedError";
  readonly code = "ASYNC_INVOKER_STOPPED";
}

/** The queue refused the invocation (SendMessageBatch reported it failed). */
export class AsyncInvocationNotQueuedError extends CodedError {
  override readonly name = "AsyncInvocationNotQueuedError";
  readonly code = "ASYNC_INVOCATION_NOT_QUEUED";
}

/** A queued invocation's message is not one this invoker wrote. */
export class AsyncInvocationUnreadableError extends CodedError {
  override readonly name = "AsyncInvocationUnreadableError";
  readonly code = "ASYNC_INVOCATION_UNREADABLE";
}

/** SendMessageBatch's limits (SQS API Reference): 10 entries, 1 MiB in all. */
const SEND_BATCH_MAX_ENTRIES = 10;
const SEND_BATCH_MAX_BYTES = 1024 * 1024;

const BODY_HEAD = /^\{"requestId":"([0-9a-f-]{36})","payload":/;

interface Pending {
  readonly requestId: string;
  readonly body: string;
  readonly resolve: (requestId: string) => void;
  readonly reject: (error: unknown) => void;
}

export class AsyncInvoker<TEvent> {
  private readonly retryDelaysMs: readonly number[];
  private readonly source: SqsEventSource;
  private unsent: Pending[] = [];
  private readonly sending = new Set<Promise<void>>();
  private accepting = true;

  constructor(private readonly options: AsyncInvokerOptions<TEvent>) {
    this.retryDelaysMs = options.retryDelaysMs ?? LAMBDA_ASYNC_RETRY_DELAYS_MS;
    this.source = new SqsEventSource({
      sqs: options.queue.sqs,
      queueUrl: options.queue.queueUrl,
      handler: (event) => this.attempt(event),
      // One invocation per receive, `concurrency` at once: a slow one holds no other.
      batchSize: 1,
      maxBatchingWindowSeconds: 0,
      waitTimeSeconds: 20,
      concurrency: options.concurrency ?? 8,
      // The function's own timeout is enforced inside; this one only bounds the bookkeeping around it.
      functionTimeoutMs: options.spec.timeoutMs + VISIBILITY_MARGIN_SECONDS * 1000,
      functionName: `${options.spec.functionName} (asynchronous invocation queue)`,
      onError: (error) =>
        options.logger.error("asynchronous invocation queue", {
          function_name: options.spec.functionName,
          error: loggedError(error),
        }),
    });
  }

  /** Starts running what is queued, including what a previous process left there. */
  start(): void {
    this.source.start();
  }

  /**
   * Queues one asynchronous invocation with the event as JSON text (parsed only when it runs, so a
   * deeply nested event is never serialised again); resolves with its request id once it is
   * durably queued. Invocations queued in the same turn share one SendMessageBatch.
   */
  invoke(payloadJson: string): Promise<string> {
    if (!this.accepting) {
      return Promise.reject(new AsyncInvokerStoppedError("the function is shutting down"));
    }
    const requestId = randomUUID();
    const body = `{"requestId":"${requestId}","payload":${sqsSafeJsonText(payloadJson)}}`;
    return new Promise<string>((resolve, reject) => {
      this.unsent.push({ requestId, body, resolve, reject });
      if (this.unsent.length === 1) queueMicrotask(() => this.flush());
    });
  }

  /**
   * Stops taking invocations and running them: what runs is given until the function timeout to
   * finish (the caller may give up earlier); whatever stays queued — scheduled retries included —
   * waits in the queue for the next start.
   */
  async stop(): Promise<void> {
    this.accepting = false;
    this.flush();
    await Promise.allSettled([...this.sending]);
    await this.source.stop({ abortReceives: true });
  }

  private flush(): void {
    const all = this.unsent;
    this.unsent = [];
    let batch: Pending[] = [];
    let bytes = 0;
    for (const pending of all) {
      const size = Buffer.byteLength(pending.body, "utf8");
      if (
        batch.length === SEND_BATCH_MAX_ENTRIES ||
        (batch.length > 0 && bytes + size > SEND_BATCH_MAX_BYTES)
      ) {
        this.send(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(pending);
      bytes += size;
    }
    if (batch.length > 0) this.send(batch);
  }

  private send(batch: readonly Pending[]): void {
    const work = this.options.queue.sqs
      .send(
        new SendMessageBatchCommand({
          QueueUrl: this.options.queue.queueUrl,
          Entries: batch.map((pending, i) => ({ Id: `i${i}`, MessageBody: pending.body })),
        }),
      )
      .then(
        ({ Successful = [], Failed = [] }) => {
          const ok = new Set(Successful.map((entry) => entry.Id));
          const failed = new Map(Failed.map((entry) => [entry.Id, entry]));
          batch.forEach((pending, i) => {
            if (ok.has(`i${i}`)) pending.resolve(pending.requestId);
            else {
              const failure = failed.get(`i${i}`);
              pending.reject(
                new AsyncInvocationNotQueuedError(
                  `the invocation was not queued: ${failure?.Code ?? "no result"} ${failure?.Message ?? ""}`.trim(),
                ),
              );
            }
          });
        },
        (error: unknown) => {
          for (const pending of batch) pending.reject(error);
        },
      );
    this.sending.add(work);
    work.finally(() => this.sending.delete(work));
  }

  /** One attempt of one queued invocation (the event source hands them over one at a time). */
  private async attempt(event: SQSEvent): Promise<SQSBatchResponse | undefined> {
    const record = event.Records[0];
    if (record === undefined) return undefined;
    const head = BODY_HEAD.exec(record.body);
    const requestId = head?.[1];
    if (head === null || requestId === undefined || !record.body.endsWith("}")) {
      throw new AsyncInvocationUnreadableError(`message ${record.messageId} is not a queued invocation`);
    }
    const payloadJson = record.body.slice(head[0].length, -1);
    // Every receive is an attempt: one cut short by a crash counts, as on Lambda.
    const attempt = Number(record.attributes.ApproximateReceiveCount);
    try {
      await invokeLambda(
        this.options.spec,
        this.options.handler,
        JSON.parse(payloadJson) as TEvent,
        requestId,
      );
      return undefined;
    } catch (error) {
      const delay = this.retryDelaysMs[attempt - 1];
      if (delay !== undefined) {
        const seconds = Math.max(1, Math.ceil(delay / 1000));
        await this.options.queue.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: this.options.queue.queueUrl,
            ReceiptHandle: record.receiptHandle,
            VisibilityTimeout: seconds,
          }),
        );
        this.options.logger.warn("asynchronous invocation failed; Lambda will retry it", {
          function_name: this.options.spec.functionName,
          request_id: requestId,
          attempt,
          retry_in_ms: seconds * 1000,
          error: loggedError(error),
        });
        // Left on the queue, hidden until the retry is due.
        return { batchItemFailures: [{ itemIdentifier: record.messageId }] };
      }
      await this.sendToDestination(requestId, payloadJson, attempt, error);
      return undefined;
    }
  }

  private async sendToDestination(
    requestId: string,
    payloadJson: string,
    attempts: number,
    error: unknown,
  ): Promise<void> {
    const head = {
      version: "1.0",
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId,
        functionArn: `${functionArn(this.options.spec)}:$LATEST`,
        condition: "RetriesExhausted",
        approximateInvokeCount: attempts,
      },
    } as const;
    const tail = {
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      responsePayload: {
        errorType: error instanceof Error ? error.name : "Error",
        errorMessage: error instanceof Error ? error.message : String(error),
        trace: error instanceof Error && error.stack ? error.stack.split("\n") : [],
      },
    } as const;
    // Lambda's key order, with the payload spliced in as queued: a deep event is never re-serialised.
    const recordJson = `${JSON.stringify(head).slice(0, -1)},"requestPayload":${payloadJson},${JSON.stringify(tail).slice(1)}`;
    const record: AsyncFailureRecord = { ...head, requestPayload: JSON.parse(payloadJson), ...tail };
    try {
      await this.options.onFailure(record, sqsSafeJsonText(recordJson));
    } catch (destinationError) {
      this.options.logger.error(
        "asynchronous invocation failed and its on-failure destination failed too; it stays queued",
        {
          function_name: this.options.spec.functionName,
          request_id: requestId,
          error: loggedError(error),
          destination_error: loggedError(destinationError),
        },
      );
      throw destinationError;
    }
    this.options.logger.error(
      "asynchronous invocation failed on every attempt; sent to the on-failure destination",
      {
        function_name: this.options.spec.functionName,
        request_id: requestId,
        attempts,
        error: loggedError(error),
      },
    );
  }
}
