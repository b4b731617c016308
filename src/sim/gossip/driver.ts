/**
 * Runs many gossip cores on the deterministic simulator: one virtual clock,
 * one seeded network, each node ticked only at its own `nextDeadline()`, so
 * an idle 10,000-node swarm costs events per protocol period, not per node
 * per millisecond. The driver does what src/node does with sockets: drain
 * outgoing messages, hand them to the network, deliver them later.
 */
import { encode } from '@msgpack/msgpack';
import { createRng, type Rng } from '../../common/rng.js';
import type { GossipMessage, MemberId, MemberRecord } from '../../gossip/messages.js';
import { MemberStatus } from '../../gossip/messages.js';
import { GossipNode } from '../../gossip/node.js';
import { estimateSize } from '../../gossip/size.js';
import type { SharedView } from '../../gossip/table.js';
import type { GossipConfig, GossipEvent } from '../../gossip/types.js';
import { EventQueue } from '../event-queue.js';
import { PERFECT_LINK, SimNetwork, type LinkModel } from '../network.js';

export interface GossipSimOptions {
  readonly seed: number;
  readonly link?: LinkModel;
  readonly config?: Partial<GossipConfig>;
  /** Count bytes by really encoding with @msgpack/msgpack (slower) instead of the size estimate. */
  readonly exactBytes?: boolean;
  /** Or count bytes with this function (e.g. the wire codec's encoded length). */
  readonly sizeOf?: (msg: GossipMessage) => number;
  /**
   * Deliver multicast output (discovery announces, the beacon) to every other node, each copy
   * through the link model and partitions like a unicast message. Off by default, as before:
   * scenarios without discovery stay bit-identical.
   */
  readonly multicast?: boolean;
  /**
   * Rewrite (or drop, with null) what a node sends before it reaches the network: models members
   * that are not `GossipNode`s, e.g. clients/python/swarm_lite.py observers that pass no update on.
   */
  readonly outgoing?: (from: MemberId, msg: GossipMessage) => GossipMessage | null;
}

type SimEvent =
  | { readonly k: 'tick'; readonly id: MemberId }
  | { readonly k: 'msg'; readonly from: MemberId; readonly to: MemberId; readonly msg: GossipMessage };

interface SimNode {
  readonly core: GossipNode;
  up: boolean;
  tickAt: number;
}

export interface Traffic {
  messages: number;
  bytes: number;
  /** Largest single message seen, bytes. */
  maxBytes: number;
  /** Type of that message. */
  maxType: string;
  byType: Record<string, number>;
}

export type SimListener = (id: MemberId, ev: GossipEvent, now: number) => void;

/** What a simulated member looks like to others: its id doubles as its address. */
export function simRecord(id: MemberId, deviceClass = 'standard'): MemberRecord {
  return {
    id,
    name: id,
    host: id,
    port: 0,
    deviceClass,
    incarnation: 0,
    status: MemberStatus.Alive,
    meta: {},
  };
}

export function sharedView(
  ids: readonly MemberId[],
  classOf: (id: MemberId) => string = () => 'standard',
): SharedView {
  return { ids, records: new Map(ids.map((id) => [id, simRecord(id, classOf(id))])) };
}

export class GossipSim {
  readonly clock = new EventQueue<SimEvent>();
  readonly net: SimNetwork<MemberId>;
  readonly traffic: Traffic = { messages: 0, bytes: 0, maxBytes: 0, maxType: '', byType: {} };
  private readonly rng: Rng;
  private readonly nodes = new Map<MemberId, SimNode>();
  private readonly listeners: SimListener[] = [];
  private readonly sendListeners: ((from: MemberId, msg: GossipMessage) => void)[] = [];

  constructor(private readonly opts: GossipSimOptions) {
    this.rng = createRng(opts.seed);
    this.net = new SimNetwork<MemberId>(this.rng.fork(), opts.link ?? PERFECT_LINK);
  }

  get now(): number {
    return this.clock.now;
  }

  onEvent(l: SimListener): void {
    this.listeners.push(l);
  }

  /** Every message a node hands to the network (before loss), e.g. to check who relays what. */
  onSend(l: (from: MemberId, msg: GossipMessage) => void): void {
    this.sendListeners.push(l);
  }

  /** Start a node; with `view` it already knows those members, with `seeds` it joins through them. */
  addNode(
    id: MemberId,
    opts: {
      view?: SharedView;
      seeds?: readonly MemberId[];
      config?: Partial<GossipConfig>;
      /** First incarnation (a restart that knows, or guesses, its previous life's). */
      incarnation?: number;
      /** `minimal` makes an observer that never relays events. */
      deviceClass?: string;
    } = {},
  ): GossipNode {
    const core = new GossipNode({
      self: {
        id,
        name: id,
        host: id,
        port: 0,
        incarnation: opts.incarnation ?? 0,
        ...(opts.deviceClass === undefined ? {} : { deviceClass: opts.deviceClass }),
      },
      config: { ...this.opts.config, ...opts.config },
      rng: this.rng.fork(),
      ...(opts.view === undefined ? {} : { view: opts.view }),
    });
    const n: SimNode = { core, up: true, tickAt: Infinity };
    this.nodes.set(id, n);
    if (opts.seeds !== undefined && opts.seeds.length > 0) {
      core.join(
        opts.seeds.map((s) => ({ host: s, port: 0 })),
        this.now,
      );
    } else core.tick(this.now);
    this.after(id, n);
    return core;
  }

