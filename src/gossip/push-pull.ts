/**
 * Push-pull anti-entropy and joining (memberlist's pushPullNode and
 * mergeRemoteState). Two members compare digests of their whole tables and
 * event marks, then send each other what the other lacks.
 *
 * Why besides piggybacked gossip: gossip carries an update only a bounded
 * number of times (log N retransmits), so a member that missed it (loss, a
 * partition, a restart) would never learn it. A periodic full exchange with one
 * random member repairs any such gap in bounded time, and it is how a joiner
 * learns the table at once instead of update by update. The period grows with
 * log N because each exchange costs O(N) bytes.
 */
import type {
  EventMark,
  GossipMessage,
  MemberId,
  MemberRecord,
  PushPullDigestMsg,
  PushPullRequestMsg,
  PushPullResponseMsg,
  PushPullSummaryMsg,
  UserEvent,
} from './messages.js';
import { fnv1a } from '../common/hash.js';
import { codeUnitCompare } from '../common/code-unit-compare.js';
import type { DigestEntry } from './messages.js';
import type { GossipContext } from './context.js';
import { isLiveStatus, OBSERVER_CLASS } from './context.js';
import type { Dissemination } from './dissemination.js';
import { chunkBySize } from './plumtree.js';
import { estimateSize } from './size.js';
import type { MemberStates } from './state.js';
import { newer } from './state.js';
import type { PeerAddress } from './types.js';

/** rangeStart/rangeEnd of digest parts that carry event marks instead of member entries. */
export const MARKS_RANGE = '\uffff';
/** Longest member id accepted, UTF-8 bytes (digest parts reserve room for two). */
export const MAX_ID_BYTES = 64;
/** Most events handed to one anti-entropy partner per exchange. */
const MAX_EVENTS_PER_EXCHANGE = 512;
/**
 * Every this many periodic exchanges a member sends its full digest instead of
 * a summary (`pp-sum`): a peer that does not implement the summary, or two
 * different views that hash alike, still converge within this many periods.
 */
export const PP_FULL_EVERY = 6;
/**
 * A view's summary for `pp-sum`: how many digest entries, and FNV-1a 32 over,
 * for each entry in id order, `id NUL incarnation NUL status LF` (numbers in
 * decimal), then `LF`, then for each event mark in origin order
 * `origin NUL seq LF` (docs/protocol.md). Equal digests and marks give equal
 * summaries.
 */
export function viewSummary(
  entries: readonly DigestEntry[],
  marks: readonly EventMark[],
): { members: number; hash: number } {
  const sorted = [...entries].sort((a, b) => codeUnitCompare(a.id, b.id));
  const parts: string[] = [];
  for (const e of sorted) parts.push(`${e.id}\u0000${e.incarnation}\u0000${e.status}\n`);
  parts.push('\n');
  for (const m of [...marks].sort((a, b) => codeUnitCompare(a.origin, b.origin)))
    parts.push(`${m.origin}\u0000${m.seq}\n`);
  return { members: entries.length, hash: fnv1a(parts.join('')) };
}

/** Digest mark collections in progress (lost parts leave them behind; the oldest are dropped). */
const MAX_PENDING_MARKS = 32;
/**
 * Join exchanges remembered, to learn their answers quietly (and tell the members they name, see
 * announceJoin). A join contacts every seed at once: the join list plus up to 32 remembered peers
 * (gossip-peers.json), so fewer than that dropped the first seeds' exchanges and merged their
 * answers as news. Bounded: a longer join list's earliest answers are merged loudly, as before.
 */
const MAX_JOIN_EXCHANGES = 64;
/**
 * Most members a join tells of its alive directly (see announceJoin): the whole of a LAN swarm,
 * a bounded burst (one small datagram each, once per start) in a large one, where the epidemic
 * from that many sources does the rest.
 */
export const JOIN_ANNOUNCE_MAX = 64;

interface JoinState {
  readonly seeds: readonly PeerAddress[];
  attempts: number;
  nextAt: number;
  backoff: number;
}

export class PushPull {
  private exchange = 0;
  /** Periodic exchanges started: every PP_FULL_EVERY-th sends the full digest. */
  private periodic = 0;
  private nextPushPullAt = 0;
  private joinState: JoinState | null = null;
  private nextContactJoinAt = -Infinity;
  private readonly joinExchanges = new Set<number>();
  /** Members this join told of our alive directly, with the incarnation they were told. */
  private readonly joinAnnounced = new Map<MemberId, number>();
  /** Our incarnation in the join's first packets (what the seeds were told). */
  private joinSentInc = 0;
  private readonly markParts = new Map<string, { marks: EventMark[]; got: Set<number> }>();

