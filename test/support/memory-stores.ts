/**
 * In-memory implementations of the domain's ports (shared/domain/ports/), for unit tests of the
 * services: fast enough to run under StrykerJS against every mutant (docs/benchmarks.md, "Mutation
 * testing"). They keep the contract each port documents (a deleted item is gone, a slot limit is
 * exact, a revoked key keeps its first revocation time) and nothing of DynamoDB's; the DynamoDB
 * repositories are tested against dynalite by the integration tests. Test code only: nothing in
 * shared/, functions/ or local/ may import this file.
 */
import type { AccessKeyRecord } from "#shared/domain/access-keys/access-key.ts";
import {
  type DeliveryIdentity,
  type DeliveryRecord,
  type DeliveryStatus,
  positionOf,
} from "#shared/domain/delivery/delivery.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import type { PortalLinkRecord } from "#shared/domain/portal/portal-link.ts";
import type {
  DeliveryLogPage,
  DeliveryLogQuery,
  DeliveryRepository,
  Requeued,
  RequeueResult,
} from "#shared/domain/ports/deliveries.ts";
import type {
  ErasableItem,
  ErasureRequests,
  ErasureStore,
  HeldMessage,
  ParkedMessages,
  PendingErasure,
  StoredItemKey,
} from "#shared/domain/ports/erasure.ts";
import type { DeliveryQueue, EnqueueResult } from "#shared/domain/ports/queues.ts";
import type {
  AccessKeyRepository,
  ConsumeResult,
  PortalLinkRepository,
  QuotaCounterRepository,
  RevokeResult,
} from "#shared/domain/ports/stores.ts";
import type {
  SubscriptionChange,
  SubscriptionChangeField,
  SubscriptionRepository,
} from "#shared/domain/ports/subscriptions.ts";
import { type QuotaAction, type QuotaRule, quotaWindow } from "#shared/domain/quotas/quota.ts";
import type { SubscriptionWithSecrets } from "#shared/domain/subscriptions/subscription.ts";

type SubscriptionStore = Pick<
  SubscriptionRepository,
  "get" | "create" | "delete" | "reserveSlot" | "releaseSlot" | "listPage" | "update" | "rotateSecret"
>;

const CHANGE_FIELDS: ReadonlySet<string> = new Set<SubscriptionChangeField>([
  "url",
  "method",
  "event_types",
  "activeflow_id",
  "description",
  "headers",
  "filter",
  "status",
  "disabled_reason",
  "failing_since",
  "updated_at",
]);

/** The customer's subscriptions and their slot counter, as SubscriptionRepository documents them. */
export class MemorySubscriptions implements SubscriptionStore {
  readonly items = new Map<string, SubscriptionWithSecrets>();
  readonly slots = new Map<string, number>();
  /** Every call, in order, by method name: what the service asked of the store. */
  readonly calls: string[] = [];

  private key(customerId: string, subscriptionId: string): string {
    return `${customerId}/${subscriptionId}`;
  }

  async get(customerId: string, subscriptionId: string): Promise<SubscriptionWithSecrets | null> {
    this.calls.push("get");
    return this.items.get(this.key(customerId, subscriptionId)) ?? null;
  }

  async create(subscription: SubscriptionWithSecrets): Promise<void> {
    this.calls.push("create");
    const key = this.key(subscription.customer_id, subscription.id);
    if (this.items.has(key)) throw new Error(`subscription ${subscription.id} exists`);
    this.items.set(key, subscription);
  }

  async delete(customerId: string, subscriptionId: string): Promise<boolean> {
    this.calls.push("delete");
    return this.items.delete(this.key(customerId, subscriptionId));
  }

  async reserveSlot(customerId: string, limit: number): Promise<boolean> {
    this.calls.push("reserveSlot");
    const used = this.slots.get(customerId) ?? 0;
    if (used >= limit) return false;
    this.slots.set(customerId, used + 1);
    return true;
  }

  async releaseSlot(customerId: string): Promise<void> {
    this.calls.push("releaseSlot");
    this.slots.set(customerId, Math.max(0, (this.slots.get(customerId) ?? 0) - 1));
  }

