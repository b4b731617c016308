/**
 * The gossip core: SWIM membership with Lifeguard, piggybacked dissemination,
 * push-pull anti-entropy and Plumtree event broadcast, as a sans-I/O state
 * machine. The driver feeds `receive`/`tick` with the current time, then
 * sends `drain()` and handles `drainEvents()`; `nextDeadline()` says when the
 * next `tick` is due so drivers need not poll.
 *
 * This file is the facade: the public API, the receive dispatch and the order
 * timers run in. The protocol lives with its collaborators, which share state
 * only through `GossipContext`:
 *   state.ts          member state transitions, refutation, suspicion timers, expiry
 *   probe.ts          failure detection: ping, ping-req, ack/nack, awareness
 *   dissemination.ts  gossip rounds, event delivery
 *   push-pull.ts      anti-entropy exchange and join
 *   discovery.ts      announce, announce-reply, beacon
 */
import type { Rng } from '../common/rng.js';
import { SwarmError } from '../common/errors.js';
import type { EventMark, GossipMessage, MemberId, MemberMeta, MemberRecord, UserEvent } from './messages.js';
import { MemberStatus } from './messages.js';
import { GossipContext, isLiveStatus, OBSERVER_CLASS } from './context.js';
import { Discovery } from './discovery.js';
import { Dissemination } from './dissemination.js';
import { Prober } from './probe.js';
import { MAX_ID_BYTES, PushPull } from './push-pull.js';
import { estimateSize, utf8Length } from './size.js';
import { MemberStates } from './state.js';
import type { SharedView } from './table.js';
import type {
  GossipConfig,
  GossipEvent,
  GossipParams,
  GossipStats,
  GossipTrace,
  Outgoing,
  PeerAddress,
  SelfInfo,
} from './types.js';
import { DEFAULT_GOSSIP_CONFIG } from './types.js';

export { MARKS_RANGE } from './push-pull.js';

export interface GossipNodeOptions {
  readonly self: SelfInfo;
  readonly config?: Partial<GossipConfig>;
  readonly rng: Rng;
  /** Members known at start, shared read-only (simulation snapshot or persisted list). */
  readonly view?: SharedView;
}

/** Largest member metadata, bytes: it rides in every alive update, which must fit a packet. */
const MAX_META_SIZE = 256;

export class GossipNode {
  readonly id: MemberId;
  private readonly cfg: GossipConfig;
  private readonly ctx: GossipContext;
  private readonly states: MemberStates;
  private readonly prober: Prober;
  private readonly diss: Dissemination;
  private readonly pushPull: PushPull;
  private readonly discovery: Discovery;
  private started = false;

  constructor(opts: GossipNodeOptions) {
    this.cfg = { ...DEFAULT_GOSSIP_CONFIG, ...opts.config };
    validate(this.cfg);
    const s = opts.self;
    if (s.id.length === 0 || utf8Length(s.id) > MAX_ID_BYTES) {
      throw new SwarmError('gossip_config', `gossip member id must be 1..${MAX_ID_BYTES} bytes`, {
        exitCode: 2,
      });
    }
    this.id = s.id;
    const self: MemberRecord = {
      id: s.id,
      name: s.name,
      host: s.host,
      port: s.port,
      deviceClass: s.deviceClass ?? 'standard',
      incarnation: s.incarnation ?? 0,
      status: MemberStatus.Alive,
      meta: s.meta ?? {},
    };
    checkMeta(self.meta);
    this.ctx = new GossipContext(this.cfg, opts.rng, self, opts.view, (event, now) =>
      this.diss.deliver(event, now),
    );
    this.diss = new Dissemination(this.ctx);
    this.states = new MemberStates(this.ctx, (id) => this.prober.requestUrgent(id));
    this.prober = new Prober(this.ctx, this.states);
    this.pushPull = new PushPull(this.ctx, this.states, this.diss);
    this.discovery = new Discovery(this.ctx, this.states, this.pushPull);
  }

  // ---------------------------------------------------------------- public API

  /** Contact seeds (addresses only) with a join push-pull; retried with back-off until someone answers. */
  join(seeds: readonly PeerAddress[], now: number): void {
    this.start(now);
    this.pushPull.join(seeds, now);
  }

