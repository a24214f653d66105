import { createHash, randomBytes, randomUUID } from "node:crypto";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { MAX_VISIBILITY_TIMEOUT_SECONDS } from "#shared/domain/aws-limits.ts";
import {
  invalidParameter,
  messageNotInflight,
  queueDoesNotExist,
  receiptHandleExpired,
  receiptHandleInvalid,
  SqsError,
  unsupported,
  visibilityBeyondLimit,
} from "./errors.ts";

/**
 * The queues and messages of the local SQS, in SQLite (Node's built-in node:sqlite): a file under
 * the data directory, or `:memory:` for --in-memory. Every action is one transaction, committed
 * before the answer is sent, in WAL mode: a message SQS acknowledged survives Ctrl-C, a crash and
 * `kill -9` of the process (synchronous=NORMAL keeps a committed transaction across a process crash;
 * only a power loss or OS crash can take the last ones back — docs/local.md, "Persistence").
 *
 * The rules are SQS's (SQS API Reference and Developer Guide), including those the emulators skip:
 * - the visibility ceiling counts 12 h from each receive (ChangeMessageVisibility past it is refused);
 * - a receipt handle from an earlier receive has expired for ChangeMessageVisibility;
 * - the redrive policy moves a message on the receive after its maxReceiveCount-th;
 * - retention counts from the original send, also on the dead-letter queue;
 * - MessageGroupId on a standard queue makes it a fair queue ("Amazon SQS fair queues"): a group
 *   holding a disproportionate share of the in-flight messages is served after the others; nothing
 *   is dropped or reordered within a group beyond that.
 */

export const LOCAL_SQS_ACCOUNT_ID = "000000000000";

/** SQS's defaults for a new queue (SQS API Reference, CreateQueue). */
const DEFAULT_ATTRIBUTES = {
  DelaySeconds: "0",
  MaximumMessageSize: String(1024 * 1024),
  MessageRetentionPeriod: String(4 * 24 * 3600),
  ReceiveMessageWaitTimeSeconds: "0",
  VisibilityTimeout: "30",
} as const;

const SETTABLE_ATTRIBUTES = new Set([
  ...Object.keys(DEFAULT_ATTRIBUTES),
  "RedrivePolicy",
  "RedriveAllowPolicy",
  "Policy",
  "KmsMasterKeyId",
  "KmsDataKeyReusePeriodSeconds",
  "SqsManagedSseEnabled",
]);

const COMPUTED_ATTRIBUTES = [
  "QueueArn",
  "ApproximateNumberOfMessages",
  "ApproximateNumberOfMessagesNotVisible",
  "ApproximateNumberOfMessagesDelayed",
  "CreatedTimestamp",
  "LastModifiedTimestamp",
] as const;

/**
 * Fair-queue thresholds ("Amazon SQS fair queues", "How fair queues work"): with at least
 * `minInFlight` messages in flight, a group is noisy when it holds more than `maxShare` of them and
 * more than twice the average of the other groups with messages. Noisy groups are served last.
 */
export interface FairQueueSettings {
  readonly minInFlight: number;
  readonly maxShare: number;
}

export const DEFAULT_FAIR_QUEUE: FairQueueSettings = { minInFlight: 30, maxShare: 0.1 };

export interface SqsStoreOptions {
  /** A file path, or ":memory:". */
  readonly file: string;
  readonly clock?: () => number;
  readonly fairQueue?: FairQueueSettings;
}

export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
  StringListValues?: string[];
  BinaryListValues?: string[];
}

export interface SendInput {
  readonly MessageBody?: unknown;
  readonly DelaySeconds?: unknown;
  readonly MessageAttributes?: unknown;
  readonly MessageSystemAttributes?: unknown;
  readonly MessageGroupId?: unknown;
  readonly MessageDeduplicationId?: unknown;
}

export interface SentMessage {
  readonly MessageId: string;
  readonly MD5OfMessageBody: string;
  readonly MD5OfMessageAttributes?: string;
}

export interface ReceiveInput {
  readonly MaxNumberOfMessages?: unknown;
  readonly VisibilityTimeout?: unknown;
  readonly AttributeNames?: unknown;
  readonly MessageSystemAttributeNames?: unknown;
  readonly MessageAttributeNames?: unknown;
}

export interface ReceivedMessage {
  MessageId: string;
  ReceiptHandle: string;
  MD5OfBody: string;
  Body: string;
  Attributes?: Record<string, string>;
  MD5OfMessageAttributes?: string;
  MessageAttributes?: Record<string, MessageAttributeValue>;
}

interface QueueRow {
  name: string;
  attributes: string;
  created_at: number;
  modified_at: number;
}

