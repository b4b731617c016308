/**
 * The gossip core: SWIM membership with Lifeguard, piggybacked dissemination,
 * push-pull anti-entropy and Plumtree event broadcast, as a sans-I/O state
 * machine. The driver feeds `receive`/`tick` with the current time, then
 * sends `drain()` and handles `drainEvents()`; `nextDeadline()` says when the
 * next `tick` is due so drivers need not poll.
 */
import type { Rng } from '../common/rng.js';
import { SwarmError } from '../common/errors.js';
import { Awareness } from './awareness.js';
import type {
  DigestEntry,
  GossipMessage,
  MemberId,
  EventMark,
  MemberMeta,
  MemberRecord,
  MemberUpdate,
  PushPullDigestMsg,
  UserEvent,
} from './messages.js';
import { MESSAGE_BUDGET_BYTES, MemberStatus } from './messages.js';
import { chunkBySize, eventKey, Plumtree } from './plumtree.js';
import { retransmitLimit, TransmitQueue } from './queue.js';
import { estimateSize, utf8Length } from './size.js';
import { Suspicion } from './suspicion.js';
import type { MemberState, SharedView } from './table.js';
import { MemberTable } from './table.js';
import type {
  GossipConfig,
  GossipEvent,
  GossipParams,
  GossipStats,
  Outgoing,
  PeerAddress,
  SelfInfo,
} from './types.js';
import { DEFAULT_GOSSIP_CONFIG } from './types.js';

export interface GossipNodeOptions {
  readonly self: SelfInfo;
  readonly config?: Partial<GossipConfig>;
  readonly rng: Rng;
  /** Members known at start, shared read-only (simulation snapshot or persisted list). */
  readonly view?: SharedView;
}

interface ProbeState {
  readonly seq: number;
  readonly target: MemberId;
  readonly incarnation: number;
  readonly startedAt: number;
  readonly directDeadline: number;
  readonly endAt: number;
  indirect: boolean;
  acked: boolean;
  expectedNacks: number;
  nacks: number;
}

interface Relay {
  readonly origin: MemberId;
  readonly originHost: string;
  readonly originPort: number;
  readonly originSeq: number;
  readonly target: MemberId;
  readonly wantNack: boolean;
  readonly nackAt: number;
}

interface JoinState {
  readonly seeds: readonly PeerAddress[];
  attempts: number;
  nextAt: number;
  backoff: number;
}

/** A timestamped sample in a sliding window. */
interface Sample {
  readonly at: number;
  readonly value: number;
}

/** Most events handed to one anti-entropy partner per exchange. */
const MAX_EVENTS_PER_EXCHANGE = 512;
const MAX_ANNOUNCE_BACKOFF_MS = 30_000;
/** Longest member id accepted, UTF-8 bytes. */
const MAX_ID_BYTES = 64;
/** Digest mark collections in progress (lost parts leave them behind; the oldest are dropped). */
const MAX_PENDING_MARKS = 32;
/**
 * Members expected to probe a suspect at once on hearing of the suspicion: enough for
 * Lifeguard's suspicionMult - 2 (default 2) confirmations with loss and slack to spare.
 */
const URGENT_PROBERS = 6;
/** rangeStart/rangeEnd of digest parts that carry event marks instead of member entries. */
export const MARKS_RANGE = '\uffff';

function isLiveStatus(s: MemberStatus): boolean {
  return s === MemberStatus.Alive || s === MemberStatus.Suspect;
}

/** Is (inc, status) a's view newer than b's? Higher incarnation wins, then the graver status. */
function newer(
  a: { incarnation: number; status: MemberStatus },
  b: { incarnation: number; status: MemberStatus },
): boolean {
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && a.status > b.status);
}

export class GossipNode {
  readonly id: MemberId;
  private readonly cfg: GossipConfig;
  private readonly rng: Rng;
  private self: MemberRecord;
  private readonly table: MemberTable;
  private liveCount = 0;
  /** Probe round: slot = (mul * i + add) mod size walks the id space in a fresh random order each round. */
  private probeRound = { i: 0, size: 0, mul: 1, add: 0 };
  private probe: ProbeState | null = null;
  /** A member others suspect, to be probed by us as soon as no probe is in flight. */
  private urgentProbe: MemberId | null = null;
  private readonly relays = new Map<number, Relay>();
  private readonly suspicions = new Map<MemberId, Suspicion>();
  private readonly updates = new TransmitQueue<MemberUpdate>();
  private readonly eventQueue = new TransmitQueue<UserEvent>();
  private readonly tree: Plumtree;
  private readonly awareness: Awareness;
  private out: Outgoing[] = [];
  private events: GossipEvent[] = [];
  private seq = 0;
  private exchange = 0;
  private eventSeq = 0;
  private started = false;
  private nextProbeAt = 0;
  private nextGossipAt = 0;
  private nextPushPullAt = 0;
  private nextAnnounceAt = Infinity;
  private announceBackoff = 0;
  private joinState: JoinState | null = null;
  private nextContactJoinAt = -Infinity;
  private leaving = false;
  /** Dead/left members in the order they died, for expiry without scanning. */
  private readonly graveyard: { id: MemberId; at: number }[] = [];
  private lastNow = 0;
  private readonly joinExchanges = new Set<number>();
  private readonly markParts = new Map<string, { marks: EventMark[]; got: Set<number> }>();
  private intervalMs: number;
  private fanout: number;
  private probeScale = 1;
  private readonly probeSamples: Sample[] = [];
  private readonly rttSamples: Sample[] = [];
  private readonly eventSamples: number[] = [];
  private readonly counters = {
    probesSent: 0,
    probesFailed: 0,
    suspicionsRaised: 0,
    refutations: 0,
    eventsDelivered: 0,
  };

