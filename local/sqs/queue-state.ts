import { FairQueue, type FairQueueSettings } from "./fairness.ts";
import { type HeapEntry, MinHeap } from "./heap.ts";

/**
 * The in-memory indexes of one local SQS queue, beside the SQLite rows that make its messages
 * durable (store.ts): where each message is in its life (delayed, ready, in flight), a due-time heap
 * for the delayed and in-flight ones, the ready ones per message group in the order they became
 * visible, a heap of groups by their oldest ready message, and the counts GetQueueAttributes
 * reports. A receive therefore costs O(batch · log n) whatever the queue holds, where a scan of the
 * table cost O(n) (bench/sqs-store.ts).
 */

export type MessageState = "delayed" | "ready" | "inflight" | "gone";

/** What the indexes know of a message; its body and attributes stay in SQLite. */
export interface MessageMeta {
  readonly seq: number;
  readonly id: string;
  readonly group: string | null;
  readonly sentAt: number;
  queue: string;
  state: MessageState;
  /** When it becomes (or became) visible: the end of its delay or of its visibility timeout. */
  visibleAt: number;
  /** The ready order: when it last became visible. */
  readyAt: number;
  receiveCount: number;
  /** The latest receive (the 12-hour visibility ceiling counts from it). */
  receivedAt: number | null;
  firstReceivedAt: number | null;
  /** The latest receipt handle. */
  receipt: string | null;
  /** Its visibility was changed since the latest receive (a consumer scheduled it on purpose). */
  visibilityChanged: boolean;
  /** Bumped on every change of state or visibility: heap entries of an older version are stale. */
  version: number;
}

interface Entry extends HeapEntry {
  readonly meta: MessageMeta;
  readonly version: number;
}

interface GroupEntry extends HeapEntry {
  readonly group: string;
}

/** Stale heap entries tolerated beyond twice the live ones before a compaction. */
const COMPACT_SLACK = 1024;

/** Ungrouped messages share one ready list; each is a tenant of its own and never deprioritised. */
const UNGROUPED = "";

export class QueueState {
  readonly byId = new Map<string, MessageMeta>();
  readonly fair: FairQueue;
  ready = 0;
  delayed = 0;
  inflight = 0;
  private readonly due = new MinHeap<Entry>();
  private readonly retention = new MinHeap<Entry>();
  private readonly readyByGroup = new Map<string, MinHeap<Entry>>();
  private readonly groupHeads = new MinHeap<GroupEntry>();

  readonly name: string;

  constructor(name: string, fairSettings: FairQueueSettings) {
    this.name = name;
    this.fair = new FairQueue(fairSettings);
  }

  /** A message arrives: sent (`sent` true), loaded from disk, or moved in by a redrive. */
  add(meta: MessageMeta, now: number, sent: boolean): void {
    meta.queue = this.name;
    this.byId.set(meta.id, meta);
    this.retention.push({ at: meta.sentAt, seq: meta.seq, meta, version: 0 });
    if (sent) this.fair.sent(meta.group, now);
    if (meta.state === "inflight" && meta.visibleAt > now) {
      this.inflight++;
      this.fair.inFlight(meta.group, 1, meta.receivedAt ?? now);
      this.schedule(meta);
    } else if (meta.visibleAt > now) {
      this.setDelayed(meta);
    } else {
      this.setReady(meta, meta.visibleAt);
    }
  }

  /** Takes a message out of the queue (deleted, expired, or moved to the dead-letter queue). */
  remove(meta: MessageMeta, now: number): void {
    this.leave(meta, now);
    meta.state = "gone";
    meta.version++;
    this.byId.delete(meta.id);
  }

  /** A receive: the message is in flight until `visibleAt`. */
  receive(meta: MessageMeta, now: number, visibleAt: number, receipt: string): void {
    this.leave(meta, now);
    meta.receiveCount++;
    meta.receivedAt = now;
    meta.firstReceivedAt ??= now;
    meta.receipt = receipt;
    meta.visibilityChanged = false;
    meta.state = "inflight";
    meta.visibleAt = visibleAt;
    meta.version++;
    this.inflight++;
    this.fair.inFlight(meta.group, 1, now);
    // A visibility timeout of 0 hands it back at once (after this receive: it is not taken twice).
    if (visibleAt > now) this.schedule(meta);
  }

  /** ChangeMessageVisibility on an in-flight message; 0 makes it visible (and its processing ends) now. */
  changeVisibility(meta: MessageMeta, now: number, visibleAt: number): void {
    meta.visibleAt = visibleAt;
    meta.visibilityChanged = true;
    meta.version++;
    if (visibleAt <= now) {
      this.leave(meta, now);
      this.setReady(meta, now);
    } else {
      this.schedule(meta);
    }
  }

  /** Messages whose delay or visibility timeout ended by `now` become ready; returns those past `retainUntil`. */
  advance(now: number, retainedSince: number): MessageMeta[] {
    for (let top = this.due.peek(); top !== undefined && top.at <= now; top = this.due.peek()) {
      this.due.pop();
      const meta = top.meta;
      if (top.version !== meta.version || meta.queue !== this.name) continue;
      if (meta.state === "delayed" || meta.state === "inflight") {
        this.leave(meta, meta.visibleAt);
        this.setReady(meta, meta.visibleAt);
      }
    }
    this.compact();
    const expired: MessageMeta[] = [];
    for (
      let top = this.retention.peek();
      top !== undefined && top.at <= retainedSince;
      top = this.retention.peek()
    ) {
      this.retention.pop();
      const meta = top.meta;
      if (meta.state !== "gone" && meta.queue === this.name) expired.push(meta);
    }
    return expired;
  }

