/**
 * CPU cost of the Raft core alone: every node of a cluster in one thread,
 * instant delivery, no disk. Not a test (no timing assertions live in tests);
 * run `npx tsx test/raft/perf-core.ts`. End-to-end figures with disks and
 * sockets belong to the benchmarks under bench/.
 */
import { createRng } from '../../src/common/rng.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { RaftNode } from '../../src/raft/raft-node.js';

function run(size: number, batch: number, total: number): number {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].slice(0, size);
  const rng = createRng(1);
  const nodes = new Map(
    ids.map((id) => [
      id,
      new RaftNode(
        {
          id,
          rng: rng.fork(),
          electionTimeoutMinMs: 150,
          electionTimeoutMaxMs: 300,
          heartbeatIntervalMs: 50,
        },
        { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
        { voters: ids, learners: [] },
      ),
    ]),
  );
  let queue: RaftMessage[] = [];
  let now = 0;
  let applied = 0;
  const pump = (): void => {
    for (let round = 0; round < 10_000; round++) {
      for (const n of nodes.values()) {
        while (n.hasReady()) {
          const rd = n.ready();
          queue.push(...rd.messages);
          if (n.id === 'a') applied += rd.committed.length;
          n.advance(rd);
        }
      }
      if (queue.length === 0) return;
      const cur = queue;
      queue = [];
      for (const m of cur) nodes.get(m.to)?.step(m, now);
    }
  };
  const a = nodes.get('a')!;
  for (let i = 0; i < 1000 && a.status().role !== 'leader'; i++) {
    now += 10;
    a.tick(now);
    pump();
  }
  const data = new Uint8Array(64);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i += batch) {
    for (let k = 0; k < batch; k++) a.propose(data, now);
    pump();
    if (i % 50_000 < batch) {
      for (const n of nodes.values()) {
        const s = n.status();
        if (s.applied > s.snapshotIndex) n.compact(n.createSnapshot(s.applied, new Uint8Array(0)));
      }
    }
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (applied < total) throw new Error(`only ${applied} of ${total} applied`);
  return (total / ms) * 1000;
}

for (const size of [3, 5]) {
  for (const batch of [1, 16, 64]) {
    const rate = run(size, batch, batch === 1 ? 50_000 : 200_000);
    console.log(
      `${size} nodes, ${batch} proposals per Ready: ${Math.round(rate)} commits/s (64-byte entries)`,
    );
  }
}