  constructor(opts: GossipNodeOptions) {
    this.cfg = { ...DEFAULT_GOSSIP_CONFIG, ...opts.config };
    validate(this.cfg);
    this.rng = opts.rng;
    const s = opts.self;
    if (s.id.length === 0 || utf8Length(s.id) > MAX_ID_BYTES) {
      throw new SwarmError('gossip_config', `gossip member id must be 1..${MAX_ID_BYTES} bytes`, {
        exitCode: 2,
      });
    }
    this.id = s.id;
    this.self = {
      id: s.id,
      name: s.name,
      host: s.host,
      port: s.port,
      deviceClass: s.deviceClass ?? 'standard',
      incarnation: s.incarnation ?? 0,
      status: MemberStatus.Alive,
      meta: s.meta ?? {},
    };
    if (estimateSize(this.self.meta) > 256)
      throw new SwarmError('gossip_meta_too_large', 'member metadata exceeds 256 bytes');
    this.intervalMs = this.cfg.gossipIntervalMs;
    this.fanout = this.cfg.fanout;
    this.awareness = new Awareness(this.cfg.awarenessMaxMultiplier);
    this.table = new MemberTable(opts.view, this.id);
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
        deliver: (event, now) => this.deliver(event, now),
      },
      {
        lazyPeers: this.cfg.lazyPeers,
        eventBatchMs: this.cfg.eventBatchMs,
        lazyIntervalMs: this.cfg.lazyIntervalMs,
        graftTimeoutMs: this.cfg.graftTimeoutMs,
        messageCacheSize: this.cfg.messageCacheSize,
        eventStoreSize: this.cfg.eventStoreSize,
      },
    );
  }

  // ---------------------------------------------------------------- public API

  /** Contact seeds (addresses only) with a join push-pull; retried with back-off until someone answers. */
  join(seeds: readonly PeerAddress[], now: number): void {
    this.start(now);
    const others = seeds.filter((s) => !(s.host === this.self.host && s.port === this.self.port));
    if (others.length === 0) return;
    this.joinState = {
      seeds: others,
      attempts: 1,
      nextAt: now + this.cfg.joinRetryMs,
      backoff: this.cfg.joinRetryMs,
    };
    this.contactSeeds(others, now);
  }

  /**
   * A join's first packets: the push-pull digest (to learn the table), and our
   * own alive record as a gossip update, so a seed that holds an older life of
   * ours (dead, suspect or alive on another port) takes the new one at once
   * instead of a round trip later (digest -> request -> response), and starts
   * spreading it. Our alive is also queued (memberlist's bootstrap alive), so
   * this node spreads it itself as soon as the join answer names members.
   */
  private contactSeeds(seeds: readonly PeerAddress[], now: number): void {
    this.updates.enqueue(this.id, { kind: 'alive', member: this.self });
    for (const s of seeds) {
      this.out.push({
        to: null,
        host: s.host,
        port: s.port,
        msg: { type: 'gossip', from: this.id, updates: [{ kind: 'alive', member: this.self }], events: [] },
      });
      this.sendDigest(null, s.host, s.port, true, now);
    }
  }

  /** Announce a graceful leave: others mark this member `left` without waiting for failure detection. */
  leave(now: number): void {
    if (this.leaving) return;
    this.lastNow = now;
    this.leaving = true;
    this.self = { ...this.self, incarnation: this.self.incarnation + 1, status: MemberStatus.Left };
    this.updates.enqueue(this.id, { kind: 'left', id: this.id, incarnation: this.self.incarnation });
    this.probe = null;
    for (const to of this.sampleMembers(Math.max(this.fanout, this.cfg.indirectChecks), new Set(), false)) {
      this.sendTo(to, { type: 'leave', from: this.id, incarnation: this.self.incarnation });
    }
    this.gossipRound(now);
  }

  get isLeaving(): boolean {
    return this.leaving;
  }

  updateMeta(meta: MemberMeta, now: number): void {
    if (estimateSize(meta) > 256)
      throw new SwarmError('gossip_meta_too_large', 'member metadata exceeds 256 bytes');
    this.lastNow = now;
    this.self = { ...this.self, meta, incarnation: this.self.incarnation + 1 };
    this.updates.enqueue(this.id, { kind: 'alive', member: this.self });
  }

  /** Disseminate an application event to every member; it is also delivered locally. */
  broadcast(name: string, payload: Uint8Array, now: number): UserEvent {
    this.start(now);
    this.eventSeq = Math.max(this.eventSeq, this.tree.highWater(this.id)) + 1;
    const event: UserEvent = { origin: this.id, seq: this.eventSeq, name, payload };
    if (this.cfg.plumtree) this.tree.broadcast(event, now);
    else if (this.tree.accept(event, 0)) {
      this.deliver(event, now);
      this.eventQueue.enqueue(eventKey(event.origin, event.seq), event);
    }
    return event;
  }

  /** The adaptive controller's levers; they apply from the next gossip round on. */
  setParams(p: GossipParams): void {
    if (p.intervalMs !== undefined && p.intervalMs > 0) {
      const prev = this.nextGossipAt - this.intervalMs;
      this.intervalMs = p.intervalMs;
      this.nextGossipAt = prev + p.intervalMs;
    }
    if (p.fanout !== undefined && p.fanout >= 1) {
      this.fanout = Math.floor(p.fanout);
    }
    if (p.probeScale !== undefined && Number.isFinite(p.probeScale)) {
      this.probeScale = Math.max(1, p.probeScale);
    }
  }

  members(): MemberRecord[] {
    const out: MemberRecord[] = [this.self];
    for (const r of this.table.records()) out.push(r);
    return out;
  }

  member(id: MemberId): MemberRecord | undefined {
    return id === this.id ? this.self : this.table.get(id)?.rec;
  }

  get selfRecord(): MemberRecord {
    return this.self;
  }

  /** Messages to send, oldest first; the caller owns them after this. */
  drain(): Outgoing[] {
    const o = this.out;
    this.out = [];
    return o;
  }

  drainEvents(): GossipEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  /** Earliest time `tick` has work to do. */
  nextDeadline(): number {
    if (!this.started) return Infinity;
    // A probe in flight defers the next one (an urgent probe may still run when it falls due).
    let t = this.leaving
      ? Infinity
      : Math.min(this.probe === null ? this.nextProbeAt : Infinity, this.nextPushPullAt);
    if (this.probe !== null) {
      if (!this.probe.indirect && !this.probe.acked) t = Math.min(t, this.probe.directDeadline);
      t = Math.min(t, this.probe.endAt);
    }
    if (this.urgentProbe !== null && this.probe === null && !this.leaving) t = Math.min(t, this.lastNow);
    if (this.updates.size > 0 || this.eventQueue.size > 0) t = Math.min(t, this.nextGossipAt);
    t = Math.min(t, this.nextAnnounceAt);
    for (const r of this.relays.values()) t = Math.min(t, r.nackAt);
    for (const s of this.suspicions.values()) t = Math.min(t, s.deadline());
    const grave = this.graveyard[0];
    if (grave !== undefined) t = Math.min(t, grave.at + this.cfg.deadRetentionMs);
    if (this.joinState !== null) t = Math.min(t, this.joinState.nextAt);
    return Math.min(t, this.tree.nextDeadline());
  }

  tick(now: number): void {
    this.start(now);
    this.lastNow = now;
    this.tickSuspicions(now);
    this.tickRelays(now);
    if (!this.leaving) this.tickProbe(now);
    if (now >= this.nextGossipAt) {
      this.nextGossipAt = now + this.intervalMs;
      this.gossipRound(now);
    }
    if (now >= this.nextPushPullAt && !this.leaving) {
      this.nextPushPullAt = now + this.pushPullInterval();
      const [peer] = this.sampleMembers(1, new Set(), false);
      if (peer !== undefined) {
        const m = this.table.get(peer)!;
        this.sendDigest(peer, m.rec.host, m.rec.port, false, now);
      }
    }
    this.tickJoin(now);
    this.tickAnnounce(now);
    this.expireDead(now);
    this.tree.tick(now);
  }

  receive(src: PeerAddress, msg: GossipMessage, now: number): void {
    this.start(now);
    this.lastNow = now;
    if (msg.from === this.id) return;
    this.joinIfContactedAlone(src, msg, now);
    switch (msg.type) {
      case 'ping':
        this.applyUpdates(msg.updates, now);
        if (msg.target !== '' && msg.target !== this.id) return;
        if (this.leaving) return;
        this.reply(msg.from, src, { type: 'ack', from: this.id, seq: msg.seq, target: this.id, updates: [] });
        return;
      case 'ping-req': {
        this.applyUpdates(msg.updates, now);
        if (this.leaving) return;
        const seq = this.nextSeq();
        this.relays.set(seq, {
          origin: msg.from,
          originHost: src.host,
          originPort: src.port,
          originSeq: msg.seq,
          target: msg.target,
          wantNack: msg.wantNack,
          nackAt: now + this.cfg.probeTimeoutMs,
        });
        this.out.push({
          to: msg.target,
          host: msg.targetHost,
          port: msg.targetPort,
          msg: this.withUpdates({ type: 'ping', from: this.id, seq, target: msg.target, updates: [] }),
        });
        return;
      }
      case 'ack':
        this.applyUpdates(msg.updates, now);
        this.onAck(msg.seq, msg.from, msg.target, now);
        return;
      case 'nack':
        if (this.probe !== null && this.probe.seq === msg.seq) this.probe.nacks++;
        return;
      case 'gossip':
        this.applyUpdates(msg.updates, now);
        this.onPiggybackEvents(msg.events, now);
        return;
      case 'pp-digest':
        this.onDigest(src, msg, now);
        return;
      case 'pp-request': {
        const recs: MemberRecord[] = [];
        for (const id of msg.ids) {
          const r = this.member(id);
          if (r !== undefined) recs.push(r);
        }
        this.sendRecords(msg.from, src, msg.exchange, recs, []);
        return;
      }
      case 'pp-response': {
        // A join's answer is the seed's whole table, which everyone else already has: learn it quietly.
        const quiet = this.joinExchanges.has(msg.exchange);
        const wasAlone = this.liveCount === 0;
        for (const r of msg.members) this.mergeRemote(r, msg.from, now, !quiet);
        if (msg.events.length > 0) this.onPiggybackEvents(msg.events, now);
        // Just joined: spread our alive (queued by the join) now rather than at the next round.
        if (quiet && wasAlone && this.liveCount > 0) {
          this.nextGossipAt = now + this.intervalMs;
          this.gossipRound(now);
        }
        return;
      }
      case 'ev-push':
        if (!this.table.has(msg.from)) return;
        this.tree.onPush(msg.from, msg.events, msg.hops, now);
        return;
      case 'ihave':
        if (this.table.has(msg.from)) this.tree.onIHave(msg.from, msg.ids, now);
        return;
      case 'prune':
        this.tree.onPrune(msg.from);
        return;
      case 'graft':
        if (this.table.has(msg.from)) this.tree.onGraft(msg.from, msg.ids);
        return;
      case 'announce':
        if (msg.cluster !== this.cfg.cluster || this.leaving) return;
        this.applyAlive(msg.member, now, true);
        this.out.push({
          to: msg.member.id,
          host: msg.member.host,
          port: msg.member.port,
          msg: { type: 'announce-reply', from: this.id, member: this.self, cluster: this.cfg.cluster },
        });
        return;
      case 'announce-reply':
        if (msg.cluster !== this.cfg.cluster || this.liveCount > 0) return;
        this.join([{ host: msg.member.host, port: msg.member.port }], now);
        return;
      case 'leave':
        this.applyLeft(msg.from, msg.incarnation, now);
        return;
      case 'user-event':
        this.onPiggybackEvents([msg.event], now);
        return;
    }
  }

  /**
   * A node alone (restarted without a join list, its seeds gone, or the last
   * of its side of a partition) that a member contacts (a probe of its
   * previous life, gossip to the dead) joins through that member: otherwise the swarm would learn of the new life only
   * from a random push-pull, or never once it stops gossiping to the dead.
   */
  private joinIfContactedAlone(src: PeerAddress, msg: GossipMessage, now: number): void {
    // Alone, every member we know of is dead or left: whoever talks to us is news (a member we
    // declared dead across a healed partition included).
    if (this.liveCount > 0 || this.leaving) return;
    if (msg.type !== 'ping' && msg.type !== 'ping-req' && msg.type !== 'gossip') return;
    // Once per join retry period: every member may be probing us, one answer is enough.
    if (now < this.nextContactJoinAt) return;
    this.nextContactJoinAt = now + this.cfg.joinRetryMs;
    // A join already retrying (its seeds may be stale) keeps its seeds; the contact is tried besides.
    if (this.joinState !== null) this.contactSeeds([src], now);
    else this.join([src], now);
  }

  stats(): GossipStats {
    const now = this.lastNow;
    const since = now - this.cfg.statsWindowMs;
    prune(this.probeSamples, since);
    prune(this.rttSamples, since);
    while (this.eventSamples.length > 0 && this.eventSamples[0]! < since) this.eventSamples.shift();
    const failed = this.probeSamples.reduce((n, s) => n + s.value, 0);
    const rtt = this.rttSamples.reduce((n, s) => n + s.value, 0);
    let reachable = 0;
    for (const m of this.table.materialized())
      if (isLiveStatus(m.rec.status) && m.lastAckAt >= since) reachable++;
    const windowS = Math.max(1, Math.min(this.cfg.statsWindowMs, now)) / 1000;
    return {
      probeLoss: this.probeSamples.length === 0 ? 0 : failed / this.probeSamples.length,
      rttMs: this.rttSamples.length === 0 ? null : rtt / this.rttSamples.length,
      reachablePeers: reachable,
      eventRatePerS: this.eventSamples.length / windowS,
      swarmSize: this.liveCount + (this.leaving ? 0 : 1),
      healthScore: this.awareness.health,
      intervalMs: this.intervalMs,
      fanout: this.fanout,
      ...this.counters,
      duplicateEvents: this.tree.duplicates,
      queuedUpdates: this.updates.size + this.eventQueue.size,
      eagerPeers: this.tree.eagerCount,
      lazyPeers: this.tree.lazyCount,
    };
  }

  /** Build a discovery announce (the runtime multicasts it); the core also schedules its own. */
  announceMessage(): GossipMessage {
    return { type: 'announce', from: this.id, member: this.self, cluster: this.cfg.cluster };
  }

  // ---------------------------------------------------------------- timers

  private start(now: number): void {
    if (this.started) return;
    this.started = true;
    // Stagger first rounds so a swarm started at once does not probe in lockstep.
    this.nextProbeAt = now + this.rng.next() * this.cfg.probeIntervalMs;
    this.nextGossipAt = now + this.rng.next() * this.intervalMs;
    this.nextPushPullAt = now + this.pushPullInterval() * this.rng.next();
    if (this.cfg.announceIntervalMs > 0) {
      this.announceBackoff = this.cfg.announceIntervalMs;
      this.nextAnnounceAt = now;
    }
  }

  private tickProbe(now: number): void {
    const p = this.probe;
    if (p !== null && !p.acked && !p.indirect && now >= p.directDeadline) {
      p.indirect = true;
      const target = this.table.get(p.target);
      if (target !== undefined) {
        const relays = this.sampleMembers(this.cfg.indirectChecks, new Set([p.target]), false);
        p.expectedNacks = relays.length;
        for (const r of relays) {
          this.sendTo(
            r,
            this.withUpdates({
              type: 'ping-req',
              from: this.id,
              seq: p.seq,
              target: p.target,
              targetHost: target.rec.host,
              targetPort: target.rec.port,
              wantNack: true,
              updates: [],
            }),
          );
        }
      }
    }
    if (p !== null && now >= p.endAt) {
      this.probe = null;
      if (!p.acked) {
        this.counters.probesFailed++;
        this.probeSamples.push({ at: now, value: 1 });
        // Lifeguard: missing nacks mean our own links are the likelier culprit.
        this.awareness.applyDelta(p.expectedNacks > 0 ? Math.max(0, p.expectedNacks - p.nacks) : 1);
        const m = this.table.get(p.target);
        // A member already suspect gets our independent confirmation (Lifeguard shortens its timeout).
        if (m !== undefined && isLiveStatus(m.rec.status) && m.rec.incarnation === p.incarnation) {
          this.applySuspect(p.target, p.incarnation, this.id, now);
        }
      }
    }
    const urgent = this.probe === null ? this.takeUrgentProbe() : undefined;
    if (this.probe === null && (now >= this.nextProbeAt || urgent !== undefined)) {
      const interval = this.awareness.scale(this.cfg.probeIntervalMs * this.probeScale);
      // An urgent probe is extra: the regular round-robin keeps its schedule.
      if (urgent === undefined) this.nextProbeAt = now + interval;
      const target = urgent ?? this.nextProbeTarget();
      if (target === undefined) return;
      const m = this.table.get(target)!;
      const seq = this.nextSeq();
      this.probe = {
        seq,
        target,
        incarnation: m.rec.incarnation,
        startedAt: now,
        directDeadline: now + this.awareness.scale(this.cfg.probeTimeoutMs),
        // The energy modes' stretch (probeScale) spaces probes out; it must not also make us
        // wait longer for an ack, which only network health (awareness) justifies.
        endAt: now + Math.min(interval, this.awareness.scale(this.cfg.probeIntervalMs)),
        indirect: false,
        acked: false,
        expectedNacks: 0,
        nacks: 0,
      };
      this.counters.probesSent++;
      // Lifeguard's buddy system: a suspect learns of the suspicion from the ping itself, so it can refute in time.
      const buddy: MemberUpdate[] =
        m.rec.status === MemberStatus.Suspect
          ? [{ kind: 'suspect', id: target, incarnation: m.rec.incarnation, from: this.id }]
          : [];
      this.sendTo(target, this.withUpdates({ type: 'ping', from: this.id, seq, target, updates: buddy }));
    }
  }

  private takeUrgentProbe(): MemberId | undefined {
    const id = this.urgentProbe;
    if (id === null) return undefined;
    this.urgentProbe = null;
    return this.table.peek(id)?.status === MemberStatus.Suspect ? id : undefined;
  }

  private onAck(seq: number, from: MemberId, target: MemberId, now: number): void {
    const relay = this.relays.get(seq);
    if (relay !== undefined) {
      this.relays.delete(seq);
      this.out.push({
        to: relay.origin,
        host: relay.originHost,
        port: relay.originPort,
        msg: { type: 'ack', from: this.id, seq: relay.originSeq, target: relay.target, updates: [] },
      });
      return;
    }
    const p = this.probe;
    if (p === null || p.seq !== seq || p.acked || target !== p.target) return;
    p.acked = true;
    const m = this.table.get(p.target);
    if (m !== undefined) m.lastAckAt = now;
    const direct = from === p.target && now <= p.directDeadline;
    this.probeSamples.push({ at: now, value: direct ? 0 : 1 });
    if (direct) this.rttSamples.push({ at: now, value: now - p.startedAt });
    this.awareness.applyDelta(-1);
  }

  private tickRelays(now: number): void {
    for (const [seq, r] of this.relays) {
      if (now < r.nackAt) continue;
      this.relays.delete(seq);
      if (r.wantNack) {
        this.out.push({
          to: r.origin,
          host: r.originHost,
          port: r.originPort,
          msg: { type: 'nack', from: this.id, seq: r.originSeq, target: r.target },
        });
      }
    }
  }

  private tickSuspicions(now: number): void {
    for (const [id, s] of this.suspicions) {
      if (now < s.deadline()) continue;
      this.suspicions.delete(id);
      const m = this.table.get(id);
      if (m !== undefined && m.rec.status === MemberStatus.Suspect && m.rec.incarnation === s.incarnation) {
        this.applyDead(id, s.incarnation, this.id, now);
      }
    }
  }

  private tickJoin(now: number): void {
    const j = this.joinState;
    if (j === null) return;
    if (this.liveCount > 0 || j.attempts >= this.cfg.joinMaxAttempts) {
      this.joinState = null;
      return;
    }
    if (now < j.nextAt) return;
    j.attempts++;
    j.backoff *= 2;
    j.nextAt = now + j.backoff;
    this.contactSeeds(j.seeds, now);
  }

  private tickAnnounce(now: number): void {
    if (now < this.nextAnnounceAt) return;
    if (this.liveCount > 0 || this.leaving) {
      // Found a swarm: stop announcing until alone again.
      this.nextAnnounceAt = now + MAX_ANNOUNCE_BACKOFF_MS;
      this.announceBackoff = this.cfg.announceIntervalMs;
      return;
    }
    this.out.push({ to: null, host: '', port: 0, multicast: true, msg: this.announceMessage() });
    this.nextAnnounceAt = now + this.announceBackoff;
    this.announceBackoff = Math.min(MAX_ANNOUNCE_BACKOFF_MS, this.announceBackoff * 2);
  }

  private expireDead(now: number): void {
    while (this.graveyard.length > 0 && this.graveyard[0]!.at + this.cfg.deadRetentionMs <= now) {
      const g = this.graveyard.shift()!;
      const m = this.table.get(g.id);
      if (m === undefined || isLiveStatus(m.rec.status) || m.changedAt !== g.at) continue;
      this.removeMember(g.id);
    }
  }

  private gossipRound(now: number): void {
    if (this.updates.size === 0 && this.eventQueue.size === 0) return;
    const targets = this.sampleMembers(this.fanout, new Set(), true, now);
    const limit = retransmitLimit(this.cfg.retransmitMult, this.liveCount + 1);
    for (const to of targets) {
      // +8: both arrays' headers may grow from 1 to 3 bytes, with margin.
      const base = estimateSize({ type: 'gossip', from: this.id, updates: [], events: [] }) + 8;
      const updates = this.updates.take(MESSAGE_BUDGET_BYTES - base, limit);
      let used = base;
      for (const u of updates) used += estimateSize(u);
      const events = this.eventQueue.take(MESSAGE_BUDGET_BYTES - used, limit);
      if (updates.length === 0 && events.length === 0) break;
      this.sendTo(to, { type: 'gossip', from: this.id, updates, events });
    }
  }

  private pushPullInterval(): number {
    const n = this.liveCount + 1;
    const scale = n <= 32 ? 1 : Math.ceil(Math.log2(n) - Math.log2(32)) + 1;
    return this.cfg.antiEntropyIntervalMs * scale * (0.75 + 0.5 * this.rng.next());
  }

  // ---------------------------------------------------------------- push-pull

  private digestEntries(): DigestEntry[] {
    const all: DigestEntry[] = [
      { id: this.id, incarnation: this.self.incarnation, status: this.self.status },
    ];
    for (const r of this.table.records())
      all.push({ id: r.id, incarnation: r.incarnation, status: r.status });
    all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return all;
  }

  /** Size of a digest part without its list, with room for the longest range ids. */
  private digestBase(): number {
    const longest = 'x'.repeat(MAX_ID_BYTES);
    return estimateSize({
      type: 'pp-digest',
      from: this.id,
      exchange: 2 ** 32 - 1,
      reply: false,
      join: false,
      part: 65535,
      parts: 65535,
      rangeStart: longest,
      rangeEnd: longest,
      entries: [],
      events: [],
    });
  }

  /**
   * Digest parts: member entries split into contiguous id ranges, then event
   * marks in parts of their own (numbered separately, so the receiver knows
   * when it holds all marks and can tell "unknown origin" from "not yet seen").
   */
  private sendDigest(to: MemberId | null, host: string, port: number, join: boolean, _now: number): void {
    const exchange = (this.exchange = (this.exchange + 1) >>> 0);
    if (join) {
      this.joinExchanges.add(exchange);
      if (this.joinExchanges.size > 16) this.joinExchanges.delete(this.joinExchanges.values().next().value!);
    }
    const entryChunks = chunkBySize(this.digestEntries(), this.digestBase());
    entryChunks.forEach((chunk, i) => {
      const prev = entryChunks[i - 1];
      this.out.push({
        to,
        host,
        port,
        msg: {
          type: 'pp-digest',
          from: this.id,
          exchange,
          reply: false,
          join,
          part: i,
          parts: entryChunks.length,
          // (previous part's last id, this part's last id]: the ranges tile the id space.
          rangeStart: prev === undefined ? '' : prev[prev.length - 1]!.id,
          rangeEnd: i === entryChunks.length - 1 ? '' : chunk[chunk.length - 1]!.id,
          entries: chunk,
          events: [],
        },
      });
    });
    this.sendMarks(to, host, port, exchange, false, join);
  }

  private sendMarks(
    to: MemberId | null,
    host: string,
    port: number,
    exchange: number,
    reply: boolean,
    join: boolean,
  ): void {
    const marks = this.tree.marksList();
    // Always at least one marks part, so the partner sends events we lack even when we have none.
    const chunks = marks.length === 0 ? [[]] : chunkBySize(marks, this.digestBase());
    chunks.forEach((chunk, i) => {
      this.out.push({
        to,
        host,
        port,
        msg: {
          type: 'pp-digest',
          from: this.id,
          exchange,
          reply,
          join,
          part: i,
          parts: chunks.length,
          rangeStart: MARKS_RANGE,
          rangeEnd: MARKS_RANGE,
          entries: [],
          events: chunk,
        },
      });
    });
  }

  private onDigest(src: PeerAddress, msg: PushPullDigestMsg, now: number): void {
    if (msg.rangeStart === MARKS_RANGE) {
      this.onMarks(src, msg);
      return;
    }
    const push: MemberRecord[] = [];
    const want: MemberId[] = [];
    const listed = new Set<MemberId>();
    for (const e of msg.entries) {
      listed.add(e.id);
      if (e.id === this.id) {
        if (newer(e, this.self) && !this.leaving) this.refute(e.incarnation);
        else if (newer(this.self, e)) push.push(this.self);
        continue;
      }
      const local = this.table.peek(e.id);
      if (local === undefined) {
        if (isLiveStatus(e.status)) want.push(e.id);
      } else if (newer(e, local)) want.push(e.id);
      else if (newer(local, e)) push.push(local);
    }
    const inRange = (id: MemberId): boolean =>
      (msg.rangeStart === '' || id > msg.rangeStart) && (msg.rangeEnd === '' || id <= msg.rangeEnd);
    if (!listed.has(this.id) && inRange(this.id)) push.push(this.self);
    for (const r of this.table.recordsInRange(msg.rangeStart, msg.rangeEnd)) {
      if (!listed.has(r.id) && isLiveStatus(r.status)) push.push(r);
    }
    this.sendRecords(msg.from, src, msg.exchange, push, []);
    const reqBase = estimateSize({ type: 'pp-request', from: this.id, exchange: msg.exchange, ids: [] });
    for (const chunk of chunkBySize(want, reqBase)) {
      this.reply(msg.from, src, { type: 'pp-request', from: this.id, exchange: msg.exchange, ids: chunk });
    }
    void now;
  }

  /** Collect a digest's mark parts; with all of them, send the events the peer lacks and, once, our marks. */
  private onMarks(src: PeerAddress, msg: PushPullDigestMsg): void {
    const key = `${msg.from}\u0000${msg.exchange}\u0000${msg.reply ? 1 : 0}`;
    let acc = this.markParts.get(key);
    if (acc === undefined) {
      acc = { marks: [], got: new Set() };
      this.markParts.set(key, acc);
      while (this.markParts.size > MAX_PENDING_MARKS)
        this.markParts.delete(this.markParts.keys().next().value!);
    }
    if (acc.got.has(msg.part)) return;
    acc.got.add(msg.part);
    acc.marks.push(...msg.events);
    if (acc.got.size < msg.parts) return;
    this.markParts.delete(key);
    for (const mk of acc.marks) if (mk.origin === this.id) this.eventSeq = Math.max(this.eventSeq, mk.seq);
    const events = this.tree.eventsAfter(acc.marks, MAX_EVENTS_PER_EXCHANGE);
    this.sendRecords(msg.from, src, msg.exchange, [], events);
    // Events flow both ways: answer a first digest with our marks (a reply is never answered).
    if (!msg.reply && this.tree.marksList().length > 0) {
      const m = this.table.peek(msg.from);
      this.sendMarks(msg.from, m?.host ?? src.host, m?.port ?? src.port, msg.exchange, true, false);
    }
  }

  private sendRecords(
    to: MemberId,
    src: PeerAddress,
    exchange: number,
    recs: readonly MemberRecord[],
    events: readonly UserEvent[],
  ): void {
    const overhead = estimateSize({ type: 'pp-response', from: this.id, exchange, members: [], events: [] });
    for (const chunk of chunkBySize(recs, overhead)) {
      this.reply(to, src, { type: 'pp-response', from: this.id, exchange, members: chunk, events: [] });
    }
    for (const chunk of chunkBySize(events, overhead)) {
      this.reply(to, src, { type: 'pp-response', from: this.id, exchange, members: [], events: chunk });
    }
  }

  /** memberlist's mergeRemoteState: a remote "dead" is only a suspicion until we time it out ourselves. */
  private mergeRemote(r: MemberRecord, from: MemberId, now: number, rebroadcast: boolean): void {
    switch (r.status) {
      case MemberStatus.Alive:
        this.applyAlive(r, now, rebroadcast);
        return;
      case MemberStatus.Suspect:
      case MemberStatus.Dead:
        if (!this.table.has(r.id) && r.id !== this.id) return;
        this.applyAlive({ ...r, status: MemberStatus.Alive }, now, true, true);
        this.applySuspect(r.id, r.incarnation, from, now);
        return;
      case MemberStatus.Left:
        this.applyLeft(r.id, r.incarnation, now);
        return;
    }
  }

  // ---------------------------------------------------------------- updates

  private applyUpdates(us: readonly MemberUpdate[], now: number): void {
    for (const u of us) {
      switch (u.kind) {
        case 'alive':
          this.applyAlive(u.member, now, true);
          break;
        case 'suspect':
          this.applySuspect(u.id, u.incarnation, u.from, now);
          break;
        case 'dead':
          this.applyDead(u.id, u.incarnation, u.from, now);
          break;
        case 'left':
          this.applyLeft(u.id, u.incarnation, now);
          break;
      }
    }
  }

  private applyAlive(rec: MemberRecord, now: number, rebroadcast: boolean, onlyIfNewer = false): void {
    if (rec.id === this.id) {
      if (!this.leaving && rec.incarnation > this.self.incarnation) this.refute(rec.incarnation);
      return;
    }
    const local = this.table.get(rec.id);
    const fresh: MemberRecord = { ...rec, status: MemberStatus.Alive };
    if (local === undefined) {
      if (onlyIfNewer) return;
      this.addMember(fresh, now);
      this.events.push({ type: 'member-joined', member: fresh });
      if (rebroadcast) this.updates.enqueue(rec.id, { kind: 'alive', member: fresh });
      return;
    }
    if (rec.incarnation <= local.rec.incarnation) return;
    const was = local.rec.status;
    this.setRecord(local, fresh, now);
    this.suspicions.delete(rec.id);
    if (was === MemberStatus.Suspect) this.events.push({ type: 'member-alive', member: fresh });
    else if (was === MemberStatus.Dead || was === MemberStatus.Left)
      this.events.push({ type: 'member-joined', member: fresh });
    else this.events.push({ type: 'member-updated', member: fresh });
    if (rebroadcast) this.updates.enqueue(rec.id, { kind: 'alive', member: fresh });
  }

  private applySuspect(id: MemberId, inc: number, from: MemberId, now: number): void {
    if (id === this.id) {
      if (!this.leaving && inc >= this.self.incarnation) this.refute(inc);
      return;
    }
    const local = this.table.get(id);
    if (local === undefined || inc < local.rec.incarnation) return;
    if (!isLiveStatus(local.rec.status)) return;
    const existing = this.suspicions.get(id);
    if (
      local.rec.status === MemberStatus.Suspect &&
      existing !== undefined &&
      inc === local.rec.incarnation
    ) {
      if (existing.confirm(from)) this.updates.enqueue(id, { kind: 'suspect', id, incarnation: inc, from });
      return;
    }
    const rec: MemberRecord = { ...local.rec, incarnation: inc, status: MemberStatus.Suspect };
    this.setRecord(local, rec, now);
    const n = this.liveCount + 1;
    const minMs = this.cfg.suspicionMult * Math.max(1, Math.log10(Math.max(1, n))) * this.cfg.probeIntervalMs;
    const k = n - 2 < this.cfg.suspicionMult - 2 ? 0 : this.cfg.suspicionMult - 2;
    this.suspicions.set(
      id,
      new Suspicion(inc, now, minMs, minMs * this.cfg.suspicionMaxTimeoutMult, k, from),
    );
    // Check it ourselves at once: our failed probe is the independent confirmation that
    // shortens everyone's timeout (Lifeguard), and our ping tells a live suspect to refute
    // (buddy system). The round-robin would reach it only after up to N periods. Only about
    // URGENT_PROBERS members do (each with probability URGENT_PROBERS/N), so a suspect in a
    // swarm of 10,000 is not pinged 10,000 times; a real failure is declared sooner, so the
    // failed probes of it stop sooner too (simulated, 25 members: no more packets per failure).
    if (from !== this.id && this.rng.next() * n < URGENT_PROBERS) this.urgentProbe = id;
    if (from === this.id) this.counters.suspicionsRaised++;
    this.events.push({ type: 'member-suspect', member: rec, from });
    this.updates.enqueue(id, { kind: 'suspect', id, incarnation: inc, from });
  }

  private applyDead(id: MemberId, inc: number, from: MemberId, now: number): void {
    if (id === this.id) {
      if (!this.leaving) this.refute(inc);
      return;
    }
    const local = this.table.get(id);
    if (local === undefined || inc < local.rec.incarnation || !isLiveStatus(local.rec.status)) return;
    const rec: MemberRecord = { ...local.rec, incarnation: inc, status: MemberStatus.Dead };
    this.setRecord(local, rec, now);
    this.suspicions.delete(id);
    this.events.push({ type: 'member-dead', member: rec, from });
    this.updates.enqueue(id, { kind: 'dead', id, incarnation: inc, from });
  }

  private applyLeft(id: MemberId, inc: number, now: number): void {
    if (id === this.id) {
      if (!this.leaving && inc >= this.self.incarnation) this.refute(inc);
      return;
    }
    const local = this.table.get(id);
    if (local === undefined || inc < local.rec.incarnation || local.rec.status === MemberStatus.Left) return;
    const rec: MemberRecord = { ...local.rec, incarnation: inc, status: MemberStatus.Left };
    this.setRecord(local, rec, now);
    this.suspicions.delete(id);
    this.events.push({ type: 'member-left', member: rec });
    this.updates.enqueue(id, { kind: 'left', id, incarnation: inc });
  }

  private refute(inc: number): void {
    this.self = {
      ...this.self,
      incarnation: Math.max(inc, this.self.incarnation) + 1,
      status: MemberStatus.Alive,
    };
    this.counters.refutations++;
    this.awareness.applyDelta(1);
    this.updates.enqueue(this.id, { kind: 'alive', member: this.self });
  }

  // ---------------------------------------------------------------- member table

  private addMember(rec: MemberRecord, now: number): void {
    this.table.add(rec, now);
    if (isLiveStatus(rec.status)) this.becameLive(rec.id);
  }

  private removeMember(id: MemberId): void {
    const m = this.table.get(id);
    if (m === undefined) return;
    if (isLiveStatus(m.rec.status)) this.liveCount--;
    this.table.remove(id);
  }

  private setRecord(m: MemberState, rec: MemberRecord, now: number): void {
    const wasLive = isLiveStatus(m.rec.status);
    const isLive = isLiveStatus(rec.status);
    m.rec = rec;
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
   * SWIM's round-robin over a fresh random order each round (bounded time to
   * first detection). The order is an affine permutation of the id slots, so
   * it costs no memory at 10,000 members; newcomers join from the next round.
   */
  private nextProbeTarget(): MemberId | undefined {
    for (let pass = 0; pass < 2; pass++) {
      const r = this.probeRound;
      while (r.i < r.size) {
        const slot = (r.mul * r.i + r.add) % r.size;
        r.i++;
        const id = this.table.idAt(slot);
        if (id === undefined) continue;
        const m = this.table.peek(id);
        if (m !== undefined && isLiveStatus(m.status)) return id;
      }
      const size = this.table.slots;
      if (size === 0) return undefined;
      let mul = 1 + Math.floor(this.rng.next() * Math.max(1, size - 1));
      for (let tries = 0; tries < 64 && gcd(mul, size) !== 1; tries++)
        mul = 1 + Math.floor(this.rng.next() * (size - 1));
      if (gcd(mul, size) !== 1) mul = 1;
      this.probeRound = { i: 0, size, mul, add: Math.floor(this.rng.next() * size) };
    }
    return undefined;
  }

  /**
   * Up to n distinct random members, live ones (plus the recently dead when
   * `includeDead`, so a wrongly declared member hears of it and refutes).
   * Rejection sampling keeps this O(n) at 10,000 members; small tables scan.
   */
  private sampleMembers(
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

  // ---------------------------------------------------------------- events

  private onPiggybackEvents(evs: readonly UserEvent[], now: number): void {
    if (this.cfg.plumtree) {
      this.tree.onRepair(evs, now);
      return;
    }
    for (const ev of evs) {
      if (!this.tree.accept(ev, 0)) continue;
      this.deliver(ev, now);
      this.eventQueue.enqueue(eventKey(ev.origin, ev.seq), ev);
    }
  }

  private deliver(event: UserEvent, now: number): void {
    if (event.origin === this.id) this.eventSeq = Math.max(this.eventSeq, event.seq);
    this.counters.eventsDelivered++;
    this.eventSamples.push(now);
    if (this.eventSamples.length > 100_000) this.eventSamples.splice(0, 50_000);
    this.events.push({ type: 'user-event', event });
  }

  // ---------------------------------------------------------------- sending

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  private sendTo(to: MemberId, msg: GossipMessage): void {
    const m = this.table.get(to);
    if (m === undefined) return;
    this.out.push({ to, host: m.rec.host, port: m.rec.port, msg });
  }

  /**
   * Answer at the address the request came from, not the one on record: a
   * member that restarted on another port or address (while we still hold its
   * old, dead record) must hear the answer to its join.
   */
  private reply(to: MemberId, src: PeerAddress, msg: GossipMessage): void {
    this.out.push({ to, host: src.host, port: src.port, msg });
  }

  /** Fill a probe message's remaining room with piggybacked membership updates. */
  private withUpdates<T extends GossipMessage & { updates: readonly MemberUpdate[] }>(msg: T): T {
    const room = MESSAGE_BUDGET_BYTES - estimateSize(msg) - 8;
    const limit = retransmitLimit(this.cfg.retransmitMult, this.liveCount + 1);
    const taken = this.updates.take(room, limit);
    if (msg.updates.length === 0) return { ...msg, updates: taken };
    const dup = (u: MemberUpdate): boolean =>
      u.kind !== 'alive' && msg.updates.some((m) => m.kind === u.kind && 'id' in m && m.id === u.id);
    return { ...msg, updates: [...msg.updates, ...taken.filter((u) => !dup(u))] };
  }
}