interface MessageRow {
  seq: number;
  queue: string;
  id: string;
  body: string;
  attributes: string | null;
  md5_body: string;
  md5_attributes: string | null;
  trace_header: string | null;
  group_id: string | null;
  sent_at: number;
  visible_at: number;
  receive_count: number;
  first_received_at: number | null;
  received_at: number | null;
  receipt: string | null;
  visibility_changed: number;
  dlq_source_arn: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queues (
  name TEXT PRIMARY KEY,
  attributes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  body TEXT NOT NULL,
  attributes TEXT,
  md5_body TEXT NOT NULL,
  md5_attributes TEXT,
  trace_header TEXT,
  group_id TEXT,
  sent_at INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  receive_count INTEGER NOT NULL DEFAULT 0,
  first_received_at INTEGER,
  received_at INTEGER,
  receipt TEXT,
  visibility_changed INTEGER NOT NULL DEFAULT 0,
  dlq_source_arn TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_visibility ON messages (queue, visible_at, seq);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_id ON messages (queue, id);
`;

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const DATA_TYPE = /^(String|Number|Binary)(\.[\x21-\x7e]{1,250})?$/;
// SQS's allowed characters: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
const ALLOWED_BODY = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const MAX_BATCH_ENTRIES = 10;
const MAX_DELAY_SECONDS = 900;
const MAX_RECEIVE = 10;

export class SqsStore {
  private readonly db: DatabaseSync;
  private readonly clock: () => number;
  private readonly fair: FairQueueSettings;
  private readonly statements = new Map<string, StatementSync>();
  /** Called after a commit that may have made messages receivable on a queue. */
  onAvailable: (queue: string) => void = () => {};

  constructor(options: SqsStoreOptions) {
    this.db = new DatabaseSync(options.file);
    this.clock = options.clock ?? Date.now;
    this.fair = options.fairQueue ?? DEFAULT_FAIR_QUEUE;
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.db.exec("PRAGMA busy_timeout = 5000");
    this.db.exec(SCHEMA);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  // ------------------------------------------------------------------------------ queues

  createQueue(name: unknown, attributes: unknown, region: string, baseUrl: string): string {
    if (typeof name !== "string" || name === "")
      throw invalidParameter("Value for parameter QueueName is invalid.");
    if (name.endsWith(".fifo"))
      throw unsupported("FIFO queues are not part of the local SQS (the system uses none).");
    if (!QUEUE_NAME.test(name)) {
      throw invalidParameter(
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
      );
    }
    const given = this.validateAttributes(attributesOf(attributes), region);
    return this.transaction(() => {
      const existing = this.queueRow(name);
      if (existing) {
        const current = JSON.parse(existing.attributes) as Record<string, string>;
        for (const [key, value] of Object.entries(given)) {
          if ((current[key] ?? (DEFAULT_ATTRIBUTES as Record<string, string>)[key]) !== value) {
            throw new SqsError(
              "QueueNameExists",
              `A queue already exists with the same name and a different value for attribute ${key}`,
              { queryCode: "QueueAlreadyExists" },
            );
          }
        }
      } else {
        const now = Math.floor(this.clock() / 1000);
        this.statement(
          "INSERT INTO queues (name, attributes, created_at, modified_at) VALUES (?, ?, ?, ?)",
        ).run(name, JSON.stringify({ ...DEFAULT_ATTRIBUTES, ...given }), now, now);
      }
      return queueUrl(baseUrl, name);
    });
  }

  queueUrlOf(name: unknown, baseUrl: string): string {
    if (typeof name !== "string" || this.queueRow(name) === undefined) throw queueDoesNotExist();
    return queueUrl(baseUrl, name);
  }

  listQueues(prefix: unknown, baseUrl: string): string[] {
    const rows = this.statement("SELECT name FROM queues ORDER BY name").all() as { name: string }[];
    const wanted = typeof prefix === "string" ? prefix : "";
    return rows.filter((row) => row.name.startsWith(wanted)).map((row) => queueUrl(baseUrl, row.name));
  }

  deleteQueue(name: string): void {
    this.transaction(() => {
      this.requireQueue(name);
      this.statement("DELETE FROM messages WHERE queue = ?").run(name);
      this.statement("DELETE FROM queues WHERE name = ?").run(name);
    });
  }

  setQueueAttributes(name: string, attributes: unknown, region: string): void {
    const given = this.validateAttributes(attributesOf(attributes), region);
    this.transaction(() => {
      const queue = this.requireQueue(name);
      const merged = { ...(JSON.parse(queue.attributes) as Record<string, string>), ...given };
      for (const [key, value] of Object.entries(given)) if (value === "") delete merged[key];
      this.statement("UPDATE queues SET attributes = ?, modified_at = ? WHERE name = ?").run(
        JSON.stringify(merged),
        Math.floor(this.clock() / 1000),
        name,
      );
    });
  }

  getQueueAttributes(name: string, requested: unknown, region: string): Record<string, string> {
    const queue = this.requireQueue(name);
    const names = Array.isArray(requested) ? (requested as unknown[]).map(String) : [];
    const all = names.includes("All");
    const stored = JSON.parse(queue.attributes) as Record<string, string>;
    const now = this.clock();
    const count = (sql: string) => (this.statement(sql).get(name, now) as { n: number }).n;
    const computed: Record<(typeof COMPUTED_ATTRIBUTES)[number], () => string> = {
      QueueArn: () => queueArn(region, name),
      ApproximateNumberOfMessages: () =>
        String(count("SELECT count(*) AS n FROM messages WHERE queue = ? AND visible_at <= ?")),
      ApproximateNumberOfMessagesNotVisible: () =>
        String(
          count(
            "SELECT count(*) AS n FROM messages WHERE queue = ? AND visible_at > ? AND receipt IS NOT NULL",
          ),
        ),
      ApproximateNumberOfMessagesDelayed: () =>
        String(
          count("SELECT count(*) AS n FROM messages WHERE queue = ? AND visible_at > ? AND receipt IS NULL"),
        ),
      CreatedTimestamp: () => String(queue.created_at),
      LastModifiedTimestamp: () => String(queue.modified_at),
    };
    const result: Record<string, string> = {};
    for (const key of COMPUTED_ATTRIBUTES) {
      if (all || names.includes(key)) result[key] = computed[key]();
    }
    for (const [key, value] of Object.entries(stored)) {
      if (all || names.includes(key)) result[key] = value;
    }
    for (const key of names) {
      if (key !== "All" && !(key in result) && !SETTABLE_ATTRIBUTES.has(key)) {
        throw new SqsError("InvalidAttributeName", `Unknown Attribute ${key}.`);
      }
    }
    return result;
  }

  purgeQueue(name: string): void {
    this.transaction(() => {
      this.requireQueue(name);
      this.statement("DELETE FROM messages WHERE queue = ?").run(name);
    });
  }

  // ------------------------------------------------------------------------------ messages

  sendMessage(name: string, input: SendInput): SentMessage {
    return this.transaction(() => {
      const queue = this.requireQueue(name);
      const sent = this.insertMessage(queue, input);
      this.afterCommit(name);
      return sent;
    });
  }

  sendMessageBatch(
    name: string,
    entries: unknown,
  ): { Successful: (SentMessage & { Id: string })[]; Failed: BatchFailure[] } {
    const list = batchEntries(entries);
    const bytes = list.reduce((sum, entry) => sum + messageBytes(entry), 0);
    if (bytes > 1024 * 1024) {
      throw new SqsError(
        "BatchRequestTooLong",
        `Batch requests cannot be longer than 1048576 bytes. You have sent ${bytes} bytes.`,
        { queryCode: "AWS.SimpleQueueService.BatchRequestTooLong" },
      );
    }
    return this.transaction(() => {
      const queue = this.requireQueue(name);
      const result = eachEntry(list, (entry) => this.insertMessage(queue, entry));
      if (result.Successful.length > 0) this.afterCommit(name);
      return result;
    });
  }

  /**
   * Up to MaxNumberOfMessages visible messages, made invisible for the visibility timeout; messages
   * past the redrive policy's maxReceiveCount move to the dead-letter queue instead. Empty when none
   * is visible (the server long-polls by calling again).
   */
  receiveMessage(name: string, input: ReceiveInput, region: string): ReceivedMessage[] {
    const max = intParameter(input.MaxNumberOfMessages, "MaxNumberOfMessages", 1, MAX_RECEIVE, 1);
    return this.transaction(() => {
      const queue = this.requireQueue(name);
      const attributes = JSON.parse(queue.attributes) as Record<string, string>;
      const visibility = intParameter(
        input.VisibilityTimeout,
        "VisibilityTimeout",
        0,
        MAX_VISIBILITY_TIMEOUT_SECONDS,
        Number(attributes.VisibilityTimeout ?? DEFAULT_ATTRIBUTES.VisibilityTimeout),
      );
      const now = this.clock();
      this.expire(name, attributes, now);
      const redrive = redrivePolicyOf(attributes);
      const wantedSystem = systemAttributeNames(input);
      const wantedUser = userAttributeFilter(input.MessageAttributeNames);
      const received: ReceivedMessage[] = [];
      const moved = new Set<string>();
      // Candidates may be moved to the DLQ; keep drawing until the batch is full or none is left.
      for (let round = 0; received.length < max && round < 100; round++) {
        const candidates = this.candidates(name, now, max - received.length);
        if (candidates.length === 0) break;
        for (const row of candidates) {
          if (redrive && row.receive_count >= redrive.maxReceiveCount) {
            this.moveToDeadLetterQueue(row, redrive.target, queueArn(region, name), now);
            moved.add(redrive.target);
            continue;
          }
          const receiveCount = row.receive_count + 1;
          const receipt = receiptHandle(name, row.id, receiveCount);
          this.statement(
            `UPDATE messages SET receive_count = ?, received_at = ?, first_received_at = coalesce(first_received_at, ?),
               visible_at = ?, receipt = ?, visibility_changed = 0 WHERE seq = ?`,
          ).run(receiveCount, now, now, now + visibility * 1000, receipt, row.seq);
          received.push(
            toReceived(
              { ...row, receive_count: receiveCount, first_received_at: row.first_received_at ?? now },
              receipt,
              wantedSystem,
              wantedUser,
            ),
          );
        }
      }
      for (const target of moved) this.afterCommit(target);
      return received;
    });
  }

  deleteMessage(name: string, handle: unknown): void {
    this.transaction(() => {
      this.requireQueue(name);
      this.deleteByHandle(name, handle);
    });
  }

  deleteMessageBatch(
    name: string,
    entries: unknown,
  ): { Successful: { Id: string }[]; Failed: BatchFailure[] } {
    const list = batchEntries(entries);
    return this.transaction(() => {
      this.requireQueue(name);
      return eachEntry(list, (entry) => {
        this.deleteByHandle(name, entry.ReceiptHandle);
        return {};
      });
    });
  }

  changeMessageVisibility(name: string, handle: unknown, timeout: unknown): void {
    this.transaction(() => {
      this.requireQueue(name);
      this.changeVisibility(name, handle, timeout);
    });
  }

  changeMessageVisibilityBatch(
    name: string,
    entries: unknown,
  ): { Successful: { Id: string }[]; Failed: BatchFailure[] } {
    const list = batchEntries(entries);
    return this.transaction(() => {
      this.requireQueue(name);
      return eachEntry(list, (entry) => {
        this.changeVisibility(name, entry.ReceiptHandle, entry.VisibilityTimeout);
        return {};
      });
    });
  }

  /** Epoch ms at which the next invisible or delayed message of the queue becomes visible, if any. */
  nextVisibleAt(name: string): number | undefined {
    const row = this.statement(
      "SELECT min(visible_at) AS at FROM messages WHERE queue = ? AND visible_at > ?",
    ).get(name, this.clock()) as { at: number | null } | undefined;
    return row?.at ?? undefined;
  }

  /**
   * After a restart: messages still hidden by the receive of a consumer that is gone (their
   * visibility never changed since) become visible now, as they would once their visibility
   * timeout expired on AWS. Hidden ones whose visibility the consumer set on purpose (a retry's
   * delay) keep their schedule. Returns how many were released.
   */
  releaseUnchangedReceives(queues: readonly string[]): number {
    const now = this.clock();
    return this.transaction(() => {
      let released = 0;
      for (const name of queues) {
        const result = this.statement(
          "UPDATE messages SET visible_at = ? WHERE queue = ? AND visible_at > ? AND receipt IS NOT NULL AND visibility_changed = 0",
        ).run(now, name, now);
        released += Number(result.changes);
        if (result.changes > 0) this.afterCommit(name);
      }
      return released;
    });
  }

  /** Every message of a queue, without changing anything: what the tests and the ops tools inspect. */
  inspect(name: string): {
    ready: InspectedMessage[];
    delayed: InspectedMessage[];
    inflight: { message: InspectedMessage; receiptHandle: string; visibilityDeadline: number }[];
  } {
    this.requireQueue(name);
    const now = this.clock();
    const rows = this.statement("SELECT * FROM messages WHERE queue = ? ORDER BY seq").all(
      name,
    ) as unknown as MessageRow[];
    const view = (row: MessageRow): InspectedMessage => ({
      messageId: row.id,
      body: row.body,
      approximateReceiveCount: row.receive_count,
      sentTimestamp: row.sent_at,
      ...(row.group_id === null ? {} : { messageGroupId: row.group_id }),
    });
    return {
      ready: rows.filter((row) => row.visible_at <= now).map(view),
      delayed: rows.filter((row) => row.visible_at > now && row.receipt === null).map(view),
      inflight: rows
        .filter((row) => row.visible_at > now && row.receipt !== null)
        .map((row) => ({
          message: view(row),
          receiptHandle: row.receipt as string,
          visibilityDeadline: row.visible_at,
        })),
    };
  }

  // ------------------------------------------------------------------------------ internals

  private statement(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private pendingNotifications = new Set<string>();

  private afterCommit(queue: string): void {
    this.pendingNotifications.add(queue);
  }

  private transaction<T>(work: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    let result: T;
    try {
      result = work();
      this.db.exec("COMMIT");
    } catch (error) {
      this.pendingNotifications.clear();
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw error;
    }
    const notify = [...this.pendingNotifications];
    this.pendingNotifications.clear();
    for (const queue of notify) this.onAvailable(queue);
    return result;
  }

  private queueRow(name: string): QueueRow | undefined {
    return this.statement("SELECT * FROM queues WHERE name = ?").get(name) as QueueRow | undefined;
  }

  private requireQueue(name: string): QueueRow {
    const queue = this.queueRow(name);
    if (queue === undefined) throw queueDoesNotExist();
    return queue;
  }

  private validateAttributes(attributes: Record<string, string>, region: string): Record<string, string> {
    const problems: string[] = [];
    const range = (key: string, min: number, max: number) => {
      const value = attributes[key];
      if (value === undefined) return;
      const n = Number(value);
      if (!/^\d+$/.test(value) || n < min || n > max)
        problems.push(`Invalid value for the parameter ${key}.`);
    };
    for (const key of Object.keys(attributes)) {
      if (!SETTABLE_ATTRIBUTES.has(key)) problems.push(`Unknown Attribute ${key}.`);
    }
    range("DelaySeconds", 0, MAX_DELAY_SECONDS);
    range("MaximumMessageSize", 1024, 1024 * 1024);
    range("MessageRetentionPeriod", 60, 1_209_600);
    range("ReceiveMessageWaitTimeSeconds", 0, 20);
    range("VisibilityTimeout", 0, MAX_VISIBILITY_TIMEOUT_SECONDS);
    const redrive = attributes.RedrivePolicy;
    if (redrive !== undefined && redrive !== "") {
      try {
        const policy = parseRedrivePolicy(redrive);
        const [, , , policyRegion, account, target] = policy.deadLetterTargetArn.split(":");
        if (
          policyRegion !== region ||
          account !== LOCAL_SQS_ACCOUNT_ID ||
          this.queueRow(target ?? "") === undefined
        ) {
          problems.push(
            `Value ${redrive} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.`,
          );
        }
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (problems.length > 0) {
      throw new SqsError(
        problems.some((p) => p.startsWith("Unknown Attribute"))
          ? "InvalidAttributeName"
          : "InvalidAttributeValue",
        problems.join(" "),
      );
    }
    return attributes;
  }

  private insertMessage(queue: QueueRow, input: SendInput): SentMessage {
    const attributes = JSON.parse(queue.attributes) as Record<string, string>;
    const body = input.MessageBody;
    if (typeof body !== "string" || body.length === 0) {
      throw new SqsError("MissingParameter", "The request must contain the parameter MessageBody.");
    }
    if (!ALLOWED_BODY.test(body)) {
      throw new SqsError(
        "InvalidMessageContents",
        "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
      );
    }
    if (input.MessageDeduplicationId !== undefined) {
      throw invalidParameter(
        "The request include parameter that is not valid for this queue type. Reason: MessageDeduplicationId is only valid for FIFO queues.",
      );
    }
    const groupId = input.MessageGroupId;
    if (groupId !== undefined && (typeof groupId !== "string" || !/^[\x21-\x7e]{1,128}$/.test(groupId))) {
      throw invalidParameter(`Value ${String(groupId)} for parameter MessageGroupId is invalid.`);
    }
    const messageAttributes = validateMessageAttributes(input.MessageAttributes);
    const size = messageBytes(input);
    const maxSize = Number(attributes.MaximumMessageSize ?? DEFAULT_ATTRIBUTES.MaximumMessageSize);
    if (size > maxSize) {
      throw invalidParameter(
        `One or more parameters are invalid. Reason: Message must be shorter than ${maxSize} bytes.`,
      );
    }
    const delay = intParameter(
      input.DelaySeconds,
      "DelaySeconds",
      0,
      MAX_DELAY_SECONDS,
      Number(attributes.DelaySeconds ?? DEFAULT_ATTRIBUTES.DelaySeconds),
    );
    const traceHeader = traceHeaderOf(input.MessageSystemAttributes);
    const now = this.clock();
    const id = randomUUID();
    const md5Body = md5(body);
    const md5Attributes =
      messageAttributes === undefined ? undefined : md5OfMessageAttributes(messageAttributes);
    this.statement(
      `INSERT INTO messages (queue, id, body, attributes, md5_body, md5_attributes, trace_header, group_id, sent_at, visible_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      queue.name,
      id,
      body,
      messageAttributes === undefined ? null : JSON.stringify(messageAttributes),
      md5Body,
      md5Attributes ?? null,
      traceHeader ?? null,
      typeof groupId === "string" ? groupId : null,
      now,
      now + delay * 1000,
    );
    return {
      MessageId: id,
      MD5OfMessageBody: md5Body,
      ...(md5Attributes === undefined ? {} : { MD5OfMessageAttributes: md5Attributes }),
    };
  }

