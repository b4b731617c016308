/**
 * Differential test: FileRaftStorage and the simulator's in-memory SimDisk receive the same
 * RaftStorage calls; after a sync, a fresh FileRaftStorage loading the directory must recover
 * exactly what SimDisk reports. The Raft core is proven against SimDisk in the simulator, so
 * this is what lets those results carry over to the real disk.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRng } from '../../../src/common/rng.js';
import { FileRaftStorage } from '../../../src/raft/storage/file-storage.js';
import type { Entry, RecoveredState, Snapshot } from '../../../src/raft/types.js';
import { SimDisk } from '../../../src/sim/raft/disk.js';
import { cleanupDirs, noSyncFs, tempDir } from './helpers.js';

afterEach(cleanupDirs);

const SEEDS = Number(process.env['WAL_CONTRACT_SEEDS'] ?? 60);

function view(r: RecoveredState): unknown {
  return {
    hardState: r.hardState,
    snapshot: r.snapshot ? { meta: r.snapshot.meta, data: Array.from(r.snapshot.data) } : null,
    entries: r.entries.map((e) => [e.index, e.term, e.type, Array.from(e.data)]),
  };
}

describe('FileRaftStorage agrees with the simulator disk', () => {
  it(`recovers what SimDisk holds after the same calls (${SEEDS} seeds)`, async () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const rng = createRng(seed);
      const dir = tempDir(true);
      const sim = new SimDisk();
      await sim.load();
      let file = new FileRaftStorage(dir, { fs: noSyncFs, maxSegmentBytes: 300 });
      await file.load();
      let last = 0;
      let snapIndex = 0;
      let term = 1;
      // Committed entries never conflict: truncations and disagreeing snapshots stay above commit.
      let commit = 0;
      const termOf: number[] = [0];
      for (let op = 0; op < 80; op++) {
        const r = rng.next();
        if (r < 0.45) {
          let first = last + 1;
          const floor = Math.max(snapIndex, commit) + 1;
          if (last >= floor && rng.next() < 0.25) {
            first = rng.int(Math.max(floor, last - 6), last);
            term++;
          }
          const es: Entry[] = [];
          for (let i = 0; i < rng.int(1, 4); i++) {
            const data = Uint8Array.from({ length: rng.int(0, 20) }, () => rng.int(0, 255));
            es.push({ index: first + i, term, type: rng.next() < 0.1 ? 1 : 0, data });
          }
          sim.append(es);
          file.append(es);
          last = first + es.length - 1;
          termOf.length = first;
          for (const e of es) termOf.push(e.term);
        } else if (r < 0.6) {
          commit = rng.int(Math.max(snapIndex, commit), last);
          const hs = { term, vote: rng.next() < 0.5 ? null : `n${rng.int(1, 3)}`, commit };
          sim.setHardState(hs);
          file.setHardState(hs);
        } else if (r < 0.85) {
          await Promise.all([sim.sync(), file.sync()]);
        } else if (r < 0.95) {
          const k = rng.next();
          let index: number;
          let sterm: number;
          if (last > snapIndex && k < 0.6) {
            index = rng.int(snapIndex + 1, last);
            sterm = termOf[index]!;
          } else if (last > Math.max(snapIndex, commit) && k < 0.8) {
            index = rng.int(Math.max(snapIndex, commit) + 1, last);
            sterm = ++term;
          } else {
            index = last + rng.int(1, 4);
            sterm = ++term;
          }
          const snap: Snapshot = {
            meta: {
              index,
              term: sterm,
              conf: { voters: ['n1', 'n2'], learners: rng.next() < 0.5 ? [] : ['n3'] },
            },
            data: Uint8Array.from([seed & 0xff, op]),
          };
          await Promise.all([sim.saveSnapshot(snap), file.saveSnapshot(snap)]);
          // Mirror the rule both implement: keep the suffix only if the log agrees at the index.
          if (termOf[index] !== sterm) {
            termOf.length = index;
            last = index;
          }
          termOf[index] = sterm;
          last = Math.max(last, index);
          snapIndex = index;
          commit = Math.max(commit, index);
        } else {
          // Restart: the file storage comes back from disk and must match the simulator's durable image.
          await Promise.all([sim.sync(), file.sync()]);
          await file.close();
          file = new FileRaftStorage(dir, { fs: noSyncFs, maxSegmentBytes: 300 });
          const got = await file.load();
          expect(view(got), `seed ${seed} op ${op}`).toEqual(view(await sim.load()));
        }
      }
      await sim.sync();
      await file.close();
      const again = new FileRaftStorage(dir, { fs: noSyncFs });
      expect(view(await again.load()), `seed ${seed} end`).toEqual(view(await sim.load()));
      await again.close();
      cleanupDirs();
    }
  });
});
