/**
 * Gossip rounds and event delivery (memberlist's gossip() and the broadcast
 * queues): every round, `fanout` random members get the queued membership
 * updates and (without Plumtree) the queued application events.
 *
 * Why rounds besides piggybacking on probes: a probe goes to one member per
 * period, so an update piggybacked only on probes spreads one hop per period;
 * a fanout of several members per (shorter) round spreads it in O(log N)
 * rounds. Recently dead members are included in the targets so a member
 * wrongly declared dead hears of it and refutes.
 */
import type { MemberId, UserEvent } from './messages.js';
import { MESSAGE_BUDGET_BYTES } from './messages.js';
import type { GossipContext } from './context.js';
import { eventKey } from './plumtree.js';
import { TransmitQueue } from './queue.js';
import { estimateSize } from './size.js';

/**
 * While news that failure detection waits on is queued (a suspicion or its confirmation, a death,
 * a refutation, a leave), rounds follow each other this often at the least, whatever the interval
 * in force: memberlist's LAN gossip interval. The daemon's interval is the seed config's 1 s
 * (`[gossip] interval_ms`), and at 1 s a suspicion's confirmations and the death reached the last
 * member later: simulated at 1 % loss, 25 members, crash to dead everywhere p50 8.2 s against
 * 7.35 s at 200 ms (memberlist: 7.6 s). It costs no packet more (each update is still sent its
 * retransmit limit of times), and nothing while the swarm is healthy (no such news queued).
 */
export const URGENT_GOSSIP_MS = 200;

export class Dissemination {
  /** Events waiting for gossip rounds (only when Plumtree is off). */
  private readonly eventQueue = new TransmitQueue<UserEvent>();
  private nextGossipAt = 0;
  private lastRoundAt = Number.NEGATIVE_INFINITY;
  private eventSeq = 0;
  /** Delivery times in the stats window, for the event rate. */
  private readonly eventSamples: number[] = [];
  /** The adaptive controller's levers. */
  intervalMs: number;
  fanout: number;

  constructor(private readonly ctx: GossipContext) {
    this.intervalMs = ctx.cfg.gossipIntervalMs;
    this.fanout = ctx.cfg.fanout;
  }

  /** Stagger the first round so a swarm started at once does not gossip in lockstep. */
  start(now: number): void {
    this.nextGossipAt = now + this.ctx.rng.next() * this.intervalMs;
  }

  /** A new interval applies from the round in progress: the next round moves, it does not wait out the old one. */
  setInterval(intervalMs: number): void {
    const prev = this.nextGossipAt - this.intervalMs;
    this.intervalMs = intervalMs;
    this.nextGossipAt = prev + intervalMs;
  }

  get queued(): number {
    return this.ctx.updates.size + this.eventQueue.size;
  }

  nextDeadline(): number {
    return this.queued > 0 ? this.dueAt() : Infinity;
  }

  tick(now: number): void {
    if (now < this.dueAt()) return;
    this.roundNow(now);
  }

  /** Gossip now and restart the period from here (just joined: our alive cannot wait a round). */
  roundNow(now: number): void {
    this.nextGossipAt = now + this.intervalMs;
    this.lastRoundAt = now;
    this.round(now);
  }

  /** The next round: the interval in force, or sooner while urgent news waits (URGENT_GOSSIP_MS). */
  private dueAt(): number {
    if (this.ctx.updates.urgent === 0) return this.nextGossipAt;
    const soon = Math.max(this.lastRoundAt + Math.min(this.intervalMs, URGENT_GOSSIP_MS), this.ctx.lastNow);
    return Math.min(this.nextGossipAt, soon);
  }

  /** One round without touching the schedule. */
  round(now: number): void {
    const ctx = this.ctx;
    if (this.queued === 0) return;
    const targets = ctx.sampleMembers(this.fanout, new Set(), true, now);
    const limit = ctx.retransmitLimit();
    for (const to of targets) {
      // +8: both arrays' headers may grow from 1 to 3 bytes, with margin.
      const base = estimateSize({ type: 'gossip', from: ctx.id, updates: [], events: [] }) + 8;
      const updates = ctx.updates.take(MESSAGE_BUDGET_BYTES - base, limit);
      let used = base;
      for (const u of updates) used += estimateSize(u);
      const events = this.eventQueue.take(MESSAGE_BUDGET_BYTES - used, limit);
      if (updates.length === 0 && events.length === 0) break;
      ctx.sendTo(to, { type: 'gossip', from: ctx.id, updates, events });
    }
  }

  /** Originate an event; it is also delivered locally. */
  broadcast(name: string, payload: Uint8Array, now: number): UserEvent {
    const ctx = this.ctx;
    // Above everything the tree has seen from us: a restarted member must not reuse a
    // sequence number others already delivered (they would drop the new event as a duplicate).
    this.eventSeq = Math.max(this.eventSeq, ctx.tree.highWater(ctx.id)) + 1;
    const event: UserEvent = { origin: ctx.id, seq: this.eventSeq, name, payload };
    if (ctx.cfg.plumtree) ctx.tree.broadcast(event, now);
    else if (ctx.tree.accept(event, 0)) {
      this.deliver(event, now);
      this.eventQueue.enqueue(eventKey(event.origin, event.seq), event);
    }
    return event;
  }

  /**
   * Events from gossip messages and push-pull: with Plumtree they are repair
   * (the tree may graft the sender); without, each new one is delivered and
   * re-gossiped (plain epidemic broadcast).
   */
  onPiggybackEvents(evs: readonly UserEvent[], now: number): void {
    const ctx = this.ctx;
    if (ctx.cfg.plumtree) {
      ctx.tree.onRepair(evs, now);
      return;
    }
    for (const ev of evs) {
      if (!ctx.tree.accept(ev, 0)) continue;
      this.deliver(ev, now);
      this.eventQueue.enqueue(eventKey(ev.origin, ev.seq), ev);
    }
  }

  deliver(event: UserEvent, now: number): void {
    const ctx = this.ctx;
    this.noteOwnSeq(event.origin, event.seq);
    ctx.counters.eventsDelivered++;
    this.eventSamples.push(now);
    if (this.eventSamples.length > 100_000) this.eventSamples.splice(0, 50_000);
    ctx.events.push({ type: 'user-event', event });
  }

  /** Another member holds an event of ours (an earlier life's): number new ones above it. */
  noteOwnSeq(origin: MemberId, seq: number): void {
    if (origin === this.ctx.id) this.eventSeq = Math.max(this.eventSeq, seq);
  }

  /** Events delivered per second over the window since `since`. */
  eventRate(since: number, windowS: number): number {
    while (this.eventSamples.length > 0 && this.eventSamples[0]! < since) this.eventSamples.shift();
    return this.eventSamples.length / windowS;
  }
}
