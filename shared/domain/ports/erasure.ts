/**
 * The ports erasure (shared/services/erasure.ts) works through: the table's items of one customer
 * (shared/adapters/dynamodb/erasure.ts) and the queues where work waits for an operator.
 */

/** A stored item's key, as the store hands it back to be deleted. */
export interface StoredItemKey {
  readonly PK: string;
  readonly SK: string;
  /** Which of the store's tables holds it, when the store has more than one (opaque to the service). */
  readonly table?: string;
}

/** What an item of a customer is, for the summary and for erasing one resource only. */
export type ErasableItem =
  | { readonly kind: "subscription"; readonly key: StoredItemKey }
  | {
      readonly kind: "delivery";
      readonly key: StoredItemKey;
      readonly deliveryId: string;
      readonly eventId: string;
    }
  | {
      readonly kind: "payload";
      readonly key: StoredItemKey;
      readonly eventId: string;
      readonly body: string | null;
    }
  | { readonly kind: "shadow"; readonly key: StoredItemKey; readonly eventId: string }
  | { readonly kind: "activeflow_destination"; readonly key: StoredItemKey; readonly activeflowId: string }
  | { readonly kind: "credential"; readonly key: StoredItemKey }
  | { readonly kind: "managed_control"; readonly key: StoredItemKey; readonly version: string | null }
  | { readonly kind: "other"; readonly key: StoredItemKey };

export interface ErasureStore {
  /**
   * The customer's items, a page at a time, with how many items the page read and where the next
   * page starts (null after the last); `from` resumes where an earlier pass stopped.
   */
  itemsOfCustomer(
    customerId: string,
    from?: string,
  ): AsyncIterable<{ items: ErasableItem[]; scanned: number; next: string | null }>;
  attemptKeysOf(deliveryId: string): Promise<StoredItemKey[]>;
  deleteAll(keys: readonly StoredItemKey[]): Promise<void>;
  /** Keeps the managed-subscription control item's version only (PRODUCT §11's ordering). */
  keepControlVersionOnly(customerId: string, version: string, now: Date): Promise<void>;
}

/** A message read from a parked queue, hidden from other readers until deleted or released. */
export interface HeldMessage {
  readonly body: string;
}

/** A queue where work waits for an operator, read by receiving (SQS has no peek). */
export interface ParkedMessages<M extends HeldMessage = HeldMessage> {
  readonly name: string;
  read(limit: number): AsyncIterable<M>;
  delete(message: M): Promise<void>;
  release(messages: readonly M[]): Promise<void>;
}

/** A deleted customer's erasure, waiting for its grace period or under way (PRODUCT §11 `customer_deleted`). */
export interface PendingErasure {
  readonly customerId: string;
  /** When the grace period ends. */
  readonly dueAt: string;
  /** Where the table's Scan stopped, when a pass ran out of time. */
  readonly cursor: string | null;
}

export interface ErasureRequests {
  /** Records that the customer's data goes at `dueAt`; an earlier request for it stands. */
  request(customerId: string, dueAt: Date, now: Date): Promise<void>;
  /** Withdraws a pending request (the customer came back with a newer version); none is fine. */
  cancel(customerId: string): Promise<void>;
  /** The requests whose grace period is over, oldest first. */
  due(now: Date): Promise<PendingErasure[]>;
  /** Saves where the pass stopped; false when the request was withdrawn meanwhile (`cancel`). */
  saveCursor(customerId: string, cursor: string): Promise<boolean>;
  finish(customerId: string): Promise<void>;
}