  /** Visible messages in the order they became visible, noisy message groups last (fair queues). */
  private candidates(name: string, now: number, limit: number): MessageRow[] {
    const noisy = this.noisyGroups(name, now);
    if (noisy.length === 0) {
      return this.statement(
        "SELECT * FROM messages WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?",
      ).all(name, now, limit) as unknown as MessageRow[];
    }
    const groups = JSON.stringify(noisy);
    const quiet = this.statement(
      `SELECT * FROM messages WHERE queue = ? AND visible_at <= ?
         AND (group_id IS NULL OR group_id NOT IN (SELECT value FROM json_each(?)))
       ORDER BY visible_at, seq LIMIT ?`,
    ).all(name, now, groups, limit) as unknown as MessageRow[];
    if (quiet.length >= limit) return quiet;
    const loud = this.statement(
      `SELECT * FROM messages WHERE queue = ? AND visible_at <= ? AND group_id IN (SELECT value FROM json_each(?))
       ORDER BY visible_at, seq LIMIT ?`,
    ).all(name, now, groups, limit - quiet.length) as unknown as MessageRow[];
    return [...quiet, ...loud];
  }

  /**
   * Message groups holding a disproportionate share of the queue's in-flight messages (see
   * FairQueueSettings). Only queues whose messages carry MessageGroupId have any.
   */
  private noisyGroups(name: string, now: number): string[] {
    const inFlight = this.statement(
      `SELECT group_id AS g, count(*) AS n FROM messages
       WHERE queue = ? AND visible_at > ? AND receipt IS NOT NULL GROUP BY group_id`,
    ).all(name, now) as { g: string | null; n: number }[];
    const total = inFlight.reduce((sum, row) => sum + row.n, 0);
    if (total < this.fair.minInFlight) return [];
    const grouped = inFlight.filter((row) => row.g !== null) as { g: string; n: number }[];
    if (grouped.length === 0) return [];
    const waiting = this.statement(
      "SELECT count(DISTINCT group_id) AS n FROM messages WHERE queue = ? AND group_id IS NOT NULL",
    ).get(name) as { n: number };
    const groupsWithMessages = Math.max(waiting.n, grouped.length);
    return grouped
      .filter((row) => {
        const others = groupsWithMessages - 1;
        const averageOfOthers = others === 0 ? 0 : (total - row.n) / others;
        return row.n > this.fair.maxShare * total && row.n > 2 * averageOfOthers && others > 0;
      })
      .map((row) => row.g);
  }