  /** Epoch ms at which the next delayed or in-flight message becomes visible, if any. */
  nextVisibleAt(): number | undefined {
    for (let top = this.due.peek(); top !== undefined; top = this.due.peek()) {
      if (top.version === top.meta.version && top.meta.queue === this.name) return top.at;
      this.due.pop();
    }
    return undefined;
  }

  /**
   * Ready messages in the order a receive takes them: the order they became visible, except that
   * noisy groups' messages come only after every quiet one, the noisy group with the fewest
   * in-flight messages first (fairness.ts). Each yielded message must leave the ready state (receive,
   * remove) before the next is asked for.
   */
  *readyInFairOrder(now: number): Generator<MessageMeta, void, undefined> {
    const noisy = this.fair.noisy(now);
    // Noisy groups taken off the group heap; they go back on it whatever happens.
    const setAside = new Set<string>();
    try {
      for (;;) {
        const group = this.popGroupHead();
        if (group === undefined) break;
        if (noisy.has(group)) {
          setAside.add(group);
          continue;
        }
        yield* this.takeHead(group);
      }
      const fewestInFlightFirst = [...setAside].sort((a, b) => (noisy.get(a) ?? 0) - (noisy.get(b) ?? 0));
      for (const group of fewestInFlightFirst) {
        for (let head = this.readyHead(group); head !== undefined; head = this.readyHead(group)) {
          yield head.meta;
        }
      }
    } finally {
      for (const group of setAside) this.pushGroupHead(group);
    }
  }

  /** Every message with its current state (inspection; O(n)). */
  all(): MessageMeta[] {
    return [...this.byId.values()].sort((a, b) => a.seq - b.seq);
  }

  // ------------------------------------------------------------------------------ internals

  /**
   * Drops stale heap entries in bulk once they outnumber the live ones: a deleted message's entries
   * would otherwise stay until its retention (days) or visibility (hours) ends.
   */
  private compact(): void {
    const live = this.byId.size;
    if (this.retention.size > 2 * live + COMPACT_SLACK) {
      this.retention.retain((entry) => entry.meta.state !== "gone" && entry.meta.queue === this.name);
    }
    if (this.due.size > 2 * (this.delayed + this.inflight) + COMPACT_SLACK) {
      this.due.retain((entry) => entry.version === entry.meta.version && entry.meta.queue === this.name);
    }
  }

  /** Takes the group's head, then re-enters the group with its next head. */
  private *takeHead(group: string): Generator<MessageMeta, void, undefined> {
    const head = this.readyHead(group);
    if (head === undefined) return;
    try {
      yield head.meta;
    } finally {
      this.pushGroupHead(group);
    }
  }

  private leave(meta: MessageMeta, now: number): void {
    if (meta.state === "ready") {
      this.ready--;
      this.fair.backlog(meta.group, -1);
    } else if (meta.state === "delayed") {
      this.delayed--;
      this.fair.backlog(meta.group, -1);
    } else if (meta.state === "inflight") {
      this.inflight--;
      this.fair.inFlight(meta.group, -1, now);
    }
  }

  private setDelayed(meta: MessageMeta): void {
    meta.state = "delayed";
    meta.version++;
    this.delayed++;
    this.fair.backlog(meta.group, 1);
    this.schedule(meta);
  }

  private setReady(meta: MessageMeta, at: number): void {
    meta.state = "ready";
    meta.readyAt = at;
    meta.version++;
    this.ready++;
    this.fair.backlog(meta.group, 1);
    const group = meta.group ?? UNGROUPED;
    let heap = this.readyByGroup.get(group);
    if (heap === undefined) {
      heap = new MinHeap<Entry>();
      this.readyByGroup.set(group, heap);
    }
    const entry = { at, seq: meta.seq, meta, version: meta.version };
    heap.push(entry);
    // A new head (or a first message): the group's place among the others moves up.
    if (heap.peek() === entry) this.groupHeads.push({ at, seq: meta.seq, group });
  }

  private schedule(meta: MessageMeta): void {
    this.due.push({ at: meta.visibleAt, seq: meta.seq, meta, version: meta.version });
  }

  /** The group's oldest ready message (stale entries dropped), without taking it. */
  private readyHead(group: string): Entry | undefined {
    const heap = this.readyByGroup.get(group);
    if (heap === undefined) return undefined;
    for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
      if (top.version === top.meta.version && top.meta.state === "ready" && top.meta.queue === this.name) {
        return top;
      }
      heap.pop();
    }
    this.readyByGroup.delete(group);
    return undefined;
  }

  /** The group whose head became visible first, taken off the group heap. */
  private popGroupHead(): string | undefined {
    for (let top = this.groupHeads.pop(); top !== undefined; top = this.groupHeads.pop()) {
      const head = this.readyHead(top.group);
      // Stale when the group's head changed since (taken, or an older one became ready).
      if (head !== undefined && head.at === top.at && head.seq === top.seq) return top.group;
    }
    return undefined;
  }

  private pushGroupHead(group: string): void {
    const head = this.readyHead(group);
    if (head !== undefined) this.groupHeads.push({ at: head.at, seq: head.seq, group });
  }
}
