/**
 * Failure detection (SWIM with Lifeguard; memberlist's probeNode and the ping
 * handlers of net.go): one probe per period, direct ping first, then ping-req
 * through k other members, then a suspicion if nobody got an ack.
 *
 * Why one probe per period and not heartbeats: each member sends a constant
 * number of messages per period whatever the swarm size, and every member is
 * still probed once per round (see nextProbeTarget), so detection time stays
 * bounded while load per member stays flat at 10,000 members.
 *
 * Lifeguard's three additions live here or are fed from here: awareness
 * (our own missed acks and nacks stretch our timeouts), nacks (relays tell us
 * they are alive even when the target is not), and the buddy system (a ping
 * to a suspect carries the suspicion, so the suspect can refute at once).
 */
import type { GossipMessage, MemberId, MemberUpdate, PingMsg, PingReqMsg } from './messages.js';
import { MemberStatus } from './messages.js';
import type { GossipContext } from './context.js';
import { isLiveStatus } from './context.js';
import type { MemberStates } from './state.js';
import type { PeerAddress } from './types.js';

/** The one probe in flight. */
interface ProbeState {
  readonly seq: number;
  readonly target: MemberId;
  readonly incarnation: number;
  readonly startedAt: number;
  /** Past this without an ack, ask k relays (ping-req). */
  readonly directDeadline: number;
  /** Past this without an ack, the probe failed: suspect the target. */
  readonly endAt: number;
  indirect: boolean;
  acked: boolean;
  /** Relays asked, and how many said "target silent": the difference is our own loss. */
  expectedNacks: number;
  nacks: number;
}

/** A ping we send on another member's behalf (ping-req), to answer it with an ack or a nack. */
interface Relay {
  readonly origin: MemberId;
  readonly originHost: string;
  readonly originPort: number;
  readonly originSeq: number;
  readonly target: MemberId;
  readonly wantNack: boolean;
  /** Past this without an ack, nack (once): early enough to reach the requester before its probe ends. */
  readonly nackAt: number;
  /** Until this an ack is still passed on (after a nack too); then the entry is dropped at the next tick. */
  readonly expiresAt: number;
  nacked: boolean;
}

/** A timestamped sample in a sliding window. */
interface Sample {
  readonly at: number;
  readonly value: number;
}

/**
 * A relay nacks this share of a probe timeout after the ping-req. The requester sent the ping-req
 * at its direct timeout and gives up one probe timeout later (at the end of its period): a nack
 * sent a full probe timeout after the ping-req arrived always after that, so the requester counted
 * every nack missing and blamed its own links (Lifeguard's awareness, +3 per probe of a member that
 * really died: 4x slower probing for ~10 s, on every member that probed it). A fifth of the
 * timeout (100 ms at the defaults) leaves room for the nack's own trip.
 */
export const RELAY_NACK_SHARE = 0.8;

/** A member that pinged us within this many probe periods is not probed by us this period. */
export const PROBE_SKIP_HEARD_PERIODS = 2;

export class Prober {
  /** Probe round: slot = (mul * i + add) mod size walks the id space in a fresh random order each round. */
  private probeRound = { i: 0, size: 0, mul: 1, add: 0 };
  private probe: ProbeState | null = null;
  /** A member others suspect, to be probed by us as soon as no probe is in flight. */
  private urgentProbe: MemberId | null = null;
  /** A member the runtime has a hint about (hint()), to be probed as soon as no probe is in flight. */
  private hintedProbe: MemberId | null = null;
  /** When each member's last hint was taken: at most one hinted probe per member per probe period. */
  private readonly hintedAt = new Map<MemberId, number>();
  private readonly relays = new Map<number, Relay>();
  private nextProbeAt = 0;
  /** The energy modes' stretch of the probe period (adaptive controller), >= 1. */
  private probeScale = 1;
  /** How much earlier / later than its due time a probe may start to share a wake-up (setWindow). */
  private earlyMs = 0;
  private lateMs = 0;
  /** 1 per failed or indirect-only probe, 0 per direct ack: the stats' probe loss. */
  private readonly probeSamples: Sample[] = [];
  private readonly rttSamples: Sample[] = [];

  constructor(
    private readonly ctx: GossipContext,
    private readonly states: MemberStates,
  ) {}

