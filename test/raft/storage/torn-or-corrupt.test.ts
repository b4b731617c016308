/**
 * Issue #14 item 1, storage side: a torn write exists only past the last fsync.
 * A record that fails its checksum inside the synced extent is corruption of
 * data this node may have acknowledged: recovery cuts it but leaves a durable
 * "recovering until N" marker (docs/storage.md "Torn or corrupt").
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotCorruptionError, WalCorruptionError } from '../../../src/raft/storage/errors.js';
import { RECOVERING_FILE, SNAPSHOT_FILE } from '../../../src/raft/storage/file-storage.js';
import { SYNCED_FILE } from '../../../src/raft/storage/synced-marker.js';
import { closeStoragesAndDirs, entries, entry, openStorage, tempDir } from './helpers.js';

afterEach(closeStoragesAndDirs);

// Growing (not preallocated) segments, as in data dirs written before preallocation: the file's
// size is where the log ends. prealloc.test.ts runs the same cases in preallocated segments.
const open = (dir: string) => openStorage(dir, { preallocate: false });

function walFile(dir: string): string {
  const f = readdirSync(dir).filter((n) => n.endsWith('.wal'));
  expect(f).toHaveLength(1);
  return join(dir, f[0]!);
}

/** Ten entries, each synced on its own (as a follower acknowledging them one by one). */
async function syncedLog(dir: string): Promise<{ lastStart: number; size: number; file: string }> {
  const { s } = await open(dir);
  s.setHardState({ term: 1, vote: 'a', commit: 0 });
  let lastStart = 0;
  for (let i = 1; i <= 10; i++) {
    const wal = readdirSync(dir).find((n) => n.endsWith('.wal'));
    lastStart = wal === undefined ? 0 : statSync(join(dir, wal)).size;
    s.append([entry(i, 1, 40)]);
    await s.sync();
  }
  await s.close();
  const file = walFile(dir);
  return { lastStart, size: statSync(file).size, file };
}

describe('torn or corrupt', () => {
  it('a bit flipped in the last synced record is corruption: the node recovers until that index', async () => {
    const dir = tempDir();
    const { lastStart, size, file } = await syncedLog(dir);
    const b = readFileSync(file);
    b[lastStart + Math.floor((size - lastStart) / 2)]! ^= 0x04;
    writeFileSync(file, b);
    const { s, rec, warnings } = await open(dir);
    expect(rec.entries).toHaveLength(9);
    expect(rec.recoveringUntil).toBe(10);
    expect(warnings.map((w) => w.kind)).toEqual(['lost-acknowledged']);
    const w = warnings[0]!;
    expect(w.kind === 'lost-acknowledged' && w.offset).toBe(lastStart);
    // The marker is durable: a crash before catching up keeps the node recovering.
    expect(existsSync(join(dir, RECOVERING_FILE))).toBe(true);
    s.append([entry(10, 2, 40)]);
    await s.sync();
    await s.close();
    const again = await open(dir);
    expect(again.rec.recoveringUntil).toBe(10);
    expect(again.rec.entries).toHaveLength(10);
    await again.s.clearRecovering();
    await again.s.close();
    expect(existsSync(join(dir, RECOVERING_FILE))).toBe(false);
    const third = await open(dir);
    expect(third.rec.recoveringUntil).toBeUndefined();
  });

  it('a log cut short below the synced extent is corruption too', async () => {
    const dir = tempDir();
    const { lastStart, file } = await syncedLog(dir);
    writeFileSync(file, readFileSync(file).subarray(0, lastStart));
    const { rec, warnings } = await open(dir);
    expect(rec.entries).toHaveLength(9);
    expect(rec.recoveringUntil).toBe(10);
    expect(warnings.map((w) => w.kind)).toEqual(['lost-acknowledged']);
  });

  it('a torn write past the last fsync is still repaired silently (short record, zero fill)', async () => {
    for (const [tail, warned] of [
      [(rec: Buffer) => rec.subarray(0, rec.byteLength - 7), ['torn-tail']],
      // Zeros after the last record read as the end of the log (preallocated space): no warning.
      [(rec: Buffer) => Buffer.alloc(rec.byteLength), []],
    ] as const) {
      const dir = tempDir();
      const { lastStart, size, file } = await syncedLog(dir);
      // The interrupted write of an 11th batch: bytes after the synced extent.
      const rec11 = Buffer.from(readFileSync(file).subarray(lastStart, size));
      writeFileSync(file, Buffer.concat([readFileSync(file), tail(rec11)]));
      const { rec, warnings } = await open(dir);
      expect(rec.entries).toHaveLength(10);
      expect(rec.recoveringUntil).toBeUndefined();
      expect(warnings.map((w) => w.kind)).toEqual(warned);
      expect(statSync(file).size).toBe(size);
      expect(existsSync(join(dir, RECOVERING_FILE))).toBe(false);
    }
  });

  it('without a synced marker, a complete record failing its checksum is treated as possibly acknowledged', async () => {
    const dir = tempDir();
    const { lastStart, size, file } = await syncedLog(dir);
    rmSync(join(dir, SYNCED_FILE));
    const b = readFileSync(file);
    b[size - 3]! ^= 0x01;
    writeFileSync(file, b);
    const { rec, warnings } = await open(dir);
    expect(rec.entries).toHaveLength(9);
    expect(warnings.map((w) => w.kind)).toEqual(['lost-acknowledged']);
    // Conservative: at least the lost entry, bounded by how many records the damaged bytes could hold.
    expect(rec.recoveringUntil).toBeGreaterThanOrEqual(10);
    expect(rec.recoveringUntil).toBeLessThanOrEqual(9 + Math.ceil((size - lastStart) / 30));
  });

  it('corruption in the middle of the log refuses to start, naming file and offset', async () => {
    const dir = tempDir();
    const { lastStart, file } = await syncedLog(dir);
    const b = readFileSync(file);
    const pos = Math.floor(lastStart / 2);
    b[pos]! ^= 0x20;
    writeFileSync(file, b);
    const err = await open(dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WalCorruptionError);
    const w = err as WalCorruptionError;
    expect(w.message).toContain(file.slice(dir.length + 1));
    expect(w.message).toMatch(/at offset \d+/);
    expect(w.offset).toBeLessThanOrEqual(pos);
  });

  it('a damaged snapshot file is detected and refused with a clear message', async () => {
    const dir = tempDir();
    const { s } = await open(dir);
    s.append(entries(1, 5, 1));
    await s.sync();
    await s.saveSnapshot({
      meta: { index: 5, term: 1, conf: { voters: ['a', 'b', 'c'], learners: [] } },
      data: new Uint8Array(1000).fill(7),
    });
    await s.close();
    const path = join(dir, SNAPSHOT_FILE);
    const b = readFileSync(path);
    b[b.byteLength - 100]! ^= 0x01;
    writeFileSync(path, b);
    const err = await open(dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SnapshotCorruptionError);
    expect((err as Error).message).toMatch(/snapshot\.snap.*checksum/);
  });
});
