/**
 * Preallocated segments (docs/storage.md "Preallocated segments"): the log writes into zero-filled
 * files, so a flush's fdatasync does not commit a new file size. Zeros after the last record are
 * the normal end of the log; a write torn inside zero-filled space is a torn tail as before; zeros
 * or damage inside the synced extent stay corruption; data dirs written before preallocation load.
 */
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRecord } from '../../../src/raft/storage/codec.js';
import { PREALLOC_FILE, RECOVERING_FILE } from '../../../src/raft/storage/file-storage.js';
import { nodeFs, type StorageFs } from '../../../src/raft/storage/fs.js';
import { decodeSyncedMarker, SYNCED_FILE } from '../../../src/raft/storage/synced-marker.js';
import { closeStoragesAndDirs, entries, entry, openStorage, plain, tempDir } from './helpers.js';

afterEach(closeStoragesAndDirs);

const MAX = 64 * 1024;

function walFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => join(dir, n));
}

function syncedExtent(dir: string): number {
  return decodeSyncedMarker(readFileSync(join(dir, SYNCED_FILE)))!.extent;
}

/** Ten entries in a preallocated segment, each synced on its own; where the 10th record starts and the log ends. */
async function preallocLog(dir: string): Promise<{ file: string; lastStart: number; end: number }> {
  const { s } = await openStorage(dir, { maxSegmentBytes: MAX, preallocate: true });
  s.setHardState({ term: 1, vote: 'a', commit: 0 });
  let lastStart = 0;
  for (let i = 1; i <= 10; i++) {
    if (i === 10) lastStart = syncedExtent(dir);
    s.append([entry(i, 1, 40)]);
    await s.sync();
    // Written in place: the file keeps its preallocated length.
    expect(walFiles(dir).map((f) => statSync(f).size)).toEqual([MAX]);
  }
  expect(s.stats.segmentsPreallocated).toBe(1);
  const end = syncedExtent(dir);
  await s.close();
  return { file: walFiles(dir)[0]!, lastStart, end };
}

