/**
 * Event broadcast: Plumtree's eager/lazy split (Leitão, Pereira, Rodrigues
 * 2007) laid over a two-level overlay instead of a tree grown by pruning.
 *
 * Why not plain pruning: with many concurrent sources and batched pushes, one
 * shared tree grown by PRUNE on duplicates oscillates (a batch of duplicates
 * prunes an edge another source still needs), and a first-arrival tree over a
 * random graph is 4-6 hops deep, too slow at 100 ms per hop. So the eager
 * links are chosen, not discovered: the ceil(sqrt(N)) live members with the
 * highest hash of their id are hubs; every other member attaches to one hub
 * by rendezvous hashing. An event goes origin -> its hub -> all hubs -> their
 * leaves: at most 3 hops, N-1 deliveries, and every member computes the same
 * overlay from the same membership, so it needs no messages to build and
 * re-forms by itself when a hub dies. Hub-to-hub and first hops are sent at
 * once; the hub-to-leaf fan-out, where most deliveries happen, is batched per
 * `eventBatchMs` so one packet carries many events.
 *
 * Lazy half: every `lazyIntervalMs` a member sends IHAVE (event ids) to its
 * overlay neighbours and one random member; an id still missing after
 * `graftTimeoutMs` is fetched with GRAFT, and a member that obtains an event
 * by repair re-spreads it as if it were the origin, so a lost packet or a dead
 * hub costs one repair round, not the event. Push-pull anti-entropy (in the
 * node) covers what survives neither, e.g. after a partition heals.
 */
import { fnv1a } from '../common/hash.js';
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
  /** Every live member but self. */
  liveIds(): MemberId[];
  /**
   * May this member forward events (be a hub, answer IHAVE with a GRAFT-able
   * store)? False for `minimal` observers: they only receive (docs/protocol.md
   * section 7), so a hub there would be a hole its leaves fall through.
   */
  canRelay(id: MemberId): boolean;
  deliver(event: UserEvent, now: number): void;
}

export interface PlumtreeOptions {
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

interface Overlay {
  readonly hubs: ReadonlySet<MemberId>;
  readonly isHub: boolean;
  /** Leaf: its hub. Hub: undefined. */
  readonly hub: MemberId | undefined;
  /** Hub: its leaves. */
  readonly leaves: ReadonlySet<MemberId>;
}

const MAX_GRAFT_ATTEMPTS = 4;
/** Gaps this far behind the newest seq of an origin are given up (anti-entropy no longer has them anyway). */
const MAX_ABOVE = 4096;
/** A member that pushed to us as its hub stays our leaf this long even if our views disagree. */
const ADOPT_MS = 30_000;

export function eventKey(origin: MemberId, seq: number): string {
  return `${origin}\u0000${seq}`;
}

export class Plumtree {
  private readonly seen: LruSet;
  private readonly marks = new Map<MemberId, Mark>();
  private readonly store = new Map<string, Stored>();
  private readonly pending = new Map<MemberId, Stored[]>();
  /** Ids to announce, with the member each came from (null: own or repaired). */
  private readonly lazyQueue: { readonly mark: EventMark; readonly from: MemberId | null }[] = [];
  private readonly missing = new Map<string, Missing>();
  private readonly adopted = new Map<MemberId, number>();
  private overlay: Overlay | null = null;
  private flushAt: number | null = null;
  private lazyFlushAt: number | null = null;
  duplicates = 0;

  constructor(
    private readonly host: PlumtreeHost,
    private readonly opts: PlumtreeOptions,
  ) {
    this.seen = new LruSet(opts.messageCacheSize);
  }

  /** Members this one pushes events to directly (for stats). */
  get eagerCount(): number {
    const o = this.overlay;
    if (o === null) return 0;
    return o.isHub ? o.hubs.size - 1 + o.leaves.size : o.hub === undefined ? 0 : 1;
  }

  get lazyCount(): number {
    return this.opts.lazyPeers;
  }

