/**
 * The node's watch hub: the bounded event history its applier feeds
 * (src/kv/history.ts), and the waiters woken after each applied batch. Every
 * node keeps its own: a follower's watchers read what the follower applied,
 * in the same revision order as everywhere (one log), so a watcher may
 * reconnect to any node and resume from the last revision it saw.
 */
import { WatchHistory, type HistoryLimits, type ReadResult } from '../kv/history.js';
import type { KvEvent, WatchFilter } from '../kv/types.js';
import type { KvApplyListener } from '../raft/kv-applier.js';
import { SwarmError } from '../common/errors.js';

/** A start revision older than the history: the caller must re-read the state (HTTP 410). */
export class CompactedError extends SwarmError {
  readonly oldestRevision: number;
  constructor(from: number, oldest: number) {
    super('compacted', `revision ${from} is compacted; the oldest revision available here is ${oldest}`, {
      exitCode: 1,
    });
    this.oldestRevision = oldest;
  }
}

/** Too many watchers on this node (coordination.max_watchers): HTTP 429. */
export class TooManyWatchersError extends SwarmError {
  constructor(max: number) {
    super('too_many_watchers', `this node already serves ${max} watchers (coordination.max_watchers)`, {
      exitCode: 1,
    });
  }
}

export const DEFAULT_HISTORY_LIMITS: HistoryLimits = { maxEvents: 10_000, maxBytes: 16 * 1024 * 1024 };

/**
 * One reader of the history. `next(ms)` resolves with the following matching
 * events (at least one) or [] after `ms`; throws CompactedError when the
 * history moved past the cursor (a slow reader, or a snapshot installed).
 */
export class WatchCursor {
  private closed = false;
  /** The hub's epoch when this cursor was opened (see WatchHub.restored). */
  private readonly epoch: number;
  constructor(
    private readonly hub: WatchHub,
    readonly filter: WatchFilter,
    /** The next revision this cursor reads. */
    public position: number,
    private readonly release: () => void,
  ) {
    this.epoch = hub.epoch;
  }

  /** Events already in the history, without waiting. */
  poll(limit = 1000): KvEvent[] {
    // The store was replaced by an older one (a split-formation merge): revisions restart, and a
    // position from before means nothing now.
    if (this.epoch !== this.hub.epoch)
      throw new CompactedError(this.position, this.hub.history.oldestRevision);
    const r: ReadResult = this.hub.history.read(this.position, this.filter, limit);
    if (!r.ok) throw new CompactedError(this.position, r.oldest);
    this.position = r.next;
    return r.events;
  }

  async next(timeoutMs: number, limit = 1000, signal?: AbortSignal): Promise<KvEvent[]> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) return [];
      const evs = this.poll(limit);
      if (evs.length > 0) return evs;
      const rest = end - Date.now();
      if (rest <= 0 || signal?.aborted === true) return [];
      await this.hub.waitApplied(rest, signal);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    this.hub.wakeAll();
  }
}

export class WatchHub implements KvApplyListener {
  history: WatchHistory;
  /** Bumped when the state goes back in revisions (a fresh store after a merge). */
  epoch = 0;
  private waiters = new Set<() => void>();
  private open = 0;
  private maxWatchers = 256;

  constructor() {
    this.history = new WatchHistory(DEFAULT_HISTORY_LIMITS);
  }

  /** Applies before the first event (the component's start): the history is empty then. */
  configure(limits: HistoryLimits, maxWatchers: number): void {
    this.maxWatchers = maxWatchers;
    const last = this.history.lastRevision;
    this.history = new WatchHistory(limits);
    this.history.reset(last);
  }

  get watchers(): number {
    return this.open;
  }

  get revision(): number {
    return this.history.lastRevision;
  }

  event(ev: KvEvent): void {
    this.history.push(ev);
  }

  restored(revision: number): void {
    if (revision < this.history.lastRevision) this.epoch++;
    this.history.reset(revision);
    this.wakeAll();
  }

  /** After each applied batch (from the Ready loop). */
  wakeAll(): void {
    if (this.waiters.size === 0) return;
    const all = [...this.waiters];
    this.waiters.clear();
    for (const w of all) w();
  }

  /** Resolves at the next applied batch, after `ms`, or on abort. */
  waitApplied(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * A cursor from revision `from` (inclusive); undefined: from the next
   * revision. Counted against coordination.max_watchers unless `internal`.
   */
  cursor(filter: WatchFilter, from?: number, opts: { internal?: boolean } = {}): WatchCursor {
    const start = from ?? this.history.lastRevision + 1;
    if (start < this.history.oldestRevision && start <= this.history.lastRevision)
      throw new CompactedError(start, this.history.oldestRevision);
    if (opts.internal === true) return new WatchCursor(this, filter, start, () => undefined);
    if (this.open >= this.maxWatchers) throw new TooManyWatchersError(this.maxWatchers);
    this.open++;
    return new WatchCursor(this, filter, start, () => {
      this.open--;
    });
  }
}