  constructor(
    private readonly ctx: GossipContext,
    private readonly states: MemberStates,
    private readonly diss: Dissemination,
  ) {}

  /** A random first exchange, so members started together do not all exchange at once. */
  start(now: number): void {
    this.nextPushPullAt = now + this.interval() * this.ctx.rng.next();
  }

  /** How late a periodic exchange may run to share another timer's wake-up (setLateSlack). */
  private lateMs = 0;
  /** The energy modes' stretch of the period (the probe's, GossipParams.probeScale), >= 1. */
  private scale = 1;

  /**
   * Anti-entropy is a periodic job like the probe: a node on a low or critical battery stretches
   * it as much (each exchange wakes its partner too). Applies from the next exchange on.
   */
  setScale(scale: number): void {
    this.scale = Math.max(1, scale);
  }

  /**
   * Anti-entropy repairs what dissemination missed; a few seconds late costs nothing, so the
   * runtime lets it wait up to `ms` (one probe period) for a wake-up it shares instead of its own.
   */
  setLateSlack(ms: number): void {
    this.lateMs = Math.max(0, ms);
  }

  nextDeadline(): number {
    let t = this.ctx.leaving ? Infinity : this.nextPushPullAt + this.lateMs;
    if (this.joinState !== null) t = Math.min(t, this.joinState.nextAt);
    return t;
  }

  tick(now: number): void {
    const ctx = this.ctx;
    // A leaving member has nothing left to repair; its partners would only learn it is leaving.
    if (now >= this.nextPushPullAt && !ctx.leaving) {
      this.nextPushPullAt = now + this.interval(now);
      // One random live partner: over a few periods every pair of sides of a healed split meets.
      // The better of two draws is a full member: an observer answers a digest with its own record
      // only and ignores pp-sum (swarm_lite.py), so an exchange with it repairs nothing on our side.
      const drawn = ctx.sampleMembers(2, new Set(), false);
      const peer = drawn.find((id) => ctx.table.peek(id)?.deviceClass !== OBSERVER_CLASS) ?? drawn[0];
      if (peer !== undefined) {
        const m = ctx.table.get(peer)!;
        // A converged pair (the usual case) then costs one small packet instead of two digests.
        if (this.periodic++ % PP_FULL_EVERY === PP_FULL_EVERY - 1)
          this.sendDigest(peer, m.rec.host, m.rec.port, false);
        else this.sendSummary(peer, m.rec.host, m.rec.port);
      }
    }
    this.tickJoin(now);
  }

  /**
   * antiEntropyIntervalMs up to 32 members, one more period per doubling beyond, jittered +-25%;
   * x antiEntropyQuietScale once no record of our table changed for antiEntropyQuietAfterMs.
   * Why: anti-entropy repairs what dissemination missed, and a view unchanged that long has had
   * several exchanges (and every node's probes) confirm it; memberlist's LAN push-pull is 30 s.
   * The first change brings the base period back from the next exchange on.
   */
  private interval(now = this.ctx.lastNow): number {
    const cfg = this.ctx.cfg;
    const n = this.ctx.liveCount + 1;
    let scale = n <= 32 ? 1 : Math.ceil(Math.log2(n) - Math.log2(32)) + 1;
    if (now - this.ctx.viewChangedAt >= cfg.antiEntropyQuietAfterMs)
      scale *= Math.max(1, cfg.antiEntropyQuietScale);
    return cfg.antiEntropyIntervalMs * scale * this.scale * (0.75 + 0.5 * this.ctx.rng.next());
  }

  // ---------------------------------------------------------------- join

  /** Contact seeds (addresses only) with a join push-pull; retried with back-off until someone answers. */
  join(seeds: readonly PeerAddress[], now: number): void {
    const self = this.ctx.self;
    // A join list names every member, us included (one config for the whole swarm).
    const others = seeds.filter((s) => !(s.host === self.host && s.port === self.port));
    if (others.length === 0) return;
    this.joinAnnounced.clear();
    this.joinState = {
      seeds: others,
      attempts: 1,
      nextAt: now + this.ctx.cfg.joinRetryMs,
      backoff: this.ctx.cfg.joinRetryMs,
    };
    this.contactSeeds(others);
  }