  private moveToDeadLetterQueue(row: MessageRow, target: string, sourceArn: string, now: number): void {
    if (this.queueRow(target) === undefined) {
      // SQS keeps the message where it is when the dead-letter queue is gone.
      return;
    }
    this.statement(
      "UPDATE messages SET queue = ?, visible_at = ?, receipt = NULL, visibility_changed = 0, dlq_source_arn = ? WHERE seq = ?",
    ).run(target, now, sourceArn, row.seq);
  }

  private expire(name: string, attributes: Record<string, string>, now: number): void {
    const retentionMs =
      Number(attributes.MessageRetentionPeriod ?? DEFAULT_ATTRIBUTES.MessageRetentionPeriod) * 1000;
    this.statement("DELETE FROM messages WHERE queue = ? AND sent_at <= ?").run(name, now - retentionMs);
  }

  private findByHandle(name: string, handle: unknown): { row: MessageRow | undefined; receive: number } {
    const parsed = parseReceiptHandle(handle);
    if (parsed === undefined || parsed.queue !== name) throw receiptHandleInvalid(String(handle));
    const row = this.statement("SELECT * FROM messages WHERE queue = ? AND id = ?").get(
      name,
      parsed.messageId,
    ) as MessageRow | undefined;
    return { row, receive: parsed.receive };
  }

