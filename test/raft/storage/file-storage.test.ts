import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodedSize, HEADER_BYTES } from '../../../src/raft/storage/codec.js';
import {
  SnapshotCorruptionError,
  StorageError,
  WalCorruptionError,
} from '../../../src/raft/storage/errors.js';
import {
  FileRaftStorage,
  type FileStorageOptions,
  readDataDir,
  SNAPSHOT_FILE,
  type StorageWarning,
  PREALLOC_FILE,
} from '../../../src/raft/storage/file-storage.js';
import { nodeFs, type StorageFs } from '../../../src/raft/storage/fs.js';
import type { Snapshot } from '../../../src/raft/types.js';
import {
  cleanupDirs,
  closeStoragesAndDirs,
  entries,
  entry,
  hookedFs,
  openStorage,
  plain,
  tempDir,
} from './helpers.js';

afterEach(closeStoragesAndDirs);

// Growing segments (the file's size is where the log ends), as before preallocation and in data
// dirs written then: these tests cut and edit files by size. prealloc.test.ts covers preallocated ones.
const open = (dir: string, opts: FileStorageOptions = {}) =>
  openStorage(dir, { preallocate: false, ...opts });

/** `n` entries of 64 B, each synced, in 100-byte segments (so one segment file each); closed after. */
async function writeSegments(dir: string, n: number): Promise<void> {
  const { s } = await open(dir, { maxSegmentBytes: 100 });
  for (let i = 1; i <= n; i++) {
    s.append([entry(i, 1, 64)]);
    await s.sync();
  }
  await s.close();
}

function walFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.wal'))
    .sort();
}

function snap(index: number, term: number, data = [index & 0xff]): Snapshot {
  return {
    meta: { index, term, conf: { voters: ['a', 'b', 'c'], learners: [] } },
    data: Uint8Array.from(data),
  };
}

describe('FileRaftStorage basics', () => {
  it('starts empty', async () => {
    const { s, rec } = await open(tempDir());
    expect(rec).toEqual({ hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] });
    await s.close();
  });

  it('round-trips entries and hard state through close and reload', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    s.append(entries(1, 10, 1));
    s.setHardState({ term: 2, vote: 'n2', commit: 4 });
    s.append([entry(11, 2, 300)]);
    await s.sync();
    await s.close();
    const { s: s2, rec } = await open(dir);
    expect(plain(rec.entries)).toEqual(plain([...entries(1, 10, 1), entry(11, 2, 300)]));
    expect(rec.hardState).toEqual({ term: 2, vote: 'n2', commit: 4 });
    expect(rec.snapshot).toBeNull();
    // Appending after a reload continues the same log.
    s2.append([entry(12, 2)]);
    await s2.sync();
    await s2.close();
    const { rec: rec3 } = await open(dir);
    expect(rec3.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('writes nothing until sync, and everything after it', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    s.append(entries(1, 3, 1));
    expect(walFiles(dir)).toEqual([]);
    await s.sync();
    expect(walFiles(dir)).toHaveLength(1);
    expect(s.stats.flushes).toBe(1);
    await s.sync();
    expect(s.stats.flushes).toBe(1);
    await s.close();
  });

  it('refuses gaps, discontiguous batches, invalid values, and use before load', async () => {
    const dir = tempDir();
    const fresh = new FileRaftStorage(dir);
    expect(() => fresh.append([entry(1, 1)])).toThrow(StorageError);
    const { s } = await open(dir);
    expect(() => s.append([entry(2, 1)])).toThrow(/gap|ends at/);
    expect(() => s.append([entry(1, 1), entry(3, 1)])).toThrow(StorageError);
    expect(() => s.append([{ ...entry(1, 1), type: 7 as 0 }])).toThrow(/invalid type/);
    expect(() => s.append([{ ...entry(1, 1), term: -1 }])).toThrow(/invalid type or term/);
    expect(s.getLastIndex()).toBe(0);
    expect(() => s.setHardState({ term: 1.5, vote: null, commit: 0 })).toThrow(/safe integers/);
    s.append(entries(1, 5, 1));
    await s.saveSnapshot(snap(3, 1));
    await s.close();
    expect(() => s.append([entry(6, 1)])).toThrow(/closed/);
  });

  it('drops entries the snapshot already covers and keeps the ones above it', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    s.append(entries(1, 5, 1));
    await s.saveSnapshot(snap(3, 1));
    s.append(entries(2, 3, 1));
    expect(s.getLastIndex()).toBe(5);
    // Overlaps the snapshot and overwrites 5 onwards: only 4.. reach the log.
    s.append([entry(2, 1), entry(3, 1), entry(4, 1), entry(5, 2), entry(6, 2)]);
    await s.sync();
    await s.close();
    const { rec } = await open(dir);
    expect(plain(rec.entries)).toEqual(plain([entry(4, 1), entry(5, 2), entry(6, 2)]));
  });
});