  /**
   * A join's first packets: the push-pull digest (to learn the table), and our
   * own alive record as a gossip update, so a seed that holds an older life of
   * ours (dead, suspect or alive on another port) takes the new one at once
   * instead of a round trip later (digest -> request -> response), and starts
   * spreading it. Our alive is also queued (memberlist's bootstrap alive), so
   * this node spreads it itself as soon as the join answer names members.
   */
  private contactSeeds(seeds: readonly PeerAddress[]): void {
    const ctx = this.ctx;
    ctx.updates.enqueue(ctx.id, { kind: 'alive', member: ctx.self });
    this.joinSentInc = ctx.self.incarnation;
    for (const s of seeds) {
      ctx.out.push({
        to: null,
        host: s.host,
        port: s.port,
        msg: { type: 'gossip', from: ctx.id, updates: [{ kind: 'alive', member: ctx.self }], events: [] },
      });
      this.sendDigest(null, s.host, s.port, true);
    }
  }

  /** Retry with exponential back-off until we know a live member or run out of attempts. */
  private tickJoin(now: number): void {
    const j = this.joinState;
    if (j === null) return;
    if (this.ctx.liveCount > 0 || j.attempts >= this.ctx.cfg.joinMaxAttempts) {
      this.joinState = null;
      return;
    }
    if (now < j.nextAt) return;
    j.attempts++;
    j.backoff *= 2;
    j.nextAt = now + j.backoff;
    this.contactSeeds(j.seeds);
  }

  /**
   * A node alone (restarted without a join list, its seeds gone, or the last
   * of its side of a partition) that a member contacts (a probe of its
   * previous life, gossip to the dead) joins through that member: otherwise the
   * swarm would learn of the new life only from a random push-pull, or never
   * once it stops gossiping to the dead.
   */
  joinIfContactedAlone(src: PeerAddress, msg: GossipMessage, now: number): void {
    const ctx = this.ctx;
    // Alone, every member we know of is dead or left: whoever talks to us is news (a member we
    // declared dead across a healed partition included).
    if (ctx.liveCount > 0 || ctx.leaving) return;
    if (msg.type !== 'ping' && msg.type !== 'ping-req' && msg.type !== 'gossip') return;
    // Once per join retry period: every member may be probing us, one answer is enough.
    if (now < this.nextContactJoinAt) return;
    this.nextContactJoinAt = now + ctx.cfg.joinRetryMs;
    // A join already retrying (its seeds may be stale) keeps its seeds; the contact is tried besides.
    if (this.joinState !== null) this.contactSeeds([src]);
    else this.join([src], now);
  }

  // ---------------------------------------------------------------- digests

  /** (id, incarnation, status) of every member we hold and of ourselves, in id order so parts are ranges. */
  private digestEntries(): DigestEntry[] {
    const ctx = this.ctx;
    const all: DigestEntry[] = [{ id: ctx.id, incarnation: ctx.self.incarnation, status: ctx.self.status }];
    for (const r of ctx.table.records()) all.push({ id: r.id, incarnation: r.incarnation, status: r.status });
    all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return all;
  }

  /** The view's summary (`viewSummary`) over our digest entries and event marks. */
  summary(): { members: number; hash: number } {
    return viewSummary(this.digestEntries(), this.ctx.tree.marksList());
  }

  private sendSummary(to: MemberId, host: string, port: number): void {
    const ctx = this.ctx;
    const exchange = (this.exchange = (this.exchange + 1) >>> 0);
    const { members, hash } = this.summary();
    ctx.out.push({ to, host, port, msg: { type: 'pp-sum', from: ctx.id, exchange, members, hash } });
  }

  /**
   * A partner's summary: equal to ours, nothing to repair; different, start a
   * full exchange towards it (our digest; it answers the differences both
   * ways, as for any digest).
   */
  onSummary(src: PeerAddress, msg: PushPullSummaryMsg): void {
    const mine = this.summary();
    if (mine.members === msg.members && mine.hash === msg.hash) return;
    const m = this.ctx.table.peek(msg.from);
    this.sendDigest(msg.from, m?.host ?? src.host, m?.port ?? src.port, false);
  }