function prune(samples: Sample[], since: number): void {
  let i = 0;
  while (i < samples.length && samples[i]!.at < since) i++;
  if (i > 0) samples.splice(0, i);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function shuffle<T>(a: T[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

function validate(c: GossipConfig): void {
  const positive: (keyof GossipConfig)[] = [
    'probeIntervalMs',
    'probeTimeoutMs',
    'gossipIntervalMs',
    'fanout',
    'retransmitMult',
    'suspicionMult',
    'antiEntropyIntervalMs',
    'messageCacheSize',
    'eventStoreSize',
    'awarenessMaxMultiplier',
  ];
  for (const k of positive) {
    const v = c[k];
    if (typeof v !== 'number' || !(v > 0)) {
      throw new SwarmError(
        'gossip_config',
        `gossip config ${k} must be a positive number, got ${String(v)}`,
        {
          exitCode: 2,
          fields: { key: k, value: v },
        },
      );
    }
  }
  if (c.probeTimeoutMs >= c.probeIntervalMs) {
    throw new SwarmError('gossip_config', 'gossip probeTimeoutMs must be below probeIntervalMs', {
      exitCode: 2,
      fields: { probeTimeoutMs: c.probeTimeoutMs, probeIntervalMs: c.probeIntervalMs },
    });
  }
}