  private deleteByHandle(name: string, handle: unknown): void {
    const { row } = this.findByHandle(name, handle);
    // A handle from an earlier receive still deletes (SQS: "the request succeeds"); a gone message is a no-op.
    if (row !== undefined) this.statement("DELETE FROM messages WHERE seq = ?").run(row.seq);
  }

  private changeVisibility(name: string, handle: unknown, timeout: unknown): void {
    if (timeout === undefined)
      throw new SqsError("MissingParameter", "The request must contain the parameter VisibilityTimeout.");
    const seconds = intParameter(timeout, "VisibilityTimeout", 0, MAX_VISIBILITY_TIMEOUT_SECONDS, 0);
    const { row, receive } = this.findByHandle(name, handle);
    const now = this.clock();
    if (row === undefined || row.receipt === null) throw receiptHandleInvalid(String(handle));
    if (row.receive_count !== receive) throw receiptHandleExpired(String(handle));
    if (row.visible_at <= now) throw messageNotInflight();
    // The ceiling counts from THIS receive (SQS API Reference, ChangeMessageVisibility).
    if (now + seconds * 1000 > (row.received_at ?? now) + MAX_VISIBILITY_TIMEOUT_SECONDS * 1000) {
      throw visibilityBeyondLimit(seconds);
    }
    this.statement("UPDATE messages SET visible_at = ?, visibility_changed = 1 WHERE seq = ?").run(
      now + seconds * 1000,
      row.seq,
    );
    if (seconds === 0) this.afterCommit(name);
  }
}

