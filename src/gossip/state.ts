/**
 * Member state transitions (memberlist's state.go: aliveNode, suspectNode,
 * deadNode, plus left): how a received claim about a member changes our view,
 * when it is spread further, and how we refute claims about ourselves.
 *
 * The ordering rule everywhere: a claim with a higher incarnation wins; at the
 * same incarnation the graver status wins (alive < suspect < dead < left).
 * Only the member itself raises its incarnation, so only it can overrule a
 * suspicion, and it does so by re-announcing itself alive one higher: every
 * member then holds a newer alive than the suspicion it heard.
 */
import type { GossipMessage, MemberId, MemberRecord, MemberUpdate } from './messages.js';
import type { PeerAddress } from './types.js';
import { MemberStatus } from './messages.js';
import type { GossipContext } from './context.js';
import { isLiveStatus } from './context.js';
import { Suspicion } from './suspicion.js';

/**
 * Members expected to probe a suspect at once on hearing of the suspicion: enough for
 * Lifeguard's suspicionMult - 2 (default 2) confirmations with loss and slack to spare.
 */
const URGENT_PROBERS = 6;

/** Is (inc, status) a's view newer than b's? Higher incarnation wins, then the graver status. */
export function newer(
  a: { incarnation: number; status: MemberStatus },
  b: { incarnation: number; status: MemberStatus },
): boolean {
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && a.status > b.status);
}

export class MemberStates {
  private readonly suspicions = new Map<MemberId, Suspicion>();

  /**
   * @param urgentProbe called when we hear of a suspicion we should check ourselves at once
   *   (the prober owns the probe schedule; see applySuspect).
   */
  constructor(
    private readonly ctx: GossipContext,
    private readonly urgentProbe: (id: MemberId) => void,
  ) {}