describe('suffix truncation', () => {
  it('overwrites a conflicting tail within one segment', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    s.append(entries(1, 10, 1));
    await s.sync();
    s.append(entries(6, 8, 2));
    await s.sync();
    await s.close();
    const { rec } = await open(dir);
    expect(plain(rec.entries)).toEqual(plain([...entries(1, 5, 1), ...entries(6, 8, 2)]));
  });

  it('overwrites a conflicting tail that reaches back across segment boundaries', async () => {
    const dir = tempDir();
    const { s } = await open(dir, { maxSegmentBytes: 200 });
    for (let i = 1; i <= 30; i++) {
      s.append([entry(i, 1, 40)]);
      await s.sync();
    }
    expect(walFiles(dir).length).toBeGreaterThan(5);
    s.append(entries(4, 6, 3));
    s.setHardState({ term: 3, vote: 'x', commit: 3 });
    await s.sync();
    // More appends after the cut roll new segments named from the shortened log.
    for (let i = 7; i <= 12; i++) {
      s.append([entry(i, 3, 40)]);
      await s.sync();
    }
    await s.close();
    const { s: s2, rec } = await open(dir, { maxSegmentBytes: 200 });
    expect(plain(rec.entries)).toEqual(
      plain([...entries(1, 3, 1, 40), ...entries(4, 6, 3), ...entries(7, 12, 3, 40)]),
    );
    expect(rec.hardState).toEqual({ term: 3, vote: 'x', commit: 3 });
    expect(s2.getLastIndex()).toBe(12);
    await s2.close();
  });

  it('truncates in the same batch it appended', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    s.append(entries(1, 5, 1));
    s.append(entries(3, 4, 2));
    s.append(entries(2, 2, 3));
    await s.sync();
    await s.close();
    const { rec } = await open(dir);
    expect(plain(rec.entries)).toEqual(plain([entry(1, 1), entry(2, 3)]));
  });
});

describe('segments', () => {
  it('rolls at the size bound, names segments by sequence and first index, and never splits a batch', async () => {
    const dir = tempDir();
    const { s } = await open(dir, { maxSegmentBytes: 1000 });
    s.append(entries(1, 20, 1, 64));
    await s.sync();
    s.append(entries(21, 22, 1, 64));
    await s.sync();
    s.append(entries(23, 23, 1, 64));
    await s.sync();
    const files = walFiles(dir);
    expect(files).toEqual(['0000000000000000-0000000000000001.wal', '0000000000000001-0000000000000015.wal']);
    // The first batch (20 entries) went whole into the first segment although it exceeds the bound.
    expect(statSync(join(dir, files[0]!)).size).toBeGreaterThan(1000);
    expect(s.stats.segmentsCreated).toBe(2);
    await s.close();
    const { rec } = await open(dir, { maxSegmentBytes: 1000 });
    expect(rec.entries).toHaveLength(23);
  });

  it('reports a missing middle segment as corruption', async () => {
    const dir = tempDir();
    await writeSegments(dir, 6);
    const files = walFiles(dir);
    writeFileSync(join(dir, files[2]!), '');
    await expect(open(dir)).rejects.toThrow(WalCorruptionError);
  });

  it('reports a missing sequence number as corruption', async () => {
    const dir = tempDir();
    await writeSegments(dir, 4);
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, walFiles(dir)[1]!));
    await expect(open(dir)).rejects.toThrow(/sequence 1 is missing/);
  });
});