export interface InspectedMessage {
  messageId: string;
  body: string;
  approximateReceiveCount: number;
  sentTimestamp: number;
  messageGroupId?: string;
}

export interface BatchFailure {
  Id: string;
  Code: string;
  Message: string;
  SenderFault: boolean;
}

function batchFailure(id: string, error: unknown): BatchFailure {
  if (error instanceof SqsError) {
    return { Id: id, Code: error.queryCode, Message: error.message, SenderFault: error.senderFault };
  }
  throw error;
}

interface BatchEntry extends SendInput {
  readonly Id: string;
  readonly ReceiptHandle?: unknown;
  readonly VisibilityTimeout?: unknown;
}

/** A batch's answer: what `apply` returned for each entry under its Id, or that entry's own failure. */
function eachEntry<R extends object>(
  list: readonly BatchEntry[],
  apply: (entry: BatchEntry) => R,
): { Successful: (R & { Id: string })[]; Failed: BatchFailure[] } {
  const result = { Successful: [] as (R & { Id: string })[], Failed: [] as BatchFailure[] };
  for (const entry of list) {
    try {
      result.Successful.push({ Id: entry.Id, ...apply(entry) });
    } catch (error) {
      result.Failed.push(batchFailure(entry.Id, error));
    }
  }
  return result;
}

function batchEntries(entries: unknown): BatchEntry[] {
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new SqsError(
      "EmptyBatchRequest",
      "There should be at least one SendMessageBatchRequestEntry in the request.",
      {
        queryCode: "AWS.SimpleQueueService.EmptyBatchRequest",
      },
    );
  }
  if (entries.length > MAX_BATCH_ENTRIES) {
    throw new SqsError(
      "TooManyEntriesInBatchRequest",
      `Maximum number of entries per request are 10. You have sent ${entries.length}.`,
      {
        queryCode: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
      },
    );
  }
  const ids = new Set<string>();
  for (const entry of entries as { Id?: unknown }[]) {
    const id = entry?.Id;
    if (typeof id !== "string" || !BATCH_ID.test(id)) {
      throw new SqsError(
        "InvalidBatchEntryId",
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
        {
          queryCode: "AWS.SimpleQueueService.InvalidBatchEntryId",
        },
      );
    }
    if (ids.has(id)) {
      throw new SqsError("BatchEntryIdsNotDistinct", `Id ${id} repeated.`, {
        queryCode: "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
      });
    }
    ids.add(id);
  }
  return entries as BatchEntry[];
}