  /** Stagger the first probe so a swarm started at once does not probe in lockstep. */
  start(now: number): void {
    this.nextProbeAt = now + this.ctx.rng.next() * this.ctx.cfg.probeIntervalMs;
  }

  setScale(scale: number): void {
    this.probeScale = Math.max(1, scale);
  }

  /**
   * Let the next probe start up to `earlyMs` before its due time when something else ticks the
   * node then, and wait up to `lateMs` past it for such a tick before waking for it alone. The
   * runtime sets this on a Raft follower, whose leader's heartbeats wake it at the probe period
   * anyway: the probe then rides them (one wake-up instead of two). The period is measured from the
   * actual start, so the average rate stays within the window of the configured one.
   */
  setWindow(earlyMs: number, lateMs: number): void {
    this.earlyMs = Math.max(0, earlyMs);
    this.lateMs = Math.max(0, lateMs);
  }

  /** Probe this suspect ahead of the round-robin (see MemberStates.applySuspect). */
  requestUrgent(id: MemberId): void {
    this.urgentProbe = id;
  }

  /**
   * A hint from outside the protocol that `id` may be gone: the runtime's TCP link to it (Raft)
   * closed or its port refused a dial, which is what a killed process looks like to its peers at
   * once, while the round-robin might reach it only seconds later. It changes only which member is
   * probed next, and when: the hinted probe is an ordinary one (direct, then ping-req, then a
   * suspicion with its usual timeout and confirmations), so a live member that merely lost a TCP
   * link just acks it. An acked probe in flight gives way at once; an unanswered one runs to its
   * end first. At most one hint per member per probe period is taken, so a flapping link costs at
   * most one extra probe per period. Returns whether the hint was taken.
   */
  hint(id: MemberId, now: number): boolean {
    const ctx = this.ctx;
    if (ctx.leaving || id === ctx.id) return false;
    const m = ctx.table.peek(id);
    if (m === undefined || !isLiveStatus(m.status)) return false;
    const period = ctx.cfg.probeIntervalMs * this.probeScale;
    const last = this.hintedAt.get(id);
    if (last !== undefined && now - last < period) return false;
    // Bounded: only members hinted within the last period are kept.
    for (const [k, at] of this.hintedAt) if (now - at >= period) this.hintedAt.delete(k);
    this.hintedAt.set(id, now);
    // Already being probed: that probe tells what the hinted one would.
    if (this.probe !== null && this.probe.target === id && !this.probe.acked) return false;
    this.hintedProbe = id;
    return true;
  }

  /** A leaving member stops probing: its failed probes would only accuse others wrongly. */
  stop(): void {
    this.probe = null;
  }

  nextDeadline(): number {
    const ctx = this.ctx;
    // A probe in flight defers the next one (an urgent probe may still run when it falls due).
    let t = ctx.leaving || this.probe !== null ? Infinity : this.nextProbeAt + this.lateMs;
    if (this.probe !== null) {
      const p = this.probe;
      if (!p.indirect && !p.acked) t = Math.min(t, p.directDeadline);
      // An acked probe's end has nothing to do but let the next probe start: wake for that start
      // (or an urgent probe), not for the end. With the energy modes' stretch the end falls well
      // before the next probe, and waking for it cost an idle node a wake-up per probe period.
      if (!p.acked) t = Math.min(t, p.endAt);
      else
        t = Math.min(
          t,
          this.hintedProbe !== null
            ? ctx.lastNow
            : this.urgentProbe !== null
              ? p.endAt
              : Math.max(p.endAt, this.nextProbeAt + this.lateMs),
        );
    }
    if ((this.urgentProbe !== null || this.hintedProbe !== null) && this.probe === null && !ctx.leaving)
      t = Math.min(t, ctx.lastNow);
    // An expired relay's entry holds nothing to do: it is dropped at whatever tick comes next.
    for (const r of this.relays.values()) if (!r.nacked) t = Math.min(t, r.nackAt);
    return t;
  }

  tick(now: number): void {
    this.tickRelays(now);
    if (!this.ctx.leaving) this.tickProbe(now);
  }

  // ---------------------------------------------------------------- incoming

