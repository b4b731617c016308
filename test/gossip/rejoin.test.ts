/**
 * A restarted member is alive in every view quickly, and its new life wins
 * over what the others hold of the old one (issue #13 part 5, #16's 2 s goal).
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { MemberStatus, type MemberRecord } from '../../src/gossip/messages.js';
import { GossipNode } from '../../src/gossip/node.js';
import { TransmitQueue } from '../../src/gossip/queue.js';
import { GossipSim, sharedView } from '../../src/sim/gossip/driver.js';
import { restartOnce } from '../../src/sim/gossip/workloads.js';
import { hearUpdates } from '../helpers/gossip-news.js';

const LAN = { latencyMs: 2, jitterMs: 2, loss: 0.01, duplicate: 0 };

/** Virtual ms from now until every node in `viewers` holds `id` alive above `aboveInc`; Infinity past `limit`. */
function untilAlive(
  sim: GossipSim,
  viewers: readonly string[],
  id: string,
  aboveInc: number,
  limit: number,
): number {
  const t0 = sim.now;
  for (let t = t0 + 50; t <= t0 + limit; t += 50) {
    sim.run(t);
    const ok = viewers.every((v) => {
      const m = sim.node(v).member(id);
      return m !== undefined && m.status === MemberStatus.Alive && m.incarnation > aboveInc;
    });
    if (ok) return t - t0;
  }
  return Infinity;
}

/** Seed `s` (hs:2), which holds member x (at hx:`port`) dead at `incarnation`. */
function seedHoldingDead(port: number, incarnation: number, rngSeed: number): GossipNode {
  const x: MemberRecord = {
    id: 'x',
    name: 'x',
    host: 'hx',
    port,
    deviceClass: 'standard',
    incarnation,
    status: MemberStatus.Dead,
    meta: {},
  };
  return new GossipNode({
    self: { id: 's', name: 's', host: 'hs', port: 2 },
    rng: createRng(rngSeed),
    view: { ids: ['s', 'x'], records: new Map([['x', x]]) },
  });
}

