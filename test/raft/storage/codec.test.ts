import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32Range } from '../../../src/common/crc32.js';
import {
  decodeRecord,
  encodedSize,
  encodeRecord,
  HEADER_BYTES,
  type WalRecord,
} from '../../../src/raft/storage/codec.js';
import { WalCorruptionError } from '../../../src/raft/storage/errors.js';
import { findValidRecord, scanSegment } from '../../../src/raft/storage/scan.js';
import { decodeSnapshot, encodeSnapshot } from '../../../src/raft/storage/snapshot-codec.js';
import { entry } from './helpers.js';

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

const samples: WalRecord[] = [
  { kind: 'entry', entry: entry(1, 1) },
  { kind: 'entry', entry: { index: 2 ** 40 + 3, term: 2 ** 33, type: 1, data: new Uint8Array(0) } },
  { kind: 'entry', entry: entry(7, 3, 1000) },
  { kind: 'truncate', index: 42 },
  { kind: 'hardState', hardState: { term: 5, vote: null, commit: 9 } },
  { kind: 'hardState', hardState: { term: 6, vote: 'nöde-ü', commit: 0 } },
  { kind: 'hardState', hardState: { term: 6, vote: '', commit: 0 } },
];

function norm(r: WalRecord): unknown {
  return r.kind === 'entry' ? { ...r, entry: { ...r.entry, data: Array.from(r.entry.data) } } : r;
}

describe('record codec', () => {
  it('round-trips every record kind and reports the encoded size', () => {
    for (const rec of samples) {
      const buf = encodeRecord(rec);
      expect(buf.byteLength).toBe(encodedSize(rec));
      const d = decodeRecord(buf, 0);
      expect(d.ok).toBe(true);
      if (d.ok) {
        expect(norm(d.record)).toEqual(norm(rec));
        expect(d.end).toBe(buf.byteLength);
      }
    }
  });

  it('decodes records back to back at their offsets', () => {
    const bufs = samples.map(encodeRecord);
    const all = concat(bufs);
    let off = 0;
    for (const rec of samples) {
      const d = decodeRecord(all, off);
      if (!d.ok) throw new Error(d.reason);
      expect(norm(d.record)).toEqual(norm(rec));
      off = d.end;
    }
    expect(off).toBe(all.byteLength);
  });

  it('refuses values the format cannot hold', () => {
    expect(() => encodeRecord({ kind: 'truncate', index: -1 })).toThrow(RangeError);
    expect(() => encodeRecord({ kind: 'entry', entry: { ...entry(1, 1), term: 1.5 } })).toThrow(RangeError);
  });

  it('classifies each kind of damage', () => {
    const buf = encodeRecord(samples[2]!);
    expect(decodeRecord(buf.subarray(0, HEADER_BYTES - 1), 0)).toMatchObject({
      ok: false,
      kind: 'short-header',
    });
    expect(decodeRecord(buf.subarray(0, buf.byteLength - 1), 0)).toMatchObject({
      ok: false,
      kind: 'short-body',
    });
    for (let pos = 0; pos < HEADER_BYTES; pos++) {
      const bad = Uint8Array.from(buf);
      bad[pos]! ^= 0x40;
      // The header CRC covers the length and the body CRC, so any header damage is caught there.
      expect(decodeRecord(bad, 0)).toMatchObject({ ok: false, kind: 'bad-header' });
    }
    const badBody = Uint8Array.from(buf);
    badBody[HEADER_BYTES + 20]! ^= 1;
    expect(decodeRecord(badBody, 0)).toMatchObject({ ok: false, kind: 'bad-body', end: buf.byteLength });
  });

  it('rejects a well-checksummed body with an unknown kind', () => {
    const buf = Buffer.from(encodeRecord({ kind: 'truncate', index: 3 }));
    buf[HEADER_BYTES] = 9;
    buf.writeUInt32LE(crc32(buf.subarray(HEADER_BYTES)), 4);
    buf.writeUInt32LE(crc32(buf.subarray(0, 8)), 8);
    expect(decodeRecord(buf, 0)).toMatchObject({
      ok: false,
      kind: 'bad-body',
      reason: 'unknown record kind 9',
    });
  });
});