  get isHub(): boolean {
    return this.getOverlay().isHub;
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

  /**
   * Everything of `origin` up to `seq` counts as seen, without being stored
   * or delivered: a restarted node's marks of its previous life, so the join's
   * anti-entropy brings only what it missed while down, not what it delivered.
   */
  prime(origin: MemberId, seq: number): void {
    let m = this.marks.get(origin);
    if (m === undefined) {
      m = { hi: 0, above: new Set() };
      this.marks.set(origin, m);
    }
    if (seq <= m.hi) return;
    m.hi = seq;
    for (const s of m.above) if (s <= seq) m.above.delete(s);
    while (m.above.delete(m.hi + 1)) m.hi++;
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

  /** Membership changed: the overlay is recomputed on next use. */
  peerUp(_id: MemberId): void {
    this.overlay = null;
  }

  peerDown(id: MemberId): void {
    this.overlay = null;
    this.pending.delete(id);
    this.adopted.delete(id);
  }

  broadcast(event: UserEvent, now: number): void {
    if (this.accept(event, 0)) this.spread({ event, hops: 0 }, null, now);
  }

  onPush(from: MemberId, events: readonly UserEvent[], hops: readonly number[], now: number): void {
    const o = this.getOverlay();
    if (o.isHub && !o.hubs.has(from) && !o.leaves.has(from)) this.adopted.set(from, now);
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      const h = (hops[i] ?? 0) + 1;
      if (this.accept(ev, h)) this.spread({ event: ev, hops: h }, from, now);
      else this.duplicates++;
    }
  }

  /** Events learned outside the overlay (anti-entropy, GRAFT, piggyback): deliver and re-spread as origin. */
  onRepair(events: readonly UserEvent[], now: number): void {
    for (const ev of events) if (this.accept(ev, 0)) this.spread({ event: ev, hops: 0 }, null, now);
  }

  onPrune(from: MemberId): void {
    this.adopted.delete(from);
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
    const events: Stored[] = [];
    for (const mark of ids) {
      const s = this.store.get(eventKey(mark.origin, mark.seq));
      if (s !== undefined) events.push(s);
    }
    this.sendEvents(from, events, 'graft');
  }

  nextDeadline(): number {
    let t = Infinity;
    if (this.flushAt !== null) t = Math.min(t, this.flushAt);
    if (this.lazyFlushAt !== null) t = Math.min(t, this.lazyFlushAt);
    for (const m of this.missing.values()) t = Math.min(t, m.deadline);
    return t;
  }

  tick(now: number): void {
    if (this.flushAt !== null && now >= this.flushAt) {
      this.flushAt = null;
      for (const [peer, q] of this.pending) this.sendEvents(peer, q, 'push');
      this.pending.clear();
    }
    if (this.lazyFlushAt !== null && now >= this.lazyFlushAt) {
      this.lazyFlushAt = null;
      this.announce(now);
    }
    if (this.missing.size > 0) this.graftDue(now);
  }

  /** Deliver a new event and pass it along the overlay. `from` null: own or repaired event. */
  private spread(s: Stored, from: MemberId | null, now: number): void {
    this.host.deliver(s.event, now);
    const o = this.getOverlay();
    const fromHub = from !== null && o.hubs.has(from);
    if (o.isHub) {
      if (!fromHub)
        for (const h of o.hubs) if (h !== this.host.selfId && h !== from) this.sendEvents(h, [s], 'push');
      for (const l of o.leaves) if (l !== from) this.queue(l, s, now);
      for (const [l, at] of this.adopted) {
        if (now - at > ADOPT_MS || !this.host.isLive(l)) this.adopted.delete(l);
        else if (l !== from && !o.leaves.has(l)) this.queue(l, s, now);
      }
    } else if (!fromHub && o.hub !== undefined && o.hub !== from) {
      // Own event, a repair, or a member that takes us for its hub: hand it to our hub.
      this.sendEvents(o.hub, [s], 'push');
    }
    this.lazyQueue.push({ mark: { origin: s.event.origin, seq: s.event.seq }, from });
    if (this.lazyFlushAt === null) this.lazyFlushAt = now + this.opts.lazyIntervalMs;
  }

  private queue(peer: MemberId, s: Stored, now: number): void {
    let q = this.pending.get(peer);
    if (q === undefined) this.pending.set(peer, (q = []));
    q.push(s);
    if (this.flushAt === null) this.flushAt = now + this.opts.eventBatchMs;
  }

  private announce(_now: number): void {
    const queued = this.lazyQueue.splice(0);
    if (queued.length === 0) return;
    const o = this.getOverlay();
    const targets = new Set<MemberId>();
    if (o.isHub) {
      for (const h of o.hubs) if (h !== this.host.selfId) targets.add(h);
      for (const l of o.leaves) targets.add(l);
    } else if (o.hub !== undefined) targets.add(o.hub);
    // Lazy peers are repair paths: an observer cannot serve a GRAFT, and IHAVEs would cost its battery.
    const lazy = this.host.randomLive(this.opts.lazyPeers, new Set([...targets, this.host.selfId]));
    for (const r of lazy) if (this.host.canRelay(r)) targets.add(r);
    const base = estimateSize({ type: 'ihave', from: this.host.selfId, ids: [] });
    const all = queued.map((q) => q.mark);
    for (const t of targets) {
      // Never announce an event to the member we got it from: it has it (a leaf's IHAVE to the
      // hub that fed it was a sixth of an isolated event's packets, and pure waste).
      const ids = queued.some((q) => q.from === t)
        ? queued.filter((q) => q.from !== t).map((q) => q.mark)
        : all;
      if (ids.length === 0) continue;
      for (const chunk of chunkBySize(ids, base))
        this.host.send(t, { type: 'ihave', from: this.host.selfId, ids: chunk });
    }
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
      for (const chunk of chunkBySize(
        marks,
        estimateSize({ type: 'graft', from: this.host.selfId, ids: [] }),
      )) {
        this.host.send(peer, { type: 'graft', from: this.host.selfId, ids: chunk });
      }
    }
  }

