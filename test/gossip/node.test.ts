import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { SwarmError } from '../../src/common/errors.js';
import { MESSAGE_BUDGET_BYTES, MemberStatus } from '../../src/gossip/messages.js';
import { GossipNode } from '../../src/gossip/node.js';
import { estimateSize } from '../../src/gossip/size.js';
import type { GossipEvent } from '../../src/gossip/types.js';
import { GossipSim, sharedView } from '../../src/sim/gossip/driver.js';
import { hearUpdates } from '../helpers/gossip-news.js';

const LAN = { latencyMs: 2, jitterMs: 2, loss: 0, duplicate: 0 };

function statusOf(sim: GossipSim, viewer: string, id: string): MemberStatus | undefined {
  return sim.node(viewer).member(id)?.status;
}

/** Five observers (o1..o5) and one full member around `me`. */
function observersView(): ReturnType<typeof sharedView> {
  const ids = ['me', 'o1', 'o2', 'o3', 'o4', 'o5', 'full'];
  return sharedView(ids, (id) => (id.startsWith('o') ? 'minimal' : 'standard'));
}

/** `me` in `view`, leaving at t=10. */
function leavingNode(view: ReturnType<typeof sharedView>, seed: number): GossipNode {
  const me = new GossipNode({
    self: { id: 'me', name: 'me', host: 'me', port: 0 },
    rng: createRng(seed),
    view,
  });
  me.leave(10);
  return me;
}