function attributesOf(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw invalidParameter("Attributes must be a map.");
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

function intParameter(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw invalidParameter(
      `Value ${String(value)} for parameter ${name} is invalid. Reason: must be between ${min} and ${max}.`,
    );
  }
  return n;
}

interface RedrivePolicy {
  readonly deadLetterTargetArn: string;
  readonly maxReceiveCount: number;
}

function parseRedrivePolicy(text: string): RedrivePolicy {
  let policy: { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
  try {
    policy = JSON.parse(text) as typeof policy;
  } catch {
    throw new Error(
      `Value ${text} for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid JSON map.`,
    );
  }
  const max = Number(policy.maxReceiveCount);
  if (typeof policy.deadLetterTargetArn !== "string" || !Number.isInteger(max) || max < 1 || max > 1000) {
    throw new Error(
      `Value ${text} for parameter RedrivePolicy is invalid. Reason: Redrive policy needs deadLetterTargetArn and maxReceiveCount (1-1000).`,
    );
  }
  return { deadLetterTargetArn: policy.deadLetterTargetArn, maxReceiveCount: max };
}

function redrivePolicyOf(
  attributes: Record<string, string>,
): { target: string; maxReceiveCount: number } | undefined {
  const text = attributes.RedrivePolicy;
  if (text === undefined || text === "") return undefined;
  const policy = parseRedrivePolicy(text);
  return {
    target: policy.deadLetterTargetArn.split(":").at(-1) ?? "",
    maxReceiveCount: policy.maxReceiveCount,
  };
}

function validateMessageAttributes(value: unknown): Record<string, MessageAttributeValue> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value))
    throw invalidParameter("MessageAttributes must be a map.");
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return undefined;
  if (entries.length > 10) {
    throw invalidParameter(
      `Number of message attributes [${entries.length}] exceeds the allowed maximum [10].`,
    );
  }
  const result: Record<string, MessageAttributeValue> = {};
  for (const [name, raw] of entries) {
    const lower = name.toLowerCase();
    if (
      !ATTRIBUTE_NAME.test(name) ||
      name.includes("..") ||
      name.startsWith(".") ||
      name.endsWith(".") ||
      lower.startsWith("aws.") ||
      lower.startsWith("amazon.")
    ) {
      throw invalidParameter(`Message (user) attribute '${name}' has an invalid name.`);
    }
    const attribute = raw as Partial<MessageAttributeValue> | null;
    const dataType = attribute?.DataType;
    if (typeof dataType !== "string" || !DATA_TYPE.test(dataType)) {
      throw invalidParameter(`The message attribute '${name}' has an invalid message attribute type.`);
    }
    if (attribute?.StringListValues?.length || attribute?.BinaryListValues?.length) {
      throw unsupported("Message attribute list values are not supported by SQS.");
    }
    if (dataType.startsWith("Binary")) {
      if (typeof attribute?.BinaryValue !== "string") {
        throw invalidParameter(`The message attribute '${name}' with type 'Binary' must use field 'Binary'.`);
      }
      result[name] = { DataType: dataType, BinaryValue: attribute.BinaryValue };
    } else {
      const text = attribute?.StringValue;
      if (typeof text !== "string" || text.length === 0) {
        throw invalidParameter(
          `The message attribute '${name}' must contain non-empty message attribute value.`,
        );
      }
      if (dataType.startsWith("Number") && !Number.isFinite(Number(text))) {
        throw invalidParameter(`Can't cast the value of message (user) attribute '${name}' to a number.`);
      }
      if (!ALLOWED_BODY.test(text)) {
        throw new SqsError(
          "InvalidMessageContents",
          `The message attribute '${name}' contains invalid characters.`,
        );
      }
      result[name] = { DataType: dataType, StringValue: text };
    }
  }
  return result;
}

/** Body plus every attribute's name, type and value, in bytes: what MaximumMessageSize limits. */
function messageBytes(input: SendInput): number {
  let size = typeof input.MessageBody === "string" ? Buffer.byteLength(input.MessageBody, "utf8") : 0;
  if (input.MessageAttributes && typeof input.MessageAttributes === "object") {
    for (const [name, raw] of Object.entries(
      input.MessageAttributes as Record<string, Partial<MessageAttributeValue>>,
    )) {
      size += Buffer.byteLength(name) + Buffer.byteLength(String(raw?.DataType ?? ""));
      if (typeof raw?.StringValue === "string") size += Buffer.byteLength(raw.StringValue);
      if (typeof raw?.BinaryValue === "string") size += Buffer.from(raw.BinaryValue, "base64").length;
    }
  }
  return size;
}

function traceHeaderOf(value: unknown): string | undefined {
  const header = (value as { AWSTraceHeader?: { StringValue?: unknown } } | undefined)?.AWSTraceHeader
    ?.StringValue;
  return typeof header === "string" ? header : undefined;
}

