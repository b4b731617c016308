/**
 * A node's bounded history of applied KV events, in revision order, from
 * which every watcher reads with its own cursor (etcd's watchable store keeps
 * "unsynced" watchers reading from the backend until they catch up; here the
 * history is the backend, so a slow watcher costs a cursor, not a queue).
 *
 * Bounded by count and by bytes: the oldest events go first. A cursor below
 * the oldest revision still held is compacted (the API answers 410 with
 * `oldest_revision`). After a snapshot is installed the history restarts at
 * the snapshot's revision: the events the snapshot covers were never seen here.
 */
import { matches, type KvEvent, type WatchFilter } from './types.js';

/** Per-event bookkeeping added to its key and value when counting bytes. */
const EVENT_OVERHEAD_BYTES = 64;

export function eventBytes(ev: KvEvent): number {
  const v = ev.value;
  const valueBytes = typeof v === 'string' ? v.length : v === null ? 0 : JSON.stringify(v).length;
  return ev.key.length + valueBytes + EVENT_OVERHEAD_BYTES;
}

export interface HistoryLimits {
  readonly maxEvents: number;
  readonly maxBytes: number;
}

export type ReadResult =
  | { readonly ok: true; readonly events: KvEvent[]; readonly next: number }
  | { readonly ok: false; readonly oldest: number };

export class WatchHistory {
  /** Ring buffer: events[head .. head+count) modulo capacity. */
  private ring: (KvEvent | undefined)[];
  /** eventBytes of each slot, so eviction does not re-serialize the value. */
  private sizes: number[];
  private head = 0;
  private count = 0;
  private bytes = 0;
  /** Every event with revision >= start that this node applied is held (or was evicted, moving start). */
  private start = 1;
  /** Revision of the last event held (or of the snapshot the history restarted from). */
  private last = 0;
  private readonly limits: HistoryLimits;

  constructor(limits: HistoryLimits) {
    this.limits = { maxEvents: Math.max(1, limits.maxEvents), maxBytes: Math.max(1, limits.maxBytes) };
    this.ring = new Array<KvEvent | undefined>(Math.min(this.limits.maxEvents, 1024));
    this.sizes = new Array<number>(this.ring.length).fill(0);
  }

  /** Oldest revision a watcher can still start from. */
  get oldestRevision(): number {
    return this.start;
  }

  /** Revision of the latest event recorded (the store revision as of the last apply). */
  get lastRevision(): number {
    return this.last;
  }

  get size(): number {
    return this.count;
  }

  get byteSize(): number {
    return this.bytes;
  }

  /** Forget everything: the state now stands at `revision` (snapshot installed, state replaced). */
  reset(revision: number): void {
    this.ring = new Array<KvEvent | undefined>(Math.min(this.limits.maxEvents, 1024));
    this.sizes = new Array<number>(this.ring.length).fill(0);
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
    this.last = revision;
    this.start = revision + 1;
  }

  push(ev: KvEvent): void {
    if (ev.revision !== this.last + 1) {
      // Not contiguous (cannot happen when fed from apply in order): restart rather than hold a gap.
      this.reset(ev.revision - 1);
    }
    if (this.count === this.ring.length) this.grow();
    const slot = (this.head + this.count) % this.ring.length;
    const size = eventBytes(ev);
    this.ring[slot] = ev;
    this.sizes[slot] = size;
    this.count++;
    this.bytes += size;
    this.last = ev.revision;
    while (this.count > this.limits.maxEvents || (this.bytes > this.limits.maxBytes && this.count > 1))
      this.evict();
  }

  private grow(): void {
    const cap = Math.min(this.limits.maxEvents + 1, this.ring.length * 2);
    if (cap <= this.ring.length) return;
    const next = new Array<KvEvent | undefined>(cap);
    const sizes = new Array<number>(cap).fill(0);
    for (let i = 0; i < this.count; i++) {
      const j = (this.head + i) % this.ring.length;
      next[i] = this.ring[j];
      sizes[i] = this.sizes[j]!;
    }
    this.ring = next;
    this.sizes = sizes;
    this.head = 0;
  }

  private evict(): void {
    const ev = this.ring[this.head];
    const size = this.sizes[this.head]!;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    if (ev) {
      this.bytes -= size;
      this.start = ev.revision + 1;
    }
  }

  /**
   * Events with revision >= from matching `filter`, at most `limit`; `next` is
   * where the following read starts (past everything scanned, matching or not).
   */
  read(from: number, filter: WatchFilter, limit = 1000): ReadResult {
    if (from < this.start) return { ok: false, oldest: this.start };
    const events: KvEvent[] = [];
    if (from > this.last) return { ok: true, events, next: from };
    const firstRev = this.last - this.count + 1;
    let next = from;
    for (let i = from - firstRev; i < this.count; i++) {
      const ev = this.ring[(this.head + i) % this.ring.length]!;
      next = ev.revision + 1;
      if (matches(filter, ev.key)) {
        events.push(ev);
        if (events.length >= limit) break;
      }
    }
    return { ok: true, events, next };
  }
}
