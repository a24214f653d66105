/**
 * SQS errors as the AWS JSON protocol carries them: the `__type` the SDK maps to its exception
 * classes and the query-compatible code (`x-amzn-query-error: <code>;Sender`) that SQS sends beside
 * it, which the SDK v3 client reads first. Codes and texts follow the SQS API Reference ("Common
 * Errors" and each action's "Errors").
 */
export class SqsError extends Error {
  override readonly name = "SqsError";
  readonly type: string;
  readonly queryCode: string;
  readonly statusCode: number;
  readonly senderFault: boolean;

  constructor(
    type: string,
    message: string,
    options: { queryCode?: string; statusCode?: number; senderFault?: boolean } = {},
  ) {
    super(message);
    this.type = type;
    this.queryCode = options.queryCode ?? type;
    this.statusCode = options.statusCode ?? 400;
    this.senderFault = options.senderFault ?? true;
  }
}

export const invalidParameter = (message: string) => new SqsError("InvalidParameterValue", message);

export const queueDoesNotExist = () =>
  new SqsError("QueueDoesNotExist", "The specified queue does not exist.", {
    queryCode: "AWS.SimpleQueueService.NonExistentQueue",
  });

export const receiptHandleInvalid = (handle: string) =>
  new SqsError(
    "ReceiptHandleIsInvalid",
    `The input receipt handle "${handle.slice(0, 100)}" is not a valid receipt handle.`,
  );

export const receiptHandleExpired = (handle: string) =>
  invalidParameter(
    `Value ${handle.slice(0, 100)} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`,
  );

export const messageNotInflight = () =>
  new SqsError("MessageNotInflight", "The message referred to isn't in flight.", {
    queryCode: "AWS.SimpleQueueService.MessageNotInflight",
  });

/** SQS's text for a visibility change past 12 h from the receive (quoted in localstack/localstack#3956). */
export const visibilityBeyondLimit = (seconds: number) =>
  invalidParameter(
    `Value ${seconds} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]`,
  );

export const unsupported = (message: string) =>
  new SqsError("UnsupportedOperation", message, { queryCode: "AWS.SimpleQueueService.UnsupportedOperation" });

/**
 * A receive at the queue's in-flight quota ("Amazon SQS queue quotas": short polls get OverLimit,
 * long polls no error; SQS API Reference, ReceiveMessage errors). HTTP 403 with query code
 * "OverLimit", as the SQS API model declares the error.
 */
export const overLimit = () =>
  new SqsError(
    "OverLimit",
    "The maximum number of in flight messages is reached for this queue. Delete messages after processing them.",
    { statusCode: 403 },
  );