describe('segment scan', () => {
  const recs = [1, 2, 3, 4, 5].map((i) => encodeRecord({ kind: 'entry', entry: entry(i, 1, 20) }));
  const whole = concat(recs);
  const lastStart = whole.byteLength - recs[4]!.byteLength;

  it('a record ending where a growing segment ends, its last sector read back as zeros, may be synced (checksum, not torn)', () => {
    // The fdatasync committed the file's size with the record: zeros inside it are damage to bytes
    // the disk acknowledged, never a tear (the sector rule is for zero space after the record).
    const big = encodeRecord({ kind: 'entry', entry: entry(6, 1, 1200) });
    const buf = Buffer.from(concat([...recs, big]));
    const lastSector = Math.floor((buf.byteLength - 1) / 512) * 512;
    buf.fill(0, Math.max(lastSector, whole.byteLength + 40));
    const s = scanSegment(buf, 'seg', true);
    expect(s.validBytes).toBe(whole.byteLength);
    expect(s.torn?.damage).toBe('checksum');
    // The same record followed by preallocated zeros is cut by a tear: its last sector never landed.
    const pre = Buffer.concat([buf, Buffer.alloc(4096)]);
    expect(scanSegment(pre, 'seg', true).torn?.damage).toBe('short');
  });

  it('copies only the data of entries a recovery keeps, and still checks the others', () => {
    const s = scanSegment(whole, 'seg', false, 4);
    const data = s.records.map((r) => (r.kind === 'entry' ? r.entry.data.byteLength : -1));
    expect(data).toEqual([0, 0, 0, 20, 20]);
    expect(s.records.map((r) => (r.kind === 'entry' ? r.entry.index : -1))).toEqual([1, 2, 3, 4, 5]);
    // A flipped bit in a skipped entry is still corruption in the middle of the log.
    const b = Uint8Array.from(whole);
    b[HEADER_BYTES + 30] = b[HEADER_BYTES + 30]! ^ 1;
    expect(() => scanSegment(b, 'seg', true, 4)).toThrow(WalCorruptionError);
  });

  it('reads a clean segment with no torn tail', () => {
    const s = scanSegment(whole, 'seg', true);
    expect(s.records).toHaveLength(5);
    expect(s.torn).toBeNull();
    expect(s.validBytes).toBe(whole.byteLength);
  });

  it('treats a cut at every byte of the last record as a torn tail', () => {
    for (let cut = lastStart; cut < whole.byteLength; cut++) {
      const s = scanSegment(whole.subarray(0, cut), 'seg', true);
      expect(s.records).toHaveLength(4);
      expect(s.validBytes).toBe(lastStart);
      if (cut === lastStart) expect(s.torn).toBeNull();
      else expect(s.torn).toMatchObject({ file: 'seg', offset: lastStart, droppedBytes: cut - lastStart });
    }
  });

  it('treats garbage or zeros that replace the end of the last record as torn', () => {
    for (let from = lastStart; from < whole.byteLength; from++) {
      for (const fill of [0x00, 0xff, 0x5a]) {
        const b = Uint8Array.from(whole);
        b.fill(fill, from);
        const s = scanSegment(b, 'seg', true);
        // Garbage inside the body's bytes can leave the record intact only if it equals the original;
        // zeros replacing all of it are the end of the log (preallocated space), not a tear.
        if (s.torn === null) expect(s.records).toHaveLength(fill === 0 && from === lastStart ? 4 : 5);
        else expect(s.torn.offset).toBe(lastStart);
        expect(s.validBytes).toBe(s.records.length === 5 ? whole.byteLength : lastStart);
      }
    }
  });

  it('throws naming the offset when a damaged record is followed by a valid one', () => {
    const start3 = recs[0]!.byteLength + recs[1]!.byteLength;
    for (const pos of [start3, start3 + 2, start3 + 9, start3 + 30]) {
      const b = Uint8Array.from(whole);
      b[pos]! ^= 0x10;
      let err: unknown;
      try {
        scanSegment(b, 'seg-a', true);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WalCorruptionError);
      expect((err as WalCorruptionError).file).toBe('seg-a');
      expect((err as WalCorruptionError).offset).toBe(start3);
    }
  });

  it('throws for any damage in a segment that is not the last', () => {
    expect(() => scanSegment(whole.subarray(0, whole.byteLength - 1), 'old', false)).toThrow(
      WalCorruptionError,
    );
  });

  describe('in a preallocated (zero-filled) segment', () => {
    const SIZE = 8192;
    const prealloc = (content: Uint8Array): Uint8Array => {
      const b = new Uint8Array(SIZE);
      b.set(content);
      return b;
    };
    const big = encodeRecord({ kind: 'entry', entry: entry(6, 1, 1500) });

    it('reads the zeros after the last record as the end of the log, not a tear', () => {
      const s = scanSegment(prealloc(whole), 'seg', true);
      expect(s.records).toHaveLength(5);
      expect(s.torn).toBeNull();
      expect(s.validBytes).toBe(whole.byteLength);
      expect(s.fileBytes).toBe(SIZE);
    });

    it('reads a record cut at a sector boundary, zeros after it, as torn (short)', () => {
      for (const sectors of [1, 2, 3]) {
        const cut = sectors * 512;
        const b = prealloc(concat([whole, big]));
        b.fill(0, cut);
        const s = scanSegment(b, 'seg', true);
        expect(s.records).toHaveLength(5);
        expect(s.torn).toMatchObject({ offset: whole.byteLength, damage: 'short' });
        expect(s.torn!.droppedBytes).toBe(cut - whole.byteLength);
      }
    });

    it('keeps a complete record failing its checksum, zeros after it, as checksum damage', () => {
      const b = prealloc(concat([whole, big]));
      b[whole.byteLength + 100]! ^= 0x01;
      const s = scanSegment(b, 'seg', true);
      expect(s.torn).toMatchObject({ offset: whole.byteLength, damage: 'checksum' });
      // A cut inside a sector: no disk leaves that, so not a tear either.
      const c = prealloc(concat([whole, big.subarray(0, big.byteLength - 1)]));
      expect(scanSegment(c, 'seg', true).torn).toMatchObject({ damage: 'checksum' });
    });

    it('still throws for zeros in a segment that is not the last, and for a record after zeros', () => {
      expect(() => scanSegment(prealloc(whole), 'old', false)).toThrow(WalCorruptionError);
      const b = prealloc(whole);
      b.set(recs[0]!, 4096);
      expect(() => scanSegment(b, 'seg', true)).toThrow(WalCorruptionError);
    });
  });

  it('finds the next valid record after garbage, and none in zeros', () => {
    const b = concat([new Uint8Array(13).fill(7), recs[0]!]);
    expect(findValidRecord(b, 0)).toBe(13);
    expect(findValidRecord(new Uint8Array(4096), 0)).toBe(-1);
  });
});