  async listPage(
    customerId: string,
    options: { limit: number; afterId?: string | undefined },
  ): Promise<{ items: SubscriptionWithSecrets[]; hasMore: boolean }> {
    this.calls.push("listPage");
    const all = [...this.items.values()]
      .filter(
        (s) => s.customer_id === customerId && (options.afterId === undefined || s.id > options.afterId),
      )
      .sort((a, b) => a.id.localeCompare(b.id));
    return { items: all.slice(0, options.limit), hasMore: all.length > options.limit };
  }

  async update(
    customerId: string,
    subscriptionId: string,
    change: SubscriptionChange,
  ): Promise<SubscriptionWithSecrets | null> {
    this.calls.push("update");
    this.changes.push(change);
    for (const field of [...Object.keys(change.set), ...change.remove]) {
      if (!CHANGE_FIELDS.has(field)) throw new Error(`${field} is not a field a change may touch`);
    }
    const key = this.key(customerId, subscriptionId);
    const current = this.items.get(key);
    if (current === undefined) return null;
    const next: Record<string, unknown> = { ...current, ...change.set };
    for (const field of change.remove as SubscriptionChangeField[]) {
      // The table removes the attribute; the record reads it back as null (or {} for headers).
      if (field === "filter") delete next.filter;
      else next[field] = field === "headers" ? {} : null;
    }
    const updated = next as unknown as SubscriptionWithSecrets;
    this.items.set(key, updated);
    return updated;
  }

  /** Every change `update` was asked to write, in order. */
  readonly changes: SubscriptionChange[] = [];

  /** Outcomes to answer instead of rotating, one per call (a concurrent rotation, a deleted item). */
  readonly rotationOutcomes: ("conflict" | "not_found")[] = [];

  async rotateSecret(
    customerId: string,
    subscriptionId: string,
    rotation: { expectedSecret: string; newSecret: string; previousExpiresAt: string; now: string },
  ): Promise<"rotated" | "conflict" | "not_found"> {
    this.calls.push("rotateSecret");
    const scripted = this.rotationOutcomes.shift();
    if (scripted !== undefined) return scripted;
    const key = this.key(customerId, subscriptionId);
    const current = this.items.get(key);
    if (current === undefined) return "not_found";
    if (current.secret !== rotation.expectedSecret) return "conflict";
    this.items.set(key, {
      ...current,
      secret: rotation.newSecret,
      previous_secret: current.secret,
      previous_secret_expires_at: rotation.previousExpiresAt,
      updated_at: rotation.now,
    });
    return "rotated";
  }
}

/** Quota windows counted as QuotaCounterRepository documents them: per customer, action and window. */
export class MemoryQuotaCounters implements QuotaCounterRepository {
  readonly counts = new Map<string, number>();

  async tryConsume(customerId: string, action: QuotaAction, rule: QuotaRule, now: Date): Promise<boolean> {
    const key = `${customerId}|${action}|${quotaWindow(rule, now).startS}`;
    const used = this.counts.get(key) ?? 0;
    if (used >= rule.limit) return false;
    this.counts.set(key, used + 1);
    return true;
  }
}

/** The delivery queue: every job enqueued, batch by batch, and a failure to answer on demand. */
export class MemoryDeliveryQueue implements Pick<DeliveryQueue, "enqueue"> {
  readonly batches: DeliveryJob[][] = [];
  failNext: Error | undefined;

  get jobs(): DeliveryJob[] {
    return this.batches.flat();
  }

  async enqueue(jobs: readonly DeliveryJob[]): Promise<EnqueueResult> {
    const failure = this.failNext;
    if (failure !== undefined) {
      this.failNext = undefined;
      throw failure;
    }
    this.batches.push([...jobs]);
    return { sent: jobs.length, requests: Math.ceil(jobs.length / 10) };
  }
}

type DeliveryLogStore = Pick<
  DeliveryRepository,
  "get" | "createPending" | "deletePending" | "queryLog" | "requeue" | "revertRequeue" | "eventTimeOf"
>;

/**
 * Delivery records by id. `get` finds a record by its id alone, as the pre-upgrade (layout-2) head
 * was keyed: the caller's tenant check is then the only guard, which is what a service test must see.
 * `queryLog` evaluates `limit` records per query before the status filter, as the log's partitions do.
 */
export class MemoryDeliveries implements DeliveryLogStore {
  readonly records = new Map<string, DeliveryRecord>();
  readonly queries: DeliveryLogQuery[] = [];
  readonly reverted: string[] = [];

