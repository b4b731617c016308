/**
 * The checker must fail when it should: deliberately broken runtimes are run
 * through the same simulator and each must be caught, and each invariant is
 * exercised directly with a hand-made violation.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation, type SimBug } from '../../src/sim/raft/cluster.js';
import { InvariantChecker, InvariantViolation, readerOf, termAt } from '../../src/sim/raft/invariants.js';
import { PROFILES } from '../../src/sim/raft/faults.js';
import { formatFailure } from '../../src/sim/raft/report.js';
import { EntryType, type Entry } from '../../src/raft/types.js';

const crashy = PROFILES.crashy!;

async function firstFailure(
  bug: SimBug,
  maxSeeds: number,
): Promise<{ seed: number; invariant: string; text: string } | null> {
  for (let seed = 1; seed <= maxSeeds; seed++) {
    const r = await runSimulation({ seed, nodes: 3, bug, profile: crashy });
    if (!r.ok)
      return { seed, invariant: r.invariant!, text: formatFailure(r, { nodes: 3, chaosMs: 6000, bug }) };
  }
  return null;
}

describe('the simulator catches broken runtimes', () => {
  it('passes the same crash-heavy profile without a bug', async () => {
    for (let seed = 1; seed <= 15; seed++) {
      const r = await runSimulation({ seed, nodes: 3, profile: crashy });
      expect(r.ok, r.message).toBe(true);
    }
  }, 120_000);

  it.each<[SimBug, string[]]>([
    [
      'lying-sync',
      [
        'acknowledged-write-durability',
        'vote-durability',
        'ack-durability',
        'election-safety',
        'log-matching',
        'state-machine-safety',
      ],
    ],
    [
      'send-before-sync',
      [
        'acknowledged-write-durability',
        'vote-durability',
        'ack-durability',
        'election-safety',
        'log-matching',
        'state-machine-safety',
        'leader-completeness',
      ],
    ],
    ['ack-before-commit', ['acknowledged-write-durability', 'acknowledged-write-lost', 'linearizability']],
  ])(
    '%s is caught',
    async (bug, expected) => {
      const f = await firstFailure(bug, 60);
      expect(f, `${bug} was never caught`).not.toBeNull();
      expect(expected).toContain(f!.invariant);
      expect(f!.text).toContain(`npm run sim -- --seed ${f!.seed} --nodes 3 --bug ${bug} --trace`);
    },
    120_000,
  );
});

const entry = (index: number, term: number, text = `${index}/${term}`): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new TextEncoder().encode(text),
});

function violation(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvariantViolation) return err.invariant;
    throw err;
  }
  return 'none';
}

describe('invariant checker', () => {
  it('election safety: two leaders in one term', () => {
    const c = new InvariantChecker();
    c.observeLeader('n1', 3, readerOf({ snapshot: null, entries: [] }));
    c.observeLeader('n1', 3, readerOf({ snapshot: null, entries: [] }));
    expect(violation(() => c.observeLeader('n2', 3, readerOf({ snapshot: null, entries: [] })))).toBe(
      'election-safety',
    );
  });

  it('log matching: same index and term with different data or history', () => {
    const c = new InvariantChecker();
    const log1 = [entry(1, 1), entry(2, 1)];
    const terms = (log: Entry[]) => (i: number) => termAt(null, log, i);
    c.observeStored('n1', log1, terms(log1));
    expect(
      violation(() =>
        c.observeStored('n2', [entry(2, 1, 'other')], terms([entry(1, 1), entry(2, 1, 'other')])),
      ),
    ).toBe('log-matching');
    const log3 = [entry(1, 2), entry(2, 1)];
    expect(violation(() => c.observeStored('n3', [entry(2, 1)], terms(log3)))).toBe('log-matching');
  });

  it('state-machine safety: different entries applied at one index', () => {
    const c = new InvariantChecker();
    c.observeApplied('n1', entry(1, 1));
    c.observeApplied('n2', entry(1, 1));
    expect(violation(() => c.observeApplied('n3', entry(1, 2)))).toBe('state-machine-safety');
  });

  it('leader completeness: a later leader lacks an applied entry', () => {
    const c = new InvariantChecker();
    c.observeTerm(2);
    c.observeApplied('n1', entry(1, 2));
    // A leader of term 2 may have been elected before the commit; one of term 3 may not.
    c.observeLeader('n2', 2, readerOf({ snapshot: null, entries: [] }));
    expect(
      violation(() => c.observeLeader('n3', 3, readerOf({ snapshot: null, entries: [entry(1, 1)] }))),
    ).toBe('leader-completeness');
    c.observeLeader('n1', 4, readerOf({ snapshot: null, entries: [entry(1, 2)] }));
  });

  it('acknowledged writes: durable on a majority, and present at the end', () => {
    const c = new InvariantChecker();
    c.observeAck(1, 1);
    const has = { snapshot: null, entries: [entry(1, 1)] };
    const lacks = { snapshot: null, entries: [] };
    c.checkDurable(
      new Map([
        ['n1', has],
        ['n2', has],
        ['n3', lacks],
      ]),
      2,
    );
    expect(
      violation(() =>
        c.checkDurable(
          new Map([
            ['n1', has],
            ['n2', lacks],
            ['n3', lacks],
          ]),
          2,
        ),
      ),
    ).toBe('acknowledged-write-durability');
    expect(violation(() => c.checkAckedApplied())).toBe('acknowledged-write-lost');
    c.observeApplied('n1', entry(1, 1));
    c.checkAckedApplied();
  });
});