describe('torn writes and corruption', () => {
  async function buildLog(
    dir: string,
  ): Promise<{ lastStart: number; boundary: number; size: number; file: string }> {
    const { s } = await open(dir);
    s.setHardState({ term: 1, vote: 'a', commit: 0 });
    s.append(entries(1, 4, 1, 30));
    await s.sync();
    const file = join(dir, walFiles(dir)[0]!);
    const lastStart = statSync(file).size;
    s.append([entry(5, 1, 30)]);
    s.setHardState({ term: 1, vote: 'a', commit: 5 });
    await s.sync();
    await s.close();
    return {
      lastStart,
      boundary: lastStart + encodedSize({ kind: 'entry', entry: entry(5, 1, 30) }),
      size: statSync(file).size,
      file,
    };
  }

  it('recovers the prefix and reports the cut when the last write is torn at any byte', async () => {
    const master = tempDir();
    const { lastStart, boundary, size, file } = await buildLog(master);
    const bytes = readFileSync(file);
    const name = walFiles(master)[0]!;
    // Every cut inside the last batch (entry 5 + hard state record).
    for (let cut = lastStart + 1; cut < size; cut++) {
      const dir = tempDir();
      writeFileSync(join(dir, name), bytes.subarray(0, cut));
      const warnings: StorageWarning[] = [];
      const { s, rec } = await open(dir, { onWarning: (w) => warnings.push(w) });
      const torn = warnings.find((w) => w.kind === 'torn-tail');
      // A cut exactly between entry 5 and the hard-state record leaves only whole records.
      expect(torn === undefined).toBe(cut === boundary);
      if (torn?.kind === 'torn-tail') {
        expect(torn.file).toBe(name);
        expect(torn.droppedBytes).toBeGreaterThan(0);
        expect(torn.offset).toBeGreaterThanOrEqual(lastStart);
      }
      const n = rec.entries.length;
      expect(n).toBe(cut >= boundary ? 5 : 4);
      expect(plain(rec.entries)).toEqual(plain(entries(1, n, 1, 30)));
      expect(rec.hardState.term).toBe(1);
      // The file is cut at the reported offset and appends continue cleanly after it.
      if (torn?.kind === 'torn-tail') expect(statSync(join(dir, name)).size).toBe(torn.offset);
      s.append([entry(n + 1, 2)]);
      await s.sync();
      await s.close();
      const { s: s3, rec: again } = await open(dir);
      expect(again.entries.map((e) => e.index)).toEqual(Array.from({ length: n + 1 }, (_, i) => i + 1));
      await s3.close();
      cleanupDirs();
    }
  });

  it('throws WalCorruptionError with file and offset for a bad byte in the middle', async () => {
    const master = tempDir();
    const { lastStart, file } = await buildLog(master);
    const bytes = readFileSync(file);
    const name = walFiles(master)[0]!;
    // Damage each byte of the middle region; every position must be caught, none silently dropped.
    for (let pos = 0; pos < lastStart; pos += 3) {
      const dir = tempDir();
      const b = Buffer.from(bytes);
      b[pos]! ^= 0x81;
      writeFileSync(join(dir, name), b);
      let err: unknown;
      try {
        await open(dir);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WalCorruptionError);
      const w = err as WalCorruptionError;
      expect(w.file).toBe(name);
      expect(w.offset).toBeLessThanOrEqual(pos);
      expect(w.offset).toBeGreaterThan(pos - 80);
      expect(w.message).toContain(name);
      cleanupDirs();
    }
  });

  it('treats damage at the end of an earlier segment as corruption, never as a torn tail', async () => {
    const dir = tempDir();
    await writeSegments(dir, 6);
    const files = walFiles(dir);
    expect(files.length).toBeGreaterThan(2);
    const victim = join(dir, files[1]!);
    const b = readFileSync(victim);
    // Cut one byte off and, separately, flip the last byte: either would pass as torn in the last segment.
    for (const damaged of [
      b.subarray(0, b.byteLength - 1),
      Buffer.concat([b.subarray(0, -1), Buffer.from([b[b.byteLength - 1]! ^ 1])]),
    ]) {
      writeFileSync(victim, damaged);
      const err = await open(dir).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WalCorruptionError);
      expect((err as WalCorruptionError).file).toBe(files[1]);
    }
  });

  it('removes a last segment that holds nothing valid and keeps the hard state of the one before', async () => {
    const dir = tempDir();
    const { s } = await open(dir, { maxSegmentBytes: 10 });
    s.setHardState({ term: 4, vote: 'b', commit: 1 });
    s.append([entry(1, 4)]);
    await s.sync();
    await s.close();
    writeFileSync(join(dir, '0000000000000001-0000000000000002.wal'), Buffer.alloc(HEADER_BYTES - 2, 0));
    const warnings: StorageWarning[] = [];
    const { s: s2, rec } = await open(dir, { maxSegmentBytes: 10, onWarning: (w) => warnings.push(w) });
    // Zeros only: no torn tail (zeros after the log are its end), and no record at all: the roll's file goes.
    expect(warnings.map((w) => w.kind)).toEqual(['removed-empty-segment']);
    expect(rec.hardState).toEqual({ term: 4, vote: 'b', commit: 1 });
    expect(walFiles(dir)).toEqual(['0000000000000000-0000000000000001.wal']);
    s2.append([entry(2, 4)]);
    await s2.sync();
    await s2.close();
    expect(walFiles(dir)).toHaveLength(2);
    const { rec: again } = await open(dir);
    expect(again.entries).toHaveLength(2);
  });

  it('inspects a directory read-only with readDataDir: reports the torn tail, changes nothing', async () => {
    const dir = tempDir();
    const { lastStart, file } = await buildLog(dir);
    writeFileSync(`${file}.keep`, '');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, lastStart + 5));
    const image = await readDataDir(dir);
    expect(image.torn).toEqual([
      {
        file: walFiles(dir)[0],
        offset: lastStart,
        droppedBytes: 5,
        reason: expect.any(String) as string,
        damage: 'short',
      },
    ]);
    expect(image.entries).toHaveLength(4);
    expect(statSync(file).size).toBe(lastStart + 5);
    expect(readdirSync(dir)).toContain(`${walFiles(dir)[0]}.keep`);
  });

  it('lowers a commit index that points into a torn tail, with a warning', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    s.append(entries(1, 2, 1));
    await s.sync();
    const name = walFiles(dir)[0]!;
    const keep = statSync(join(dir, name)).size;
    s.setHardState({ term: 1, vote: null, commit: 3 });
    s.append([entry(3, 1, 50)]);
    await s.sync();
    await s.close();
    // Keep the hard-state record (written first in the batch) but tear the entry after it.
    const bytes = readFileSync(join(dir, name));
    writeFileSync(join(dir, name), bytes.subarray(0, keep + 30 + HEADER_BYTES + 5));
    const warnings: StorageWarning[] = [];
    const { rec } = await open(dir, { onWarning: (w) => warnings.push(w) });
    expect(rec.entries).toHaveLength(2);
    expect(rec.hardState.commit).toBe(2);
    expect(warnings.some((w) => w.kind === 'commit-clamped' && w.from === 3 && w.to === 2)).toBe(true);
  });
});