  put(record: DeliveryRecord): DeliveryRecord {
    this.records.set(record.id, record);
    return record;
  }

  async get(_customerId: string, deliveryId: string): Promise<DeliveryRecord | null> {
    return this.records.get(deliveryId) ?? null;
  }

  async createPending(delivery: DeliveryIdentity, now: Date, _retentionDays: number, liveJob: string) {
    const at = now.toISOString();
    this.put({
      id: delivery.delivery_id,
      subscription_id: delivery.subscription_id,
      customer_id: delivery.customer_id,
      event_id: delivery.event_id,
      event_type: delivery.event_type,
      webhook_id: delivery.webhook_id,
      status: "pending",
      dead_reason: null,
      attempts: [],
      next_attempt_at: null,
      created_at: at,
      updated_at: at,
      succeeded_at: null,
      chain_attempts: 0,
      live_job: liveJob,
      payload: delivery.payload,
      ...(delivery.test === true ? { test: true as const } : {}),
    });
  }

  /** Event times as the payload items keep them (layout 3); an event absent here was stored before. */
  readonly eventTimes = new Map<string, Date>();

  async eventTimeOf(customerId: string, eventId: string): Promise<Date | null> {
    return this.eventTimes.get(`${customerId}|${eventId}`) ?? null;
  }

  async deletePending(customerId: string, deliveryId: string): Promise<void> {
    const record = this.records.get(deliveryId);
    if (record?.customer_id === customerId && record.status === "pending") this.records.delete(deliveryId);
  }

  async queryLog(query: DeliveryLogQuery): Promise<DeliveryLogPage> {
    this.queries.push(query);
    const key = (r: Pick<DeliveryRecord, "created_at" | "id">) => `${r.created_at}#${r.id}`;
    const sign = query.order === "newest_first" ? -1 : 1;
    const ordered = [...this.records.values()]
      .filter(
        (r) =>
          r.customer_id === query.customerId &&
          r.subscription_id === query.subscriptionId &&
          (query.since === undefined || r.created_at >= query.since) &&
          (query.after === undefined || sign * key(r).localeCompare(key(query.after)) > 0),
      )
      .sort((a, b) => sign * key(a).localeCompare(key(b)));
    const evaluated = ordered.slice(0, query.limit);
    const last = evaluated.at(-1);
    return {
      // The log never holds payloads.
      records: evaluated
        .filter((r) => query.statuses === undefined || query.statuses.includes(r.status))
        .map((r) => ({ ...r, payload: null })),
      next: ordered.length > query.limit && last !== undefined ? positionOf(last) : null,
    };
  }

  async requeue(
    customerId: string,
    deliveryId: string,
    options: { from: readonly DeliveryStatus[]; token: string; now: Date },
  ): Promise<RequeueResult> {
    const record = this.records.get(deliveryId);
    if (record === undefined || record.customer_id !== customerId || !options.from.includes(record.status)) {
      return { kind: "skipped" };
    }
    this.put({
      ...record,
      status: "pending",
      dead_reason: null,
      chain_attempts: 0,
      live_job: options.token,
      updated_at: options.now.toISOString(),
    });
    return { kind: "requeued", previous: record, previousState: { prev_job: null, dead_lettered_at: null } };
  }

  async revertRequeue(requeued: Requeued, token: string): Promise<void> {
    const current = this.records.get(requeued.previous.id);
    if (current?.live_job !== token || current.status !== "pending") return;
    this.reverted.push(requeued.previous.id);
    this.put(requeued.previous);
  }
}

/** Access keys by id; revoking twice keeps the first revocation time (AccessKeyRepository). */
export class MemoryAccessKeys implements AccessKeyRepository {
  readonly records = new Map<string, AccessKeyRecord>();

  async create(record: AccessKeyRecord): Promise<void> {
    if (this.records.has(record.key_id)) throw new Error(`key ${record.key_id} exists`);
    this.records.set(record.key_id, record);
  }

  async getByHash(keyHash: string): Promise<AccessKeyRecord | null> {
    return [...this.records.values()].find((r) => r.key_hash === keyHash) ?? null;
  }

  async getById(keyId: string): Promise<AccessKeyRecord | null> {
    return this.records.get(keyId) ?? null;
  }

  async listByCustomer(customerId: string): Promise<AccessKeyRecord[]> {
    return [...this.records.values()].filter((r) => r.customer_id === customerId);
  }