  onPing(src: PeerAddress, msg: PingMsg, now: number): void {
    const ctx = this.ctx;
    this.states.applyUpdates(msg.updates, now);
    // A ping meant for an earlier holder of this address (target set, not us): no ack, or
    // the prober would take a stranger's answer for its target's.
    if (msg.target !== '' && msg.target !== ctx.id) return;
    if (ctx.leaving) return;
    // Evidence that the prober is alive and reaches us: our own round-robin may skip it (startProbe).
    const m = ctx.table.get(msg.from);
    if (m !== undefined) m.pingedUsAt = now;
    // A ping with target "" comes from a prober that reads an ack's target "" as "= from" (the
    // same release started both): 16 bytes less per ack. A ping naming us gets the full form,
    // which every version reads (docs/protocol.md "Answer probes").
    const target = msg.target === '' ? '' : ctx.id;
    ctx.reply(msg.from, src, { type: 'ack', from: ctx.id, seq: msg.seq, target, updates: [] });
  }

  /**
   * Ping the target on the requester's behalf. SWIM sends the indirect probe
   * through k members because the direct ping's loss may be the requester's
   * own link or one congested path: k other paths to the target tell a dead
   * member from a bad route. Lifeguard's nack (sent if the target stays
   * silent) tells the requester that the relay at least heard it, so missing
   * nacks point at the requester's own health.
   */
  onPingReq(src: PeerAddress, msg: PingReqMsg, now: number): void {
    const ctx = this.ctx;
    this.states.applyUpdates(msg.updates, now);
    if (ctx.leaving) return;
    // The requester's probe of a member that left got no answer: it missed the leave. Tell it,
    // or it would suspect the member and, with nobody to refute, call it dead.
    this.states.answerStale(msg.target, msg.from, 0, src);
    const seq = ctx.nextSeq();
    this.relays.set(seq, {
      origin: msg.from,
      originHost: src.host,
      originPort: src.port,
      originSeq: msg.seq,
      target: msg.target,
      wantNack: msg.wantNack,
      // The requester waits the rest of its probe period, one probe timeout at the defaults:
      // the nack must leave before that (RELAY_NACK_SHARE), an ack may still follow it.
      nackAt: now + RELAY_NACK_SHARE * ctx.cfg.probeTimeoutMs,
      expiresAt: now + ctx.cfg.probeTimeoutMs,
      nacked: false,
    });
    // At the address the requester gave, not ours on record: we may not know the target yet.
    ctx.out.push({
      to: msg.target,
      host: msg.targetHost,
      port: msg.targetPort,
      msg: ctx.withUpdates({ type: 'ping', from: ctx.id, seq, target: msg.target, updates: [] }),
    });
  }

  onAck(seq: number, from: MemberId, target: MemberId, now: number): void {
    const ctx = this.ctx;
    // An ack for a ping we relayed: pass it on under the requester's sequence number.
    const relay = this.relays.get(seq);
    if (relay !== undefined) {
      this.relays.delete(seq);
      ctx.out.push({
        to: relay.origin,
        host: relay.originHost,
        port: relay.originPort,
        msg: { type: 'ack', from: ctx.id, seq: relay.originSeq, target: relay.target, updates: [] },
      });
      return;
    }
    // A late ack of an earlier probe, or one naming another target, proves nothing about this one.
    const p = this.probe;
    if (p === null || p.seq !== seq || p.acked || target !== p.target) return;
    p.acked = true;
    const m = ctx.table.get(p.target);
    if (m !== undefined) m.lastAckAt = now;
    // Only a timely direct ack is a healthy path: an indirect one still counts as loss for the
    // adaptive controller, and its round trip says nothing about ours.
    const direct = from === p.target && now <= p.directDeadline;
    this.probeSamples.push({ at: now, value: direct ? 0 : 1 });
    if (direct) this.rttSamples.push({ at: now, value: now - p.startedAt });
    // Lifeguard: an answered probe is evidence that we are healthy.
    ctx.awareness.applyDelta(-1);
  }

  onNack(seq: number): void {
    if (this.probe !== null && this.probe.seq === seq) this.probe.nacks++;
  }

  // ---------------------------------------------------------------- timers

  /** Relays whose target stayed silent answer with a nack (Lifeguard), if the requester wants one. */
  private tickRelays(now: number): void {
    const ctx = this.ctx;
    for (const [seq, r] of this.relays) {
      if (now >= r.expiresAt) this.relays.delete(seq);
      if (r.nacked || now < r.nackAt) continue;
      r.nacked = true;
      if (r.wantNack) {
        ctx.out.push({
          to: r.origin,
          host: r.originHost,
          port: r.originPort,
          msg: { type: 'nack', from: ctx.id, seq: r.originSeq, target: r.target },
        });
      }
    }
  }