describe('snapshot codec', () => {
  const snap = {
    meta: { index: 10, term: 3, conf: { voters: ['a', 'b'], learners: ['c'] } },
    data: Uint8Array.from([1, 2, 3]),
  };

  it('round-trips', () => {
    const d = decodeSnapshot(encodeSnapshot(snap));
    if (typeof d === 'string') throw new Error(d);
    expect(d.meta).toEqual(snap.meta);
    expect(Array.from(d.data)).toEqual([1, 2, 3]);
  });

  it('detects a flipped bit anywhere', () => {
    const buf = encodeSnapshot(snap);
    for (let i = 0; i < buf.byteLength; i++) {
      const b = Uint8Array.from(buf);
      b[i]! ^= 0x04;
      expect(typeof decodeSnapshot(b)).toBe('string');
    }
    expect(decodeSnapshot(buf.subarray(0, 10))).toMatch(/shorter/);
  });
});

describe('crc32Range', () => {
  it("equals zlib's crc32 of the same bytes, in JS (small ranges) and natively (large ones)", () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff;
    const buf = Uint8Array.from({ length: 4096 }, rnd);
    for (const len of [0, 1, 7, 8, 17, 100, 255, 1023, 1024, 1025, 3000]) {
      for (const start of [0, 1, 3, 511]) {
        expect(crc32Range(buf, start, start + len)).toBe(crc32(buf.subarray(start, start + len)));
      }
    }
  });

  it('catches every single-bit flip in a record decoded in place from the middle of a buffer', () => {
    const rec = encodeRecord({ kind: 'entry', entry: entry(42, 3) });
    const buf = Buffer.concat([Buffer.from([9, 9, 9]), rec, Buffer.from([9])]);
    expect(decodeRecord(buf, 3)).toMatchObject({ ok: true, record: { entry: { index: 42, term: 3 } } });
    for (let i = 0; i < rec.byteLength; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = Buffer.from(buf);
        b[3 + i]! ^= 1 << bit;
        expect(decodeRecord(b, 3).ok).toBe(false);
      }
    }
  });
});
