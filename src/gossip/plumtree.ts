/**
 * Plumtree (Leitão, Pereira, Rodrigues 2007): epidemic broadcast trees.
 *
 * Full events travel only along "eager" links; every other neighbour gets a
 * cheap IHAVE later. A duplicate arrival means two paths exist, so the later
 * one is PRUNEd to lazy; the eager links shrink towards a spanning tree and
 * the cost per event towards N-1 messages. When a link or node fails, a lazy
 * neighbour's IHAVE arrives without the event, and after `graftTimeoutMs` a
 * GRAFT both fetches it and turns that link eager, repairing the tree.
 *
 * Both eager pushes and IHAVEs are batched per peer (`eventBatchMs`,
 * `lazyIntervalMs`): at high event rates a packet carries many events, which
 * is what keeps messages per event below one per tree edge.
 */
import { LruSet } from './lru.js';
import type { EventMark, GossipMessage, MemberId, UserEvent } from './messages.js';
import { MESSAGE_BUDGET_BYTES } from './messages.js';
import { estimateSize } from './size.js';

export interface PlumtreeHost {
  readonly selfId: MemberId;
  send(to: MemberId, msg: GossipMessage): void;
  /** Up to `n` random live members outside `exclude`. */
  randomLive(n: number, exclude: ReadonlySet<MemberId>): MemberId[];
  isLive(id: MemberId): boolean;
  deliver(event: UserEvent, now: number): void;
}

export interface PlumtreeOptions {
  eagerPeers: number;
  lazyPeers: number;
  eventBatchMs: number;
  lazyIntervalMs: number;
  graftTimeoutMs: number;
  messageCacheSize: number;
  eventStoreSize: number;
}

interface Mark {
  hi: number;
  above: Set<number>;
}

interface Missing {
  readonly mark: EventMark;
  readonly announcers: MemberId[];
  deadline: number;
  attempts: number;
}

interface Stored {
  readonly event: UserEvent;
  readonly hops: number;
}

const MAX_GRAFT_ATTEMPTS = 4;
/** Gaps this far behind the newest seq of an origin are given up (anti-entropy no longer has them anyway). */
const MAX_ABOVE = 4096;

export function eventKey(origin: MemberId, seq: number): string {
  return `${origin}\u0000${seq}`;
}

export class Plumtree {
  readonly eager = new Set<MemberId>();
  readonly lazy = new Set<MemberId>();
  private readonly seen: LruSet;
  private readonly marks = new Map<MemberId, Mark>();
  private readonly store = new Map<string, Stored>();
  private readonly pendingEager = new Map<MemberId, Stored[]>();
  private readonly pendingLazy = new Map<MemberId, EventMark[]>();
  private readonly missing = new Map<string, Missing>();
  private eagerFlushAt: number | null = null;
  private lazyFlushAt: number | null = null;
  duplicates = 0;

  constructor(
    private readonly host: PlumtreeHost,
    private opts: PlumtreeOptions,
  ) {
    this.seen = new LruSet(opts.messageCacheSize);
  }

  setEagerPeers(n: number): void {
    this.opts = { ...this.opts, eagerPeers: n };
  }

  hasSeen(origin: MemberId, seq: number): boolean {
    const m = this.marks.get(origin);
    if (m !== undefined && (seq <= m.hi || m.above.has(seq))) return true;
    return this.seen.has(eventKey(origin, seq));
  }

  /** Record an event as seen and stored; false if it was a duplicate. */
  accept(event: UserEvent, hops: number): boolean {
    if (this.hasSeen(event.origin, event.seq)) return false;
    const key = eventKey(event.origin, event.seq);
    this.seen.add(key);
    let m = this.marks.get(event.origin);
    if (m === undefined) {
      m = { hi: 0, above: new Set() };
      this.marks.set(event.origin, m);
    }
    if (event.seq > m.hi) m.above.add(event.seq);
    while (m.above.delete(m.hi + 1)) m.hi++;
    if (m.above.size > MAX_ABOVE) {
      const min = Math.min(...m.above);
      m.hi = min;
      m.above.delete(min);
      while (m.above.delete(m.hi + 1)) m.hi++;
    }
    this.store.set(key, { event, hops });
    while (this.store.size > this.opts.eventStoreSize) {
      const oldest = this.store.keys().next();
      if (oldest.done === true) break;
      this.store.delete(oldest.value);
    }
    this.missing.delete(key);
    return true;
  }

