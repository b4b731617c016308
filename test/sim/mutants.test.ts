/**
 * `npm run sim:mutants` in CI: every named mutation of the core and driver (src/raft/mutations.ts)
 * must be killed by the randomized simulator alone, seeds 1..SEEDS, on a seed that passes without
 * the mutation. A survivor marks a Raft rule the simulator cannot see break.
 */
import { describe, expect, it } from 'vitest';
import { MUTANT_NAMES, mutations } from '../../src/raft/mutations.js';
import { formatVerdict, huntMutant } from '../../src/sim/mutants.js';

/** Enough for the slowest mutant with a margin (leader-counts-self-before-persist: seed 65; commit-no-current-term-check fell at seed 279 before the fsync spike draws). */
const SEEDS = 320;

describe('core mutants are killed by the randomized simulator', () => {
  it.each(Object.keys(MUTANT_NAMES))(
    '%s',
    async (name) => {
      const v = await huntMutant(name, SEEDS);
      expect(v.killedBy, formatVerdict(v)).not.toBeNull();
      expect(formatVerdict(v)).toMatch(/killed seed=\d+/);
      // The runner restores the real protocol after each run.
      expect(Object.values(mutations()).every((on) => !on)).toBe(true);
    },
    600_000,
  );

  it('prints one line per mutant, survived when no seed kills it', async () => {
    const v = await huntMutant('vote-no-up-to-date-check', 1, 2);
    expect(formatVerdict(v)).toMatch(/^vote-no-up-to-date-check\s+(survived \(1 seeds|killed seed=2)/);
  }, 60_000);
});
