import { afterEach, describe, expect, it } from 'vitest';
import { FileRaftStorage } from '../../../src/raft/storage/file-storage.js';
import { persistReady } from '../../../src/raft/storage/persist.js';
import { cleanupDirs, entries, plain, tempDir } from './helpers.js';

afterEach(cleanupDirs);

describe('persistReady', () => {
  it('persists a snapshot together with entries above it (snapshot first), durably', async () => {
    const dir = tempDir();
    const s = new FileRaftStorage(dir);
    await s.load();
    await persistReady(s, { entries: entries(1, 3, 1), hardState: { term: 1, vote: 'a', commit: 1 } });
    // A follower installing a snapshot far ahead of its log, with the entries that follow it.
    await persistReady(s, {
      snapshot: {
        meta: { index: 50, term: 2, conf: { voters: ['a'], learners: [] } },
        data: new Uint8Array([1]),
      },
      entries: entries(51, 52, 2),
      hardState: { term: 2, vote: 'a', commit: 50 },
    });
    // Commit-only change: no sync of its own, but it is written with the next one.
    await persistReady(s, { entries: [], hardState: { term: 2, vote: 'a', commit: 51 }, mustSync: false });
    expect(s.stats.flushes).toBe(2);
    // close() flushes what is buffered.
    await s.close();
    expect(s.stats.flushes).toBe(3);
    const again = new FileRaftStorage(dir);
    const rec = await again.load();
    expect(rec.snapshot?.meta.index).toBe(50);
    expect(plain(rec.entries)).toEqual(plain(entries(51, 52, 2)));
    expect(rec.hardState).toEqual({ term: 2, vote: 'a', commit: 51 });
    await again.close();
  });
});