  async revoke(keyId: string, now: Date): Promise<RevokeResult> {
    const key = this.records.get(keyId);
    if (key === undefined) return { kind: "not_found" };
    if (key.revoked_at !== null) return { kind: "already_revoked", key };
    const revoked = { ...key, revoked_at: now.toISOString() };
    this.records.set(keyId, revoked);
    return { kind: "revoked", key: revoked };
  }
}

/** Portal links by hash; of two exchanges of one token exactly one wins (PortalLinkRepository). */
export class MemoryPortalLinks implements PortalLinkRepository {
  readonly records = new Map<string, PortalLinkRecord>();

  async create(record: PortalLinkRecord): Promise<void> {
    this.records.set(record.link_hash, record);
  }

  /** Every hash looked up, in order. */
  readonly consumed: string[] = [];

  async consume(linkHash: string, now: Date): Promise<ConsumeResult> {
    this.consumed.push(linkHash);
    const link = this.records.get(linkHash);
    if (link === undefined) return { kind: "refused", reason: "invalid" };
    if (link.used_at !== null) return { kind: "refused", reason: "used" };
    if (Date.parse(link.expires_at) <= now.getTime()) return { kind: "refused", reason: "expired" };
    const used = { ...link, used_at: now.toISOString() };
    this.records.set(linkHash, used);
    return { kind: "consumed", link: used };
  }
}

/**
 * A customer's stored items for erasure, in pages of `pageSize` (ErasureStore); attempts by
 * delivery id. Deleting removes items and attempts alike.
 */
export class MemoryErasureStore implements ErasureStore {
  items: ErasableItem[] = [];
  readonly attempts = new Map<string, StoredItemKey[]>();
  readonly deleted: StoredItemKey[][] = [];
  readonly controlKept: { customerId: string; version: string; now: string }[] = [];
  /** Items read per page; `scanned` counts the other customers' items a Scan also reads. */
  pageSize = 3;
  otherItemsPerPage = 2;

  constructor(readonly customerId: string) {}

  /**
   * Pages in key order, each resuming after the last key of the one before, as a Scan's
   * ExclusiveStartKey does: deleting what was read does not move what is still to come.
   */
  async *itemsOfCustomer(
    customerId: string,
    from?: string,
  ): AsyncIterable<{ items: ErasableItem[]; scanned: number; next: string | null }> {
    if (customerId !== this.customerId) return;
    let after = from;
    for (;;) {
      const rest = this.items
        .filter((item) => after === undefined || item.key.SK > after)
        .sort((a, b) => a.key.SK.localeCompare(b.key.SK));
      const items = rest.slice(0, this.pageSize);
      const next = rest.length > this.pageSize ? (items.at(-1)?.key.SK ?? null) : null;
      yield { items, scanned: items.length + this.otherItemsPerPage, next };
      if (next === null) return;
      after = next;
    }
  }

  async attemptKeysOf(deliveryId: string): Promise<StoredItemKey[]> {
    // The table would be queried for this partition: an id that is not one is a bug of the caller.
    if (typeof deliveryId !== "string") throw new TypeError("attemptKeysOf needs a delivery id");
    return this.attempts.get(deliveryId) ?? [];
  }

  async deleteAll(keys: readonly StoredItemKey[]): Promise<void> {
    this.deleted.push([...keys]);
    const gone = new Set(keys.map((k) => `${k.PK}|${k.SK}`));
    this.items = this.items.filter((item) => !gone.has(`${item.key.PK}|${item.key.SK}`));
    for (const [id, attempts] of this.attempts) {
      this.attempts.set(
        id,
        attempts.filter((k) => !gone.has(`${k.PK}|${k.SK}`)),
      );
    }
  }

  async keepControlVersionOnly(customerId: string, version: string, now: Date): Promise<void> {
    this.controlKept.push({ customerId, version, now: now.toISOString() });
  }
}

/** A parked queue: `read` hides what it hands out until deleted or released. */
export class MemoryParkedQueue implements ParkedMessages {
  readonly messages: HeldMessage[];
  readonly released: HeldMessage[][] = [];
  failAfter: number | undefined;

  constructor(
    readonly name: string,
    bodies: readonly string[],
  ) {
    this.messages = bodies.map((body) => ({ body }));
  }