  private getOverlay(): Overlay {
    if (this.overlay !== null) return this.overlay;
    const self = this.host.selfId;
    const live = this.host.liveIds();
    live.push(self);
    const n = live.length;
    const h = Math.max(1, Math.ceil(Math.sqrt(n)));
    // Observers never relay; every member excludes them alike, from the same records.
    const relays = live.filter((id) => this.host.canRelay(id));
    const ranked = (relays.length > 0 ? relays : live)
      .map((id) => ({ id, score: fnv1a(id) }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const hubs = new Set(ranked.slice(0, h).map((r) => r.id));
    const hubList = [...hubs];
    const hubOf = (id: MemberId): MemberId => {
      let best = hubList[0]!;
      let bestScore = -1;
      for (const hub of hubList) {
        const sc = fnv1a(`${id}|${hub}`);
        if (sc > bestScore || (sc === bestScore && hub < best)) {
          best = hub;
          bestScore = sc;
        }
      }
      return best;
    };
    const isHub = hubs.has(self);
    const leaves = new Set<MemberId>();
    if (isHub) for (const id of live) if (!hubs.has(id) && hubOf(id) === self) leaves.add(id);
    this.overlay = { hubs, isHub, hub: isHub ? undefined : hubOf(self), leaves };
    return this.overlay;
  }

  private sendEvents(peer: MemberId, q: readonly Stored[], _why: 'push' | 'graft'): void {
    let events: UserEvent[] = [];
    let hops: number[] = [];
    let size = 100 + estimateSize(this.host.selfId);
    for (const s of q) {
      const sz = estimateSize(s.event) + 5;
      if (events.length > 0 && size + sz > MESSAGE_BUDGET_BYTES) {
        this.host.send(peer, { type: 'ev-push', from: this.host.selfId, events, hops });
        events = [];
        hops = [];
        size = 100 + estimateSize(this.host.selfId);
      }
      events.push(s.event);
      hops.push(s.hops);
      size += sz;
    }
    if (events.length > 0) this.host.send(peer, { type: 'ev-push', from: this.host.selfId, events, hops });
  }
}

/** Split items into chunks that fit one message whose size without the items is `base` bytes. */
export function chunkBySize<T>(items: readonly T[], base: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let size = base + 8;
  for (const it of items) {
    const sz = estimateSize(it);
    if (cur.length > 0 && size + sz > MESSAGE_BUDGET_BYTES) {
      out.push(cur);
      cur = [];
      size = base + 8;
    }
    cur.push(it);
    size += sz;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