  /**
   * Announce a graceful leave: others mark this member `left` without waiting
   * for failure detection. The leave goes out directly to several members and
   * as a gossip update at once, because after it we stop answering probes:
   * a member that missed it would otherwise suspect us and, later, call us dead.
   */
  leave(now: number): void {
    const ctx = this.ctx;
    if (ctx.leaving) return;
    ctx.lastNow = now;
    ctx.leaving = true;
    // One incarnation up, so the left outranks any alive of ours in flight.
    ctx.self = { ...ctx.self, incarnation: ctx.self.incarnation + 1, status: MemberStatus.Left };
    ctx.updates.enqueue(this.id, { kind: 'left', id: this.id, incarnation: ctx.self.incarnation }, true);
    this.prober.stop();
    // Full members first: observers (`minimal`) pass no update on, so a leave sent only to them
    // would stop there. Once per life, so the scan of the table is affordable.
    const n = Math.max(this.diss.fanout, this.cfg.indirectChecks);
    const observers = new Set<MemberId>();
    for (const r of ctx.table.records()) if (r.deviceClass === OBSERVER_CLASS) observers.add(r.id);
    const targets = ctx.sampleMembers(n, observers, false);
    if (targets.length < n) targets.push(...ctx.sampleMembers(n - targets.length, new Set(targets), false));
    // Two packets to each (as docs/protocol.md and swarm_lite.py have it): the round below picks its
    // peers at random, observers included, so with the `leave` alone a full member lost it with that
    // packet's loss (20 %) and all of them together about once in 1,500 leaves; the leave then sat
    // only on observers, which answer no stale claim, and every full member called the leaver dead.
    const left: GossipMessage = {
      type: 'gossip',
      from: this.id,
      updates: [{ kind: 'left', id: this.id, incarnation: ctx.self.incarnation }],
      events: [],
    };
    for (const to of targets) {
      ctx.sendTo(to, { type: 'leave', from: this.id, incarnation: ctx.self.incarnation });
      ctx.sendTo(to, left);
    }
    this.diss.round(now);
  }

  get isLeaving(): boolean {
    return this.ctx.leaving;
  }

  /** New metadata under a new incarnation: only a higher incarnation replaces what others hold. */
  updateMeta(meta: MemberMeta, now: number): void {
    checkMeta(meta);
    const ctx = this.ctx;
    ctx.lastNow = now;
    ctx.self = { ...ctx.self, meta, incarnation: ctx.self.incarnation + 1 };
    ctx.updates.enqueue(this.id, { kind: 'alive', member: ctx.self });
  }

  /** Disseminate an application event to every member; it is also delivered locally. */
  broadcast(name: string, payload: Uint8Array, now: number): UserEvent {
    this.start(now);
    return this.diss.broadcast(name, payload, now);
  }

  /**
   * Event high-water marks of an earlier life (the embedding program kept
   * them): those events count as delivered, and our own new ones are numbered
   * above ours, even before a join exchange tells us.
   */
  primeEventMarks(marks: readonly EventMark[]): void {
    for (const m of marks) {
      this.ctx.tree.prime(m.origin, m.seq);
      this.diss.noteOwnSeq(m.origin, m.seq);
    }
  }

  /** Per origin, the seq up to which every event was delivered here (for the embedding program to keep). */
  eventMarks(): EventMark[] {
    return this.ctx.tree.marksList();
  }

  /** The adaptive controller's levers; they apply from the next gossip round on. */
  setParams(p: GossipParams): void {
    if (p.intervalMs !== undefined && p.intervalMs > 0) this.diss.setInterval(p.intervalMs);
    if (p.fanout !== undefined && p.fanout >= 1) this.diss.fanout = Math.floor(p.fanout);
    if (p.probeScale !== undefined && Number.isFinite(p.probeScale)) {
      this.prober.setScale(p.probeScale);
      this.pushPull.setScale(p.probeScale);
    }
  }

  /**
   * Wake-up sharing (energy): the next probe may start up to `probeEarlyMs` before or
   * `probeLateMs` after its due time when the node is ticked anyway, and a periodic push-pull up
   * to `pushPullLateMs` late. nextDeadline() includes the late slack; tick(now) at any time runs
   * what is due within the window. Zeros (the default) keep every timer exact.
   */
  setWakeSlack(probeEarlyMs: number, probeLateMs: number, pushPullLateMs: number): void {
    this.prober.setWindow(probeEarlyMs, probeLateMs);
    this.pushPull.setLateSlack(pushPullLateMs);
  }