  /** Size of a digest part without its list, with room for the longest range ids. */
  private digestBase(): number {
    const longest = 'x'.repeat(MAX_ID_BYTES);
    return estimateSize({
      type: 'pp-digest',
      from: this.ctx.id,
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
   * Only (id, incarnation, status) travels, not whole records: the partner
   * asks for the records it lacks, so a converged pair exchanges little.
   */
  sendDigest(to: MemberId | null, host: string, port: number, join: boolean): void {
    const exchange = (this.exchange = (this.exchange + 1) >>> 0);
    if (join) {
      this.joinExchanges.add(exchange);
      if (this.joinExchanges.size > MAX_JOIN_EXCHANGES)
        this.joinExchanges.delete(this.joinExchanges.values().next().value!);
    }
    const entryChunks = chunkBySize(this.digestEntries(), this.digestBase());
    const head = { to, host, port, exchange, reply: false, join };
    entryChunks.forEach((chunk, i) => {
      const prev = entryChunks[i - 1];
      this.pushDigestPart(head, i, entryChunks.length, {
        // (previous part's last id, this part's last id]: the ranges tile the id space.
        rangeStart: prev === undefined ? '' : prev[prev.length - 1]!.id,
        rangeEnd: i === entryChunks.length - 1 ? '' : chunk[chunk.length - 1]!.id,
        entries: chunk,
        events: [],
      });
    });
    this.sendMarks(to, host, port, exchange, false, join);
  }

  /** Queue part `part` of `parts` of one digest: entries or marks, with their range. */
  private pushDigestPart(
    head: {
      to: MemberId | null;
      host: string;
      port: number;
      exchange: number;
      reply: boolean;
      join: boolean;
    },
    part: number,
    parts: number,
    body: Pick<PushPullDigestMsg, 'rangeStart' | 'rangeEnd' | 'entries' | 'events'>,
  ): void {
    const { to, host, port, exchange, reply, join } = head;
    this.ctx.out.push({
      to,
      host,
      port,
      msg: { type: 'pp-digest', from: this.ctx.id, exchange, reply, join, part, parts, ...body },
    });
  }

  private sendMarks(
    to: MemberId | null,
    host: string,
    port: number,
    exchange: number,
    reply: boolean,
    join: boolean,
  ): void {
    const ctx = this.ctx;
    const marks = ctx.tree.marksList();
    // Always at least one marks part, so the partner sends events we lack even when we have none.
    const chunks = marks.length === 0 ? [[]] : chunkBySize(marks, this.digestBase());
    chunks.forEach((chunk, i) =>
      this.pushDigestPart({ to, host, port, exchange, reply, join }, i, chunks.length, {
        rangeStart: MARKS_RANGE,
        rangeEnd: MARKS_RANGE,
        entries: [],
        events: chunk,
      }),
    );
  }

  /**
   * Compare one digest part with our table over the same id range: push the
   * records we hold newer (or the partner lacks), request those it holds newer.
   * Each part is answered on its own, so a lost part costs only its range.
   */
  onDigest(src: PeerAddress, msg: PushPullDigestMsg): void {
    const ctx = this.ctx;
    if (msg.rangeStart === MARKS_RANGE) {
      this.onMarks(src, msg);
      return;
    }
    const push: MemberRecord[] = [];
    const want: MemberId[] = [];
    const listed = new Set<MemberId>();
    for (const e of msg.entries) {
      listed.add(e.id);
      if (e.id === ctx.id) {
        if (newer(e, ctx.self) && !ctx.leaving) this.states.refute(e.incarnation);
        else if (newer(ctx.self, e)) push.push(ctx.self);
        continue;
      }
      const local = ctx.table.peek(e.id);
      if (local === undefined) {
        // A dead member we never knew is not worth fetching: nothing to refute or deliver.
        if (isLiveStatus(e.status)) want.push(e.id);
      } else if (newer(e, local)) want.push(e.id);
      else if (newer(local, e)) push.push(local);
    }
    const inRange = (id: MemberId): boolean =>
      (msg.rangeStart === '' || id > msg.rangeStart) && (msg.rangeEnd === '' || id <= msg.rangeEnd);
    if (!listed.has(ctx.id) && inRange(ctx.id)) push.push(ctx.self);
    for (const r of ctx.table.recordsInRange(msg.rangeStart, msg.rangeEnd)) {
      if (!listed.has(r.id) && isLiveStatus(r.status)) push.push(r);
    }
    this.sendRecords(msg.from, src, msg.exchange, push, []);
    const reqBase = estimateSize({ type: 'pp-request', from: ctx.id, exchange: msg.exchange, ids: [] });
    for (const chunk of chunkBySize(want, reqBase)) {
      ctx.reply(msg.from, src, { type: 'pp-request', from: ctx.id, exchange: msg.exchange, ids: chunk });
    }
  }

  /** Collect a digest's mark parts; with all of them, send the events the peer lacks and, once, our marks. */
  private onMarks(src: PeerAddress, msg: PushPullDigestMsg): void {
    const ctx = this.ctx;
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
    for (const mk of acc.marks) this.diss.noteOwnSeq(mk.origin, mk.seq);
    const events = ctx.tree.eventsAfter(acc.marks, MAX_EVENTS_PER_EXCHANGE);
    this.sendRecords(msg.from, src, msg.exchange, [], events);
    // Events flow both ways: answer a first digest with our marks (a reply is never answered).
    if (!msg.reply && ctx.tree.marksList().length > 0) {
      const m = ctx.table.peek(msg.from);
      this.sendMarks(msg.from, m?.host ?? src.host, m?.port ?? src.port, msg.exchange, true, false);
    }
  }

  /** The partner asks for the whole records behind digest entries it found newer on our side. */
  onRequest(src: PeerAddress, msg: PushPullRequestMsg): void {
    const ctx = this.ctx;
    const recs: MemberRecord[] = [];
    for (const id of msg.ids) {
      const r = id === ctx.id ? ctx.self : ctx.table.get(id)?.rec;
      if (r !== undefined) recs.push(r);
    }
    this.sendRecords(msg.from, src, msg.exchange, recs, []);
  }

  /** Records and events from a partner: merged as remote state (its deaths are only suspicions to us). */
  onResponse(msg: PushPullResponseMsg, now: number): void {
    const ctx = this.ctx;
    // A join's answer is the seed's whole table, which everyone else already has: learn it quietly.
    const quiet = this.joinExchanges.has(msg.exchange);
    const wasAlone = ctx.liveCount === 0;
    for (const r of msg.members) this.states.mergeRemote(r, msg.from, now, !quiet);
    if (quiet) this.announceJoin(msg);
    if (msg.events.length > 0) this.diss.onPiggybackEvents(msg.events, now);
    // Just joined: spread our alive (queued by the join) now rather than at the next round.
    if (quiet && wasAlone && ctx.liveCount > 0) this.diss.roundNow(now);
  }

  /**
   * Tell the members a join answer names of our alive directly, one `gossip` each (up to
   * JOIN_ANNOUNCE_MAX per join), and again whoever was told an older incarnation of ours (we
   * refuted past our old life's record, or bumped our metadata, since).
   *
   * Why not leave it to the gossip rounds: one update spread by rounds reaches everyone only with
   * high probability. Each member that has it passes it on retransmitLimit times (6 in a 25-member
   * swarm at the daemons' ttl 3) to random members, so a given member misses every copy with
   * probability about e^-6, and in 1-2 % of restarts one of 24 did: it then waited for a later
   * round at the 1 s interval or a push-pull (simulated: up to 1.2 s at 0 % loss, 7.5 s at 1 %;
   * on real daemons, the first restart after formation, 1.77 s once). Told directly, every member
   * has the news one trip after the join answer, and the rounds only repair losses.
   */
  private announceJoin(msg: PushPullResponseMsg): void {
    const ctx = this.ctx;
    const inc = ctx.self.incarnation;
    if (!this.joinAnnounced.has(msg.from) && this.joinAnnounced.size < JOIN_ANNOUNCE_MAX)
      this.joinAnnounced.set(msg.from, this.joinSentInc);
    const targets: MemberId[] = [];
    for (const [id, told] of this.joinAnnounced) if (told !== inc) targets.push(id);
    for (const r of msg.members) {
      if (this.joinAnnounced.size >= JOIN_ANNOUNCE_MAX) break;
      if (r.id === ctx.id || this.joinAnnounced.has(r.id) || !isLiveStatus(r.status)) continue;
      this.joinAnnounced.set(r.id, -1);
      targets.push(r.id);
    }
    for (const id of targets) {
      this.joinAnnounced.set(id, inc);
      ctx.sendTo(id, {
        type: 'gossip',
        from: ctx.id,
        updates: [{ kind: 'alive', member: ctx.self }],
        events: [],
      });
    }
  }

  /** Records and events in as many packets as they need, each under the datagram budget. */
  private sendRecords(
    to: MemberId,
    src: PeerAddress,
    exchange: number,
    recs: readonly MemberRecord[],
    events: readonly UserEvent[],
  ): void {
    const ctx = this.ctx;
    const overhead = estimateSize({ type: 'pp-response', from: ctx.id, exchange, members: [], events: [] });
    for (const chunk of chunkBySize(recs, overhead)) {
      ctx.reply(to, src, { type: 'pp-response', from: ctx.id, exchange, members: chunk, events: [] });
    }
    for (const chunk of chunkBySize(events, overhead)) {
      ctx.reply(to, src, { type: 'pp-response', from: ctx.id, exchange, members: [], events: chunk });
    }
  }
}
