/**
 * Randomized faults on the small in-test network: message loss, partitions,
 * crashes with restart from disk, compaction and leadership transfers. The
 * harness checks election safety, leader completeness and state-machine
 * safety after every Ready; at the end the cluster must converge.
 * RAFT_CHAOS_SEEDS raises the seed count (long mode).
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { TestCluster } from './cluster.js';

const SEEDS = Number(process.env.RAFT_CHAOS_SEEDS ?? 150);
/** Long mode runs thousands of seeds: scale the per-test timeout with the count. */
const TIMEOUT_MS = Math.max(60_000, SEEDS * 300);

async function runSeed(seed: number, size: number, preVote: boolean): Promise<void> {
  const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, size);
  const c = TestCluster.boot(ids, seed, {
    preVote,
    checkQuorum: preVote,
    maxInflightMsgs: 4,
    maxEntriesPerMsg: 3,
    // Tiny byte limits so that lost, duplicated and reordered snapshot chunks and byte-bounded
    // pipelines are exercised under every fault.
    maxSizePerMsg: 80,
    maxInflightBytes: 200,
    snapshotChunkBytes: 3,
  });
  const rng = createRng(seed * 7919 + 13);
  const loss = rng.next() * 0.2;
  c.filter = () => rng.next() >= loss;
  c.reorderWindow = rng.int(1, 4);
  c.duplicate = rng.next() * 0.05;
  c.slowDisk = rng.next() < 0.5;
  const crashed = new Set<string>();
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(0, xs.length - 1)] as T;
  for (let step = 0; step < 150; step++) {
    const r = rng.next();
    const live = ids.filter((id) => !crashed.has(id));
    if (r < 0.45) {
      const l = c.leader();
      if (l) {
        const n = rng.int(1, 3);
        for (let k = 0; k < n; k++) l.propose(new TextEncoder().encode(`${seed}-${step}-${k}`), c.now);
      }
    } else if (r < 0.52) {
      c.heal();
      if (rng.next() < 0.7) c.isolate(pick(ids));
    } else if (r < 0.56 && live.length > 0) {
      const id = pick(live);
      c.crash(id);
      crashed.add(id);
    } else if (r < 0.64 && crashed.size > 0) {
      const id = pick([...crashed]);
      crashed.delete(id);
      // Sometimes its synced WAL tail was damaged: it lost entries it may have acknowledged. At
      // most one node of the cluster at a time, or no quorum of voting nodes may be left.
      const othersRecovering = ids.some((o) => o !== id && (c.disks.get(o)?.recoveringUntil ?? 0) > 0);
      if (!othersRecovering && rng.next() < 0.3) c.loseTail(id, rng.int(1, 4));
      c.start(id, { voters: ids, learners: [] });
    } else if (r < 0.7 && live.length > 0) {
      c.compact(pick(live));
    } else if (r < 0.72) {
      const l = c.leader();
      if (l) l.transferLeadership(pick(ids), c.now);
    }
    await c.advance(rng.int(5, 60));
  }
  c.heal();
  c.filter = () => true;
  c.duplicate = 0;
  for (const id of crashed) c.start(id, { voters: ids, learners: [] });
  await c.advance(2000);
  const l = c.leader();
  expect(l, `seed ${seed}: no leader after healing`).toBeDefined();
  // Commit something in the final term so that every node applies everything.
  await c.propose(`final-${seed}`);
  await c.advance(500);
  const expected = c.appliedTexts(l!.id);
  expect(expected.at(-1)).toBe(`final-${seed}`);
  for (const id of ids) expect(c.appliedTexts(id), `seed ${seed} node ${id}`).toEqual(expected);
  c.checkLogMatching();
}

describe('randomized faults (safety invariants checked every step)', () => {
  it(
    `3 nodes, pre-vote + check-quorum, ${SEEDS} seeds`,
    async () => {
      for (let s = 1; s <= SEEDS; s++) await runSeed(s, 3, true);
    },
    TIMEOUT_MS,
  );
  it(
    `5 nodes, pre-vote + check-quorum, ${SEEDS} seeds`,
    async () => {
      for (let s = 1; s <= SEEDS; s++) await runSeed(1000 + s, 5, true);
    },
    TIMEOUT_MS,
  );
  it(
    `5 nodes, plain Raft, ${Math.ceil(SEEDS / 2)} seeds`,
    async () => {
      for (let s = 1; s <= Math.ceil(SEEDS / 2); s++) await runSeed(2000 + s, 5, false);
    },
    TIMEOUT_MS,
  );
});
