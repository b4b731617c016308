/**
 * What the gossip core's collaborators (state, probe, push-pull, discovery,
 * dissemination) share: the member table with its live count and graveyard,
 * our own record, the piggyback queue, the outbox and the event list, plus
 * the few helpers every one of them sends and samples with. Each collaborator
 * keeps its own timers and in-flight state privately; anything another needs
 * goes through here or through a method, never through another's fields.
 *
 * One Rng serves all of them, in a fixed call order: the simulator's runs are
 * reproducible from a seed only because that order never changes.
 */
import type { Rng } from '../common/rng.js';
import type { GossipMessage, MemberId, MemberRecord, MemberUpdate, UserEvent } from './messages.js';
import { MESSAGE_BUDGET_BYTES, MemberStatus } from './messages.js';
import { Plumtree } from './plumtree.js';
import { retransmitLimit, TransmitQueue } from './queue.js';
import { estimateSize } from './size.js';
import { Awareness } from './awareness.js';
import type { MemberState, SharedView } from './table.js';
import { MemberTable } from './table.js';
import type { GossipConfig, GossipEvent, GossipTrace, Outgoing, PeerAddress } from './types.js';

/** Device class of members that only receive events, never relay them (ESP32 observers). */
export const OBSERVER_CLASS = 'minimal';

/** Alive and suspect members are still in the swarm: probed, gossiped to, counted. */
export function isLiveStatus(s: MemberStatus): boolean {
  return s === MemberStatus.Alive || s === MemberStatus.Suspect;
}

/** Counters reported by `GossipNode.stats()`, bumped by whichever collaborator saw the event. */
export interface GossipCounters {
  probesSent: number;
  probesFailed: number;
  /** Probes not sent: the member had just pinged us (Prober.startProbe). */
  probesSkipped: number;
  suspicionsRaised: number;
  refutations: number;
  eventsDelivered: number;
}

export class GossipContext {
  readonly id: MemberId;
  readonly table: MemberTable;
  /** Membership updates waiting to be piggybacked (probes) or gossiped (gossip rounds). */
  readonly updates = new TransmitQueue<MemberUpdate>();
  readonly awareness: Awareness;
  readonly tree: Plumtree;
  readonly counters: GossipCounters = {
    probesSent: 0,
    probesFailed: 0,
    probesSkipped: 0,
    suspicionsRaised: 0,
    refutations: 0,
    eventsDelivered: 0,
  };
  /** Our own record; only state transitions (refute, leave, meta) replace it. */
  self: MemberRecord;
  /** Live members other than us: scales timeouts, retransmits and the push-pull period. */
  liveCount = 0;
  /** When a record of the table last changed (added, replaced, removed): push-pull's quiet stretch. */
  viewChangedAt = 0;
  /** Set by a graceful leave: we stop answering probes and refuting from then on. */
  leaving = false;
  /** Time of the last input, for work triggered without a `now` (the tree's sampling). */
  lastNow = 0;
  /** Dead/left members in the order they died, for expiry without scanning. */
  readonly graveyard: { id: MemberId; at: number }[] = [];
  out: Outgoing[] = [];
  events: GossipEvent[] = [];
  /** Diagnostics sink for failure-detection milestones; null (the default) costs one test per milestone. */
  trace: ((t: GossipTrace) => void) | null = null;
  private seq = 0;

  constructor(
    readonly cfg: GossipConfig,
    readonly rng: Rng,
    self: MemberRecord,
    view: SharedView | undefined,
    deliver: (event: UserEvent, now: number) => void,
  ) {
    this.id = self.id;
    this.self = self;
    this.awareness = new Awareness(cfg.awarenessMaxMultiplier);
    this.table = new MemberTable(view, this.id);
    for (const r of this.table.baseRecords()) if (isLiveStatus(r.status)) this.liveCount++;
    this.tree = new Plumtree(
      {
        selfId: this.id,
        send: (to, msg) => this.sendTo(to, msg),
        randomLive: (n, exclude) => this.sampleMembers(n, exclude, false),
        liveIds: () => {
          const out: MemberId[] = [];
          for (const r of this.table.records()) if (isLiveStatus(r.status)) out.push(r.id);
          return out;
        },
        isLive: (id) => {
          const m = this.table.get(id);
          return m !== undefined && isLiveStatus(m.rec.status);
        },
        canRelay: (id) => (id === this.id ? this.self : this.table.peek(id))?.deviceClass !== OBSERVER_CLASS,
        deliver,
      },
      {
        lazyPeers: cfg.lazyPeers,
        eventBatchMs: cfg.eventBatchMs,
        lazyIntervalMs: cfg.lazyIntervalMs,
        graftTimeoutMs: cfg.graftTimeoutMs,
        messageCacheSize: cfg.messageCacheSize,
        eventStoreSize: cfg.eventStoreSize,
      },
    );
  }

