/**
 * Erasure (PRODUCT §12, issue 24): every stored payload, attempt and record of a customer, or of one
 * resource of a customer (an event whose `data.id` or `data.activeflow_id` is the id), from the table
 * and from the queues where work is parked for an operator. Used by `npm run ops -- erase` and by the
 * pass that erases a deleted customer once its grace period is over (docs/security.md).
 *
 * Not touched: jobs on the live delivery queue. Each finishes or closes within the retry schedule,
 * and one that meets a deleted subscription closes without a payload; a customer erasure run after
 * the schedule (the grace period is longer than it) finds nothing left there.
 */
import {
  dataNamesResource,
  dataOfBody,
  type ErasureCounts,
  emptyErasureCounts,
} from "../domain/erasure/erasure.ts";
import type {
  ErasableItem,
  ErasureRequests,
  ErasureStore,
  HeldMessage,
  ParkedMessages,
  StoredItemKey,
} from "../domain/ports/erasure.ts";

/** Whose a parked message is and the event `data` it carries (null: not readable, kept). */
export type MessageOwner = (body: string) => { customerId: unknown; data: unknown } | null;

export interface ErasureQueue {
  readonly queue: ParkedMessages;
  readonly ownerOf: MessageOwner;
}

export interface ErasureRequest {
  readonly customerId: string;
  /** Only this resource's events (see the module comment); absent: everything of the customer. */
  readonly resourceId?: string | undefined;
  /** Count what would go; change nothing (parked messages are read and released). */
  readonly dryRun: boolean;
}

export interface ErasureProgress {
  readonly phase: "scan" | "attempts" | "delete" | "queues";
  readonly done: number;
  readonly detail: string;
}

export interface ErasureSummary {
  readonly customerId: string;
  readonly resourceId: string | null;
  readonly dryRun: boolean;
  /** What was erased (in a dry run: what would be). */
  readonly counts: ErasureCounts;
  /** Items the Scan read (the whole table, for the cost). */
  readonly scannedItems: number;
  /** Parked messages read, erased or not. */
  readonly messagesRead: number;
  /** Queues that could not be read, with why: their messages of the customer may remain. */
  readonly queueFailures: readonly { queue: string; error: string }[];
}

/** How many parked messages one queue is read for at most in one erasure. */
export const ERASURE_QUEUE_READ_LIMIT = 100_000;

export interface ErasureDependencies {
  readonly store: ErasureStore;
  readonly queues: readonly ErasureQueue[];
  readonly now?: () => Date;
  readonly onProgress?: (progress: ErasureProgress) => void;
}

const COUNT_OF: Record<Exclude<ErasableItem["kind"], "managed_control">, keyof ErasureCounts> = {
  subscription: "subscriptions",
  delivery: "deliveries",
  payload: "payloads",
  shadow: "shadow",
  activeflow_destination: "activeflowDestinations",
  credential: "credentials",
  other: "other",
};

export async function eraseCustomerData(
  deps: ErasureDependencies,
  request: ErasureRequest,
): Promise<ErasureSummary> {
  const { customerId, resourceId, dryRun } = request;
  const progress = deps.onProgress ?? (() => undefined);
  const counts = emptyErasureCounts();

  // 1. The table: one Scan, keeping what is the customer's (and, by resource, what may be).
  const chosen: ErasableItem[] = [];
  const deliveries: Extract<ErasableItem, { kind: "delivery" }>[] = [];
  const shadows: Extract<ErasableItem, { kind: "shadow" }>[] = [];
  const resourceEvents = new Set<string>();
  let control: Extract<ErasableItem, { kind: "managed_control" }> | null = null;
  let scannedItems = 0;
  for await (const page of deps.store.itemsOfCustomer(customerId)) {
    scannedItems += page.scanned;
    for (const item of page.items) {
      if (item.kind === "delivery") deliveries.push(item);
      else if (item.kind === "shadow") shadows.push(item);
      else if (item.kind === "managed_control") control = item;
      else if (resourceId === undefined) chosen.push(item);
      else if (item.kind === "payload") {
        if (item.body !== null && dataNamesResource(dataOfBody(item.body), resourceId)) {
          resourceEvents.add(item.eventId);
          chosen.push(item);
        }
      } else if (item.kind === "activeflow_destination" && item.activeflowId === resourceId) {
        chosen.push(item);
      }
    }
    progress({ phase: "scan", done: scannedItems, detail: "items read" });
  }
  // A delivery (and a shadow record) is the resource's when its event is: known once the Scan is over.
  const ofResource = (eventId: string) => resourceId === undefined || resourceEvents.has(eventId);
  chosen.push(...deliveries.filter((item) => ofResource(item.eventId)));
  chosen.push(...shadows.filter((item) => ofResource(item.eventId)));

  // 2. The attempts of the chosen deliveries, under each delivery's own partition.
  const keysToDelete: StoredItemKey[] = chosen.map((item) => item.key);
  let examined = 0;
  for (const item of chosen) {
    if (item.kind !== "delivery") continue;
    const attempts = await deps.store.attemptKeysOf(item.deliveryId);
    counts.attempts += attempts.length;
    keysToDelete.push(...attempts);
    progress({ phase: "attempts", done: ++examined, detail: "deliveries' attempts listed" });
  }
  for (const item of chosen) {
    if (item.kind !== "managed_control") counts[COUNT_OF[item.kind]]++;
  }

  // 3. Delete: the records first and their attempts with them, in batches.
  if (!dryRun) {
    const batch = 500;
    for (let i = 0; i < keysToDelete.length; i += batch) {
      await deps.store.deleteAll(keysToDelete.slice(i, i + batch));
      progress({ phase: "delete", done: Math.min(i + batch, keysToDelete.length), detail: "items deleted" });
    }
    if (resourceId === undefined && control?.version) {
      await deps.store.keepControlVersionOnly(customerId, control.version, deps.now?.() ?? new Date());
    }
  }
  if (resourceId === undefined && control !== null) counts.other++;

  // 4. Parked queues: every message read once, the customer's (or the resource's) deleted.
  let messagesRead = 0;
  const queueFailures: { queue: string; error: string }[] = [];
  for (const { queue, ownerOf } of deps.queues) {
    const keep: HeldMessage[] = [];
    try {
      for await (const message of queue.read(ERASURE_QUEUE_READ_LIMIT)) {
        messagesRead++;
        const owner = ownerOf(message.body);
        const matches =
          owner !== null &&
          owner.customerId === customerId &&
          (resourceId === undefined || dataNamesResource(owner.data, resourceId));
        if (matches) {
          counts.queueMessages++;
          if (dryRun) keep.push(message);
          else await queue.delete(message);
        } else {
          keep.push(message);
        }
        progress({ phase: "queues", done: messagesRead, detail: `messages read (${queue.name})` });
      }
    } catch (error) {
      queueFailures.push({
        queue: queue.name,
        error: error instanceof Error ? error.message : String(error),
      });
    } finally {
      await queue.release(keep).catch(() => undefined);
    }
  }

  return {
    customerId,
    resourceId: resourceId ?? null,
    dryRun,
    counts,
    scannedItems,
    messagesRead,
    queueFailures,
  };
}