describe('GossipNode', () => {
  it('joins through a seed address and both sides learn each other', () => {
    const sim = new GossipSim({ seed: 1, link: LAN });
    sim.addNode('a');
    sim.addNode('b', { seeds: ['a'] });
    sim.addNode('c', { seeds: ['a'] });
    sim.run(5000);
    for (const v of ['a', 'b', 'c'])
      for (const id of ['a', 'b', 'c']) expect(statusOf(sim, v, id)).toBe(MemberStatus.Alive);
  });

  it('retries the join until the seed answers', () => {
    const sim = new GossipSim({ seed: 2, link: LAN });
    sim.addNode('a');
    sim.net.partition([['b']]);
    sim.addNode('b', { seeds: ['a'] });
    sim.run(2500);
    expect(sim.node('b').member('a')).toBeUndefined();
    sim.net.heal();
    sim.run(12_000);
    expect(statusOf(sim, 'b', 'a')).toBe(MemberStatus.Alive);
    expect(statusOf(sim, 'a', 'b')).toBe(MemberStatus.Alive);
  });

  it('refutes a suspicion about itself by bumping its incarnation', () => {
    const n = new GossipNode({
      self: { id: 'x', name: 'x', host: 'x', port: 0 },
      rng: createRng(1),
      view: sharedView(['x', 'y']),
    });
    n.tick(0);
    hearUpdates(n, 'y', [{ kind: 'suspect', id: 'x', incarnation: 0, from: 'y' }], 10);
    expect(n.selfRecord.incarnation).toBe(1);
    expect(n.stats().refutations).toBe(1);
    // The refutation rides on the next message out.
    n.receive({ host: 'y', port: 0 }, { type: 'ping', from: 'y', seq: 5, target: 'x', updates: [] }, 20);
    n.tick(n.nextDeadline());
    const out = n.drain();
    const carried = out.flatMap((o) => ('updates' in o.msg ? o.msg.updates : []));
    expect(carried).toContainEqual(
      expect.objectContaining({
        kind: 'alive',
        member: expect.objectContaining({ id: 'x', incarnation: 1 }),
      }),
    );
  });

  it('answers a ping at the address it came from, not the one on record (a member back on a new port)', () => {
    const n = new GossipNode({
      self: { id: 'x', name: 'x', host: 'x', port: 0 },
      rng: createRng(4),
      view: sharedView(['x', 'y']),
    });
    n.tick(0);
    n.drain();
    const recorded = n.member('y');
    expect(recorded).toBeDefined();
    const src = { host: '10.9.9.9', port: (recorded?.port ?? 0) + 1000 };
    n.receive(src, { type: 'ping', from: 'y', seq: 9, target: 'x', updates: [] }, 10);
    const ack = n.drain().find((o) => o.msg.type === 'ack');
    expect(ack).toMatchObject({ to: 'y', host: src.host, port: src.port });
  });

  it("probeScale stretches the probe period (the battery modes' main saving) and never shortens it", () => {
    const pings = (scale: number | undefined): number => {
      const n = new GossipNode({
        self: { id: 'x', name: 'x', host: 'x', port: 0 },
        rng: createRng(7),
        view: sharedView(['x', 'y', 'z']),
      });
      if (scale !== undefined) n.setParams({ probeScale: scale });
      let count = 0;
      for (let t = 0; t <= 60_000; t += 50) {
        n.tick(t);
        for (const o of n.drain()) {
          if (o.msg.type === 'ping' && o.to !== null) {
            count++;
            // Every probe is answered, so only the period decides how many there are.
            n.receive(
              { host: o.host, port: o.port },
              { type: 'ack', from: o.to, seq: o.msg.seq, target: o.to, updates: [] },
              t,
            );
          }
        }
      }
      return count;
    };
    const base = pings(undefined);
    expect(base).toBeGreaterThan(20);
    expect(pings(4)).toBeLessThanOrEqual(Math.ceil(base / 4) + 1);
    expect(pings(4)).toBeGreaterThanOrEqual(Math.floor(base / 4) - 1);
    expect(pings(0.5)).toBe(base);
  });

  it('detects a crashed member and every live member marks it dead', () => {
    const sim = new GossipSim({ seed: 3, link: LAN });
    const ids = sim.bootstrap(8);
    sim.run(3000);
    sim.kill('n5');
    sim.run(60_000);
    for (const v of ids) if (v !== 'n5') expect(statusOf(sim, v, 'n5')).toBe(MemberStatus.Dead);
    for (const v of ids)
      for (const id of ids)
        if (v !== 'n5' && id !== 'n5') expect(statusOf(sim, v, id)).toBe(MemberStatus.Alive);
  });

  it('disseminates a graceful leave well before failure detection could', () => {
    const sim = new GossipSim({ seed: 4, link: LAN });
    const ids = sim.bootstrap(10);
    sim.run(2000);
    sim.leave('n3');
    sim.run(3000);
    for (const v of ids) if (v !== 'n3') expect(statusOf(sim, v, 'n3')).toBe(MemberStatus.Left);
  });

  it('answers a ping-req, a suspect and a dead claim about a member it holds left with the leave', () => {
    const view = sharedView(['a', 'b', 'c']);
    const a = new GossipNode({ self: { id: 'a', name: 'a', host: 'a', port: 0 }, rng: createRng(7), view });
    a.receive({ host: 'b', port: 0 }, { type: 'leave', from: 'b', incarnation: 1 }, 10);
    a.drain();
    const leftTo = (to: string): boolean =>
      a
        .drain()
        .some(
          (o) =>
            o.host === to &&
            o.msg.type === 'gossip' &&
            o.msg.updates.some((u) => u.kind === 'left' && u.id === 'b' && u.incarnation === 1),
        );
    // c missed the leave: its probe of b failed and it asks a to try.
    a.receive(
      { host: 'c', port: 0 },
      {
        type: 'ping-req',
        from: 'c',
        seq: 1,
        target: 'b',
        targetHost: 'b',
        targetPort: 0,
        wantNack: true,
        updates: [],
      },
      20,
    );
    expect(leftTo('c')).toBe(true);
    const claim = (kind: 'suspect' | 'dead', inc: number) =>
      hearUpdates(a, 'c', [{ kind, id: 'b', incarnation: inc, from: 'c' }], 30);
    claim('suspect', 0);
    expect(leftTo('c')).toBe(true);
    claim('dead', 1);
    expect(leftTo('c')).toBe(true);
    // A claim about a later life (b came back) is not answered with the old leave.
    claim('suspect', 2);
    expect(leftTo('c')).toBe(false);
    expect(a.member('b')?.status).toBe(MemberStatus.Left);
  });

  it('sends its leave to full members first (observers pass no update on)', () => {
    const view = observersView();
    for (let seed = 1; seed <= 20; seed++) {
      const me = leavingNode(view, seed);
      const to = me
        .drain()
        .filter((o) => o.msg.type === 'leave')
        .map((o) => o.to);
      expect(to).toHaveLength(3);
      expect(to).toContain('full');
    }
  });

  it('sends each leave target the `left` update as a gossip too (two chances against loss)', () => {
    // Seed 189 of the gossip-leave scenario: the `leave` to each full member was lost and the
    // round's gossip went to observers, which pass nothing on; every full member called it dead.
    const view = observersView();
    for (let seed = 1; seed <= 20; seed++) {
      const me = leavingNode(view, seed);
      const out = me.drain();
      const leaveTo = out.filter((o) => o.msg.type === 'leave').map((o) => o.to);
      const leftTo = out
        .filter(
          (o) =>
            o.msg.type === 'gossip' &&
            o.msg.updates.some((u) => u.kind === 'left' && u.id === 'me' && u.incarnation === 1),
        )
        .map((o) => o.to);
      for (const to of leaveTo) expect(leftTo).toContain(to);
      expect(leftTo.filter((to) => to === 'full').length).toBeGreaterThanOrEqual(1);
    }
  });

  it('lets a dead member come back under the same id with a higher incarnation', () => {
    const sim = new GossipSim({ seed: 5, link: LAN });
    const ids = sim.bootstrap(6);
    sim.run(2000);
    sim.kill('n2');
    sim.run(60_000);
    expect(statusOf(sim, 'n0', 'n2')).toBe(MemberStatus.Dead);
    const joined: string[] = [];
    sim.onEvent((id, ev) => {
      if (ev.type === 'member-joined' && ev.member.id === 'n2') joined.push(id);
    });
    sim.addNode('n2', { seeds: ['n0'] });
    sim.run(75_000);
    for (const v of ids) expect(statusOf(sim, v, 'n2')).toBe(MemberStatus.Alive);
    expect(sim.node('n2').selfRecord.incarnation).toBeGreaterThan(0);
    expect(joined.length).toBeGreaterThanOrEqual(5);
  });

  it('spreads metadata updates', () => {
    const sim = new GossipSim({ seed: 6, link: LAN });
    const ids = sim.bootstrap(12);
    sim.run(1000);
    sim.with('n4', (core, now) => core.updateMeta({ raft: 'leader', battery: 55 }, now));
    sim.run(4000);
    for (const v of ids) expect(sim.node(v).member('n4')?.meta).toEqual({ raft: 'leader', battery: 55 });
  });

  it('takes new interval and fanout at once', () => {
    const ids = Array.from({ length: 20 }, (_, i) => `m${i}`);
    const n = new GossipNode({
      self: { id: 'm0', name: 'm0', host: 'm0', port: 0 },
      rng: createRng(7),
      view: sharedView(ids),
      config: { gossipIntervalMs: 200, fanout: 3 },
    });
    n.tick(0);
    n.drain();
    n.setParams({ fanout: 6, intervalMs: 1000 });
    n.updateMeta({ rating: 'A' }, 1);
    // Run to the next gossip round and count gossip packets in it.
    let gossips = 0;
    let t = 1;
    for (let i = 0; i < 50 && gossips === 0; i++) {
      t = Math.max(t, n.nextDeadline());
      n.tick(t);
      gossips = n.drain().filter((o) => o.msg.type === 'gossip').length;
    }
    expect(gossips).toBe(6);
    expect(n.stats()).toMatchObject({ intervalMs: 1000, fanout: 6 });
  });

  it('measures probe loss and round-trip time for the adaptive controller', () => {
    const sim = new GossipSim({ seed: 8, link: { latencyMs: 40, jitterMs: 0, loss: 0, duplicate: 0 } });
    sim.bootstrap(6);
    sim.run(20_000);
    const s = sim.node('n0').stats();
    expect(s.rttMs).toBe(80);
    expect(s.probeLoss).toBe(0);
    expect(s.reachablePeers).toBe(5);
    expect(s.swarmSize).toBe(6);
    sim.net.setLink({ latencyMs: 40, jitterMs: 0, loss: 0.5, duplicate: 0 });
    sim.run(50_000);
    expect(sim.node('n0').stats().probeLoss).toBeGreaterThan(0.2);
  });

  it('counts delivered events per second over the window', () => {
    const sim = new GossipSim({ seed: 9, link: LAN, config: { statsWindowMs: 10_000 } });
    sim.bootstrap(5);
    sim.run(10_000);
    for (let i = 0; i < 50; i++) {
      sim.broadcast(`n${i % 5}`, new Uint8Array([i]));
      sim.run(10_000 + (i + 1) * 100);
    }
    sim.run(15_000);
    const rate = sim.node('n3').stats().eventRatePerS;
    expect(rate).toBeGreaterThan(4);
    expect(rate).toBeLessThanOrEqual(5);
  });

  it('keeps every message within the datagram budget at 200 members', () => {
    const sim = new GossipSim({ seed: 10, link: LAN, config: { antiEntropyIntervalMs: 2000 } });
    const ids = sim.bootstrap(200);
    sim.addNode('late', { seeds: ['n0'] });
    sim.run(2000);
    for (let i = 0; i < 40; i++)
      sim.with(ids[i]!, (c, now) =>
        c.updateMeta({ api: `10.0.0.${i}:8080`, tags: { zone: 'z'.repeat(40) } }, now),
      );
    for (let i = 0; i < 150; i++) sim.broadcast(ids[i]!, new Uint8Array(200));
    sim.run(15_000);
    expect(sim.traffic.maxBytes).toBeLessThanOrEqual(MESSAGE_BUDGET_BYTES);
    expect(sim.traffic.byType['pp-digest']).toBeGreaterThan(0);
    expect(sim.node('late').members().length).toBe(201);
  });

  it('rejects invalid configuration and oversized metadata with typed errors', () => {
    const self = { id: 'a', name: 'a', host: 'a', port: 0 };
    expect(() => new GossipNode({ self, rng: createRng(1), config: { fanout: 0 } })).toThrow(SwarmError);
    expect(
      () =>
        new GossipNode({ self, rng: createRng(1), config: { probeTimeoutMs: 2000, probeIntervalMs: 1000 } }),
    ).toThrow(SwarmError);
    const n = new GossipNode({ self, rng: createRng(1) });
    expect(() => n.updateMeta({ api: 'x'.repeat(300) }, 0)).toThrow(SwarmError);
    expect(estimateSize({ api: 'x'.repeat(200) })).toBeLessThan(256);
  });

  it('reports member events in order: suspect then dead', () => {
    const sim = new GossipSim({ seed: 11, link: LAN });
    sim.bootstrap(5);
    const seen: GossipEvent['type'][] = [];
    sim.onEvent((id, ev) => {
      if (id === 'n0' && 'member' in ev && ev.member.id === 'n1') seen.push(ev.type);
    });
    sim.run(1000);
    sim.kill('n1');
    sim.run(60_000);
    expect(seen[0]).toBe('member-suspect');
    expect(seen[seen.length - 1]).toBe('member-dead');
  });

  it('discovers a swarm through a multicast announce and its reply', () => {
    const mk = (id: string): GossipNode =>
      new GossipNode({
        self: { id, name: id, host: id, port: 5555 },
        rng: createRng(id.charCodeAt(0)),
        config: { announceIntervalMs: 500, cluster: 'home' },
      });
    const a = mk('a');
    const b = mk('b');
    a.tick(0);
    b.tick(0);
    b.drain();
    const ann = a.drain().find((o) => o.multicast === true);
    expect(ann?.msg.type).toBe('announce');
    // Another cluster's member ignores it.
    const stranger = new GossipNode({
      self: { id: 's', name: 's', host: 's', port: 1 },
      rng: createRng(3),
      config: { cluster: 'other' },
    });
    stranger.receive({ host: 'a', port: 5555 }, ann!.msg, 1);
    expect(stranger.drain()).toEqual([]);
    b.receive({ host: 'a', port: 5555 }, ann!.msg, 1);
    const reply = b.drain().find((o) => o.msg.type === 'announce-reply');
    expect(reply).toMatchObject({ host: 'a', port: 5555 });
    a.receive({ host: 'b', port: 5555 }, reply!.msg, 2);
    // a joins through b: a digest goes to b's address; deliver the exchange both ways until quiet.
    let t = 3;
    for (let round = 0; round < 10; round++) {
      for (const o of a.drain()) if (o.host === 'b') b.receive({ host: 'a', port: 5555 }, o.msg, t);
      for (const o of b.drain()) if (o.host === 'a') a.receive({ host: 'b', port: 5555 }, o.msg, t);
      t += 1;
    }
    expect(a.member('b')?.status).toBe(MemberStatus.Alive);
    expect(b.member('a')?.status).toBe(MemberStatus.Alive);
    // Not alone any more: only the beacon (smallest live id, a) announces, once per 30 s; b is silent.
    let beacons = 0;
    for (let at = 10_000; at <= 100_000; at += 1_000) {
      a.tick(at);
      b.tick(at);
      for (const o of a.drain()) {
        if (o.multicast === true) beacons++;
        else if (o.host === 'b') b.receive({ host: 'a', port: 5555 }, o.msg, at);
      }
      for (const o of b.drain()) {
        expect(o.multicast, 'b announces').not.toBe(true);
        if (o.host === 'a') a.receive({ host: 'b', port: 5555 }, o.msg, at);
      }
    }
    expect(beacons).toBeGreaterThanOrEqual(2);
    expect(beacons).toBeLessThanOrEqual(4);
    // A member we hold alive does not answer its beacon.
    b.receive({ host: 'a', port: 5555 }, a.announceMessage(), 100_001);
    expect(b.drain().some((o) => o.msg.type === 'announce-reply')).toBe(false);
  });

  it('merges two groups that formed apart through the beacon and its reply', () => {
    const mk = (id: string): GossipNode =>
      new GossipNode({
        self: { id, name: id, host: id, port: 5555 },
        rng: createRng(id.charCodeAt(0)),
        config: { announceIntervalMs: 500, cluster: 'home' },
      });
    const nodes = new Map(['a', 'b', 'c', 'd'].map((id) => [id, mk(id)]));
    const get = (id: string): GossipNode => nodes.get(id)!;
    // Group {a,b} and group {c,d} each formed by a join; the groups never heard of each other.
    get('b').join([{ host: 'a', port: 5555 }], 0);
    get('d').join([{ host: 'c', port: 5555 }], 0);
    get('a').tick(0);
    get('c').tick(0);
    const group = (id: string): string[] => (id === 'a' || id === 'b' ? ['a', 'b'] : ['c', 'd']);
    let healed = false;
    const pump = (t: number): void => {
      for (const [id, n] of nodes) {
        n.tick(t);
        for (const o of n.drain()) {
          if (o.multicast === true) {
            // Multicast reaches every other node once the LAN has healed, else only its own group.
            for (const other of healed ? [...nodes.keys()] : group(id))
              if (other !== id) get(other).receive({ host: id, port: 5555 }, o.msg, t);
            continue;
          }
          if (!healed && !group(id).includes(o.host)) continue;
          get(o.host)?.receive({ host: id, port: 5555 }, o.msg, t);
        }
      }
    };
    for (let t = 1; t < 20_000; t += 100) pump(t);
    expect(get('a').member('c')).toBeUndefined();
    expect(get('b').member('a')?.status).toBe(MemberStatus.Alive);
    expect(get('d').member('c')?.status).toBe(MemberStatus.Alive);
    healed = true;
    // Within two beacon periods every node holds every other alive.
    for (let t = 20_000; t < 80_000; t += 100) pump(t);
    for (const [id, n] of nodes)
      for (const other of nodes.keys())
        if (other !== id) expect(n.member(other)?.status, `${id} sees ${other}`).toBe(MemberStatus.Alive);
  });

  it('can carry events on the piggyback queue instead of the overlay', () => {
    const sim = new GossipSim({ seed: 12, link: LAN, config: { plumtree: false } });
    const ids = sim.bootstrap(15);
    const got = new Map<string, number>();
    sim.onEvent((id, ev) => {
      if (ev.type === 'user-event') got.set(id, (got.get(id) ?? 0) + 1);
    });
    sim.run(1000);
    for (let i = 0; i < 10; i++) sim.broadcast(ids[i]!, new Uint8Array([i]));
    sim.run(6000);
    for (const id of ids) expect(got.get(id)).toBe(10);
    expect(sim.traffic.byType['ev-push'] ?? 0).toBe(0);
  });
});