describe('rejoin after a restart', () => {
  it('a restart with a low incarnation (no clock, nothing persisted) refutes the dead record it learns from the join answer', () => {
    for (const seed of [11, 12, 13]) {
      const sim = new GossipSim({ seed, link: LAN });
      const ids = sim.bootstrap(12);
      sim.run(3000);
      // Its old life climbed above 0 (metadata updates bump the incarnation).
      sim.with('n4', (c, now) => {
        for (let i = 0; i < 5; i++) c.updateMeta({ api: `127.0.0.1:${i}` }, now);
      });
      sim.run(6000);
      const old = sim.node('n0').member('n4')!.incarnation;
      expect(old).toBe(5);
      sim.kill('n4');
      sim.run(sim.now + 40_000);
      const others = ids.filter((i) => i !== 'n4');
      for (const v of others) expect(sim.node(v).member('n4')?.status).toBe(MemberStatus.Dead);
      sim.addNode('n4', { seeds: ['n0'], incarnation: 0 });
      const ms = untilAlive(sim, others, 'n4', old, 10_000);
      expect(ms).toBeLessThan(2000);
      expect(sim.node('n4').selfRecord.incarnation).toBeGreaterThan(old);
    }
  });

  it('a restart while the others still hold the old life alive or suspect wins by incarnation', () => {
    const sim = new GossipSim({ seed: 21, link: LAN });
    const ids = sim.bootstrap(10);
    sim.run(4000);
    const old = sim.node('n0').member('n6')!.incarnation;
    sim.kill('n6');
    sim.run(sim.now + 1500);
    sim.addNode('n6', { seeds: ['n1'], incarnation: old + 1 });
    const others = ids.filter((i) => i !== 'n6');
    expect(untilAlive(sim, others, 'n6', old, 10_000)).toBeLessThan(2000);
  });

  it('a lone restarted member without a join list joins through the first member that contacts it', () => {
    for (const seed of [31, 32, 33]) {
      const sim = new GossipSim({ seed, link: LAN });
      const ids = sim.bootstrap(8);
      sim.run(4000);
      const old = sim.node('n1').member('n0')!.incarnation;
      sim.kill('n0');
      sim.run(sim.now + 500);
      // The seed of the others restarts with no seeds of its own: the others still probe it.
      sim.addNode('n0', { incarnation: old + 1 });
      const others = ids.filter((i) => i !== 'n0');
      expect(untilAlive(sim, others, 'n0', old, 20_000)).toBeLessThan(5000);
      for (const id of others) expect(sim.node('n0').member(id)?.status).toBe(MemberStatus.Alive);
    }
  });

  it('a restarted member whose only seed is gone joins through a member that probes it', () => {
    const sim = new GossipSim({ seed: 41, link: LAN });
    const ids = sim.bootstrap(8);
    sim.run(4000);
    const old = sim.node('n1').member('n5')!.incarnation;
    sim.kill('n5');
    sim.run(sim.now + 500);
    // Its join list names an address where nothing answers: the join keeps retrying it, in vain.
    sim.addNode('n5', { seeds: ['gone'], incarnation: old + 1 });
    const others = ids.filter((i) => i !== 'n5');
    expect(untilAlive(sim, others, 'n5', old, 20_000)).toBeLessThan(5000);
  });

  it('a member that holds everyone dead joins through whoever contacts it (a healed partition), once per retry period', () => {
    const dead = (id: string): MemberRecord => ({
      id,
      name: id,
      host: id,
      port: 7,
      deviceClass: 'standard',
      incarnation: 3,
      status: MemberStatus.Dead,
      meta: {},
    });
    const n = new GossipNode({
      self: { id: 'x', name: 'x', host: 'hx', port: 1 },
      rng: createRng(5),
      view: {
        ids: ['x', 'y', 'z'],
        records: new Map([
          ['y', dead('y')],
          ['z', dead('z')],
        ]),
      },
    });
    n.tick(0);
    n.drain();
    const ping = { type: 'ping', from: 'y', seq: 1, target: 'x', updates: [] } as const;
    n.receive({ host: 'hy', port: 9 }, ping, 100);
    const toY = n.drain().filter((o) => o.host === 'hy' && o.port === 9);
    expect(toY.map((o) => o.msg.type)).toEqual(expect.arrayContaining(['ack', 'gossip', 'pp-digest']));
    // Another contact within the retry period is only answered.
    n.receive({ host: 'hz', port: 9 }, { ...ping, from: 'z' }, 200);
    expect(n.drain().map((o) => o.msg.type)).toEqual(['ack']);
  });

  it('a join hands the seeds its own alive record at once, with the digest', () => {
    const n = new GossipNode({
      self: { id: 'x', name: 'x', host: 'hx', port: 1, incarnation: 7 },
      rng: createRng(1),
    });
    n.join([{ host: 'hs', port: 2 }], 0);
    const out = n.drain();
    const toSeed = out.filter((o) => o.host === 'hs' && o.port === 2);
    expect(toSeed.map((o) => o.msg.type)).toContain('pp-digest');
    const gossip = toSeed.find((o) => o.msg.type === 'gossip');
    expect(gossip?.msg).toMatchObject({ updates: [{ kind: 'alive', member: { id: 'x', incarnation: 7 } }] });

    // A seed that holds x dead at a lower incarnation takes the new life from that first packet.
    const seed = seedHoldingDead(9, 6, 2);
    seed.tick(0);
    seed.receive({ host: 'hx', port: 1 }, gossip!.msg, 5);
    expect(seed.member('x')).toMatchObject({ status: MemberStatus.Alive, incarnation: 7, port: 1 });
  });

  it('the restarted side sees itself refute: its incarnation climbs above the one the seed reports', () => {
    const n = new GossipNode({
      self: { id: 'x', name: 'x', host: 'hx', port: 1, incarnation: 0 },
      rng: createRng(3),
      view: sharedView(['x', 'y']),
    });
    n.tick(0);
    hearUpdates(n, 'y', [{ kind: 'dead', id: 'x', incarnation: 40, from: 'y' }], 10);
    expect(n.selfRecord.incarnation).toBe(41);
    expect(n.selfRecord.status).toBe(MemberStatus.Alive);
  });

  // The slow first restart after formation on real daemons (issue #16: 1.77 s after the daemon was
  // ready once, 0.01-0.4 s otherwise). Before the fixes: 1.2 s (seed 34, 0 %), 3.4 s (seed 36, 0 %,
  // below), 14.7 s (seed 43, 1 %, below, no bumps) among these seeds.
  it('a restart at the daemons settings is alive in all 24 other views within 1 s, above or below its old life', () => {
    const worst = { above: 0, below: 0, belowLossy: 0 };
    for (let seed = 30; seed <= 45; seed++) {
      worst.above = Math.max(worst.above, restartOnce(seed, 0, 5, [5, 30, 400]));
      worst.below = Math.max(worst.below, restartOnce(seed, 0, -3, [5, 30, 400]));
      worst.belowLossy = Math.max(worst.belowLossy, restartOnce(seed, 0.01, -3, []));
    }
    expect(worst.above).toBeLessThan(1000);
    expect(worst.below).toBeLessThan(1000);
    expect(worst.belowLossy).toBeLessThan(1000);
  });

  it('a metadata bump right after a refutation keeps it urgent (the replacement inherits it)', () => {
    const q = new TransmitQueue<string>();
    q.enqueue('x', 'alive@11', true);
    q.enqueue('x', 'alive@12');
    expect(q.urgent).toBe(1);
    expect(q.take(1000, 1)).toEqual(['alive@12']);
    expect(q.urgent).toBe(0);
    q.enqueue('y', 'alive@3');
    expect(q.urgent).toBe(0);
  });

  it('a member answers a restarted member that gossips an alive older than what it holds, so it refutes at once', () => {
    const seed = seedHoldingDead(1, 40, 5);
    seed.tick(0);
    seed.drain();
    const x = new GossipNode({
      self: { id: 'x', name: 'x', host: 'hx', port: 1, incarnation: 7 },
      rng: createRng(6),
    });
    x.join([{ host: 'hs', port: 2 }], 0);
    const alive = x.drain().find((o) => o.msg.type === 'gossip')!;
    seed.receive({ host: 'hx', port: 1 }, alive.msg, 1);
    expect(seed.member('x')?.status).toBe(MemberStatus.Dead);
    // (s holds nobody else alive, so it also joins through x: its own alive goes there too.)
    const answer = seed
      .drain()
      .find(
        (o) =>
          o.host === 'hx' && o.port === 1 && o.msg.type === 'gossip' && o.msg.updates[0]?.kind === 'dead',
      );
    expect(answer?.msg).toMatchObject({ updates: [{ kind: 'dead', id: 'x', incarnation: 40 }] });
    x.receive({ host: 'hs', port: 2 }, answer!.msg, 2);
    expect(x.selfRecord.incarnation).toBe(41);
    // A relayed copy of the same stale alive (not from x itself) is old news, not answered.
    seed.receive({ host: 'hy', port: 3 }, { ...alive.msg, from: 'y' } as typeof alive.msg, 3);
    expect(seed.drain().filter((o) => o.msg.type === 'gossip' && o.msg.updates[0]?.kind === 'dead')).toEqual(
      [],
    );
    // Several such answers raise x once: a death below its incarnation is already refuted.
    x.receive({ host: 'hs', port: 2 }, answer!.msg, 4);
    expect(x.selfRecord.incarnation).toBe(41);
  });

  it('a join tells every member its answer names of the joiner alive directly, refuted past the old life', () => {
    const sim = new GossipSim({ seed: 7, link: { latencyMs: 1, jitterMs: 0, loss: 0, duplicate: 0 } });
    const ids = sim.bootstrap(10);
    sim.run(3000);
    sim.with('n3', (c, now) => {
      for (let i = 0; i < 5; i++) c.updateMeta({ api: `127.0.0.1:${i}` }, now);
    });
    sim.run(8000);
    sim.kill('n3');
    sim.run(sim.now + 40_000);
    const others = ids.filter((i) => i !== 'n3');
    for (const v of others) expect(sim.node(v).member('n3')?.status).toBe(MemberStatus.Dead);
    // Restarted below its old life (5): the seed's answer holds it dead at 5.
    const core = sim.addNode('n3', { seeds: ['n0'], incarnation: 2 });
    const direct = new Map<string, number>();
    const drain = core.drain.bind(core);
    core.drain = () => {
      const out = drain();
      for (const o of out) {
        if (o.msg.type !== 'gossip') continue;
        for (const u of o.msg.updates)
          if (u.kind === 'alive' && u.member.id === 'n3')
            direct.set(o.host, Math.max(direct.get(o.host) ?? 0, u.member.incarnation));
      }
      return out;
    };
    sim.run(sim.now + 30);
    for (const v of others) expect(direct.get(v)).toBeGreaterThan(5);
    for (const v of others) expect(sim.node(v).member('n3')?.status).toBe(MemberStatus.Alive);
  });
});