  /** Highest contiguous seq seen from `origin` (0 if none). */
  highWater(origin: MemberId): number {
    return this.marks.get(origin)?.hi ?? 0;
  }

  marksList(): EventMark[] {
    const out: EventMark[] = [];
    for (const [origin, m] of this.marks) out.push({ origin, seq: m.hi });
    return out;
  }

  /** Stored events the holder of `marks` lacks (origins absent from `marks` count as 0), oldest first. */
  eventsAfter(marks: readonly EventMark[], max: number): UserEvent[] {
    const hw = new Map<MemberId, number>();
    for (const m of marks) hw.set(m.origin, m.seq);
    const out: UserEvent[] = [];
    for (const { event } of this.store.values()) {
      if (event.seq > (hw.get(event.origin) ?? 0)) {
        out.push(event);
        if (out.length >= max) break;
      }
    }
    return out;
  }

  peerUp(id: MemberId): void {
    if (id === this.host.selfId || this.eager.has(id) || this.lazy.has(id)) return;
    if (this.eager.size < this.opts.eagerPeers) this.eager.add(id);
    else if (this.lazy.size < this.opts.lazyPeers) this.lazy.add(id);
  }

  peerDown(id: MemberId): void {
    this.eager.delete(id);
    this.lazy.delete(id);
    this.pendingEager.delete(id);
    this.pendingLazy.delete(id);
    this.replenish();
  }

  /** Keep eager + lazy at their targets from the live membership; new links start eager and prune themselves. */
  replenish(): void {
    for (const id of [...this.eager]) if (!this.host.isLive(id)) this.eager.delete(id);
    for (const id of [...this.lazy]) if (!this.host.isLive(id)) this.lazy.delete(id);
    const want = this.opts.eagerPeers + this.opts.lazyPeers - this.eager.size - this.lazy.size;
    if (want <= 0) return;
    const exclude = new Set<MemberId>([...this.eager, ...this.lazy, this.host.selfId]);
    for (const id of this.host.randomLive(want, exclude)) {
      if (this.eager.size < this.opts.eagerPeers) this.eager.add(id);
      else this.lazy.add(id);
    }
  }

  /** A new event from this node or from `from`: deliver, then queue eager and lazy pushes. */
  spread(stored: Stored, from: MemberId | null, now: number): void {
    this.host.deliver(stored.event, now);
    const fwd: Stored = { event: stored.event, hops: stored.hops + (from === null ? 0 : 1) };
    for (const p of this.eager) {
      if (p === from) continue;
      let q = this.pendingEager.get(p);
      if (q === undefined) this.pendingEager.set(p, (q = []));
      q.push(fwd);
    }
    const mark: EventMark = { origin: stored.event.origin, seq: stored.event.seq };
    for (const p of this.lazy) {
      if (p === from) continue;
      let q = this.pendingLazy.get(p);
      if (q === undefined) this.pendingLazy.set(p, (q = []));
      q.push(mark);
    }
    if (this.eagerFlushAt === null && this.pendingEager.size > 0)
      this.eagerFlushAt = now + this.opts.eventBatchMs;
    if (this.lazyFlushAt === null && this.pendingLazy.size > 0)
      this.lazyFlushAt = now + this.opts.lazyIntervalMs;
  }

  broadcast(event: UserEvent, now: number): void {
    if (this.accept(event, 0)) this.spread({ event, hops: 0 }, null, now);
  }