  applyUpdates(us: readonly MemberUpdate[], now: number): void {
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

  /**
   * An alive claim. Only a strictly higher incarnation replaces what we hold:
   * an alive at the same incarnation as a suspicion is the old news the
   * suspicion already overruled. `onlyIfNewer` (from push-pull's remote
   * suspect/dead records) never adds a member we did not know.
   */
  applyAlive(rec: MemberRecord, now: number, rebroadcast: boolean, onlyIfNewer = false): void {
    const ctx = this.ctx;
    if (rec.id === ctx.id) {
      // Someone holds a later life of ours than we do (we restarted with a lower
      // incarnation): outbid it, or the swarm would keep that stale record.
      if (!ctx.leaving && rec.incarnation > ctx.self.incarnation) this.refute(rec.incarnation);
      return;
    }
    const local = ctx.table.get(rec.id);
    const fresh: MemberRecord = { ...rec, status: MemberStatus.Alive };
    if (local === undefined) {
      if (onlyIfNewer) return;
      ctx.addMember(fresh, now);
      ctx.events.push({ type: 'member-joined', member: fresh });
      if (rebroadcast) ctx.updates.enqueue(rec.id, { kind: 'alive', member: fresh });
      return;
    }
    if (rec.incarnation <= local.rec.incarnation) return;
    const was = local.rec.status;
    ctx.setRecord(local, fresh, now);
    // The refutation overrules the suspicion: its timer must not declare the member dead later.
    this.suspicions.delete(rec.id);
    if (was === MemberStatus.Suspect) ctx.events.push({ type: 'member-alive', member: fresh });
    else if (was === MemberStatus.Dead || was === MemberStatus.Left)
      ctx.events.push({ type: 'member-joined', member: fresh });
    else ctx.events.push({ type: 'member-updated', member: fresh });
    // An alive that overrules a suspicion or a death is a refutation: it races the suspicion timers.
    if (rebroadcast)
      ctx.updates.enqueue(
        rec.id,
        { kind: 'alive', member: fresh },
        was === MemberStatus.Suspect || was === MemberStatus.Dead,
      );
  }

  /**
   * A suspicion (SWIM's suspect state): a failed probe does not declare a
   * member dead at once, because the member may be slow or behind a lossy
   * link; it gets a timeout to hear of it and refute. Lifeguard makes that
   * timeout long for a lone accuser and short once independent members
   * confirm it: k members failing to reach it is much stronger evidence than
   * one (possibly unhealthy) member doing so.
   */
  applySuspect(id: MemberId, inc: number, from: MemberId, now: number): void {
    const ctx = this.ctx;
    if (id === ctx.id) {
      // Refute even at our current incarnation: the suspicion names it, so only a higher one overrules it.
      if (!ctx.leaving && inc >= ctx.self.incarnation) this.refute(inc);
      return;
    }
    const local = ctx.table.get(id);
    if (local === undefined || inc < local.rec.incarnation) {
      this.answerStale(id, from, inc);
      return;
    }
    if (!isLiveStatus(local.rec.status)) {
      this.answerStale(id, from, inc);
      return;
    }
    const existing = this.suspicions.get(id);
    if (
      local.rec.status === MemberStatus.Suspect &&
      existing !== undefined &&
      inc === local.rec.incarnation
    ) {
      // A new confirmer shortens the timeout; re-gossip it so others count it too (only new ones,
      // so the same suspicion does not circulate forever).
      if (existing.confirm(from)) {
        ctx.updates.enqueue(id, { kind: 'suspect', id, incarnation: inc, from }, true);
        ctx.trace?.({
          kind: 'suspect-confirmed',
          target: id,
          from,
          confirmations: existing.confirmations,
          deadline: existing.deadline(),
        });
      }
      return;
    }
    const rec: MemberRecord = { ...local.rec, incarnation: inc, status: MemberStatus.Suspect };
    ctx.setRecord(local, rec, now);
    // Timeouts grow with log(N): the suspicion must have time to reach the suspect by gossip,
    // which takes O(log N) rounds, before anyone declares it dead.
    const n = ctx.liveCount + 1;
    const minMs = ctx.cfg.suspicionMult * Math.max(1, Math.log10(Math.max(1, n))) * ctx.cfg.probeIntervalMs;
    // In a swarm too small to produce k independent confirmations, waiting for them would only
    // ever end at the maximum: use the minimum instead.
    const k = n - 2 < ctx.cfg.suspicionMult - 2 ? 0 : ctx.cfg.suspicionMult - 2;
    this.suspicions.set(id, new Suspicion(inc, now, minMs, minMs * ctx.cfg.suspicionMaxTimeoutMult, k, from));
    // Check it ourselves at once: our failed probe is the independent confirmation that
    // shortens everyone's timeout (Lifeguard), and our ping tells a live suspect to refute
    // (buddy system). The round-robin would reach it only after up to N periods. Only about
    // URGENT_PROBERS members do (each with probability URGENT_PROBERS/N), so a suspect in a
    // swarm of 10,000 is not pinged 10,000 times; a real failure is declared sooner, so the
    // failed probes of it stop sooner too (simulated, 25 members: no more packets per failure).
    if (from !== ctx.id && ctx.rng.next() * n < URGENT_PROBERS) this.urgentProbe(id);
    if (from === ctx.id) ctx.counters.suspicionsRaised++;
    ctx.events.push({ type: 'member-suspect', member: rec, from });
    ctx.updates.enqueue(id, { kind: 'suspect', id, incarnation: inc, from }, true);
  }

  /**
   * A death claim. Only a live member can die: a dead or left record at the
   * same incarnation already says as much, and a later life (higher
   * incarnation) arrives as an alive, not through here.
   */
  applyDead(id: MemberId, inc: number, from: MemberId, now: number): void {
    const ctx = this.ctx;
    if (id === ctx.id) {
      // Declared dead while running (a partition, a long pause): come back with a new life at once.
      // A death below our incarnation is about a life we already refuted past (memberlist's
      // deadNode ignores it too): several members answering a restart's stale alive with the
      // same old death must not raise us once each.
      if (!ctx.leaving && inc >= ctx.self.incarnation) this.refute(inc);
      return;
    }
    const local = ctx.table.get(id);
    if (local === undefined || inc < local.rec.incarnation || !isLiveStatus(local.rec.status)) {
      this.answerStale(id, from, inc);
      return;
    }
    const rec: MemberRecord = { ...local.rec, incarnation: inc, status: MemberStatus.Dead };
    ctx.setRecord(local, rec, now);
    this.suspicions.delete(id);
    ctx.events.push({ type: 'member-dead', member: rec, from });
    ctx.updates.enqueue(id, { kind: 'dead', id, incarnation: inc, from }, true);
  }

  /**
   * A graceful leave. It overrides dead too (at an equal or higher
   * incarnation), so applications can tell "shut down on purpose" from
   * "failed", e.g. not to page anyone.
   */
  applyLeft(id: MemberId, inc: number, now: number): void {
    const ctx = this.ctx;
    if (id === ctx.id) {
      // A leave of ours we did not send (an older life's): we are running, say so.
      if (!ctx.leaving && inc >= ctx.self.incarnation) this.refute(inc);
      return;
    }
    const local = ctx.table.get(id);
    if (local === undefined || inc < local.rec.incarnation || local.rec.status === MemberStatus.Left) return;
    const rec: MemberRecord = { ...local.rec, incarnation: inc, status: MemberStatus.Left };
    ctx.setRecord(local, rec, now);
    this.suspicions.delete(id);
    ctx.events.push({ type: 'member-left', member: rec });
    ctx.updates.enqueue(id, { kind: 'left', id, incarnation: inc }, true);
  }

  /**
   * Someone still takes a member we hold `left` for live: it suspects it or
   * declares it dead (its own probe failed, or it relays such a claim), so it
   * missed the leave, which went out once and only to a few members (an
   * observer closes its socket right after). Tell the claimant directly: a
   * leave is the member's own word, never a guess, so the claimant should
   * hold `left`, not `dead`, for a member that shut down on purpose. One
   * packet per stale claim heard; a claimant that got it stops claiming.
   */
  answerStale(id: MemberId, to: MemberId, claimInc: number, src?: PeerAddress): void {
    const ctx = this.ctx;
    const local = ctx.table.peek(id);
    if (local === undefined || local.status !== MemberStatus.Left || to === ctx.id || to === id) return;
    // A claim about a later life (it came back after the leave) is not answered with the old leave.
    if (claimInc > local.incarnation) return;
    const msg: GossipMessage = {
      type: 'gossip',
      from: ctx.id,
      updates: [{ kind: 'left', id, incarnation: local.incarnation }],
      events: [],
    };
    if (src !== undefined) ctx.reply(to, src, msg);
    else ctx.sendTo(to, msg);
  }

  /**
   * A member's own alive (it gossips for itself: a restart's join, its rounds) older than what we
   * hold of it: a restart that started below our record of its old life (dead, suspect, left, or
   * alive bumped past the clock it restarted with). applyAlive ignores it, rightly:
   * only a higher incarnation wins. Tell the member what we hold, in one packet to the address it
   * spoke from, so it refutes past it at once. The join's push-pull answer carries the same record,
   * but it is one datagram among the seed's table: lost (1 % loss), the member went on announcing
   * a life nobody took until its next push-pull, 10 s or more (simulated, 25 members: up to 14.7 s
   * until every view had it). A delayed packet of a live member's own is answered harmlessly: it
   * already holds an incarnation at least ours, so it does not refute.
   */
  answerStaleSelf(src: PeerAddress, from: MemberId, updates: readonly MemberUpdate[]): void {
    const ctx = this.ctx;
    for (const u of updates) {
      if (u.kind !== 'alive' || u.member.id !== from) continue;
      const local = ctx.table.peek(from);
      if (local === undefined || !newer(local, u.member)) continue;
      const held: MemberUpdate =
        local.status === MemberStatus.Alive
          ? { kind: 'alive', member: local }
          : local.status === MemberStatus.Suspect
            ? { kind: 'suspect', id: from, incarnation: local.incarnation, from: ctx.id }
            : local.status === MemberStatus.Dead
              ? { kind: 'dead', id: from, incarnation: local.incarnation, from: ctx.id }
              : { kind: 'left', id: from, incarnation: local.incarnation };
      ctx.reply(from, src, { type: 'gossip', from: ctx.id, updates: [held], events: [] });
      return;
    }
  }

  /**
   * Overrule a claim about ourselves with an incarnation above it (and above
   * our own): incarnations only grow, so the swarm orders our alive after the
   * claim whatever order the two reach each member in. Being accused is also
   * a hint that we are the slow one, so Lifeguard raises our awareness score
   * (memberlist's refute does the same).
   */
  refute(inc: number): void {
    const ctx = this.ctx;
    ctx.self = {
      ...ctx.self,
      incarnation: Math.max(inc, ctx.self.incarnation) + 1,
      status: MemberStatus.Alive,
    };
    ctx.counters.refutations++;
    ctx.awareness.applyDelta(1);
    ctx.updates.enqueue(ctx.id, { kind: 'alive', member: ctx.self }, true);
  }

  /**
   * memberlist's mergeRemoteState: a remote "dead" is only a suspicion until we
   * time it out ourselves. A push-pull partner's view may be stale or one-sided
   * (a partition), and taking its deaths as fact would skip the suspect
   * member's chance to refute.
   */
  mergeRemote(r: MemberRecord, from: MemberId, now: number, rebroadcast: boolean): void {
    const ctx = this.ctx;
    switch (r.status) {
      case MemberStatus.Alive:
        this.applyAlive(r, now, rebroadcast);
        return;
      case MemberStatus.Suspect:
      case MemberStatus.Dead:
        if (!ctx.table.has(r.id) && r.id !== ctx.id) return;
        this.applyAlive({ ...r, status: MemberStatus.Alive }, now, true, true);
        this.applySuspect(r.id, r.incarnation, from, now);
        return;
      case MemberStatus.Left:
        this.applyLeft(r.id, r.incarnation, now);
        return;
    }
  }

  /** Suspicions whose timeout ran out without a refutation become deaths. */
  tickSuspicions(now: number): void {
    const ctx = this.ctx;
    for (const [id, s] of this.suspicions) {
      const deadline = s.deadline();
      if (now < deadline) continue;
      this.suspicions.delete(id);
      ctx.trace?.({
        kind: 'suspicion-expired',
        target: id,
        startedAt: s.startedAt,
        confirmations: s.confirmations,
        lateMs: now - deadline,
      });
      const m = ctx.table.get(id);
      if (m !== undefined && m.rec.status === MemberStatus.Suspect && m.rec.incarnation === s.incarnation) {
        this.applyDead(id, s.incarnation, ctx.id, now);
      }
    }
  }

  /**
   * Forget dead and left members after `deadRetentionMs`. They are kept that
   * long so a late, stale alive of theirs (same incarnation) cannot resurrect
   * them, and so we keep gossiping to the recently dead (a wrongly declared
   * member hears of it and refutes).
   */
  expireDead(now: number): void {
    const ctx = this.ctx;
    while (ctx.graveyard.length > 0 && ctx.graveyard[0]!.at + ctx.cfg.deadRetentionMs <= now) {
      const g = ctx.graveyard.shift()!;
      const m = ctx.table.get(g.id);
      // Came back to life (or died again later) since: this grave entry is stale.
      if (m === undefined || isLiveStatus(m.rec.status) || m.changedAt !== g.at) continue;
      ctx.removeMember(g.id);
    }
  }

  nextDeadline(): number {
    let t = Infinity;
    for (const s of this.suspicions.values()) t = Math.min(t, s.deadline());
    const grave = this.ctx.graveyard[0];
    if (grave !== undefined) t = Math.min(t, grave.at + this.ctx.cfg.deadRetentionMs);
    return t;
  }
}
