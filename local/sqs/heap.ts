/**
 * A binary min-heap ordered by two numbers (a time, then a sequence number as the tie-break): the
 * local SQS's due-time and ready-order indexes. Entries are never removed from the middle; their
 * owners mark them stale and skip them when they surface (lazy deletion), which keeps every change
 * O(log n).
 */
export interface HeapEntry {
  readonly at: number;
  readonly seq: number;
}

const before = (a: HeapEntry, b: HeapEntry) => a.at < b.at || (a.at === b.at && a.seq < b.seq);

export class MinHeap<T extends HeapEntry> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(entry: T): void {
    const items = this.items;
    let i = items.length;
    items.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = items[parent] as T;
      if (!before(entry, above)) break;
      items[i] = above;
      i = parent;
    }
    items[i] = entry;
  }

  /** Keeps only the entries `keep` accepts (dropping stale ones in bulk), in O(n). */
  retain(keep: (entry: T) => boolean): void {
    const kept = this.items.filter(keep);
    this.items.length = 0;
    for (const entry of kept) this.push(entry);
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(items[right] as T, items[left] as T) ? right : left;
      const smaller = items[child] as T;
      if (!before(smaller, last)) break;
      items[i] = smaller;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
