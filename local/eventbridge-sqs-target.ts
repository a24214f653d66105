import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
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

export function sqsRuleTarget(
  options: SqsRuleTargetOptions,
): (event: BusEvent, eventJson: string) => Promise<void> {
  const path = options.messageGroupIdPath === undefined ? undefined : parsePath(options.messageGroupIdPath);
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
    await options.sqs.send(
      new SendMessageCommand({
        QueueUrl: options.queueUrl,
        // Characters SQS refuses (lone surrogates, U+FFFE/F) escaped: the same JSON value.
        MessageBody: sqsSafeJsonText(eventJson),
        ...(groupId === undefined ? {} : { MessageGroupId: groupId }),
      }),
    );
  };
}

/** `$.detail.customer_id` → ["detail", "customer_id"] (dot notation only: what the rules use). */
function parsePath(path: string): string[] {
  if (!/^\$(\.[A-Za-z0-9_-]+)+$/.test(path)) {
    throw new SqsTargetError(`${path} is not a dynamic path this stand-in reads ($.a.b)`);
  }
  return path.slice(2).split(".");
}