  private tickProbe(now: number): void {
    const ctx = this.ctx;
    const p = this.probe;
    if (p !== null && !p.acked && !p.indirect && now >= p.directDeadline) {
      p.indirect = true;
      ctx.trace?.({ kind: 'probe-indirect', target: p.target, lateMs: now - p.directDeadline });
      const target = ctx.table.get(p.target);
      if (target !== undefined) this.sendIndirect(p, target.rec.host, target.rec.port);
    }
    // An acked probe is over once the next may start (early, see setWindow), or a hinted one waits:
    // its end holds nothing.
    if (
      p !== null &&
      (now >= p.endAt || (p.acked && (now >= this.nextProbeAt - this.earlyMs || this.hintedProbe !== null)))
    ) {
      this.probe = null;
      if (!p.acked) {
        ctx.trace?.({ kind: 'probe-failed', target: p.target, lateMs: now - p.endAt });
        this.probeFailed(p, now);
      }
    }
    let urgent = this.probe === null ? this.takeUrgentProbe() : undefined;
    let hinted = false;
    if (this.probe === null && urgent === undefined) {
      urgent = this.takeHintedProbe();
      hinted = urgent !== undefined;
    }
    if (this.probe === null && (now >= this.nextProbeAt - this.earlyMs || urgent !== undefined))
      this.startProbe(now, urgent, hinted);
  }

  /**
   * SWIM's indirect probe: k members (indirectChecks) ping the target for us.
   * Through k members because a missed direct ack may be our own link or one
   * congested path; k independent paths that all fail are far stronger
   * evidence, and k stays small and constant so the cost does not grow with
   * the swarm.
   */
  private sendIndirect(p: ProbeState, host: string, port: number): void {
    const ctx = this.ctx;
    // Live members only: a dead relay would neither ping nor nack, and cost us awareness.
    const relays = ctx.sampleMembers(ctx.cfg.indirectChecks, new Set([p.target]), false);
    p.expectedNacks = relays.length;
    for (const r of relays) {
      const msg: GossipMessage = ctx.withUpdates({
        type: 'ping-req',
        from: ctx.id,
        seq: p.seq,
        target: p.target,
        targetHost: host,
        targetPort: port,
        wantNack: true,
        updates: [],
      });
      ctx.sendTo(r, msg);
    }
  }

  private probeFailed(p: ProbeState, now: number): void {
    const ctx = this.ctx;
    ctx.counters.probesFailed++;
    this.probeSamples.push({ at: now, value: 1 });
    // Lifeguard: missing nacks mean our own links are the likelier culprit.
    ctx.awareness.applyDelta(p.expectedNacks > 0 ? Math.max(0, p.expectedNacks - p.nacks) : 1);
    const m = ctx.table.get(p.target);
    // Only the life we probed: a refutation that arrived meanwhile (higher incarnation) already
    // proved it alive. A member already suspect gets our independent confirmation (Lifeguard
    // shortens its timeout).
    if (m !== undefined && isLiveStatus(m.rec.status) && m.rec.incarnation === p.incarnation) {
      this.states.applySuspect(p.target, p.incarnation, ctx.id, now);
    }
  }

