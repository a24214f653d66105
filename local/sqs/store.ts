import { createHash, randomBytes, randomUUID } from "node:crypto";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { MAX_VISIBILITY_TIMEOUT_SECONDS } from "#shared/domain/aws-limits.ts";
import {
  invalidParameter,
  messageNotInflight,
  overLimit,
  queueDoesNotExist,
  receiptHandleExpired,
  receiptHandleInvalid,
  SqsError,
  unsupported,
  visibilityBeyondLimit,
} from "./errors.ts";
import { DEFAULT_FAIR_QUEUE, type FairQueueSettings } from "./fairness.ts";
import { type MessageMeta, QueueState } from "./queue-state.ts";

export { DEFAULT_FAIR_QUEUE, type FairQueueSettings };

/**
 * The queues and messages of the local SQS: every message durable in SQLite (Node's built-in
 * node:sqlite; a file under the data directory, or `:memory:`), and its place in the queue in
 * memory (queue-state.ts), rebuilt from the file at start. Every action is one transaction,
 * committed before the answer is sent, in WAL mode: a message SQS acknowledged survives Ctrl-C, a
 * crash and `kill -9` of the process (synchronous=NORMAL keeps a committed transaction across a
 * process crash; only a power loss or OS crash can take the last ones back — docs/local.md,
 * "Persistence"). One process owns the file.
 *
 * The rules are SQS's (SQS API Reference and Developer Guide), including those emulators skip
 * (docs/local.md, "What the SQS stand-in enforces"):
 * - the visibility ceiling counts 12 h from each receive (ChangeMessageVisibility past it is refused
 *   with SQS's text);
 * - a receipt handle from an earlier receive has expired for ChangeMessageVisibility;
 * - the in-flight quota ("Amazon SQS queue quotas": ~120,000 per standard queue; API Reference,
 *   ChangeMessageVisibility): at the quota a receive gets `OverLimit` (the server turns it into an
 *   empty long poll); delayed messages are backlog, not in flight;
 * - the redrive policy moves a message on the receive after its maxReceiveCount-th;
 * - retention counts from the original send, also on the dead-letter queue;
 * - MaximumMessageSize (up to 1 MiB) refuses larger messages with SQS's error;
 * - MessageGroupId on a standard queue makes it a fair queue, with AWS's documented rule (fairness.ts).
 */

export const LOCAL_SQS_ACCOUNT_ID = "000000000000";

/** SQS's default in-flight quota per standard queue ("Amazon SQS queue quotas"). */
export const DEFAULT_INFLIGHT_LIMIT = 120_000;

