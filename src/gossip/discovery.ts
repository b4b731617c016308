/**
 * LAN discovery: multicast announces while alone, the beacon once in a swarm,
 * and the answers that turn either into a join or a merge of two groups.
 * The runtime does the multicasting; the core only decides when and what.
 */
import type { AnnounceMsg, AnnounceReplyMsg, GossipMessage } from './messages.js';
import type { GossipContext } from './context.js';
import { isLiveStatus } from './context.js';
import type { PushPull } from './push-pull.js';
import type { MemberStates } from './state.js';

/** Slowest announce rate: the alone back-off's cap and the beacon's period. */
const MAX_ANNOUNCE_BACKOFF_MS = 30_000;

export class Discovery {
  private nextAnnounceAt = Infinity;
  private announceBackoff = 0;

  constructor(
    private readonly ctx: GossipContext,
    private readonly states: MemberStates,
    private readonly pushPull: PushPull,
  ) {}

  /** Announce at once on start (if enabled): a node alone learns of a swarm within one round trip. */
  start(now: number): void {
    if (this.ctx.cfg.announceIntervalMs > 0) {
      this.announceBackoff = this.ctx.cfg.announceIntervalMs;
      this.nextAnnounceAt = now;
    }
  }

  nextDeadline(): number {
    return this.nextAnnounceAt;
  }

  announceMessage(): GossipMessage {
    const ctx = this.ctx;
    return { type: 'announce', from: ctx.id, member: ctx.self, cluster: ctx.cfg.cluster };
  }

  /**
   * Alone: announce with exponential back-off (quick to find a swarm that
   * starts together, cheap for a lone device that waits long). In a swarm:
   * only the beacon keeps announcing.
   */
  tick(now: number): void {
    const ctx = this.ctx;
    if (now < this.nextAnnounceAt) return;
    if (ctx.leaving) {
      this.nextAnnounceAt = now + MAX_ANNOUNCE_BACKOFF_MS;
      return;
    }
    if (ctx.liveCount > 0) {
      // Found a swarm. Its member with the smallest id keeps announcing at the slowest rate (the
      // beacon): groups that formed apart on one LAN find each other within a beacon period once
      // multicast reaches them, for one multicast packet per period swarm-wide (others ignore the
      // beacon of a member they hold alive). The rest stay silent until alone again.
      this.nextAnnounceAt = now + MAX_ANNOUNCE_BACKOFF_MS;
      this.announceBackoff = ctx.cfg.announceIntervalMs;
      if (this.isBeacon()) {
        ctx.out.push({ to: null, host: '', port: 0, multicast: true, msg: this.announceMessage() });
      }
      return;
    }
    ctx.out.push({ to: null, host: '', port: 0, multicast: true, msg: this.announceMessage() });
    this.nextAnnounceAt = now + this.announceBackoff;
    this.announceBackoff = Math.min(MAX_ANNOUNCE_BACKOFF_MS, this.announceBackoff * 2);
  }

  /**
   * Whether this node has the smallest id among the live members it knows
   * (itself included). The smallest id because every member can tell it
   * from its own table with no election and no extra messages: in a
   * converged swarm all agree on one beacon, and when the beacon dies the
   * next smallest takes over as soon as the death is known.
   */
  private isBeacon(): boolean {
    const ctx = this.ctx;
    for (const r of ctx.table.records()) {
      if (isLiveStatus(r.status) && r.id < ctx.id) return false;
    }
    return true;
  }

  onAnnounce(msg: AnnounceMsg, now: number): void {
    const ctx = this.ctx;
    if (msg.cluster !== ctx.cfg.cluster || ctx.leaving) return;
    // A member we already hold alive (another group's beacon we merged with, or our own
    // group's): no answer, so a converged swarm pays one multicast per beacon period, not N replies.
    const known = ctx.table.get(msg.from)?.rec;
    if (known !== undefined && isLiveStatus(known.status) && known.incarnation >= msg.member.incarnation)
      return;
    this.states.applyAlive(msg.member, now, true);
    ctx.out.push({
      to: msg.member.id,
      host: msg.member.host,
      port: msg.member.port,
      msg: { type: 'announce-reply', from: ctx.id, member: ctx.self, cluster: ctx.cfg.cluster },
    });
  }

  onAnnounceReply(msg: AnnounceReplyMsg, now: number): void {
    const ctx = this.ctx;
    if (msg.cluster !== ctx.cfg.cluster) return;
    if (ctx.liveCount === 0) {
      this.pushPull.join([{ host: msg.member.host, port: msg.member.port }], now);
      return;
    }
    // We have members, yet someone we did not know answered our beacon: two groups that formed
    // apart (multicast lost at start, a partition) meet. One push-pull merges both tables, and
    // each side's gossip then spreads the other's members (see docs/gossip.md "Discovery").
    const known = ctx.table.get(msg.from)?.rec;
    if (known !== undefined && isLiveStatus(known.status)) return;
    this.states.applyAlive(msg.member, now, true);
    this.pushPull.sendDigest(msg.from, msg.member.host, msg.member.port, false);
  }
}
