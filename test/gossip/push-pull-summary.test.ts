/**
 * Periodic anti-entropy sends a summary of the view (`pp-sum`) instead of the
 * whole digest: converged members exchange one small packet per period, a
 * difference still starts a full exchange, and every PP_FULL_EVERY-th period
 * sends the full digest anyway (peers that do not implement the summary).
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { MemberStatus, type PushPullSummaryMsg } from '../../src/gossip/messages.js';
import { GossipNode } from '../../src/gossip/node.js';
import { PP_FULL_EVERY, viewSummary } from '../../src/gossip/push-pull.js';
import { GossipSim, sharedView } from '../../src/sim/gossip/driver.js';

const LAN = { latencyMs: 2, jitterMs: 2, loss: 0, duplicate: 0 };
/** The base anti-entropy period throughout (the quiet stretch has its own test below). */
const NO_QUIET = { antiEntropyQuietScale: 1 };

describe('push-pull summary (pp-sum)', () => {
  it('a converged swarm sends summaries, mostly, and answers none of them with a digest', () => {
    const sim = new GossipSim({ seed: 11, link: LAN, config: NO_QUIET });
    const ids = sim.bootstrap(8);
    sim.run(20_000);
    const before = { ...sim.traffic.byType };
    sim.run(20_000 + 120_000);
    const d = (t: string): number => (sim.traffic.byType[t] ?? 0) - (before[t] ?? 0);
    // 8 members, one exchange per 10 s (+-25 %) each: ~96 in 120 s.
    const exchanges = d('pp-sum') + d('pp-digest') / 2;
    expect(d('pp-sum')).toBeGreaterThan(60);
    // Full digests only on every PP_FULL_EVERY-th period (entry part + marks part each), never as answers.
    expect(d('pp-digest')).toBeLessThanOrEqual((2 * exchanges) / PP_FULL_EVERY + 4);
    expect(d('pp-response') + d('pp-request')).toBe(0);
    for (const v of ids)
      for (const id of ids) expect(sim.node(v).member(id)?.status).toBe(MemberStatus.Alive);
  });

  it('stretches anti-entropy x3 once the view is quiet, and back to the base at the first change', () => {
    const sim = new GossipSim({ seed: 13, link: LAN });
    const ids = sim.bootstrap(8);
    /** Exchanges started from now until `to`. */
    const exchanges = (to: number): number => {
      const before = { ...sim.traffic.byType };
      sim.run(to);
      const d = (t: string): number => (sim.traffic.byType[t] ?? 0) - (before[t] ?? 0);
      return d('pp-sum') + d('pp-digest') / 2;
    };
    // The view settles at once (a shared starting view): quiet from 60 s on.
    const base = exchanges(60_000);
    const quiet = exchanges(60_000 + 180_000) / 3;
    // 8 members x 6 exchanges a minute at the base period, 2 a minute stretched.
    expect(base).toBeGreaterThan(35);
    expect(quiet).toBeLessThan(base / 2);
    expect(quiet).toBeGreaterThan(8);
    // A change (one member leaves gracefully) ends the quiet at every member that learns it.
    sim.leave(ids[7]!);
    sim.run(sim.now + 5000);
    expect(exchanges(sim.now + 60_000)).toBeGreaterThan(quiet * 2);
  });

  it('an equal summary gets no answer; a different one gets our full digest', () => {
    const mk = (id: string): GossipNode =>
      new GossipNode({
        self: { id, name: id, host: id, port: 1 },
        rng: createRng(id.charCodeAt(0)),
        view: sharedView(['a', 'b']),
      });
    const a = mk('a');
    const b = mk('b');
    a.tick(0);
    b.tick(0);
    a.drain();
    b.drain();
    let sum: PushPullSummaryMsg | undefined;
    for (let t = 100; t < 60_000 && sum === undefined; t += 100) {
      b.tick(t);
      for (const o of b.drain()) if (o.msg.type === 'pp-sum') sum = o.msg;
    }
    expect(sum).toBeDefined();
    const pp = (): string[] =>
      a
        .drain()
        .map((o) => o.msg.type)
        .filter((x) => x.startsWith('pp-'));
    a.receive({ host: 'b', port: 1 }, sum!, 60_001);
    expect(pp()).toEqual([]);
    a.receive({ host: 'b', port: 1 }, { ...sum!, hash: (sum!.hash + 1) >>> 0 }, 60_002);
    expect(pp()).toContain('pp-digest');
    a.receive({ host: 'b', port: 1 }, { ...sum!, members: sum!.members + 1 }, 60_003);
    expect(pp()).toContain('pp-digest');
  });

  it('picks a full member as its anti-entropy partner more often than a uniform draw would', () => {
    // An observer answers a digest with its own record only and ignores pp-sum (swarm_lite.py):
    // an exchange with it repairs nothing on our side. 1 full partner among 6: a uniform draw
    // finds it 1/6 of the time, the better of two draws 1/3.
    const sim = new GossipSim({ seed: 12, link: LAN, config: NO_QUIET });
    const ids = ['me', 'full', 'o1', 'o2', 'o3', 'o4', 'o5'];
    const view = sharedView(ids, (id) => (id.startsWith('o') ? 'minimal' : 'standard'));
    for (const id of ids) sim.addNode(id, { view, deviceClass: id.startsWith('o') ? 'minimal' : 'standard' });
    let sent = 0;
    sim.onSend((from, msg) => {
      if (from === 'me' && msg.type === 'pp-sum') sent++;
    });
    let toFull = 0;
    const full = sim.node('full');
    const receive = full.receive.bind(full);
    full.receive = (src, msg, now) => {
      if (msg.type === 'pp-sum' && msg.from === 'me') toFull++;
      receive(src, msg, now);
    };
    sim.run(3_600_000);
    expect(sent).toBeGreaterThan(250);
    expect(toFull / sent).toBeGreaterThan(0.25);
  });

  it('hashes the documented example (docs/protocol.md, pp-sum) in any input order', () => {
    const entries = [
      { id: 'b', incarnation: 0, status: MemberStatus.Suspect },
      { id: 'a', incarnation: 3, status: MemberStatus.Alive },
    ];
    expect(viewSummary(entries, [{ origin: 'a', seq: 1 }])).toEqual({ members: 2, hash: 0xad8bf0f0 });
    expect(viewSummary([...entries].reverse(), [{ origin: 'a', seq: 1 }]).hash).toBe(0xad8bf0f0);
    expect(viewSummary(entries, [{ origin: 'a', seq: 2 }]).hash).not.toBe(0xad8bf0f0);
  });
});