  async *read(limit: number): AsyncIterable<HeldMessage> {
    let read = 0;
    for (const message of [...this.messages].slice(0, limit)) {
      if (this.failAfter !== undefined && read >= this.failAfter) throw new Error(`${this.name} unavailable`);
      read++;
      yield message;
    }
  }

  async delete(message: HeldMessage): Promise<void> {
    this.messages.splice(this.messages.indexOf(message), 1);
  }

  async release(messages: readonly HeldMessage[]): Promise<void> {
    this.released.push([...messages]);
  }
}

/** Pending customer erasures (ErasureRequests): due ones oldest first, a cursor per request. */
export class MemoryErasureRequests implements ErasureRequests {
  readonly pending = new Map<string, PendingErasure>();
  readonly finished: string[] = [];

  async request(customerId: string, dueAt: Date, _now: Date): Promise<void> {
    if (!this.pending.has(customerId)) {
      this.pending.set(customerId, { customerId, dueAt: dueAt.toISOString(), cursor: null });
    }
  }

  async cancel(customerId: string): Promise<void> {
    this.pending.delete(customerId);
  }

  async due(now: Date): Promise<PendingErasure[]> {
    return [...this.pending.values()]
      .filter((p) => Date.parse(p.dueAt) <= now.getTime())
      .sort((a, b) => a.dueAt.localeCompare(b.dueAt));
  }

  async saveCursor(customerId: string, cursor: string): Promise<boolean> {
    const pending = this.pending.get(customerId);
    if (pending === undefined) return false;
    this.pending.set(customerId, { ...pending, cursor });
    return true;
  }

  async finish(customerId: string): Promise<void> {
    this.pending.delete(customerId);
    this.finished.push(customerId);
  }
}

/**
 * The ports the delivery function's DeliveryBatch uses (shared/services/delivery/deliver.ts), as a
 * recording fake: the records it holds are what loadBatch reads, and every write, send, dead letter
 * and warning is kept in order so a test asserts what a user would see (the request on the wire,
 * the attempt in the log, the re-sent job and its delay, the DLQ message and its reason).
 */
export class MemoryDeliveryPorts {
  readonly subscriptionsById = new Map<string, SubscriptionWithSecrets>();
  readonly states = new Map<string, import("#shared/domain/ports/deliveries.ts").DeliveryState>();
  readonly requests: import("#shared/domain/ports/sender.ts").HttpAttemptRequest[] = [];
  readonly attempts: import("#shared/domain/ports/deliveries.ts").RecordAttemptInput[] = [];
  readonly closed: import("#shared/domain/ports/deliveries.ts").CloseDeliveryInput[] = [];
  readonly handOffs: import("#shared/domain/ports/deliveries.ts").HandOffInput[] = [];
  readonly resent: { job: DeliveryJob; delaySeconds: number }[] = [];
  readonly deadLettered: { job: DeliveryJob; reason: string }[] = [];
  readonly markedDeadLettered: string[] = [];
  readonly warnings: { type: string; data: Record<string, unknown> }[] = [];
  readonly disabled: { id: string; reason: string }[] = [];
  readonly failingMarks: { id: string; since: string }[] = [];
  readonly logs: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  /** What the endpoint answers, one per attempt (the last repeats). */
  answers: import("#shared/domain/ports/sender.ts").HttpAttemptResult[] = [
    { kind: "response", statusCode: 200, retryAfter: null, responseBody: "ok", latencyMs: 12 },
  ];
  /** What recordAttempt answers (the record's conditional write). */
  recordResult: import("#shared/domain/ports/deliveries.ts").RecordAttemptResult = "recorded";
  /** What handOff answers. */
  handOffResult: "handed_off" | "stale" | "handed_over" = "handed_off";
  /** The failing streak clearFailing ends (its start), or null when none was running. */
  failingSinceToClear: string | null = null;
  /** Set: the queue's send rejects with it (an SQS outage). */
  sendFailure: Error | null = null;
  /** Set: the queue's visibility change (hold) rejects with it. */
  holdFailure: Error | null = null;
  /** Set: undoing a hand-off rejects with it. */
  releaseFailure: Error | null = null;
  /** Another delivery disabled the subscription first: disable finds nothing to change. */
  alreadyDisabled = false;
  /** Set: the event bus rejects every announcement with it. */
  announceFailure: Error | null = null;
  readonly shadowed: Record<string, unknown>[] = [];
  readonly released: { fromJob: string; toJob: string }[] = [];
  readonly held: { receiptHandle: string; seconds: number }[] = [];
  readonly announcedDisabled: { id: string; reason: string }[] = [];

