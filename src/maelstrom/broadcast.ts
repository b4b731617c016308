/**
 * `swarm maelstrom broadcast`: the gossip core as a node of Maelstrom's
 * broadcast workload (Gossip Glomers 3a-3e).
 *
 * - Membership is Maelstrom's node list, known from `init`, so every node
 *   starts from the same shared view; SWIM probing still runs and the
 *   partition nemesis shows up as suspicions, never as lost values.
 * - `broadcast` becomes a gossip user event (payload = the value as
 *   MessagePack); values are delivered through the core's eager overlay and
 *   lazy IHAVE/GRAFT repair, and push-pull anti-entropy brings back whatever
 *   a partition kept out. `read` answers the values delivered so far.
 * - `topology` is acknowledged and ignored: the overlay is derived from
 *   membership so that it re-forms by itself when nodes are cut off.
 * - Inter-node traffic is Maelstrom messages `{type: "gossip", m: <base64 msgpack>}`.
 */
import { decode, encode } from '@msgpack/msgpack';
import { createRng } from '../common/rng.js';
import type { GossipMessage } from '../gossip/messages.js';
import { MESSAGE_TYPE_CODES } from '../gossip/messages.js';
import { GossipNode } from '../gossip/node.js';
import type { SharedView } from '../gossip/table.js';
import type { GossipConfig } from '../gossip/types.js';
import { simRecord } from '../sim/gossip/driver.js';
import { ErrorCode, MaelstromRpcError, type MaelstromMessage } from './protocol.js';
import { MaelstromNode, type NodeIo } from './runtime.js';
import type { MaelstromWorkload } from './workloads.js';

export interface BroadcastOptions {
  readonly tickMs: number;
  readonly config: Partial<GossipConfig>;
}

/** Maelstrom's latencies are ~100 ms in the 3d/3e runs; probe timeouts must exceed a round trip. */
export const DEFAULT_BROADCAST: BroadcastOptions = {
  tickMs: 5,
  config: { probeIntervalMs: 1000, probeTimeoutMs: 500, antiEntropyIntervalMs: 2000 },
};

function isGossipMessage(v: unknown): v is GossipMessage {
  if (typeof v !== 'object' || v === null) return false;
  const t = (v as { type?: unknown }).type;
  const from = (v as { from?: unknown }).from;
  return typeof t === 'string' && Object.hasOwn(MESSAGE_TYPE_CODES, t) && typeof from === 'string';
}

/** Wire one Maelstrom node to a gossip core; returns the node (for in-process tests). */
export function createBroadcastNode(io: NodeIo, opts: BroadcastOptions = DEFAULT_BROADCAST): MaelstromNode {
  const node = new MaelstromNode(io);
  const values = new Set<unknown>();
  const holder: { core?: GossipNode } = {};
  const pump = (core: GossipNode): void => {
    for (const o of core.drain()) {
      const dest = o.to ?? o.host;
      if (o.multicast === true || dest === node.id) continue;
      node.sendOneWay(dest, { type: 'gossip', m: Buffer.from(encode(o.msg)).toString('base64') });
    }
    for (const ev of core.drainEvents()) {
      if (ev.type === 'user-event') values.add(decode(ev.event.payload));
    }
  };
  node.onInit((n) => {
    // Maelstrom node ids double as addresses, exactly as in the gossip simulator.
    const records = new Map(n.nodeIds.map((id) => [id, simRecord(id)]));
    const view: SharedView = { ids: n.nodeIds, records };
    const core = new GossipNode({
      self: { id: n.id, name: n.id, host: n.id, port: 0 },
      config: opts.config,
      rng: createRng((Date.now() ^ Number.parseInt(n.id.replace(/\D/g, '') || '0', 10)) >>> 0),
      view,
    });
    holder.core = core;
    core.tick(n.now());
    n.every(opts.tickMs, () => {
      const now = n.now();
      if (now >= core.nextDeadline()) core.tick(now);
      pump(core);
    });
  });
  const coreOf = (): GossipNode => {
    if (holder.core === undefined)
      throw new MaelstromRpcError(ErrorCode.TemporarilyUnavailable, 'not initialized');
    return holder.core;
  };
  node.on('topology', (msg) => node.reply(msg, { type: 'topology_ok' }));
  node.on('broadcast', (msg: MaelstromMessage) => {
    const core = coreOf();
    const value = msg.body['message'];
    if (value === undefined)
      throw new MaelstromRpcError(ErrorCode.MalformedRequest, 'broadcast needs a message');
    if (!values.has(value)) core.broadcast('broadcast', encode(value), node.now());
    pump(core);
    node.reply(msg, { type: 'broadcast_ok' });
  });
  node.on('read', (msg) => node.reply(msg, { type: 'read_ok', messages: [...values] }));
  node.on('gossip', (msg) => {
    const core = coreOf();
    const m = msg.body['m'];
    if (typeof m !== 'string') return;
    let decoded: unknown;
    try {
      decoded = decode(Buffer.from(m, 'base64'));
    } catch {
      node.log(`dropping undecodable gossip from ${msg.src}`);
      return;
    }
    if (!isGossipMessage(decoded)) return;
    core.receive({ host: msg.src, port: 0 }, decoded, node.now());
    pump(core);
  });
  return node;
}

export const broadcastWorkload: MaelstromWorkload = {
  name: 'broadcast',
  description: "serve Maelstrom's broadcast workload (broadcast/read/topology) with the gossip core",
  options: [
    {
      flags: '--tick-ms <ms>',
      description: 'timer resolution',
      defaultValue: String(DEFAULT_BROADCAST.tickMs),
    },
    {
      flags: '--event-batch-ms <ms>',
      description: 'hub-to-leaf batching window (fewer messages vs lower latency)',
      defaultValue: '40',
    },
  ],
  async run(io, opts) {
    const tickMs = Number(opts['tickMs'] ?? DEFAULT_BROADCAST.tickMs);
    const batch = Number(opts['eventBatchMs'] ?? 40);
    const node = createBroadcastNode(io, {
      tickMs: Number.isFinite(tickMs) && tickMs > 0 ? tickMs : DEFAULT_BROADCAST.tickMs,
      config: { ...DEFAULT_BROADCAST.config, eventBatchMs: Number.isFinite(batch) && batch > 0 ? batch : 40 },
    });
    await node.run();
  },
};