  onPush(from: MemberId, events: readonly UserEvent[], hops: readonly number[], now: number): void {
    let fresh = 0;
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      const h = hops[i] ?? 0;
      if (this.accept(ev, h)) {
        fresh++;
        this.spread({ event: ev, hops: h }, from, now);
      } else this.duplicates++;
    }
    if (fresh === 0 && events.length > 0) {
      // Every event came first by another path: this link is redundant.
      if (this.eager.delete(from)) this.lazy.add(from);
      this.host.send(from, { type: 'prune', from: this.host.selfId });
    } else if (fresh > 0 && !this.eager.has(from)) {
      this.lazy.delete(from);
      this.eager.add(from);
    }
  }

  /** Events learned outside the tree (anti-entropy, piggyback): deliver and pass on along the tree. */
  onRepair(events: readonly UserEvent[], now: number): void {
    for (const ev of events) if (this.accept(ev, 0)) this.spread({ event: ev, hops: 0 }, null, now);
  }

  onPrune(from: MemberId): void {
    if (this.eager.delete(from)) this.lazy.add(from);
  }

  onIHave(from: MemberId, ids: readonly EventMark[], now: number): void {
    for (const mark of ids) {
      if (this.hasSeen(mark.origin, mark.seq)) continue;
      const key = eventKey(mark.origin, mark.seq);
      const m = this.missing.get(key);
      if (m === undefined) {
        this.missing.set(key, {
          mark,
          announcers: [from],
          deadline: now + this.opts.graftTimeoutMs,
          attempts: 0,
        });
      } else if (!m.announcers.includes(from)) m.announcers.push(from);
    }
  }

  onGraft(from: MemberId, ids: readonly EventMark[]): void {
    this.lazy.delete(from);
    this.eager.add(from);
    const events: Stored[] = [];
    for (const mark of ids) {
      const s = this.store.get(eventKey(mark.origin, mark.seq));
      if (s !== undefined) events.push(s);
    }
    this.sendEvents(from, events);
  }

  nextDeadline(): number {
    let t = Infinity;
    if (this.eagerFlushAt !== null) t = Math.min(t, this.eagerFlushAt);
    if (this.lazyFlushAt !== null) t = Math.min(t, this.lazyFlushAt);
    for (const m of this.missing.values()) t = Math.min(t, m.deadline);
    return t;
  }

  tick(now: number): void {
    if (this.eagerFlushAt !== null && now >= this.eagerFlushAt) {
      this.eagerFlushAt = null;
      for (const [peer, q] of this.pendingEager) this.sendEvents(peer, q);
      this.pendingEager.clear();
    }
    if (this.lazyFlushAt !== null && now >= this.lazyFlushAt) {
      this.lazyFlushAt = null;
      for (const [peer, q] of this.pendingLazy) {
        for (const chunk of chunkBySize(q, 8))
          this.host.send(peer, { type: 'ihave', from: this.host.selfId, ids: chunk });
      }
      this.pendingLazy.clear();
      this.replenish();
    }
    if (this.missing.size > 0) this.graftDue(now);
  }

  private graftDue(now: number): void {
    const grafts = new Map<MemberId, EventMark[]>();
    for (const [key, m] of this.missing) {
      if (now < m.deadline) continue;
      if (m.attempts >= MAX_GRAFT_ATTEMPTS || m.announcers.length === 0) {
        this.missing.delete(key);
        continue;
      }
      const peer = m.announcers.shift()!;
      m.announcers.push(peer);
      m.attempts++;
      m.deadline = now + this.opts.graftTimeoutMs;
      if (!this.host.isLive(peer)) continue;
      let g = grafts.get(peer);
      if (g === undefined) grafts.set(peer, (g = []));
      g.push(m.mark);
    }
    for (const [peer, marks] of grafts) {
      this.lazy.delete(peer);
      this.eager.add(peer);
      for (const chunk of chunkBySize(marks, 8))
        this.host.send(peer, { type: 'graft', from: this.host.selfId, ids: chunk });
    }
  }

  private sendEvents(peer: MemberId, q: readonly Stored[]): void {
    let events: UserEvent[] = [];
    let hops: number[] = [];
    let size = 16 + estimateSize(this.host.selfId);
    for (const s of q) {
      const sz = estimateSize(s.event) + 5;
      if (events.length > 0 && size + sz > MESSAGE_BUDGET_BYTES) {
        this.host.send(peer, { type: 'ev-push', from: this.host.selfId, events, hops });
        events = [];
        hops = [];
        size = 16 + estimateSize(this.host.selfId);
      }
      events.push(s.event);
      hops.push(s.hops);
      size += sz;
    }
    if (events.length > 0) this.host.send(peer, { type: 'ev-push', from: this.host.selfId, events, hops });
  }
}

/** Split items into chunks whose estimated size plus `overhead` fits one message. */
export function chunkBySize<T>(items: readonly T[], overhead: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let size = 100 + overhead;
  for (const it of items) {
    const sz = estimateSize(it);
    if (cur.length > 0 && size + sz > MESSAGE_BUDGET_BYTES) {
      out.push(cur);
      cur = [];
      size = 100 + overhead;
    }
    cur.push(it);
    size += sz;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