describe('snapshots', () => {
  it('saves, compacts covered segments, and reloads snapshot plus the later entries', async () => {
    const dir = tempDir();
    const { s } = await open(dir, { maxSegmentBytes: 300 });
    for (let i = 1; i <= 40; i++) {
      s.append([entry(i, 1, 50)]);
      if (i % 3 === 0) s.setHardState({ term: 1, vote: 'a', commit: i });
      await s.sync();
    }
    const before = walFiles(dir).length;
    await s.saveSnapshot(snap(30, 1, [9, 9]));
    const after = walFiles(dir);
    expect(after.length).toBeLessThan(before);
    expect(s.stats.segmentsRemoved).toBe(before - after.length);
    // Every remaining segment but the first starts above the snapshot, the first at or below it + 1.
    expect(parseInt(after[0]!.split('-')[1]!, 16)).toBeLessThanOrEqual(31);
    s.append(entries(41, 45, 2));
    await s.sync();
    await s.close();
    const { rec } = await open(dir, { maxSegmentBytes: 300 });
    expect(rec.snapshot?.meta).toEqual(snap(30, 1).meta);
    expect(Array.from(rec.snapshot!.data)).toEqual([9, 9]);
    expect(rec.entries.map((e) => e.index)).toEqual(Array.from({ length: 15 }, (_, i) => 31 + i));
    expect(rec.hardState).toEqual({ term: 1, vote: 'a', commit: 39 });
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp') && f !== PREALLOC_FILE)).toEqual([]);
  });

  it('keeps the suffix only when the log has the snapshot entry with its term (Raft section 7)', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    s.append(entries(1, 10, 1));
    await s.sync();
    // The snapshot says index 8 has term 2: our 8..10 are from another history and must go.
    await s.saveSnapshot(snap(8, 2));
    expect(s.getLastIndex()).toBe(8);
    s.append(entries(9, 9, 2));
    await s.sync();
    await s.close();
    const { rec } = await open(dir);
    expect(rec.snapshot?.meta.index).toBe(8);
    expect(plain(rec.entries)).toEqual(plain(entries(9, 9, 2)));
    expect(rec.hardState.commit).toBe(8);
  });

  it('installs a snapshot beyond the end of the log', async () => {
    const dir = tempDir();
    const { s } = await open(dir, { maxSegmentBytes: 200 });
    s.append(entries(1, 5, 1, 50));
    await s.sync();
    s.append(entries(6, 7, 1, 50));
    await s.sync();
    // Appends made right after the call must not reach the disk ahead of the snapshot.
    const p = s.saveSnapshot(snap(100, 3));
    s.append(entries(101, 103, 3));
    const q = s.sync();
    await Promise.all([p, q]);
    expect(walFiles(dir).length).toBeGreaterThanOrEqual(1);
    await s.close();
    const { rec } = await open(dir);
    expect(rec.snapshot?.meta.index).toBe(100);
    expect(rec.entries.map((e) => e.index)).toEqual([101, 102, 103]);
  });

  it('ignores a snapshot older than the one it has', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    s.append(entries(1, 10, 1));
    await s.saveSnapshot(snap(8, 1));
    await s.saveSnapshot(snap(5, 1));
    await s.close();
    const { rec } = await open(dir);
    expect(rec.snapshot?.meta.index).toBe(8);
  });

  it('a prepared snapshot is written beside the WAL while flushes go on, and renamed into place by saveSnapshot', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    s.append(entries(1, 10, 1));
    await s.sync();
    const prepared = s.prepareSnapshot(snap(8, 1, [1, 2, 3]));
    // A flush started while the snapshot file is being written does not wait for it.
    s.append(entries(11, 12, 1));
    await s.sync();
    const p = await prepared;
    expect(readdirSync(dir)).toContain(p.file);
    expect(readdirSync(dir)).not.toContain(SNAPSHOT_FILE);
    await s.saveSnapshot(snap(8, 1, [1, 2, 3]), p);
    expect(readdirSync(dir)).not.toContain(p.file);
    await s.close();
    const { rec } = await open(dir);
    expect(rec.snapshot?.meta.index).toBe(8);
    expect([...rec.snapshot!.data]).toEqual([1, 2, 3]);
    expect(rec.entries.map((e) => e.index)).toEqual([9, 10, 11, 12]);
  });

  it('a prepared snapshot older than one saved meanwhile is dropped, and a crashed preparation is cleaned up', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    s.append(entries(1, 10, 1));
    await s.sync();
    const p = await s.prepareSnapshot(snap(5, 1));
    await s.saveSnapshot(snap(9, 1));
    await s.saveSnapshot(snap(5, 1), p);
    expect(readdirSync(dir)).not.toContain(p.file);
    // A preparation that is never saved (the process dies) leaves its file for recovery to remove.
    const q = await s.prepareSnapshot(snap(10, 1));
    await s.close();
    const warnings: StorageWarning[] = [];
    const { rec } = await open(dir, { onWarning: (w) => warnings.push(w) });
    expect(rec.snapshot?.meta.index).toBe(9);
    expect(warnings).toEqual([{ kind: 'removed-temp', file: q.file }]);
    expect(readdirSync(dir)).not.toContain(q.file);
  });

  it('removes a leftover temp file and rejects a corrupt snapshot', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    s.append(entries(1, 3, 1));
    await s.saveSnapshot(snap(2, 1));
    await s.close();
    writeFileSync(join(dir, `${SNAPSHOT_FILE}.tmp`), 'half a snapshot');
    const warnings: StorageWarning[] = [];
    const { s: s2 } = await open(dir, { onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([{ kind: 'removed-temp', file: `${SNAPSHOT_FILE}.tmp` }]);
    await s2.close();
    const b = readFileSync(join(dir, SNAPSHOT_FILE));
    b[b.byteLength - 1]! ^= 1;
    writeFileSync(join(dir, SNAPSHOT_FILE), b);
    await expect(open(dir)).rejects.toThrow(SnapshotCorruptionError);
  });

  it('writes the snapshot through temp file, fsync, rename, directory fsync, in that order', async () => {
    const dir = tempDir();
    const log: string[] = [];
    const fs = hookedFs((ev, p) => {
      log.push(`${ev}:${p.slice(dir.length + 1)}`);
    });
    const { s } = await open(dir, { fs });
    s.append(entries(1, 3, 1));
    await s.sync();
    log.length = 0;
    await s.saveSnapshot(snap(3, 1));
    expect(log).toEqual([
      `create:${SNAPSHOT_FILE}.tmp`,
      `append:${SNAPSHOT_FILE}.tmp`,
      `sync:${SNAPSHOT_FILE}.tmp`,
      `rename:${SNAPSHOT_FILE}`,
      'syncDir:',
    ]);
    await s.close();
  });
});