  private log(level: string) {
    return (message: string, fields: Record<string, unknown> = {}) => {
      this.logs.push({ level, message, fields });
    };
  }

  readonly logger = {
    debug: this.log("debug"),
    info: this.log("info"),
    warn: this.log("warn"),
    error: this.log("error"),
  };

  loadBatch = async (request: import("#shared/domain/ports/deliveries.ts").DeliveryBatchLoadRequest) => {
    const subscriptions = new Map<string, SubscriptionWithSecrets | null>();
    for (const { customerId, subscriptionId } of request.subscriptions) {
      const found = this.subscriptionsById.get(subscriptionId);
      subscriptions.set(
        `${customerId}|${subscriptionId}`,
        found !== undefined && found.customer_id === customerId ? found : null,
      );
    }
    const deliveries = new Map<string, import("#shared/domain/ports/deliveries.ts").DeliveryState>();
    for (const { deliveryId } of request.deliveries) {
      const state = this.states.get(deliveryId);
      if (state !== undefined) deliveries.set(deliveryId, state);
    }
    return { subscriptions, deliveries };
  };

  readonly subscriptions = {
    markFailing: async (_customerId: string, id: string, since: string) => {
      this.failingMarks.push({ id, since });
      return true;
    },
    clearFailing: async () => this.failingSinceToClear,
    disable: async (_customerId: string, id: string, reason: string) => {
      this.disabled.push({ id, reason });
      if (this.alreadyDisabled) return null;
      const current = this.subscriptionsById.get(id);
      return current === undefined ? null : { ...current, status: "disabled" as const };
    },
  };

  readonly deliveries = {
    recordAttempt: async (input: import("#shared/domain/ports/deliveries.ts").RecordAttemptInput) => {
      this.attempts.push(input);
      return this.recordResult;
    },
    close: async (input: import("#shared/domain/ports/deliveries.ts").CloseDeliveryInput) => {
      this.closed.push(input);
      return true;
    },
    markDeadLettered: async (_customerId: string, deliveryId: string) => {
      this.markedDeadLettered.push(deliveryId);
    },
    isDeadLettered: async () => false,
    handOff: async (input: import("#shared/domain/ports/deliveries.ts").HandOffInput) => {
      this.handOffs.push(input);
      return this.handOffResult;
    },
    releaseHandOff: async (input: { fromJob: string; toJob: string }) => {
      if (this.releaseFailure !== null) throw this.releaseFailure;
      this.released.push({ fromJob: input.fromJob, toJob: input.toJob });
    },
    get: async () => null,
  };

  readonly queue = {
    send: async (job: DeliveryJob, delaySeconds: number) => {
      if (this.sendFailure !== null) throw this.sendFailure;
      this.resent.push({ job, delaySeconds });
    },
    hold: async (receiptHandle: string, seconds: number) => {
      if (this.holdFailure !== null) throw this.holdFailure;
      this.held.push({ receiptHandle, seconds });
    },
  };

  readonly deadLetters = {
    send: async (job: DeliveryJob, reason: string) => {
      this.deadLettered.push({ job, reason });
    },
  };

  readonly backstop = {
    receive: async () => [],
    release: async () => {},
    delete: async () => {},
  };

  readonly sender = {
    send: async (request: import("#shared/domain/ports/sender.ts").HttpAttemptRequest) => {
      this.requests.push(request);
      const answer = this.answers[Math.min(this.requests.length - 1, this.answers.length - 1)];
      if (answer === undefined) throw new Error("no answer configured");
      return answer;
    },
  };

  readonly shadowLog = {
    put: async (entry: Record<string, unknown>) => {
      this.shadowed.push(entry);
    },
  };

  readonly operationalEvents = {
    subscriptionDisabled: async (subscription: SubscriptionWithSecrets, reason: string) => {
      if (this.announceFailure !== null) throw this.announceFailure;
      this.announcedDisabled.push({ id: subscription.id, reason });
    },
    warn: async (warning: { type: string; data: Record<string, unknown> }) => {
      if (this.announceFailure !== null) throw this.announceFailure;
      this.warnings.push({ type: warning.type, data: warning.data });
    },
  };
}
