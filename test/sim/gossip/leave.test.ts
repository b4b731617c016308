/**
 * A graceful leave on the simulator, as the real-daemon flake of test/python/observer.test.ts
 * "is marked left by every node after leave()" had it: an observer-like member sends its leave once
 * and closes its socket, in a swarm of 3 full members and 2 other observers that pass no update on
 * (swarm_lite's), whose probes lose 20 % (the daemons' adaptive controller then runs aggressive:
 * one gossip round of fanout 5 spends the whole retransmit budget of 3). A member the leave missed
 * holds the leaver alive until its own probe finds it silent; the members it asks (and those that
 * hear its suspicion) answer with the leave, so it ends `left`, not `dead`. Before the fix, 9 of
 * seeds 1..400 broke that (seed 338: py2 still `dead` 40 s after the leave) and 21 showed a wrong
 * view on the way. Same check, any seeds: `npm run sim -- --scenario gossip-leave --seeds N`.
 */
import { describe, expect, it } from 'vitest';
import { leaveCheck } from '../../../src/sim/gossip/workloads.js';

const SEEDS = Number(process.env.GOSSIP_SIM_SEEDS ?? 400);

describe('graceful leave of a one-shot observer under 20 % probe loss', () => {
  it(`every full member that held it live holds it left 40 s later; wrong views stay rare (${SEEDS} seeds)`, () => {
    const broken: string[] = [];
    const transient: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const v = leaveCheck(seed);
      for (const w of v.broken) broken.push(`seed ${seed}: ${w}`);
      if (v.transient.length > 0) transient.push(`seed ${seed}: ${v.transient.join('; ')}`);
    }
    expect(broken).toEqual([]);
    // Before the fix: 10 of seeds 1..180, often every full member calling it dead for good.
    // After: 5 of seeds 1..2000, each one every repair packet lost or a suspicion from before the leave.
    // With the left gossip beside each leave and full members preferred as anti-entropy partners: 0 of 2000.
    expect(transient.length, transient.join('\n')).toBeLessThanOrEqual(Math.ceil(SEEDS / 100));
  });
});