  // ---------------------------------------------------------------- member table

  addMember(rec: MemberRecord, now: number): void {
    this.viewChangedAt = now;
    this.table.add(rec, now);
    if (isLiveStatus(rec.status)) this.becameLive(rec.id);
  }

  removeMember(id: MemberId): void {
    const m = this.table.get(id);
    if (m === undefined) return;
    this.viewChangedAt = this.lastNow;
    if (isLiveStatus(m.rec.status)) this.liveCount--;
    this.table.remove(id);
  }

  /**
   * Replace a member's record, keeping the live count, the graveyard and the
   * broadcast tree in step: a member that stops being live leaves the tree at
   * once, so no event is pushed eagerly into a hole.
   */
  setRecord(m: MemberState, rec: MemberRecord, now: number): void {
    const wasLive = isLiveStatus(m.rec.status);
    const isLive = isLiveStatus(rec.status);
    m.rec = rec;
    this.viewChangedAt = now;
    if (wasLive === isLive) return;
    m.changedAt = now;
    if (isLive) this.becameLive(rec.id);
    else {
      this.liveCount--;
      this.graveyard.push({ id: rec.id, at: now });
      this.tree.peerDown(rec.id);
    }
  }

  private becameLive(id: MemberId): void {
    this.liveCount++;
    this.tree.peerUp(id);
  }

  /**
   * Up to n distinct random members, live ones (plus the recently dead when
   * `includeDead`, so a wrongly declared member hears of it and refutes).
   * Rejection sampling keeps this O(n) at 10,000 members; small tables scan.
   */
  sampleMembers(
    n: number,
    exclude: ReadonlySet<MemberId>,
    includeDead: boolean,
    now = this.lastNow,
  ): MemberId[] {
    const ok = (id: MemberId): boolean => {
      if (exclude.has(id)) return false;
      const m = this.table.peek(id);
      if (m === undefined) return false;
      if (isLiveStatus(m.status)) return true;
      if (!includeDead || m.status !== MemberStatus.Dead) return false;
      return now - (this.table.get(id)?.changedAt ?? 0) < this.cfg.gossipToTheDeadMs;
    };
    const out: MemberId[] = [];
    const slots = this.table.slots;
    if (n <= 0 || slots === 0) return out;
    if (slots <= 64 || this.liveCount < slots / 4) {
      const cands: MemberId[] = [];
      for (let i = 0; i < slots; i++) {
        const id = this.table.idAt(i);
        if (id !== undefined && ok(id)) cands.push(id);
      }
      shuffle(cands, this.rng);
      return cands.slice(0, n);
    }
    const picked = new Set<MemberId>();
    for (let tries = 0; tries < 8 * n + 16 && out.length < n; tries++) {
      const id = this.table.idAt(Math.floor(this.rng.next() * slots));
      if (id === undefined || picked.has(id) || !ok(id)) continue;
      picked.add(id);
      out.push(id);
    }
    return out;
  }

  /**
   * How often one update is retransmitted: log(N)-scaled, so an update still
   * reaches everyone with high probability as the swarm grows, without every
   * member repeating it forever.
   */
  retransmitLimit(): number {
    return retransmitLimit(this.cfg.retransmitMult, this.liveCount + 1);
  }

  // ---------------------------------------------------------------- sending

  /** Sequence numbers for pings and relayed pings (acks and nacks echo them). */
  nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  /** Send to a member at the address on record; a member we no longer hold gets nothing. */
  sendTo(to: MemberId, msg: GossipMessage): void {
    const m = this.table.get(to);
    if (m === undefined) return;
    this.out.push({ to, host: m.rec.host, port: m.rec.port, msg });
  }

  /**
   * Answer at the address the request came from, not the one on record: a
   * member that restarted on another port or address (while we still hold its
   * old, dead record) must hear the answer to its join.
   */
  reply(to: MemberId, src: PeerAddress, msg: GossipMessage): void {
    this.out.push({ to, host: src.host, port: src.port, msg });
  }

  /**
   * Fill a probe message's remaining room with piggybacked membership updates:
   * probes are sent every period anyway, so updates ride them for free
   * (SWIM's infection-style dissemination).
   */
  withUpdates<T extends GossipMessage & { updates: readonly MemberUpdate[] }>(msg: T): T {
    const room = MESSAGE_BUDGET_BYTES - estimateSize(msg) - 8;
    const taken = this.updates.take(room, this.retransmitLimit());
    if (msg.updates.length === 0) return { ...msg, updates: taken };
    // The buddy-system suspect already in the ping must not go out twice.
    const dup = (u: MemberUpdate): boolean =>
      u.kind !== 'alive' && msg.updates.some((m) => m.kind === u.kind && 'id' in m && m.id === u.id);
    return { ...msg, updates: [...msg.updates, ...taken.filter((u) => !dup(u))] };
  }
}

function shuffle<T>(a: T[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}