  private startProbe(now: number, urgent: MemberId | undefined, hinted = false): void {
    const ctx = this.ctx;
    // Lifeguard: an unhealthy node (high awareness score) stretches its own period and timeout
    // instead of accusing members it merely failed to hear from in time.
    const interval = ctx.awareness.scale(ctx.cfg.probeIntervalMs * this.probeScale);
    // An urgent or hinted probe is extra: the regular round-robin keeps its schedule.
    if (urgent === undefined) this.nextProbeAt = now + interval;
    const target = urgent ?? this.nextProbeTarget();
    if (target === undefined) return;
    const m = ctx.table.get(target)!;
    // A live member that pinged us within the last two base periods has just shown it is alive
    // and reaches us: this period's probe of it would tell nothing new, so it is skipped (2
    // packets saved; about 2/(N-1) of the periods). The round-robin moves on, so the member
    // is probed by us again next round; every other member still probes it as usual.
    if (
      urgent === undefined &&
      m.rec.status === MemberStatus.Alive &&
      now - m.pingedUsAt < PROBE_SKIP_HEARD_PERIODS * ctx.cfg.probeIntervalMs * this.probeScale
    ) {
      ctx.counters.probesSkipped++;
      return;
    }
    const seq = ctx.nextSeq();
    this.probe = {
      seq,
      target,
      incarnation: m.rec.incarnation,
      startedAt: now,
      directDeadline: now + ctx.awareness.scale(ctx.cfg.probeTimeoutMs),
      // The energy modes' stretch (probeScale) spaces probes out; it must not also make us
      // wait longer for an ack, which only network health (awareness) justifies.
      endAt: now + Math.min(interval, ctx.awareness.scale(ctx.cfg.probeIntervalMs)),
      indirect: false,
      acked: false,
      expectedNacks: 0,
      nacks: 0,
    };
    ctx.counters.probesSent++;
    ctx.trace?.({ kind: 'probe', target, urgent: urgent !== undefined && !hinted, hinted });
    // Lifeguard's buddy system: a suspect learns of the suspicion from the ping itself, so it can refute in time.
    const buddy: MemberUpdate[] =
      m.rec.status === MemberStatus.Suspect
        ? [{ kind: 'suspect', id: target, incarnation: m.rec.incarnation, from: ctx.id }]
        : [];
    // `target` "" ("whoever holds this address"): the ack names who answered, and onAck takes only
    // an ack whose target is the member probed, so a stranger now holding the address cannot pass
    // for it. 16 bytes less per ping with 16-hex-digit ids (docs/protocol.md "Answer probes").
    ctx.sendTo(target, ctx.withUpdates({ type: 'ping', from: ctx.id, seq, target: '', updates: buddy }));
  }

  /** The urgent target, if it is still suspect (a refutation may have arrived meanwhile). */
  private takeUrgentProbe(): MemberId | undefined {
    const id = this.urgentProbe;
    if (id === null) return undefined;
    this.urgentProbe = null;
    return this.ctx.table.peek(id)?.status === MemberStatus.Suspect ? id : undefined;
  }

  /** The hinted target, if it is still live (a leave or a death may have arrived meanwhile). */
  private takeHintedProbe(): MemberId | undefined {
    const id = this.hintedProbe;
    if (id === null) return undefined;
    this.hintedProbe = null;
    const st = this.ctx.table.peek(id)?.status;
    return st !== undefined && isLiveStatus(st) ? id : undefined;
  }

  /**
   * SWIM's round-robin over a fresh random order each round (bounded time to
   * first detection, unlike picking at random, which may miss a member for
   * many periods). The order is an affine permutation of the id slots, so it
   * costs no memory at 10,000 members; newcomers join from the next round.
   */
  private nextProbeTarget(): MemberId | undefined {
    const ctx = this.ctx;
    for (let pass = 0; pass < 2; pass++) {
      const r = this.probeRound;
      while (r.i < r.size) {
        const slot = (r.mul * r.i + r.add) % r.size;
        r.i++;
        const id = ctx.table.idAt(slot);
        if (id === undefined) continue;
        const m = ctx.table.peek(id);
        if (m !== undefined && isLiveStatus(m.status)) return id;
      }
      const size = ctx.table.slots;
      if (size === 0) return undefined;
      // mul coprime with size makes i -> mul*i+add a permutation of the slots.
      let mul = 1 + Math.floor(ctx.rng.next() * Math.max(1, size - 1));
      for (let tries = 0; tries < 64 && gcd(mul, size) !== 1; tries++)
        mul = 1 + Math.floor(ctx.rng.next() * (size - 1));
      if (gcd(mul, size) !== 1) mul = 1;
      this.probeRound = { i: 0, size, mul, add: Math.floor(ctx.rng.next() * size) };
    }
    return undefined;
  }

  // ---------------------------------------------------------------- stats

  /** Probe loss and mean direct round trip over samples since `since`. */
  windowStats(since: number): { probeLoss: number; rttMs: number | null } {
    prune(this.probeSamples, since);
    prune(this.rttSamples, since);
    const failed = this.probeSamples.reduce((n, s) => n + s.value, 0);
    const rtt = this.rttSamples.reduce((n, s) => n + s.value, 0);
    return {
      probeLoss: this.probeSamples.length === 0 ? 0 : failed / this.probeSamples.length,
      rttMs: this.rttSamples.length === 0 ? null : rtt / this.rttSamples.length,
    };
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