export function md5(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

/** SQS's digest of message attributes (SQS Developer Guide, "Calculating the MD5 message digest"). */
export function md5OfMessageAttributes(attributes: Record<string, MessageAttributeValue>): string {
  const hash = createHash("md5");
  const lengthPrefixed = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length);
    hash.update(bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const attribute = attributes[name] as MessageAttributeValue;
    lengthPrefixed(Buffer.from(name, "utf8"));
    lengthPrefixed(Buffer.from(attribute.DataType, "utf8"));
    if (attribute.BinaryValue !== undefined) {
      hash.update(Buffer.from([2]));
      lengthPrefixed(Buffer.from(attribute.BinaryValue, "base64"));
    } else {
      hash.update(Buffer.from([1]));
      lengthPrefixed(Buffer.from(attribute.StringValue ?? "", "utf8"));
    }
  }
  return hash.digest("hex");
}

const SYSTEM_ATTRIBUTES = [
  "SenderId",
  "SentTimestamp",
  "ApproximateReceiveCount",
  "ApproximateFirstReceiveTimestamp",
  "MessageGroupId",
  "AWSTraceHeader",
  "DeadLetterQueueSourceArn",
] as const;

function systemAttributeNames(input: ReceiveInput): Set<string> {
  const names = [
    ...(Array.isArray(input.AttributeNames) ? (input.AttributeNames as unknown[]) : []),
    ...(Array.isArray(input.MessageSystemAttributeNames)
      ? (input.MessageSystemAttributeNames as unknown[])
      : []),
  ].map(String);
  return names.includes("All") ? new Set(SYSTEM_ATTRIBUTES) : new Set(names);
}

function userAttributeFilter(value: unknown): (name: string) => boolean {
  const names = Array.isArray(value) ? (value as unknown[]).map(String) : [];
  if (names.length === 0) return () => false;
  if (names.includes("All") || names.includes(".*")) return () => true;
  return (name) =>
    names.some((wanted) => (wanted.endsWith(".*") ? name.startsWith(wanted.slice(0, -1)) : wanted === name));
}

function toReceived(
  row: MessageRow,
  receipt: string,
  system: Set<string>,
  user: (name: string) => boolean,
): ReceivedMessage {
  const message: ReceivedMessage = {
    MessageId: row.id,
    ReceiptHandle: receipt,
    MD5OfBody: row.md5_body,
    Body: row.body,
  };
  const values: Record<(typeof SYSTEM_ATTRIBUTES)[number], string | undefined> = {
    SenderId: LOCAL_SQS_ACCOUNT_ID,
    SentTimestamp: String(row.sent_at),
    ApproximateReceiveCount: String(row.receive_count),
    ApproximateFirstReceiveTimestamp: String(row.first_received_at ?? row.sent_at),
    MessageGroupId: row.group_id ?? undefined,
    AWSTraceHeader: row.trace_header ?? undefined,
    DeadLetterQueueSourceArn: row.dlq_source_arn ?? undefined,
  };
  const attributes: Record<string, string> = {};
  for (const name of SYSTEM_ATTRIBUTES) {
    const value = values[name];
    if (system.has(name) && value !== undefined) attributes[name] = value;
  }
  if (Object.keys(attributes).length > 0) message.Attributes = attributes;
  if (row.attributes !== null) {
    const all = JSON.parse(row.attributes) as Record<string, MessageAttributeValue>;
    const chosen = Object.fromEntries(Object.entries(all).filter(([name]) => user(name)));
    if (Object.keys(chosen).length > 0) {
      message.MessageAttributes = chosen;
      message.MD5OfMessageAttributes = md5OfMessageAttributes(chosen);
    }
  }
  return message;
}

export function queueArn(region: string, name: string): string {
  return `arn:aws:sqs:${region}:${LOCAL_SQS_ACCOUNT_ID}:${name}`;
}

export function queueUrl(baseUrl: string, name: string): string {
  return `${baseUrl}/${LOCAL_SQS_ACCOUNT_ID}/${name}`;
}

/** The queue a request names, from its QueueUrl (the last path segment, as SQS reads it). */
export function queueNameOf(queueUrlValue: unknown): string {
  if (typeof queueUrlValue !== "string" || queueUrlValue === "") {
    throw new SqsError("MissingParameter", "The request must contain the parameter QueueUrl.");
  }
  const path = queueUrlValue.replace(/^[a-z]+:\/\/[^/]+/i, "");
  const name = path.split("/").filter(Boolean).at(-1);
  if (name === undefined) throw queueDoesNotExist();
  return name;
}

function receiptHandle(queue: string, messageId: string, receive: number): string {
  return Buffer.from(
    JSON.stringify([queue, messageId, receive, randomBytes(6).toString("hex")]),
    "utf8",
  ).toString("base64url");
}

function parseReceiptHandle(
  handle: unknown,
): { queue: string; messageId: string; receive: number } | undefined {
  if (typeof handle !== "string" || handle.length === 0 || handle.length > 1024) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(handle, "base64url").toString("utf8")) as unknown;
    if (
      Array.isArray(parsed) &&
      typeof parsed[0] === "string" &&
      typeof parsed[1] === "string" &&
      typeof parsed[2] === "number"
    ) {
      return { queue: parsed[0], messageId: parsed[1], receive: parsed[2] };
    }
  } catch {
    // not one of ours
  }
  return undefined;
}