  /**
   * The runtime has outside evidence that `id` may be gone (its TCP link to it closed, or a dial
   * was refused): probe it as soon as no unanswered probe is in flight, instead of when the
   * round-robin reaches it. Changes nothing else: the member's state moves only by the probe's
   * outcome, as for any probe (Prober.hint). At most one per member per probe period; returns
   * whether it was taken, i.e. whether the caller should tick the node (nextDeadline moved).
   */
  hint(id: MemberId, now: number): boolean {
    if (!this.started) return false;
    this.ctx.lastNow = now;
    return this.prober.hint(id, now);
  }

  /** Report failure-detection milestones (GossipTrace) to `sink`; null turns it off. Diagnostics only. */
  setTrace(sink: ((t: GossipTrace) => void) | null): void {
    this.ctx.trace = sink;
  }

  /** Our record first, then every member we hold, dead and left ones included until they expire. */
  members(): MemberRecord[] {
    const out: MemberRecord[] = [this.ctx.self];
    for (const r of this.ctx.table.records()) out.push(r);
    return out;
  }

  member(id: MemberId): MemberRecord | undefined {
    return id === this.id ? this.ctx.self : this.ctx.table.get(id)?.rec;
  }

  get selfRecord(): MemberRecord {
    return this.ctx.self;
  }

  /** Messages to send, oldest first; the caller owns them after this. */
  drain(): Outgoing[] {
    const o = this.ctx.out;
    this.ctx.out = [];
    return o;
  }

  drainEvents(): GossipEvent[] {
    const e = this.ctx.events;
    this.ctx.events = [];
    return e;
  }

  /** Earliest time `tick` has work to do. */
  nextDeadline(): number {
    if (!this.started) return Infinity;
    return Math.min(
      this.prober.nextDeadline(),
      this.pushPull.nextDeadline(),
      this.diss.nextDeadline(),
      this.discovery.nextDeadline(),
      this.states.nextDeadline(),
      this.ctx.tree.nextDeadline(),
    );
  }

  /**
   * Run due timers. The order matters and is fixed (the simulator's runs are
   * reproducible only so): deaths first, so a probe or gossip round of this
   * tick already reflects them; expiry last, after the rounds that still
   * gossip to the recently dead.
   */
  tick(now: number): void {
    this.start(now);
    this.ctx.lastNow = now;
    this.states.tickSuspicions(now);
    this.prober.tick(now);
    this.diss.tick(now);
    this.pushPull.tick(now);
    this.discovery.tick(now);
    this.states.expireDead(now);
    this.ctx.tree.tick(now);
  }

