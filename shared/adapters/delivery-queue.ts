import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { type DeliveryJob, serializeDeliveryJob } from "../domain/delivery/job.ts";
import { EnqueueFailedError } from "../domain/errors.ts";
import { sqsSafeJson } from "../domain/json.ts";
import type {
  BackstopArrival,
  BackstopQueue as BackstopQueuePort,
  DeadLetter,
  DeadLetterQueue as DeadLetterQueuePort,
  DeliveryQueue as DeliveryQueuePort,
  EnqueueResult,
  UnroutableQueue as UnroutableQueuePort,
  UnroutableRecord,
} from "../domain/ports/queues.ts";
import { type BackoffPolicy, retryWithBackoff } from "./backoff.ts";

/** SQS limits: 10 entries and 1 MiB of message bodies per SendMessageBatch. */
export const SQS_MAX_BATCH_ENTRIES = 10;
export const SQS_MAX_BATCH_BYTES = 1_048_576;

/**
 * Splits message bodies into SendMessageBatch groups that respect both limits. Order is kept.
 * A body larger than the byte limit on its own gets a group of its own (SQS will reject it, and the
 * rejection is reported like any other failed entry).
 */
export function chunkForSendMessageBatch(
  bodies: readonly string[],
  maxEntries = SQS_MAX_BATCH_ENTRIES,
  maxBytes = SQS_MAX_BATCH_BYTES,
): string[][] {
  return chunkForBatch(bodies, (body) => Buffer.byteLength(body, "utf8"), maxEntries, maxBytes);
}

/** The same split for any items whose body size `sizeOf` gives (the local bus's SQS target). */
export function chunkForBatch<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  maxEntries = SQS_MAX_BATCH_ENTRIES,
  maxBytes = SQS_MAX_BATCH_BYTES,
): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let currentBytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length === maxEntries || currentBytes + size > maxBytes)) {
      groups.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(item);
    currentBytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

export interface DeliveryQueueOptions {
  /** SendMessageBatch calls per group before giving up on its failed entries. @default 3 */
  readonly attempts?: number;
}

/** The delivery queue as the router, the API and the delivery function use it. */
export class DeliveryQueue implements DeliveryQueuePort {
  private readonly retry: BackoffPolicy;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    options: DeliveryQueueOptions = {},
  ) {
    // Failed entries are mostly throttling: the waits before the retries are at most 0.2 and 0.4 s.
    this.retry = { attempts: options.attempts ?? 3, baseDelayMs: 200, maxDelayMs: 2000 };
  }

  /**
   * Sends every job, retrying only the entries SQS reported as failed. Throws EnqueueFailedError when
   * some still fail, after sending all the others: the caller is retried, and the duplicates it then
   * enqueues are absorbed by the delivery function (same delivery id).
   */
  async enqueue(jobs: readonly DeliveryJob[]): Promise<EnqueueResult> {
    let requests = 0;
    let sent = 0;
    const stillFailed: string[] = [];
    const failedDeliveries: string[] = [];
    const bodies = jobs.map(serializeDeliveryJob);
    const groupOf = new Map(bodies.map((body, i) => [body, (jobs[i] as DeliveryJob).customer_id]));
    const deliveryOf = new Map(bodies.map((body, i) => [body, (jobs[i] as DeliveryJob).delivery_id]));
    for (const group of chunkForSendMessageBatch(bodies)) {
      let pending: SendMessageBatchRequestEntry[] = group.map((body, i) => ({
        Id: `m${i}`,
        MessageBody: body,
        // The tenant, for SQS fair queues (docs/delivery.md, "Fair delivery").
        MessageGroupId: groupOf.get(body),
      }));
      let lastCodes: string[] = [];
      await retryWithBackoff(this.retry, async () => {
        requests++;
        const response = await this.sqs.send(
          new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: pending }),
        );
        sent += response.Successful?.length ?? 0;
        const failedIds = new Set((response.Failed ?? []).map((f) => f.Id));
        lastCodes = (response.Failed ?? []).map((f) => f.Code ?? "unknown");
        pending = pending.filter((entry) => failedIds.has(entry.Id));
        return pending.length === 0;
      });
      if (pending.length > 0) {
        stillFailed.push(...lastCodes);
        failedDeliveries.push(...pending.map((entry) => deliveryOf.get(entry.MessageBody ?? "") ?? ""));
      }
    }
    if (stillFailed.length > 0)
      throw new EnqueueFailedError(stillFailed.length, stillFailed, failedDeliveries);
    return { sent, requests };
  }

  /**
   * Puts one job on this queue, visible after `delaySeconds` (0–900, SendMessage's `DelaySeconds`):
   * how fair delivery moves a job to the slow lane, and how a job waits (shared/domain/delivery/waits.ts)
   * — a delayed message is backlog, not in flight. Returns the new message's id.
   */
  async send(job: DeliveryJob, delaySeconds = 0): Promise<string> {
    const { MessageId } = await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: serializeDeliveryJob(job),
        // The tenant, for SQS fair queues (docs/delivery.md, "Fair delivery").
        MessageGroupId: job.customer_id,
        ...(delaySeconds > 0 ? { DelaySeconds: delaySeconds } : {}),
      }),
    );
    return MessageId ?? "";
  }

  /**
   * Keeps a received message hidden for `seconds` more (ChangeMessageVisibility; the new timeout
   * counts from now, and SQS refuses a total past 12 hours from the receive, "Amazon SQS visibility
   * timeout"): a copy kept until its delivery's hand-off has settled comes back when it has, not
   * after the queue's whole visibility timeout (6 minutes on AWS).
   */
  async hold(receiptHandle: string, seconds: number): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: Math.max(1, Math.min(MAX_HOLD_SECONDS, Math.ceil(seconds))),
      }),
    );
  }
}