/** The largest message SQS accepts (1 MiB since 2025), body and attributes together. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** SQS's defaults for a new queue (SQS API Reference, CreateQueue). */
const DEFAULT_ATTRIBUTES = {
  DelaySeconds: "0",
  MaximumMessageSize: String(MAX_MESSAGE_BYTES),
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

export interface SqsStoreOptions {
  /** A file path, or ":memory:". */
  readonly file: string;
  readonly clock?: () => number;
  readonly fairQueue?: Partial<FairQueueSettings>;
  /** In-flight messages per queue before receives get OverLimit (SQS_INFLIGHT_LIMIT); default 120,000. */
  readonly inFlightLimit?: number;
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

/** A queue: its row, its attributes parsed once, and its indexes. */
interface Queue {
  row: QueueRow;
  attributes: Record<string, string>;
  readonly state: QueueState;
}

/** What a receive reads from SQLite besides what the indexes hold. */
interface MessageContent {
  body: string;
  attributes: string | null;
  md5_body: string;
  trace_header: string | null;
  dlq_source_arn: string | null;
}

interface StoredMessage {
  seq: number;
  queue: string;
  id: string;
  group_id: string | null;
  sent_at: number;
  visible_at: number;
  receive_count: number;
  first_received_at: number | null;
  received_at: number | null;
  receipt: string | null;
  visibility_changed: number;
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
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_id ON messages (queue, id);
-- The receive order lives in memory now (queue-state.ts); this index only cost every update.
DROP INDEX IF EXISTS messages_by_visibility;
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
  readonly inFlightLimit: number;
  private readonly statements = new Map<string, StatementSync>();
  private readonly queues = new Map<string, Queue>();
  /** Rows whose retention ended, deleted from SQLite by the next transaction. */
  private readonly expiredRows: number[] = [];
  /** The indexes changed in the running transaction (a rollback must rebuild them from the file). */
  private indexesTouched = false;
  /** Called after a commit that may have made messages receivable on a queue. */
  onAvailable: (queue: string) => void = () => {};

  constructor(options: SqsStoreOptions) {
    this.db = new DatabaseSync(options.file);
    this.clock = options.clock ?? Date.now;
    this.fair = { ...DEFAULT_FAIR_QUEUE, ...options.fairQueue };
    this.inFlightLimit = options.inFlightLimit ?? DEFAULT_INFLIGHT_LIMIT;
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.db.exec("PRAGMA busy_timeout = 5000");
    this.db.exec(SCHEMA);
    this.loadIndexes();
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
      const existing = this.queues.get(name);
      if (existing) {
        for (const [key, value] of Object.entries(given)) {
          if ((existing.attributes[key] ?? (DEFAULT_ATTRIBUTES as Record<string, string>)[key]) !== value) {
            throw new SqsError(
              "QueueNameExists",
              `A queue already exists with the same name and a different value for attribute ${key}`,
              { queryCode: "QueueAlreadyExists" },
            );
          }
        }
      } else {
        const now = Math.floor(this.clock() / 1000);
        const row: QueueRow = {
          name,
          attributes: JSON.stringify({ ...DEFAULT_ATTRIBUTES, ...given }),
          created_at: now,
          modified_at: now,
        };
        this.statement(
          "INSERT INTO queues (name, attributes, created_at, modified_at) VALUES (?, ?, ?, ?)",
        ).run(row.name, row.attributes, row.created_at, row.modified_at);
        this.indexesTouched = true;
        this.queues.set(name, this.queueOf(row));
      }
      return queueUrl(baseUrl, name);
    });
  }

  queueUrlOf(name: unknown, baseUrl: string): string {
    if (typeof name !== "string" || !this.queues.has(name)) throw queueDoesNotExist();
    return queueUrl(baseUrl, name);
  }

  listQueues(prefix: unknown, baseUrl: string): string[] {
    const wanted = typeof prefix === "string" ? prefix : "";
    return [...this.queues.keys()]
      .sort()
      .filter((name) => name.startsWith(wanted))
      .map((name) => queueUrl(baseUrl, name));
  }

  deleteQueue(name: string): void {
    this.transaction(() => {
      this.requireQueue(name);
      this.statement("DELETE FROM messages WHERE queue = ?").run(name);
      this.statement("DELETE FROM queues WHERE name = ?").run(name);
      this.indexesTouched = true;
      this.queues.delete(name);
    });
  }

  setQueueAttributes(name: string, attributes: unknown, region: string): void {
    const given = this.validateAttributes(attributesOf(attributes), region);
    this.transaction(() => {
      const queue = this.requireQueue(name);
      const merged = { ...queue.attributes, ...given };
      for (const [key, value] of Object.entries(given)) if (value === "") delete merged[key];
      const modified = Math.floor(this.clock() / 1000);
      this.statement("UPDATE queues SET attributes = ?, modified_at = ? WHERE name = ?").run(
        JSON.stringify(merged),
        modified,
        name,
      );
      this.indexesTouched = true;
      queue.attributes = merged;
      queue.row = { ...queue.row, attributes: JSON.stringify(merged), modified_at: modified };
    });
  }

  getQueueAttributes(name: string, requested: unknown, region: string): Record<string, string> {
    const queue = this.requireQueue(name);
    const names = Array.isArray(requested) ? (requested as unknown[]).map(String) : [];
    const all = names.includes("All");
    this.advance(queue, this.clock());
    const { state } = queue;
    const computed: Record<(typeof COMPUTED_ATTRIBUTES)[number], () => string> = {
      QueueArn: () => queueArn(region, name),
      ApproximateNumberOfMessages: () => String(state.ready),
      // In flight: received and neither deleted nor visible again ("Amazon SQS queue quotas").
      ApproximateNumberOfMessagesNotVisible: () => String(state.inflight),
      // Sent with a delay that has not ended: backlog, not in flight.
      ApproximateNumberOfMessagesDelayed: () => String(state.delayed),
      CreatedTimestamp: () => String(queue.row.created_at),
      LastModifiedTimestamp: () => String(queue.row.modified_at),
    };
    const result: Record<string, string> = {};
    for (const key of COMPUTED_ATTRIBUTES) {
      if (all || names.includes(key)) result[key] = computed[key]();
    }
    for (const [key, value] of Object.entries(queue.attributes)) {
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
      const queue = this.requireQueue(name);
      this.statement("DELETE FROM messages WHERE queue = ?").run(name);
      this.indexesTouched = true;
      const now = this.clock();
      for (const meta of queue.state.all()) queue.state.remove(meta, now);
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
    if (bytes > MAX_MESSAGE_BYTES) {
      throw new SqsError(
        "BatchRequestTooLong",
        `Batch requests cannot be longer than ${MAX_MESSAGE_BYTES} bytes. You have sent ${bytes} bytes.`,
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
   * Up to MaxNumberOfMessages visible messages in fair order (fairness.ts), made invisible for the
   * visibility timeout, and no more than the in-flight quota leaves room for: at the quota it throws
   * OverLimit (what SQS answers a short poll; the server's long poll waits instead). Messages past
   * the redrive policy's maxReceiveCount move to the dead-letter queue instead. Empty when none is
   * visible (the server long-polls by calling again).
   */
  receiveMessage(name: string, input: ReceiveInput, region: string): ReceivedMessage[] {
    const max = intParameter(input.MaxNumberOfMessages, "MaxNumberOfMessages", 1, MAX_RECEIVE, 1);
    const queue = this.requireQueue(name);
    const visibility = intParameter(
      input.VisibilityTimeout,
      "VisibilityTimeout",
      0,
      MAX_VISIBILITY_TIMEOUT_SECONDS,
      Number(queue.attributes.VisibilityTimeout ?? DEFAULT_ATTRIBUTES.VisibilityTimeout),
    );
    // Nothing visible (an idle poller's long poll woken with the others, or timing out): the same
    // empty answer without a write transaction, which every receive used to open.
    this.advance(queue, this.clock());
    if (queue.state.ready === 0 && queue.state.inflight < this.inFlightLimit) return [];
    return this.transaction(() => {
      const now = this.clock();
      this.advance(queue, now);
      const { state } = queue;
      const room = this.inFlightLimit - state.inflight;
      if (room <= 0) throw overLimit();
      if (state.ready === 0) return [];
      const redrive = redrivePolicyOf(queue.attributes);
      const deadLetterQueue = redrive === undefined ? undefined : this.queues.get(redrive.target);
      const wantedSystem = systemAttributeNames(input);
      const wantedUser = userAttributeFilter(input.MessageAttributeNames);
      const received: ReceivedMessage[] = [];
      const wanted = Math.min(max, room);
      this.indexesTouched = true;
      for (const meta of state.readyInFairOrder(now)) {
        // SQS keeps a message where it is when its dead-letter queue is gone.
        if (redrive && deadLetterQueue && meta.receiveCount >= redrive.maxReceiveCount) {
          this.moveToDeadLetterQueue(queue, meta, deadLetterQueue, queueArn(region, name), now);
          continue;
        }
        const receipt = receiptHandle(name, meta.id, meta.receiveCount + 1);
        state.receive(meta, now, now + visibility * 1000, receipt);
        this.statement(
          `UPDATE messages SET receive_count = ?, received_at = ?, first_received_at = ?,
             visible_at = ?, receipt = ?, visibility_changed = 0 WHERE seq = ?`,
        ).run(meta.receiveCount, now, meta.firstReceivedAt, meta.visibleAt, receipt, meta.seq);
        const content = this.statement(
          "SELECT body, attributes, md5_body, trace_header, dlq_source_arn FROM messages WHERE seq = ?",
        ).get(meta.seq) as unknown as MessageContent;
        received.push(toReceived(meta, content, receipt, wantedSystem, wantedUser));
        if (received.length >= wanted) break;
      }
      return received;
    });
  }

  deleteMessage(name: string, handle: unknown): void {
    this.transaction(() => {
      const queue = this.requireQueue(name);
      this.deleteByHandle(queue, handle);
    });
  }

  deleteMessageBatch(
    name: string,
    entries: unknown,
  ): { Successful: { Id: string }[]; Failed: BatchFailure[] } {
    const list = batchEntries(entries);
    return this.transaction(() => {
      const queue = this.requireQueue(name);
      return eachEntry(list, (entry) => {
        this.deleteByHandle(queue, entry.ReceiptHandle);
        return {};
      });
    });
  }

  changeMessageVisibility(name: string, handle: unknown, timeout: unknown): void {
    this.transaction(() => {
      const queue = this.requireQueue(name);
      this.changeVisibility(queue, handle, timeout);
    });
  }

  changeMessageVisibilityBatch(
    name: string,
    entries: unknown,
  ): { Successful: { Id: string }[]; Failed: BatchFailure[] } {
    const list = batchEntries(entries);
    return this.transaction(() => {
      const queue = this.requireQueue(name);
      return eachEntry(list, (entry) => {
        this.changeVisibility(queue, entry.ReceiptHandle, entry.VisibilityTimeout);
        return {};
      });
    });
  }

  /** Epoch ms at which the next invisible or delayed message of the queue becomes visible, if any. */
  nextVisibleAt(name: string): number | undefined {
    const queue = this.queues.get(name);
    if (queue === undefined) return undefined;
    this.advance(queue, this.clock());
    return queue.state.nextVisibleAt();
  }

  /** Whether a receive on the queue would get OverLimit now (the server's long poll waits instead). */
  atInFlightLimit(name: string): boolean {
    const queue = this.queues.get(name);
    if (queue === undefined) return false;
    this.advance(queue, this.clock());
    return queue.state.inflight >= this.inFlightLimit;
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
        const queue = this.queues.get(name);
        if (queue === undefined) continue;
        this.advance(queue, now);
        this.indexesTouched = true;
        for (const meta of queue.state.all()) {
          if (meta.state !== "inflight" || meta.visibilityChanged) continue;
          this.statement("UPDATE messages SET visible_at = ? WHERE seq = ?").run(now, meta.seq);
          queue.state.changeVisibility(meta, now, now);
          // Released, not scheduled by a consumer: a later restart may release it again.
          meta.visibilityChanged = false;
          released++;
        }
        if (released > 0) this.afterCommit(name);
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
    const queue = this.requireQueue(name);
    this.advance(queue, this.clock());
    const metas = queue.state.all();
    const bodies = new Map(
      (
        this.statement("SELECT seq, body FROM messages WHERE queue = ?").all(name) as {
          seq: number;
          body: string;
        }[]
      ).map((row) => [row.seq, row.body]),
    );
    const view = (meta: MessageMeta): InspectedMessage => ({
      messageId: meta.id,
      body: bodies.get(meta.seq) ?? "",
      approximateReceiveCount: meta.receiveCount,
      sentTimestamp: meta.sentAt,
      ...(meta.group === null ? {} : { messageGroupId: meta.group }),
    });
    return {
      ready: metas.filter((meta) => meta.state === "ready").map(view),
      delayed: metas.filter((meta) => meta.state === "delayed").map(view),
      inflight: metas
        .filter((meta) => meta.state === "inflight")
        .map((meta) => ({
          message: view(meta),
          receiptHandle: meta.receipt ?? "",
          visibilityDeadline: meta.visibleAt,
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
    this.indexesTouched = false;
    let result: T;
    try {
      for (const seq of this.expiredRows.splice(0)) {
        this.statement("DELETE FROM messages WHERE seq = ?").run(seq);
      }
      result = work();
      this.db.exec("COMMIT");
    } catch (error) {
      this.pendingNotifications.clear();
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      // The indexes may hold what the file no longer does: rebuild them from the file.
      if (this.indexesTouched) this.loadIndexes();
      throw error;
    }
    const notify = [...this.pendingNotifications];
    this.pendingNotifications.clear();
    for (const queue of notify) this.onAvailable(queue);
    return result;
  }

  /** Reads every queue and message from the file into the indexes (at start, after a rollback). */
  private loadIndexes(): void {
    this.queues.clear();
    this.expiredRows.length = 0;
    const now = this.clock();
    for (const row of this.statement("SELECT * FROM queues").all() as unknown as QueueRow[]) {
      this.queues.set(row.name, this.queueOf(row));
    }
    const rows = this.statement(
      `SELECT seq, queue, id, group_id, sent_at, visible_at, receive_count, first_received_at,
         received_at, receipt, visibility_changed FROM messages ORDER BY seq`,
    ).all() as unknown as StoredMessage[];
    for (const row of rows) {
      const queue = this.queues.get(row.queue);
      if (queue === undefined) continue;
      queue.state.add(
        {
          seq: row.seq,
          id: row.id,
          group: row.group_id,
          sentAt: row.sent_at,
          queue: row.queue,
          state: row.receipt === null ? "delayed" : "inflight",
          visibleAt: row.visible_at,
          readyAt: row.visible_at,
          receiveCount: row.receive_count,
          receivedAt: row.received_at,
          firstReceivedAt: row.first_received_at,
          receipt: row.receipt,
          visibilityChanged: row.visibility_changed === 1,
          version: 0,
        },
        now,
        false,
      );
    }
  }

  private queueOf(row: QueueRow): Queue {
    return {
      row,
      attributes: JSON.parse(row.attributes) as Record<string, string>,
      state: new QueueState(row.name, this.fair),
    };
  }

  /** Brings the queue's indexes to `now`: delays and visibility timeouts that ended, retention. */
  private advance(queue: Queue, now: number): void {
    const retentionMs =
      Number(queue.attributes.MessageRetentionPeriod ?? DEFAULT_ATTRIBUTES.MessageRetentionPeriod) * 1000;
    for (const meta of queue.state.advance(now, now - retentionMs)) {
      queue.state.remove(meta, now);
      this.expiredRows.push(meta.seq);
    }
  }

  private requireQueue(name: string): Queue {
    const queue = this.queues.get(name);
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
    range("MaximumMessageSize", 1024, MAX_MESSAGE_BYTES);
    range("MessageRetentionPeriod", 60, 1_209_600);
    range("ReceiveMessageWaitTimeSeconds", 0, 20);
    range("VisibilityTimeout", 0, MAX_VISIBILITY_TIMEOUT_SECONDS);
    const redrive = attributes.RedrivePolicy;
    if (redrive !== undefined && redrive !== "") {
      try {
        const policy = parseRedrivePolicy(redrive);
        const [, , , policyRegion, account, target] = policy.deadLetterTargetArn.split(":");
        if (policyRegion !== region || account !== LOCAL_SQS_ACCOUNT_ID || !this.queues.has(target ?? "")) {
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

  private insertMessage(queue: Queue, input: SendInput): SentMessage {
    const attributes = queue.attributes;
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
      // SQS's text (SQS API Reference, SendMessage: "InvalidParameterValue").
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
    const group = typeof groupId === "string" ? groupId : null;
    const inserted = this.statement(
      `INSERT INTO messages (queue, id, body, attributes, md5_body, md5_attributes, trace_header, group_id, sent_at, visible_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      queue.row.name,
      id,
      body,
      messageAttributes === undefined ? null : JSON.stringify(messageAttributes),
      md5Body,
      md5Attributes ?? null,
      traceHeader ?? null,
      group,
      now,
      now + delay * 1000,
    );
    this.indexesTouched = true;
    queue.state.add(
      {
        seq: Number(inserted.lastInsertRowid),
        id,
        group,
        sentAt: now,
        queue: queue.row.name,
        state: "delayed",
        visibleAt: now + delay * 1000,
        readyAt: now + delay * 1000,
        receiveCount: 0,
        receivedAt: null,
        firstReceivedAt: null,
        receipt: null,
        visibilityChanged: false,
        version: 0,
      },
      now,
      true,
    );
    return {
      MessageId: id,
      MD5OfMessageBody: md5Body,
      ...(md5Attributes === undefined ? {} : { MD5OfMessageAttributes: md5Attributes }),
    };
  }

  private moveToDeadLetterQueue(
    from: Queue,
    meta: MessageMeta,
    to: Queue,
    sourceArn: string,
    now: number,
  ): void {
    this.statement(
      "UPDATE messages SET queue = ?, visible_at = ?, receipt = NULL, visibility_changed = 0, dlq_source_arn = ? WHERE seq = ?",
    ).run(to.row.name, now, sourceArn, meta.seq);
    from.state.remove(meta, now);
    meta.visibleAt = now;
    meta.receipt = null;
    meta.visibilityChanged = false;
    meta.state = "delayed";
    to.state.add(meta, now, false);
    this.afterCommit(to.row.name);
  }

  private findByHandle(queue: Queue, handle: unknown): { meta: MessageMeta | undefined; receive: number } {
    const parsed = parseReceiptHandle(handle);
    if (parsed === undefined || parsed.queue !== queue.row.name) throw receiptHandleInvalid(String(handle));
    return { meta: queue.state.byId.get(parsed.messageId), receive: parsed.receive };
  }

  private deleteByHandle(queue: Queue, handle: unknown): void {
    const { meta } = this.findByHandle(queue, handle);
    // A handle from an earlier receive still deletes (SQS: "the request succeeds"); a gone message is a no-op.
    if (meta === undefined) return;
    const wasAtLimit = queue.state.inflight >= this.inFlightLimit;
    this.statement("DELETE FROM messages WHERE seq = ?").run(meta.seq);
    this.indexesTouched = true;
    queue.state.remove(meta, this.clock());
    // Room under the in-flight quota again: a long poll waiting on it can take a message.
    if (wasAtLimit && queue.state.inflight < this.inFlightLimit) this.afterCommit(queue.row.name);
  }

  private changeVisibility(queue: Queue, handle: unknown, timeout: unknown): void {
    if (timeout === undefined)
      throw new SqsError("MissingParameter", "The request must contain the parameter VisibilityTimeout.");
    const seconds = intParameter(timeout, "VisibilityTimeout", 0, MAX_VISIBILITY_TIMEOUT_SECONDS, 0);
    const { meta, receive } = this.findByHandle(queue, handle);
    const now = this.clock();
    this.advance(queue, now);
    if (meta === undefined || meta.receipt === null) throw receiptHandleInvalid(String(handle));
    if (meta.receiveCount !== receive) throw receiptHandleExpired(String(handle));
    if (meta.state !== "inflight") throw messageNotInflight();
    // The ceiling counts from THIS receive (SQS API Reference, ChangeMessageVisibility).
    if (now + seconds * 1000 > (meta.receivedAt ?? now) + MAX_VISIBILITY_TIMEOUT_SECONDS * 1000) {
      throw visibilityBeyondLimit(seconds);
    }
    this.statement("UPDATE messages SET visible_at = ?, visibility_changed = 1 WHERE seq = ?").run(
      now + seconds * 1000,
      meta.seq,
    );
    this.indexesTouched = true;
    queue.state.changeVisibility(meta, now, now + seconds * 1000);
    // Visible again (or room under the quota again): wake the long polls.
    if (seconds === 0) this.afterCommit(queue.row.name);
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
  meta: MessageMeta,
  row: MessageContent,
  receipt: string,
  system: Set<string>,
  user: (name: string) => boolean,
): ReceivedMessage {
  const message: ReceivedMessage = {
    MessageId: meta.id,
    ReceiptHandle: receipt,
    MD5OfBody: row.md5_body,
    Body: row.body,
  };
  const values: Record<(typeof SYSTEM_ATTRIBUTES)[number], string | undefined> = {
    SenderId: LOCAL_SQS_ACCOUNT_ID,
    SentTimestamp: String(meta.sentAt),
    ApproximateReceiveCount: String(meta.receiveCount),
    ApproximateFirstReceiveTimestamp: String(meta.firstReceivedAt ?? meta.sentAt),
    MessageGroupId: meta.group ?? undefined,
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