describe('group commit', () => {
  it('shares one write and one fdatasync among syncs issued during an in-flight flush', async () => {
    const dir = tempDir();
    let syncs = 0;
    let release: (() => void) | null = null;
    const fs = hookedFs(async (ev) => {
      if (ev !== 'datasync') return;
      syncs++;
      // Hold the first fdatasync open so the other callers pile up behind it.
      if (syncs === 1) await new Promise<void>((r) => (release = r));
    });
    const { s } = await open(dir, { fs });
    s.append([entry(1, 1)]);
    const first = s.sync();
    await new Promise((r) => setTimeout(r, 20));
    const later: Promise<void>[] = [];
    for (let i = 2; i <= 51; i++) {
      s.append([entry(i, 1)]);
      later.push(s.sync());
    }
    for (let i = 0; i < 100 && release === null; i++) await new Promise((r) => setTimeout(r, 5));
    (release as (() => void) | null)?.();
    await Promise.all([first, ...later]);
    // 51 sync() calls, but only the in-flight flush and one shared follower touched the disk.
    expect(s.stats.syncCalls).toBe(51);
    expect(s.stats.flushes).toBe(2);
    expect(s.stats.writes).toBe(2);
    expect(syncs).toBe(2);
    await s.close();
    const { rec } = await open(dir);
    expect(rec.entries).toHaveLength(51);
  });

  it('counts exactly one fdatasync per sync when syncs are sequential', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    const atLoad = s.stats.fsyncs;
    for (let i = 1; i <= 10; i++) {
      s.append([entry(i, 1)]);
      await s.sync();
    }
    // Ten flushes plus one directory fsync for creating the first segment.
    expect(s.stats.flushes).toBe(10);
    expect(s.stats.fsyncs - atLoad).toBe(11);
    await s.close();
  });
});

describe('failures', () => {
  it('fails stop after an fdatasync error and refuses further work', async () => {
    const dir = tempDir();
    let fail = false;
    const fs: StorageFs = hookedFs((ev) => {
      if (fail && ev === 'datasync') throw new Error('EIO');
    }, nodeFs);
    const { s } = await open(dir, { fs });
    s.append([entry(1, 1)]);
    await s.sync();
    fail = true;
    s.append([entry(2, 1)]);
    await expect(s.sync()).rejects.toThrow(/I\/O failed.*EIO/);
    fail = false;
    expect(() => s.append([entry(3, 1)])).toThrow(/failed an earlier/);
    await expect(s.sync()).rejects.toThrow(StorageError);
    await s.close();
  });
});