/** Well inside the 12-hour ceiling that counts from the receive: a hand-off settles in minutes. */
const MAX_HOLD_SECONDS = 3_600;

/** A queue whose received messages are let go (visible again at once) or deleted by receipt handle. */
abstract class ReceivedMessages {
  constructor(
    protected readonly sqs: SQSClient,
    readonly queueUrl: string,
  ) {}

  /** Makes a received message visible again at once (it stays on the queue). */
  async release(receiptHandle: string): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: 0,
      }),
    );
  }

  async delete(receiptHandle: string): Promise<void> {
    await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle }));
  }
}

/**
 * The delivery backstop queue: the redrive target of both delivery lanes. SQS moves a message there
 * once its receive count passes the source queue's `maxReceiveCount`, keeping its message id
 * ("Using dead-letter queues in Amazon SQS", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
 * Nothing else writes to it, so every message is a backstop arrival.
 */
export class BackstopQueue extends ReceivedMessages implements BackstopQueuePort {
  /**
   * Up to ten arrivals, long-polling up to `waitSeconds` (0–20). A long poll asks every SQS server and
   * answers as soon as a message is there; a short poll (0) samples a subset of servers and may answer
   * empty although the queue is not ("Amazon SQS short and long polling",
   * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html).
   * An empty long-poll answer is how the reconciliation knows the queue is drained.
   */
  async receive(waitSeconds = 20, visibilitySeconds = 300): Promise<BackstopArrival[]> {
    const { Messages = [] } = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: visibilitySeconds,
        WaitTimeSeconds: waitSeconds,
      }),
    );
    return Messages.map((message) => ({
      messageId: message.MessageId ?? "",
      receiptHandle: message.ReceiptHandle ?? "",
      body: message.Body ?? "",
    }));
  }
}

/** Message attribute naming why our code dead-lettered a job; jobs SQS moved by the backstop have none. */
export const DEAD_LETTER_REASON_ATTRIBUTE = "reason";

/**
 * The delivery dead-letter queue as our code writes to it: a job whose attempts are over, with the
 * reason as a message attribute (PRODUCT §4). SQS's own redrive (the `maxReceiveCount` backstop) moves
 * jobs to the backstop queue instead (`BackstopQueue`); the reconciliation puts them here with the
 * reason `internal`. A message without a reason is one SQS moved here before the backstop queue existed.
 */
export class DeadLetterQueue extends ReceivedMessages implements DeadLetterQueuePort {
  /**
   * Up to ten dead letters with their reason attribute, hidden for `visibilitySeconds` while the
   * caller looks at them (SQS ReceiveMessage).
   */
  async receive(visibilitySeconds = 30): Promise<DeadLetter[]> {
    const { Messages = [] } = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: visibilitySeconds,
        WaitTimeSeconds: 0,
        MessageAttributeNames: [DEAD_LETTER_REASON_ATTRIBUTE],
        MessageSystemAttributeNames: ["ApproximateReceiveCount"],
      }),
    );
    return Messages.map((message) => ({
      messageId: message.MessageId ?? "",
      receiptHandle: message.ReceiptHandle ?? "",
      body: message.Body ?? "",
      reason: message.MessageAttributes?.[DEAD_LETTER_REASON_ATTRIBUTE]?.StringValue ?? null,
    }));
  }

  /** Returns the new message's id. */
  async send(job: DeliveryJob, reason: string, details: Record<string, string> = {}): Promise<string> {
    const { MessageId } = await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: serializeDeliveryJob(job),
        MessageAttributes: {
          [DEAD_LETTER_REASON_ATTRIBUTE]: { DataType: "String", StringValue: reason },
          ...Object.fromEntries(
            Object.entries(details).map(([name, value]) => [
              name,
              { DataType: "String", StringValue: value },
            ]),
          ),
        },
      }),
    );
    return MessageId ?? "";
  }
}

/** Where unroutable events are kept, with the reason, for operators (alarmed, never retried). */
export class UnroutableQueue implements UnroutableQueuePort {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(record: UnroutableRecord): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: sqsSafeJson(record),
        MessageAttributes: { reason: { DataType: "String", StringValue: record.reason } },
      }),
    );
  }
}