describe('preallocated segments', () => {
  it('writes a fresh log into a zero-filled segment; a restart reads the zeros after it as its end', async () => {
    const dir = tempDir();
    const { file, end } = await preallocLog(dir);
    expect(
      readFileSync(file)
        .subarray(end)
        .every((b) => b === 0),
    ).toBe(true);
    const { s, rec, warnings } = await openStorage(dir, { maxSegmentBytes: MAX, preallocate: true });
    expect(warnings).toEqual([]);
    expect(rec.recoveringUntil).toBeUndefined();
    expect(plain(rec.entries)).toEqual(plain(entries(1, 10, 1, 40)));
    // Not truncated: the next writes still land in preallocated space.
    expect(statSync(file).size).toBe(MAX);
    s.append([entry(11, 1, 40)]);
    await s.sync();
    await s.close();
    expect(walFiles(dir).map((f) => statSync(f).size)).toEqual([MAX]);
    const again = await openStorage(dir, { maxSegmentBytes: MAX, preallocate: true });
    expect(again.warnings).toEqual([]);
    expect(again.rec.entries.map((e) => e.index)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
  });

  it('fsyncs a small flush inline in a preallocated segment too', async () => {
    const { s } = await openStorage(tempDir(), { maxSegmentBytes: MAX, preallocate: true });
    s.append([entry(1, 1)]);
    await s.sync();
    expect(s.stats.segmentsPreallocated).toBe(1);
    expect(s.stats.inlineFsyncs).toBe(1);
  });

  it('a record torn inside zero-filled space past the synced extent is a torn tail: zeroed, nothing else', async () => {
    const dir = tempDir();
    const { file, end } = await preallocLog(dir);
    // The interrupted write of an 11th record: its first sectors landed, the rest still zeros.
    const rec11 = encodeRecord({ kind: 'entry', entry: entry(11, 1, 1500) });
    const cut = Math.ceil((end + 13) / 512) * 512 - end;
    expect(cut).toBeLessThan(rec11.byteLength);
    const b = readFileSync(file);
    b.set(rec11.subarray(0, cut), end);
    writeFileSync(file, b);
    const { s, rec, warnings } = await openStorage(dir, { maxSegmentBytes: MAX, preallocate: true });
    expect(warnings).toEqual([
      expect.objectContaining({ kind: 'torn-tail', offset: end, damage: 'short', droppedBytes: cut }),
    ]);
    expect(rec.entries).toHaveLength(10);
    expect(rec.recoveringUntil).toBeUndefined();
    expect(existsSync(join(dir, RECOVERING_FILE))).toBe(false);
    // The torn bytes are zeroed in place (not truncated: the segment stays preallocated).
    expect(statSync(file).size).toBe(MAX);
    expect(
      readFileSync(file)
        .subarray(end)
        .every((x) => x === 0),
    ).toBe(true);
    s.append([entry(11, 2, 8)]);
    await s.sync();
    await s.close();
    const again = await openStorage(dir, { maxSegmentBytes: MAX, preallocate: true });
    expect(again.warnings).toEqual([]);
    expect(again.rec.entries).toHaveLength(11);
  });

  it('a record cut inside a sector (no disk leaves half a sector) is treated as possibly acknowledged', async () => {
    const dir = tempDir();
    const { file, end } = await preallocLog(dir);
    const rec11 = encodeRecord({ kind: 'entry', entry: entry(11, 1, 40) });
    // All but its last byte: the record's end lies in the sector its data reaches.
    const cut = rec11.byteLength - 1;
    if ((end + cut) % 512 === 0) return;
    const b = readFileSync(file);
    b.set(rec11.subarray(0, cut), end);
    writeFileSync(file, b);
    const { rec, warnings } = await openStorage(dir, { maxSegmentBytes: MAX, preallocate: true });
    expect(warnings.map((w) => w.kind)).toEqual(['lost-acknowledged']);
    expect(rec.entries).toHaveLength(10);
    expect(rec.recoveringUntil).toBeGreaterThanOrEqual(10);
  });

  it('zeros inside the synced extent are corruption: the node recovers until the marked index', async () => {
    const dir = tempDir();
    const { file, lastStart, end } = await preallocLog(dir);
    const b = readFileSync(file);
    b.fill(0, lastStart, end);
    writeFileSync(file, b);
    const { rec, warnings } = await openStorage(dir, { maxSegmentBytes: MAX, preallocate: true });
    expect(warnings).toEqual([
      expect.objectContaining({
        kind: 'lost-acknowledged',
        offset: lastStart,
        recoveringUntil: 10,
        reason: expect.stringContaining('zeros below the synced extent') as string,
      }),
    ]);
    expect(rec.entries).toHaveLength(9);
    expect(rec.recoveringUntil).toBe(10);
    expect(existsSync(join(dir, RECOVERING_FILE))).toBe(true);
  });

  it('garbage inside the synced extent, followed by zeros, is corruption too', async () => {
    const dir = tempDir();
    const { file, lastStart, end } = await preallocLog(dir);
    const b = readFileSync(file);
    b[lastStart + Math.floor((end - lastStart) / 2)]! ^= 0x10;
    writeFileSync(file, b);
    const { rec } = await openStorage(dir, { maxSegmentBytes: MAX, preallocate: true });
    // Not the zeros after the log: no record starts in them (the marked index is the bound).
    expect(rec.recoveringUntil).toBe(10);
    expect(rec.entries).toHaveLength(9);
  });

  it('loads a data dir written before preallocation and moves on to a preallocated segment', async () => {
    const dir = tempDir();
    const old = await openStorage(dir, { maxSegmentBytes: MAX, preallocate: false });
    old.s.setHardState({ term: 1, vote: 'a', commit: 0 });
    for (let i = 1; i <= 5; i++) {
      old.s.append([entry(i, 1, 40)]);
      await old.s.sync();
    }
    await old.s.close();
    const [first] = walFiles(dir);
    const oldSize = statSync(first!).size;
    expect(oldSize).toBeLessThan(MAX);
    expect(existsSync(join(dir, PREALLOC_FILE))).toBe(false);

    const { s, rec, warnings } = await openStorage(dir, { maxSegmentBytes: MAX, preallocate: true });
    expect(warnings).toEqual([]);
    expect(plain(rec.entries)).toEqual(plain(entries(1, 5, 1, 40)));
    // The growing tail is left for a prepared segment at the next flush.
    expect(await s.whenPrepared()).toBe(true);
    s.append([entry(6, 1, 40)]);
    await s.sync();
    expect(s.stats.segmentsPreallocated).toBe(1);
    const files = walFiles(dir);
    expect(files).toHaveLength(2);
    expect(statSync(files[0]!).size).toBe(oldSize);
    expect(statSync(files[1]!).size).toBe(MAX);
    await s.close();
    const again = await openStorage(dir, { maxSegmentBytes: MAX, preallocate: true });
    expect(again.warnings).toEqual([]);
    expect(again.rec.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(again.rec.hardState.term).toBe(1);
  });

  it('rolls from one preallocated segment into the next; a closed segment keeps no zeros', async () => {
    const dir = tempDir();
    const size = 4096;
    const { s } = await openStorage(dir, { maxSegmentBytes: size, preallocate: true });
    let next = 1;
    s.append([entry(next++, 1, 100)]);
    await s.sync();
    for (let round = 0; round < 3; round++) {
      // Prepared once the open segment is half full; waited for here so the roll finds it.
      while (s.stats.segmentsCreated === round + 1 && !(await s.whenPrepared())) {
        s.append([entry(next++, 1, 100)]);
        await s.sync();
      }
      while (s.stats.segmentsCreated === round + 1) {
        s.append([entry(next++, 1, 100)]);
        await s.sync();
      }
    }
    expect(s.stats.segmentsPreallocated).toBe(s.stats.segmentsCreated);
    await s.close();
    const files = walFiles(dir);
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files.slice(0, -1)) {
      const b = readFileSync(f);
      expect(b.byteLength).toBeGreaterThanOrEqual(size);
      expect(b[b.byteLength - 1]).not.toBe(0);
    }
    expect(statSync(files.at(-1)!).size).toBe(size);
    const { rec, warnings } = await openStorage(dir, { maxSegmentBytes: size, preallocate: true });
    expect(warnings).toEqual([]);
    expect(rec.entries.map((e) => e.index)).toEqual(Array.from({ length: next - 1 }, (_, i) => i + 1));
  });

  it('a smaller segment bound after a restart cuts the closed segment to its log at the roll', async () => {
    const dir = tempDir();
    await preallocLog(dir);
    // The open 64 KiB segment already holds more than the new bound: the next flush rolls.
    const { s } = await openStorage(dir, { maxSegmentBytes: 256, preallocate: true });
    s.append([entry(11, 1, 40)]);
    await s.sync();
    await s.close();
    const files = walFiles(dir);
    expect(files.length).toBeGreaterThanOrEqual(2);
    // Zeros in a segment that is not the last would read as damage; it was cut at the roll.
    const closed = readFileSync(files[0]!);
    expect(closed.byteLength).toBeLessThan(MAX);
    expect(closed[closed.byteLength - 1]).not.toBe(0);
    const { rec, warnings } = await openStorage(dir, { maxSegmentBytes: 256, preallocate: true });
    expect(warnings).toEqual([]);
    expect(rec.entries).toHaveLength(11);
  });

  it('prepares nothing on a nearly full disk: the log grows as before', async () => {
    const dir = tempDir();
    const fs: StorageFs = { ...nodeFs, freeBytes: async () => 3 * MAX };
    const { s } = await openStorage(dir, { maxSegmentBytes: MAX, fs, preallocate: true });
    s.append([entry(1, 1)]);
    await s.sync();
    expect(await s.whenPrepared()).toBe(false);
    expect(s.stats.segmentsPreallocated).toBe(0);
    expect(s.stats.preallocBytes).toBe(0);
    expect(existsSync(join(dir, PREALLOC_FILE))).toBe(false);
    expect(walFiles(dir).map((f) => statSync(f).size)).toEqual([s.stats.bytesWritten]);
  });

  it('a crash while the next segment is zero-filled leaves a partial file that load removes', async () => {
    const dir = tempDir();
    const copy = tempDir();
    const size = 3 * 1024 * 1024;
    let copied = false;
    // Copies the data directory (what a power loss would leave at best) after the first zero step.
    const fs: StorageFs = {
      ...nodeFs,
      async openTruncate(p) {
        const f = await nodeFs.openTruncate(p);
        if (!p.endsWith(PREALLOC_FILE)) return f;
        let steps = 0;
        return {
          ...f,
          append: (d) => f.append(d),
          datasync: () => f.datasync(),
          sync: () => f.sync(),
          truncate: (n) => f.truncate(n),
          close: () => f.close(),
          writeAt: (d, pos) => f.writeAt!(d, pos),
          appendZeros: async (n) => {
            await f.appendZeros!(n);
            if (++steps === 2 && !copied) {
              cpSync(dir, copy, { recursive: true });
              copied = true;
            }
          },
        };
      },
    };
    const { s } = await openStorage(dir, { maxSegmentBytes: size, fs, preallocate: true });
    s.append([entry(1, 1)]);
    const done = s.sync();
    // The first segment waited for the preparation that load started; copy taken meanwhile.
    await done;
    expect(copied).toBe(true);
    expect(statSync(join(copy, PREALLOC_FILE)).size).toBeLessThan(size);
    expect(walFiles(copy)).toEqual([]);
    const { s: s2, rec, warnings } = await openStorage(copy, { maxSegmentBytes: size, preallocate: true });
    expect(warnings).toEqual([]);
    expect(rec.entries).toEqual([]);
    expect(await s2.whenPrepared()).toBe(true);
    expect(statSync(join(copy, PREALLOC_FILE)).size).toBe(size);
    s2.append([entry(1, 1)]);
    await s2.sync();
    expect(s2.stats.segmentsPreallocated).toBe(1);
  });
});