export interface PendingErasureDependencies {
  readonly store: ErasureStore;
  readonly requests: ErasureRequests;
  readonly now: Date;
  /** Epoch ms by which the pass stops (after the page in hand): the rest continues next pass. */
  readonly deadlineMs: number;
}

export interface PendingErasureResult {
  /** Customers whose table data is now gone (their requests are closed). */
  readonly erased: string[];
  /** Customers under way: the next pass resumes their Scan where this one stopped. */
  readonly resumable: string[];
  /** Items deleted by this pass, attempts included. */
  readonly itemsDeleted: number;
}

/**
 * The erasure of deleted customers whose grace period is over (CUSTOMER_ERASURE_GRACE_DAYS after
 * `customer_deleted`, docs/security.md), run by the delivery function's scheduled pass: every table
 * item of the customer, a Scan page at a time, deleted as it is found, the Scan's position saved after
 * each page so a pass that runs out of time is resumed by the next. Parked queue messages are not
 * read here: with the default grace (14 days, SQS's longest retention) every one of them has expired.
 */
export async function erasePendingCustomers(deps: PendingErasureDependencies): Promise<PendingErasureResult> {
  const erased: string[] = [];
  const resumable: string[] = [];
  let itemsDeleted = 0;
  for (const pending of await deps.requests.due(deps.now)) {
    if (Date.now() >= deps.deadlineMs) {
      resumable.push(pending.customerId);
      continue;
    }
    let finished = false;
    let withdrawn = false;
    for await (const page of deps.store.itemsOfCustomer(pending.customerId, pending.cursor ?? undefined)) {
      itemsDeleted += await eraseWholeItems(deps.store, pending.customerId, page.items, deps.now);
      if (page.next === null) {
        finished = true;
        break;
      }
      // Withdrawn: the customer was created again meanwhile; what is left of it now is its own.
      if (!(await deps.requests.saveCursor(pending.customerId, page.next))) {
        withdrawn = true;
        break;
      }
      if (Date.now() >= deps.deadlineMs) break;
    }
    if (finished) {
      await deps.requests.finish(pending.customerId);
      erased.push(pending.customerId);
    } else if (!withdrawn) {
      resumable.push(pending.customerId);
    }
  }
  return { erased, resumable, itemsDeleted };
}

/** Deletes items of a customer being erased whole, with their attempts; the control item keeps its version. */
async function eraseWholeItems(
  store: ErasureStore,
  customerId: string,
  items: readonly ErasableItem[],
  now: Date,
): Promise<number> {
  const keys: StoredItemKey[] = [];
  for (const item of items) {
    if (item.kind === "managed_control") {
      if (item.version !== null) await store.keepControlVersionOnly(customerId, item.version, now);
      continue;
    }
    keys.push(item.key);
    if (item.kind === "delivery") keys.push(...(await store.attemptKeysOf(item.deliveryId)));
  }
  await store.deleteAll(keys);
  return keys.length;
}
