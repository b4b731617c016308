/**
 * Seeded fault-injection runs of the Raft cluster. Each seed draws its own
 * link quality, clock skew and fault mix; invariants are checked after every
 * step and at the end (liveness after healing, acknowledged writes present,
 * replicas equal, history linearizable). A failure message carries the one
 * command that replays the seed. `npm run sim -- --seeds 100000` is the long mode.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation, type SimResult } from '../../src/sim/raft/cluster.js';
import { formatFailure } from '../../src/sim/raft/report.js';
import { PROFILES } from '../../src/sim/raft/faults.js';

function sweep(nodes: number, from: number, count: number): { failures: string[]; runs: SimResult[] } {
  const failures: string[] = [];
  const runs: SimResult[] = [];
  for (let seed = from; seed < from + count; seed++) {
    const r = runSimulation({ seed, nodes });
    runs.push(r);
    if (!r.ok) failures.push(formatFailure(r, { nodes, chaosMs: 6000, bug: 'none' }));
  }
  return { failures, runs };
}

describe('raft simulation: seeded faults', () => {
  it('200 seeds of 3 nodes keep every invariant', () => {
    const { failures, runs } = sweep(3, 1, 200);
    expect(failures.join('\n\n')).toBe('');
    // The runs must actually exercise the faults and the workload, or passing means nothing.
    const total = (k: keyof SimResult['stats']) => runs.reduce((s, r) => s + r.stats[k], 0);
    expect(total('crashes')).toBeGreaterThan(100);
    expect(total('faults')).toBeGreaterThan(400);
    expect(total('acked')).toBeGreaterThan(10_000);
    expect(total('elections')).toBeGreaterThan(400);
  });

  it('100 seeds of 5 nodes keep every invariant', () => {
    const { failures } = sweep(5, 1001, 100);
    expect(failures.join('\n\n')).toBe('');
  });

  it('100 seeds each of 3 and 5 nodes with membership changes keep every invariant', () => {
    const failures: string[] = [];
    for (const nodes of [3, 5]) {
      for (let seed = 2001; seed <= 2100; seed++) {
        const r = runSimulation({ seed, nodes, profile: PROFILES.membership! });
        if (!r.ok)
          failures.push(formatFailure(r, { nodes, chaosMs: 6000, bug: 'none', profile: 'membership' }));
      }
    }
    expect(failures.join('\n\n')).toBe('');
    // Membership changes must actually commit in this profile.
    let withConf = 0;
    for (let seed = 1; seed <= 5; seed++) {
      const lines: string[] = [];
      runSimulation({ seed, nodes: 5, profile: PROFILES.membership!, traceSink: (l) => lines.push(l) });
      if (lines.some((l) => l.includes('applies conf'))) withConf++;
    }
    expect(withConf).toBeGreaterThanOrEqual(2);
  });

  it('a seed replays exactly', () => {
    const a: string[] = [];
    const b: string[] = [];
    const r1 = runSimulation({ seed: 77, nodes: 5, traceSink: (l) => a.push(l) });
    const r2 = runSimulation({ seed: 77, nodes: 5, traceSink: (l) => b.push(l) });
    expect(r1.stats).toEqual(r2.stats);
    expect(a.length).toBeGreaterThan(100);
    expect(a).toEqual(b);
    const r3 = runSimulation({ seed: 78, nodes: 5 });
    expect(r3.stats).not.toEqual(r1.stats);
  });

  it('a calm run commits steadily and converges', () => {
    const r = runSimulation({ seed: 5, nodes: 3, faults: 0, chaosMs: 3000 });
    expect(r.ok).toBe(true);
    expect(r.stats.crashes).toBe(0);
    expect(r.stats.unknown).toBe(0);
    expect(r.writeLatencies.length).toBeGreaterThan(100);
  });
});
