import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueUrlCommand,
  type Message,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { CodedError } from "#shared/domain/errors.ts";

/**
 * A queue where work waits for an operator (dead letters, unroutable events, router failures),
 * read through the SQS API only, so it works on AWS and on any local SQS stand-in.
 *
 * SQS has no "peek": a message is read by receiving it, which hides it for the visibility timeout.
 * Reading here hides each message for `HOLD_SECONDS` (so that one run sees each message once, and
 * nothing else processes it meanwhile), and releases it (visibility 0) as soon as the run is done
 * with it unless it was deleted. Receiving raises a message's receive count; these queues have no
 * redrive policy of their own, so that count moves nothing.
 */

/** How long a message read by a run stays hidden unless released earlier. */
export const HOLD_SECONDS = 15 * 60;

export interface ParkedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** When SQS first accepted it (for a dead letter: its first enqueue, on the delivery queue). */
  readonly sentAt: Date | undefined;
  readonly receiveCount: number;
  /** Message attributes as strings (EventBridge's DLQ messages carry ERROR_CODE, ERROR_MESSAGE, …). */
  readonly attributes: Readonly<Record<string, string>>;
}

export class QueueNotFoundError extends CodedError {
  override readonly name = "QueueNotFoundError";
  readonly code = "QUEUE_NOT_FOUND";
}

export class ParkedQueue {
  private constructor(
    private readonly sqs: SQSClient,
    readonly name: string,
    readonly url: string,
  ) {}

  static async open(sqs: SQSClient, name: string): Promise<ParkedQueue> {
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      if (!QueueUrl) throw new QueueNotFoundError(`queue ${name} has no URL`);
      return new ParkedQueue(sqs, name, QueueUrl);
    } catch (error) {
      if (
        error instanceof QueueDoesNotExist ||
        (error as { name?: string }).name?.endsWith("NonExistentQueue")
      ) {
        throw new QueueNotFoundError(`queue ${name} does not exist`);
      }
      throw error;
    }
  }

  /**
   * Yields the messages, up to `limit`, each hidden from other readers until released or deleted.
   * Stops when a receive finds nothing: a 1 s long poll asks every SQS server, so an empty answer
   * means the queue has no visible message left (a short poll samples only some servers).
   */
  async *read(limit: number): AsyncGenerator<ParkedMessage> {
    let read = 0;
    while (read < limit) {
      const { Messages } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.url,
          MaxNumberOfMessages: Math.min(10, limit - read),
          WaitTimeSeconds: 1,
          VisibilityTimeout: HOLD_SECONDS,
          MessageSystemAttributeNames: ["SentTimestamp", "ApproximateReceiveCount"],
          MessageAttributeNames: ["All"],
        }),
      );
      if (!Messages || Messages.length === 0) return;
      for (const message of Messages) {
        read++;
        yield parked(message);
      }
    }
  }

  async delete(message: ParkedMessage): Promise<void> {
    await this.sqs.send(
      new DeleteMessageCommand({ QueueUrl: this.url, ReceiptHandle: message.receiptHandle }),
    );
  }

  /** Makes the messages visible again at once. */
  async release(messages: readonly ParkedMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const group = messages.slice(i, i + 10);
      await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.url,
          Entries: group.map((m, j) => ({
            Id: `m${j}`,
            ReceiptHandle: m.receiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    }
  }
}

function parked(message: Message): ParkedMessage {
  const sent = Number(message.Attributes?.SentTimestamp);
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    sentAt: Number.isFinite(sent) && sent > 0 ? new Date(sent) : undefined,
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
    attributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([key, value]) => [key, value.StringValue ?? ""]),
    ),
  };
}
