import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { chunkForBatch } from "#shared/adapters/delivery-queue.ts";
import { CodedError } from "#shared/domain/errors.ts";
import { sqsSafeJsonText } from "#shared/domain/json.ts";
import type { BusEvent } from "./eventbridge.ts";

/**
 * EventBridge's SQS rule target: the event (the whole envelope, EventBridge's default input) becomes
 * one message, with `SqsParameters.MessageGroupId` when the target has one. A MessageGroupId given as
 * a dynamic path (`$.detail.customer_id`) is read from the event at run time; on a standard queue the
 * group makes it a fair queue (EventBridge User Guide, "Event bus targets": target parameters, "Amazon
 * SQS fair and FIFO queues", and dynamic path parameters; EventBridge API Reference, SqsParameters).
 *
 * The target holds the event once SendMessage succeeded. A path that does not resolve to a string
 * fails the target: AWS documents no group for it, so the rules never rely on that (the catalogue's
 * routerRules send such events through a rule without a group).
 */

export class SqsTargetError extends CodedError {
  override readonly name = "SqsTargetError";
  readonly code = "EVENTBRIDGE_SQS_TARGET_FAILED";
}

export interface SqsRuleTargetOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** A dynamic path (`$.a.b`) into the event; none: messages have no group. */
  readonly messageGroupIdPath?: string;
}

/** SendMessageBatch's limits: 10 entries; the bodies of one call kept under SQS's oldest total (256 KiB). */
const BATCH_ENTRIES = 10;
const BATCH_BYTES = 256 * 1024;

interface Pending {
  readonly entry: Omit<SendMessageBatchRequestEntry, "Id">;
  readonly bytes: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The events handed over in one turn of the event loop (the entries of one PutEvents call) go to the
 * queue together, in SendMessageBatch calls of up to 10, each message exactly what SendMessage would
 * have put (body, group); each event's promise settles with its own entry's result. One SQS request
 * per ten events instead of one per event: the stand-in's own cost of a burst (not EventBridge's, which
 * scales per request on AWS) shrinks, so another customer's event put at the same time shares the
 * laptop's CPU with less of it (docs/delivery.md, "What the local ratio measures"). An event put on
 * its own still goes at once, alone.
 */
function coalescingSender(sqs: SQSClient, queueUrl: string): (entry: Pending["entry"]) => Promise<void> {
  let pending: Pending[] = [];
  const sendBatch = async (batch: readonly Pending[]) => {
    try {
      const { Failed } = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map(({ entry }, i) => ({ ...entry, Id: String(i) })),
        }),
      );
      const failed = new Map((Failed ?? []).map((failure) => [failure.Id, failure]));
      batch.forEach(({ resolve, reject }, i) => {
        const failure = failed.get(String(i));
        if (failure === undefined) resolve();
        else
          reject(new SqsTargetError(`SendMessage refused: ${failure.Code} ${failure.Message ?? ""}`.trim()));
      });
    } catch (error) {
      for (const { reject } of batch) reject(error);
    }
  };
  const flush = () => {
    const all = pending;
    pending = [];
    for (const batch of chunkForBatch(all, (item) => item.bytes, BATCH_ENTRIES, BATCH_BYTES)) {
      void sendBatch(batch);
    }
  };
  return (entry) =>
    new Promise<void>((resolve, reject) => {
      if (pending.length === 0) queueMicrotask(flush);
      pending.push({ entry, bytes: Buffer.byteLength(entry.MessageBody ?? ""), resolve, reject });
    });
}

export function sqsRuleTarget(
  options: SqsRuleTargetOptions,
): (event: BusEvent, eventJson: string) => Promise<void> {
  const path = options.messageGroupIdPath === undefined ? undefined : parsePath(options.messageGroupIdPath);
  const send = coalescingSender(options.sqs, options.queueUrl);
  return async (event, eventJson) => {
    let groupId: string | undefined;
    if (path !== undefined) {
      const value = path.reduce<unknown>(
        (node, key) =>
          typeof node === "object" && node !== null && !Array.isArray(node)
            ? (node as Record<string, unknown>)[key]
            : undefined,
        event,
      );
      if (typeof value !== "string") {
        throw new SqsTargetError(
          `${options.messageGroupIdPath} of event ${event.id} is not a string: no MessageGroupId for it`,
        );
      }
      groupId = value;
    }
    await send({
      // Characters SQS refuses (lone surrogates, U+FFFE/F) escaped: the same JSON value.
      MessageBody: sqsSafeJsonText(eventJson),
      ...(groupId === undefined ? {} : { MessageGroupId: groupId }),
    });
  };
}

/** `$.detail.customer_id` → ["detail", "customer_id"] (dot notation only: what the rules use). */
function parsePath(path: string): string[] {
  if (!/^\$(\.[A-Za-z0-9_-]+)+$/.test(path)) {
    throw new SqsTargetError(`${path} is not a dynamic path this stand-in reads ($.a.b)`);
  }
  return path.slice(2).split(".");
}