  receive(src: PeerAddress, msg: GossipMessage, now: number): void {
    this.start(now);
    const ctx = this.ctx;
    ctx.lastNow = now;
    // Our own multicast looping back, or a packet of a previous life of ours: nothing to learn.
    if (msg.from === this.id) return;
    // Checked before the message is applied: a gossip naming one member would end our
    // loneliness without giving us the table, which only the join's push-pull brings.
    this.pushPull.joinIfContactedAlone(src, msg, now);
    switch (msg.type) {
      case 'ping':
        this.prober.onPing(src, msg, now);
        return;
      case 'ping-req':
        this.prober.onPingReq(src, msg, now);
        return;
      case 'ack':
        // The wire lets an ack carry updates (ours send none); they are news like any other.
        this.states.applyUpdates(msg.updates, now);
        // target "" = the sender itself (the compact answer to our target-less ping).
        this.prober.onAck(msg.seq, msg.from, msg.target === '' ? msg.from : msg.target, now);
        return;
      case 'nack':
        this.prober.onNack(msg.seq);
        return;
      case 'gossip':
        this.states.applyUpdates(msg.updates, now);
        this.states.answerStaleSelf(src, msg.from, msg.updates);
        this.diss.onPiggybackEvents(msg.events, now);
        return;
      case 'pp-digest':
        this.pushPull.onDigest(src, msg);
        return;
      case 'pp-sum':
        this.pushPull.onSummary(src, msg);
        return;
      case 'pp-request':
        this.pushPull.onRequest(src, msg);
        return;
      case 'pp-response':
        this.pushPull.onResponse(msg, now);
        return;
      // Plumtree traffic from a member we do not hold (dead and forgotten, or not yet
      // learned) is ignored: the tree's peers are exactly the live members of the table.
      case 'ev-push':
        if (!ctx.table.has(msg.from)) return;
        ctx.tree.onPush(msg.from, msg.events, msg.hops, now);
        return;
      case 'ihave':
        if (ctx.table.has(msg.from)) ctx.tree.onIHave(msg.from, msg.ids, now);
        return;
      case 'prune':
        ctx.tree.onPrune(msg.from);
        return;
      case 'graft':
        if (ctx.table.has(msg.from)) ctx.tree.onGraft(msg.from, msg.ids);
        return;
      case 'announce':
        this.discovery.onAnnounce(msg, now);
        return;
      case 'announce-reply':
        this.discovery.onAnnounceReply(msg, now);
        return;
      case 'leave':
        // Sent directly by the leaver (besides its gossiped update), so its neighbours stop
        // probing it at once rather than suspecting a member that merely went away.
        this.states.applyLeft(msg.from, msg.incarnation, now);
        return;
      case 'user-event':
        // A lone event outside a gossip round (no sender in this core; the wire allows it): as if piggybacked.
        this.diss.onPiggybackEvents([msg.event], now);
        return;
    }
  }

  /**
   * The adaptive controller's inputs and the operators' view, over the last
   * `statsWindowMs`: probe loss and RTT say how healthy the network is,
   * reachable peers and swarm size how big the swarm is, the queue depth how
   * far dissemination lags.
   */
  stats(): GossipStats {
    const ctx = this.ctx;
    const now = ctx.lastNow;
    const since = now - this.cfg.statsWindowMs;
    const { probeLoss, rttMs } = this.prober.windowStats(since);
    // A node younger than the window divides by its age, or its first seconds would read as a lull.
    const windowS = Math.max(1, Math.min(this.cfg.statsWindowMs, now)) / 1000;
    const eventRatePerS = this.diss.eventRate(since, windowS);
    let reachable = 0;
    for (const m of ctx.table.materialized())
      if (isLiveStatus(m.rec.status) && m.lastAckAt >= since) reachable++;
    return {
      probeLoss,
      rttMs,
      reachablePeers: reachable,
      eventRatePerS,
      swarmSize: ctx.liveCount + (ctx.leaving ? 0 : 1),
      healthScore: ctx.awareness.health,
      intervalMs: this.diss.intervalMs,
      fanout: this.diss.fanout,
      ...ctx.counters,
      duplicateEvents: ctx.tree.duplicates,
      queuedUpdates: this.diss.queued,
      eagerPeers: ctx.tree.eagerCount,
      lazyPeers: ctx.tree.lazyCount,
    };
  }

  /** Build a discovery announce (the runtime multicasts it); the core also schedules its own. */
  announceMessage(): GossipMessage {
    return this.discovery.announceMessage();
  }

  /** First input: schedule every timer, in a fixed order (each draws from the one Rng). */
  private start(now: number): void {
    if (this.started) return;
    this.started = true;
    this.prober.start(now);
    this.diss.start(now);
    this.pushPull.start(now);
    this.discovery.start(now);
  }
}

function checkMeta(meta: MemberMeta): void {
  if (estimateSize(meta) > MAX_META_SIZE)
    throw new SwarmError('gossip_meta_too_large', `member metadata exceeds ${MAX_META_SIZE} bytes`);
}

/**
 * Reject configurations the protocol cannot run with, at construction: a
 * zero interval would spin, and a probe timeout not below the probe interval
 * leaves no time for the indirect probe before the next one starts.
 */
function validate(c: GossipConfig): void {
  const positive: (keyof GossipConfig)[] = [
    'probeIntervalMs',
    'probeTimeoutMs',
    'gossipIntervalMs',
    'fanout',
    'retransmitMult',
    'suspicionMult',
    'antiEntropyIntervalMs',
    'antiEntropyQuietScale',
    'antiEntropyQuietAfterMs',
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
