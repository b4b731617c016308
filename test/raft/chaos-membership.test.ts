/**
 * Randomized membership changes under faults: nodes join with no
 * configuration, become learners, are promoted, demoted and removed while
 * messages are lost and nodes crash. The harness checks election safety,
 * leader completeness and state-machine safety after every Ready; at the end
 * every member must hold the same state. RAFT_CHAOS_SEEDS raises the count.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import type { ConfChangeType } from '../../src/raft/confchange.js';
import type { ConfState } from '../../src/raft/types.js';
import { TestCluster } from './cluster.js';

const SEEDS = Math.ceil(Number(process.env.RAFT_CHAOS_SEEDS ?? 150) / 2);
const UNIVERSE = ['a', 'b', 'c', 'd', 'e', 'f'];
const FOUNDERS = ['a', 'b', 'c'];

async function runSeed(seed: number): Promise<void> {
  const boot: ConfState = { voters: FOUNDERS, learners: [] };
  const c = new TestCluster(seed, { maxInflightMsgs: 4, maxEntriesPerMsg: 4 });
  for (const id of FOUNDERS) c.start(id, boot);
  const bootOf = (id: string): ConfState | undefined => (FOUNDERS.includes(id) ? boot : undefined);
  const rng = createRng(seed * 104729 + 7);
  const loss = rng.next() * 0.1;
  c.filter = () => rng.next() >= loss;
  c.reorderWindow = rng.int(1, 3);
  c.slowDisk = rng.next() < 0.5;
  const crashed = new Set<string>();
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(0, xs.length - 1)] as T;
  for (let step = 0; step < 150; step++) {
    const r = rng.next();
    const l = c.leader();
    if (r < 0.35) {
      l?.propose(new TextEncoder().encode(`${seed}-${step}`), c.now);
    } else if (r < 0.55 && l) {
      const node = pick(UNIVERSE);
      const type: ConfChangeType = pick(['add_voter', 'add_learner', 'remove'] as const);
      // A node must run before it is added (it joins with no configuration).
      if (type !== 'remove' && !c.disks.has(node)) c.start(node);
      l.proposeConfChange({ type, node }, c.now);
    } else if (r < 0.6) {
      const live = [...c.nodes.keys()];
      if (live.length > 0) {
        const id = pick(live);
        c.crash(id);
        crashed.add(id);
      }
    } else if (r < 0.7 && crashed.size > 0) {
      const id = pick([...crashed]);
      crashed.delete(id);
      c.start(id, bootOf(id));
    } else if (r < 0.75) {
      c.heal();
      if (rng.next() < 0.6) c.isolate(pick(UNIVERSE));
    } else if (r < 0.8) {
      const live = [...c.nodes.keys()];
      if (live.length > 0) c.compact(pick(live));
    }
    await c.advance(rng.int(5, 60));
  }
  c.heal();
  c.filter = () => true;
  for (const id of crashed) c.start(id, bootOf(id));
  await c.advance(3000);
  const l = c.leader();
  expect(l, `seed ${seed}: no leader after healing`).toBeDefined();
  await c.propose(`final-${seed}`);
  await c.advance(1000);
  const conf = l!.status().conf;
  const expected = c.appliedTexts(l!.id);
  expect(expected.at(-1)).toBe(`final-${seed}`);
  for (const id of [...conf.voters, ...conf.learners]) {
    expect(c.appliedTexts(id), `seed ${seed} member ${id}`).toEqual(expected);
    expect(c.node(id).status().conf, `seed ${seed} member ${id} conf`).toEqual(conf);
  }
  c.checkLogMatching();
}

describe('randomized membership changes under faults', () => {
  it(
    `${SEEDS} seeds`,
    async () => {
      for (let s = 1; s <= SEEDS; s++) await runSeed(s);
    },
    Math.max(60_000, SEEDS * 600),
  );
});
