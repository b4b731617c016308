/**
 * The gossip core's real traffic over the real UDP transport (encrypted, on
 * loopback): four members join through one seed, see each other, deliver a
 * broadcast event everywhere, and learn of a graceful leave. Every message
 * the core emits must fit the codec's schema and the datagram limit: any
 * encode refusal, oversize or malformed drop fails the test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import type { GossipMessage } from '../../src/gossip/messages.js';
import { GossipNode } from '../../src/gossip/node.js';
import type { GossipEvent } from '../../src/gossip/types.js';
import { openGossipTransport, sendOutgoing } from '../../src/net/runtime.js';
import type { UdpTransport } from '../../src/net/udp.js';
import { LOOPBACK_NETWORK } from './helpers.js';

interface Member {
  id: string;
  core: GossipNode | null;
  t: UdpTransport<GossipMessage>;
  events: GossipEvent[];
}

const key = Buffer.alloc(32, 11).toString('base64');
const network = LOOPBACK_NETWORK;
const members: Member[] = [];
const errors: Error[] = [];

afterEach(async () => {
  await Promise.all(members.splice(0).map((m) => m.t.close()));
  errors.length = 0;
});

async function start(id: string, seed: number): Promise<Member> {
  const m: Partial<Member> & { events: GossipEvent[] } = { id, events: [] };
  const t = await openGossipTransport({
    network,
    security: { swarm_key: key },
    onMessage: (msg, from) => m.core?.receive({ host: from.address, port: from.port }, msg, Date.now()),
    onError: (e) => errors.push(e),
  });
  m.t = t;
  m.core = new GossipNode({
    self: { id, name: id, host: '127.0.0.1', port: t.address().port, deviceClass: 'standard' },
    config: {
      probeIntervalMs: 100,
      probeTimeoutMs: 50,
      gossipIntervalMs: 30,
      joinRetryMs: 100,
      cluster: 'net-test',
    },
    rng: createRng(seed),
  });
  const done = m as Member;
  members.push(done);
  return done;
}

/** One pass of the runtime loop every member runs: tick, send, collect events. */
function pump(): void {
  const now = Date.now();
  for (const m of members) {
    if (!m.core) continue;
    m.core.tick(now);
    for (const out of m.core.drain()) {
      const r = sendOutgoing(m.t, out);
      if (r !== 'sent') errors.push(new Error(`${m.id}: send ${out.msg.type} -> ${r}`));
    }
    m.events.push(...m.core.drainEvents());
  }
}

async function until(pred: () => boolean, what: string, maxMs = 8000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    pump();
    await new Promise((r) => setTimeout(r, 5));
  }
}

function aliveIds(m: Member): string[] {
  return (m.core?.members() ?? [])
    .filter((r) => r.status === 0)
    .map((r) => r.id)
    .sort();
}

describe('gossip core over encrypted UDP', () => {
  it('joins, disseminates an event, and learns of a leave with no dropped packet', async () => {
    const ids = ['g1', 'g2', 'g3', 'g4'];
    for (const [i, id] of ids.entries()) await start(id, 100 + i);
    const seed = members[0] as Member;
    const now = Date.now();
    for (const m of members.slice(1)) m.core?.join([{ host: '127.0.0.1', port: seed.t.address().port }], now);
    await until(() => members.every((m) => aliveIds(m).join() === ids.join()), 'full membership');

    members[2]?.core?.broadcast('hello', Uint8Array.of(1, 2, 3), Date.now());
    const gotEvent = (m: Member): boolean =>
      m.events.some((e) => e.type === 'user-event' && e.event.name === 'hello' && e.event.origin === 'g3');
    await until(() => members.filter((m) => m.id !== 'g3').every(gotEvent), 'event everywhere');

    const leaver = members[3] as Member;
    leaver.core?.leave(Date.now());
    pump();
    const others = members.slice(0, 3);
    await until(() => others.every((m) => m.core?.member('g4')?.status === 3), 'leave seen by the others');

    expect(errors.map((e) => e.message)).toEqual([]);
    for (const m of members) {
      const s = m.t.stats();
      expect(s.packetsIn, m.id).toBeGreaterThan(0);
      expect({
        id: m.id,
        malformed: s.droppedMalformed,
        unauth: s.droppedUnauthenticated,
        oversize: s.droppedOversize,
      }).toEqual({
        id: m.id,
        malformed: 0,
        unauth: 0,
        oversize: 0,
      });
    }
  });
});
