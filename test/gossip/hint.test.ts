/**
 * Probe hints (issue #16): the runtime's TCP link to a member closed or was refused, which is how
 * a killed process looks to its peers at once. The hint makes that member the next one probed,
 * and changes nothing else: its state still moves only by the probe's outcome.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { MemberStatus } from '../../src/gossip/messages.js';
import { GossipNode } from '../../src/gossip/node.js';
import type { GossipTrace } from '../../src/gossip/types.js';
import { GossipSim, sharedView } from '../../src/sim/gossip/driver.js';
import { runTimers } from '../helpers/gossip-news.js';

const IDS = ['x', ...Array.from({ length: 9 }, (_, i) => `m${i}`)];

function node(seed = 7): GossipNode {
  const n = new GossipNode({
    self: { id: 'x', name: 'x', host: 'x', port: 0 },
    rng: createRng(seed),
    view: sharedView(IDS),
  });
  n.tick(0);
  n.drain();
  return n;
}

type Out = ReturnType<GossipNode['drain']>;

const pingsTo = (out: Out): string[] => out.filter((o) => o.msg.type === 'ping').map((o) => o.to ?? '');

/** Run to the first regular probe and ack it; returns its time and target. */
function firstProbeAcked(n: GossipNode): { at: number; target: string } {
  for (let i = 0; i < 100; i++) {
    const t = n.nextDeadline();
    n.tick(t);
    const ping = n.drain().find((o) => o.msg.type === 'ping');
    if (ping !== undefined && ping.msg.type === 'ping') {
      const to = ping.to ?? '';
      n.receive(
        { host: to, port: 0 },
        { type: 'ack', from: to, seq: ping.msg.seq, target: '', updates: [] },
        t + 1,
      );
      return { at: t + 1, target: to };
    }
  }
  throw new Error('no probe');
}

describe('probe hints', () => {
  it('a hint makes the hinted member the next one probed, at once when the probe in flight was acked', () => {
    const n = node();
    const { at, target } = firstProbeAcked(n);
    const hinted = IDS.find((id) => id !== 'x' && id !== target)!;
    // Without the hint the node sleeps until its next regular probe, about a period away.
    expect(n.nextDeadline()).toBeGreaterThan(at + 500);
    expect(n.hint(hinted, at + 10)).toBe(true);
    expect(n.nextDeadline()).toBe(at + 10);
    n.tick(at + 10);
    expect(pingsTo(n.drain())).toEqual([hinted]);
    // The hint changed no state: the member is alive until its probe says otherwise.
    expect(n.member(hinted)?.status).toBe(MemberStatus.Alive);
  });

  it('a hinted probe fails like any other: ping-req after the probe timeout, suspect at its end, never dead sooner', () => {
    const n = node();
    const { at, target } = firstProbeAcked(n);
    const hinted = IDS.find((id) => id !== 'x' && id !== target)!;
    const t0 = at + 10;
    n.hint(hinted, t0);
    n.tick(t0);
    n.drain();
    const mid = runTimers(n, t0 + 499);
    expect(mid.filter((o) => o.msg.type === 'ping-req')).toHaveLength(0);
    expect(n.member(hinted)?.status).toBe(MemberStatus.Alive);
    const indirect = runTimers(n, t0 + 500);
    expect(indirect.filter((o) => o.msg.type === 'ping-req').length).toBe(3);
    runTimers(n, t0 + 1000);
    expect(n.member(hinted)?.status).toBe(MemberStatus.Suspect);
    // The suspicion keeps its usual timeout (several seconds with no confirmations).
    runTimers(n, t0 + 3000);
    expect(n.member(hinted)?.status).toBe(MemberStatus.Suspect);
  });

  it('at most one hinted probe per member per probe period; dead, left, unknown and self are ignored', () => {
    const n = node();
    const { at, target } = firstProbeAcked(n);
    const hinted = IDS.find((id) => id !== 'x' && id !== target)!;
    expect(n.hint(hinted, at + 10)).toBe(true);
    n.tick(at + 10);
    const first = n.drain();
    const ping = first.find((o) => o.msg.type === 'ping')!;
    if (ping.msg.type !== 'ping') throw new Error('no ping');
    n.receive(
      { host: hinted, port: 0 },
      { type: 'ack', from: hinted, seq: ping.msg.seq, target: '', updates: [] },
      at + 11,
    );
    // A flapping link: hints every 50 ms for the rest of the period are all refused, no extra probes.
    const probed: string[] = [];
    for (let t = at + 60; t < at + 10 + 1000; t += 50) {
      expect(n.hint(hinted, t)).toBe(false);
      probed.push(...pingsTo(runTimers(n, t)).filter((id) => id === hinted));
    }
    expect(probed.length).toBeLessThanOrEqual(1); // the round-robin may reach it on its own
    expect(n.hint(hinted, at + 10 + 1000)).toBe(true);
    expect(n.hint('x', at + 1020)).toBe(false);
    expect(n.hint('nobody', at + 1020)).toBe(false);
    n.receive({ host: 'm8', port: 0 }, { type: 'leave', from: 'm8', incarnation: 1 }, at + 1020);
    expect(n.member('m8')?.status).toBe(MemberStatus.Left);
    expect(n.hint('m8', at + 1030)).toBe(false);
  });

  it('an unanswered probe in flight runs to its end before the hinted one starts', () => {
    const n = node();
    let started = -1;
    let target = '';
    for (let i = 0; i < 100 && started < 0; i++) {
      const t = n.nextDeadline();
      n.tick(t);
      const p = pingsTo(n.drain());
      if (p.length > 0) [started, target] = [t, p[0]!];
    }
    const hinted = IDS.find((id) => id !== 'x' && id !== target)!;
    expect(n.hint(hinted, started + 100)).toBe(true);
    const out = runTimers(n, started + 999);
    expect(pingsTo(out)).not.toContain(hinted);
    const end = runTimers(n, started + 1000);
    expect(pingsTo(end)).toContain(hinted);
  });

  it('simulated crash in 25 members: a hint at the crash starts the prober on the victim within a tick', () => {
    const firstProbe: number[] = [];
    const unhinted: number[] = [];
    for (let seed = 1; seed <= 6; seed++) {
      for (const hint of [true, false]) {
        const sim = new GossipSim({ seed, link: { latencyMs: 1, jitterMs: 1, loss: 0, duplicate: 0 } });
        sim.bootstrap(25);
        sim.run(20_000);
        let probedAt = Infinity;
        sim.node('n0').setTrace((t: GossipTrace) => {
          if (t.kind === 'probe' && t.target === 'n3' && probedAt === Infinity) probedAt = sim.now;
        });
        sim.kill('n3');
        const t0 = sim.now;
        // n0 is the Raft leader: its TCP link to n3 closed with n3's process.
        if (hint) sim.with('n0', (core, now) => core.hint('n3', now));
        sim.run(t0 + 1000);
        // Suspicion timeout is untouched: nobody calls n3 dead within the first second.
        expect(sim.node('n0').member('n3')?.status).not.toBe(MemberStatus.Dead);
        sim.run(t0 + 30_000);
        (hint ? firstProbe : unhinted).push(probedAt - t0);
      }
    }
    // Within one probe period (the time an unanswered probe in flight may still hold the slot).
    expect(Math.max(...firstProbe)).toBeLessThanOrEqual(1000);
    // Without the hint n0 reaches n3 in its round-robin: typically seconds later.
    const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;
    expect(median(firstProbe)).toBeLessThan(50);
    expect(median(unhinted)).toBeGreaterThan(median(firstProbe) + 500);
  });
});
