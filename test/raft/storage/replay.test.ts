import { describe, expect, it } from 'vitest';
import type { WalRecord } from '../../../src/raft/storage/codec.js';
import { WalCorruptionError } from '../../../src/raft/storage/errors.js';
import { replay, type ScannedSegment } from '../../../src/raft/storage/replay.js';
import { entry } from './helpers.js';

function seg(name: string, records: WalRecord[]): ScannedSegment {
  return {
    name,
    scan: {
      records,
      offsets: records.map((_, i) => i * 100),
      validBytes: records.length * 100,
      torn: null,
      fileBytes: records.length * 100,
    },
  };
}

const e = (index: number, term = 1): WalRecord => ({ kind: 'entry', entry: entry(index, term) });
const cut = (index: number): WalRecord => ({ kind: 'truncate', index });
const hs = (term: number, commit: number): WalRecord => ({
  kind: 'hardState',
  hardState: { term, vote: null, commit },
});

function indexes(segs: ScannedSegment[], snap = 0): number[] {
  return replay(segs, snap).entries.map((x) => x.index);
}

describe('replay', () => {
  it('applies entries, truncations and hard states in file order', () => {
    const r = replay(
      [seg('a', [hs(1, 0), e(1), e(2), e(3)]), seg('b', [hs(1, 2), cut(2), e(2, 2), hs(2, 2)])],
      0,
    );
    expect(r.entries.map((x) => [x.index, x.term])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(r.hardState).toEqual({ term: 2, vote: null, commit: 2 });
  });

  it('skips entries the snapshot covers and returns the rest from snapshot + 1', () => {
    expect(indexes([seg('a', [e(1), e(2), e(3), e(4)])], 2)).toEqual([3, 4]);
    expect(indexes([seg('a', [e(1), e(2)])], 5)).toEqual([]);
  });

  it('accepts a forward jump that the snapshot covers (an installed snapshot)', () => {
    expect(indexes([seg('a', [e(1), e(2), e(11), e(12)])], 10)).toEqual([11, 12]);
    // An older install (to 6) followed by a newer snapshot (10): the jump lands below the floor.
    expect(indexes([seg('a', [e(1), e(7), e(8), e(9), e(10), e(11)])], 10)).toEqual([11]);
  });

  it('rejects gaps, reorders and truncations past the end with file and offset', () => {
    const cases: ScannedSegment[][] = [
      [seg('a', [e(1), e(3)])],
      [seg('a', [e(1), e(2), e(2)])],
      [seg('a', [e(1)]), seg('b', [e(5)])],
      [seg('a', [e(1), cut(4)])],
      [seg('a', [e(3)])],
    ];
    for (const c of cases) {
      let err: unknown;
      try {
        replay(c, 0);
      } catch (x) {
        err = x;
      }
      expect(err).toBeInstanceOf(WalCorruptionError);
      expect((err as WalCorruptionError).offset % 100).toBe(0);
    }
    expect(() => replay([seg('a', [e(1)]), seg('b', [e(13)])], 10)).toThrow(/13 where 2/);
  });

  it('lets the first remaining segment start anywhere up to snapshot + 1 (older ones compacted)', () => {
    expect(indexes([seg('c', [hs(3, 8), e(9), e(10), e(11)])], 10)).toEqual([11]);
    expect(indexes([seg('c', [hs(3, 8), cut(7), e(7), e(8)])], 6)).toEqual([7, 8]);
  });
});
