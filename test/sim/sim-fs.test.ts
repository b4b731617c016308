/**
 * The simulated disk under the real WAL: what survives a crash (synced data, a torn prefix of the
 * unsynced tail, names only after a directory sync), corruption on request, a full disk, and
 * handles of a crashed process that never answer again. FileRaftStorage runs on it unchanged.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { WalCorruptionError } from '../../src/raft/storage/errors.js';
import { FileRaftStorage } from '../../src/raft/storage/file-storage.js';
import { EntryType, type Entry } from '../../src/raft/types.js';
import { SimFs } from '../../src/sim/disk/sim-fs.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const entry = (index: number, term = 1): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: bytes(`entry ${index} ${'x'.repeat(200)}`),
});

describe('SimFs', () => {
  it('keeps synced data and drops or tears the unsynced tail on crash', async () => {
    let torn = 0;
    let lost = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const fs = new SimFs({ rng: createRng(seed) });
      const v = fs.view();
      const f = await v.openAppend('/d/a', 'create');
      await v.syncDir('/d');
      await f.append(bytes('synced;'));
      await f.datasync();
      await f.append(bytes('unsynced tail'));
      fs.crash();
      const after = text(await fs.view().readFile('/d/a'));
      expect(after.startsWith('synced;')).toBe(true);
      expect('synced;unsynced tail'.startsWith(after)).toBe(true);
      if (after === 'synced;') lost++;
      else torn++;
    }
    expect(lost).toBeGreaterThan(5);
    expect(torn).toBeGreaterThan(5);
  });

  it('makes a new name durable only with a directory sync', async () => {
    const fs = new SimFs({ rng: createRng(1) });
    const v = fs.view();
    const a = await v.openAppend('/d/a', 'create');
    await a.append(bytes('a'));
    await a.sync();
    const b = await v.openAppend('/d/b', 'create');
    await b.append(bytes('b'));
    await b.sync();
    await v.syncDir('/d');
    await v.rename('/d/b', '/d/c');
    fs.crash();
    expect((await fs.view().list('/d')).sort()).toEqual(['a', 'b']);
  });

  it('fails appends with ENOSPC when full, flips synced bits on request, and strands old handles', async () => {
    const fs = new SimFs({ rng: createRng(1), capacityBytes: 10 });
    const v = fs.view();
    const f = await v.openAppend('/d/a', 'create');
    await f.append(bytes('12345678'));
    await expect(f.append(bytes('abc'))).rejects.toMatchObject({ code: 'ENOSPC' });
    await f.sync();
    expect(fs.flipBit('/d/a', 0, 0)).toBe(true);
    expect(text(await v.readFile('/d/a'))).toBe('02345678');
    fs.crash();
    let answered = false;
    void f.append(bytes('x')).then(() => (answered = true));
    void v.list('/d').then(() => (answered = true));
    await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
  });

  it('tears an unsynced overwrite of zero-filled space at a sector boundary, zeros after it', async () => {
    const shapes = new Set<string>();
    for (let seed = 1; seed <= 60; seed++) {
      const fs = new SimFs({ rng: createRng(seed) });
      const v = fs.view();
      const f = await v.openTruncate('/d/seg');
      await v.syncDir('/d');
      await f.appendZeros!(8192);
      await f.datasync();
      await f.writeAt!(bytes('head'), 0);
      await f.datasync();
      const data = new Uint8Array(3000).fill(0x5a);
      await f.writeAt!(data, 100);
      fs.crash();
      const after = await fs.view().readFile('/d/seg');
      // The preallocated length and the synced bytes stay; of the write, whole sectors from its start.
      expect(after.byteLength).toBe(8192);
      expect(text(after.subarray(0, 4))).toBe('head');
      let k = 100;
      while (k < 3100 && after[k] === 0x5a) k++;
      expect(k === 100 || k === 3100 || k % 512 === 0).toBe(true);
      expect(after.subarray(k).every((x) => x === 0)).toBe(true);
      shapes.add(k === 100 ? 'none' : k === 3100 ? 'all' : 'torn');
    }
    expect(shapes.has('none') && shapes.has('torn')).toBe(true);
  });

  it('a crash while a segment is prepared leaves a partly zero-filled file; the storage loads and prepares anew', async () => {
    // fsyncs complete only when released here, so the crash can come while the zero-filling runs.
    const held: (() => void)[] = [];
    const fs = new SimFs({ rng: createRng(3), delaySync: (fn) => held.push(fn) });
    const release = async (): Promise<void> => {
      while (held.length > 0) held.shift()!();
      await new Promise((r) => setImmediate(r));
    };
    const prepFile = () => fs.files().find((f) => f.path.endsWith('wal.prealloc.tmp'));
    const s1 = new FileRaftStorage('/n/raft', {
      fs: fs.view(),
      maxSegmentBytes: 4 * 1024 * 1024,
      preallocate: true,
    });
    void s1.load();
    // Until two of the four 1 MiB steps are synced and the third is written, not synced.
    for (let i = 0; i < 100 && (prepFile()?.synced ?? 0) < 2 * 1024 * 1024; i++) {
      held.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    const prep = prepFile()!;
    expect(prep.synced).toBe(2 * 1024 * 1024);
    expect(prep.size).toBeGreaterThan(prep.synced);
    expect(prep.size).toBeLessThan(4 * 1024 * 1024);
    fs.crash();
    // Its name was never made durable by a directory sync: gone, or present with part of its zeros.
    const s2 = new FileRaftStorage('/n/raft', {
      fs: fs.view(),
      maxSegmentBytes: 4 * 1024 * 1024,
      preallocate: true,
    });
    const loading2 = s2.load();
    while (held.length > 0 || fs.syncsInFlight > 0) await release();
    const r2 = await loading2;
    expect(r2.entries).toEqual([]);
    expect(s2.warnings).toEqual([]);
    s2.append([entry(1)]);
    const synced = s2.sync();
    for (let i = 0; i < 20; i++) await release();
    await synced;
    expect(s2.stats.segmentsPreallocated).toBe(1);
    const seg = fs.files().find((f) => f.path.endsWith('.wal'))!;
    expect(seg.size).toBe(4 * 1024 * 1024);
    expect(seg.syncedData).toBeGreaterThan(0);
  });

  it('lets FileRaftStorage repair a torn tail and refuse a corrupted synced record', async () => {
    const fs = new SimFs({ rng: createRng(7) });
    const s1 = new FileRaftStorage('/n/raft', { fs: fs.view(), preallocate: true });
    await s1.load();
    s1.append([1, 2, 3, 4, 5].map((i) => entry(i)));
    s1.setHardState({ term: 1, vote: 'n1', commit: 3 });
    await s1.sync();
    s1.append([entry(6), entry(7)]);
    void s1.sync();
    fs.crash();
    const s2 = new FileRaftStorage('/n/raft', { fs: fs.view(), preallocate: true });
    const r2 = await s2.load();
    expect(r2.entries.length).toBeGreaterThanOrEqual(5);
    expect(r2.entries.slice(0, 5).map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
    expect(r2.hardState).toMatchObject({ term: 1, vote: 'n1' });
    await s2.close();

    // A bit flip inside a synced record that is not the last: corruption, never a torn tail.
    const seg = fs.files().find((x) => x.path.endsWith('.wal'))!;
    expect(fs.flipBit(seg.path, Math.floor(seg.syncedData / 3))).toBe(true);
    await expect(
      new FileRaftStorage('/n/raft', { fs: fs.view(), preallocate: true }).load(),
    ).rejects.toBeInstanceOf(WalCorruptionError);
  });
});