  /** n members that all know each other from the start (ids `${prefix}${i}`). */
  bootstrap(n: number, prefix = 'n', classOf?: (id: MemberId) => string): MemberId[] {
    const ids = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const view = sharedView(ids, classOf);
    for (const id of ids)
      this.addNode(id, { view, ...(classOf === undefined ? {} : { deviceClass: classOf(id) }) });
    return ids;
  }

  node(id: MemberId): GossipNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no simulated node ${id}`);
    return n.core;
  }

  ids(): MemberId[] {
    return [...this.nodes.keys()];
  }

  isUp(id: MemberId): boolean {
    return this.nodes.get(id)?.up ?? false;
  }

  /** Crash: the node stops sending and receiving at once, no leave. */
  kill(id: MemberId): void {
    const n = this.nodes.get(id);
    if (n !== undefined) n.up = false;
  }

  leave(id: MemberId): void {
    const n = this.nodes.get(id);
    if (n === undefined || !n.up) return;
    n.core.leave(this.now);
    this.after(id, n);
  }

  broadcast(id: MemberId, payload: Uint8Array, name = 'ev'): void {
    const n = this.nodes.get(id);
    if (n === undefined || !n.up) return;
    n.core.broadcast(name, payload, this.now);
    this.after(id, n);
  }

  /** Let the caller poke a core (updateMeta, setParams) and have its output flushed. */
  with(id: MemberId, f: (core: GossipNode, now: number) => void): void {
    const n = this.nodes.get(id);
    if (n === undefined || !n.up) return;
    f(n.core, this.now);
    this.after(id, n);
  }

  /** Process events up to virtual time `until` (ms); bounded by `maxEvents`. */
  run(until: number, maxEvents = 50_000_000): void {
    let count = 0;
    for (;;) {
      const t = this.clock.peekTime();
      if (t === undefined || t > until) break;
      if (++count > maxEvents) throw new Error(`gossip sim exceeded ${maxEvents} events before t=${until}`);
      const ev = this.clock.pop()!;
      const p = ev.payload;
      if (p.k === 'tick') {
        const n = this.nodes.get(p.id);
        if (n === undefined || !n.up || ev.at !== n.tickAt) continue;
        n.tickAt = Infinity;
        n.core.tick(ev.at);
        this.after(p.id, n);
      } else {
        const n = this.nodes.get(p.to);
        if (n === undefined || !n.up || !this.net.canReach(p.from, p.to)) continue;
        n.core.receive({ host: p.from, port: 0 }, p.msg, ev.at);
        this.after(p.to, n);
      }
    }
    this.clock.advanceTo(until);
  }

  private after(id: MemberId, n: SimNode): void {
    const now = this.now;
    for (const out of n.core.drain()) {
      if (out.multicast === true && this.opts.multicast !== true) continue;
      const rewritten = this.opts.outgoing === undefined ? out.msg : this.opts.outgoing(id, out.msg);
      if (rewritten === null) continue;
      const o = rewritten === out.msg ? out : { ...out, msg: rewritten };
      const bytes =
        this.opts.sizeOf !== undefined
          ? this.opts.sizeOf(o.msg)
          : this.opts.exactBytes === true
            ? encode(o.msg).byteLength
            : estimateSize(o.msg);
      for (const l of this.sendListeners) l(id, o.msg);
      this.traffic.messages++;
      this.traffic.bytes += bytes;
      if (bytes > this.traffic.maxBytes) {
        this.traffic.maxBytes = bytes;
        this.traffic.maxType = o.msg.type;
      }
      this.traffic.byType[o.msg.type] = (this.traffic.byType[o.msg.type] ?? 0) + 1;
      const targets =
        o.multicast === true ? [...this.nodes.keys()].filter((x) => x !== id) : [o.to ?? o.host];
      for (const to of targets)
        for (const d of this.net.route(id, to, bytes))
          this.clock.schedule(now + d, { k: 'msg', from: id, to, msg: o.msg });
    }
    for (const e of n.core.drainEvents()) for (const l of this.listeners) l(id, e, now);
    const d = n.core.nextDeadline();
    if (d < n.tickAt) {
      n.tickAt = Math.max(d, now);
      this.clock.schedule(n.tickAt, { k: 'tick', id });
    }
  }
}
