import { describe, expect, it } from 'vitest';
import {
  SYNCED_MARKER_BYTES,
  decodeSyncedMarker,
  encodeSyncedMarker,
} from '../../../src/raft/storage/synced-marker.js';

/** The layout as first written (BigInt u64 fields), to hold the encoder to the same bytes. */
function reference(seq: number, extent: number, lastIndex: number): Buffer {
  const b = Buffer.from(encodeSyncedMarker({ seq: 0, extent: 0, lastIndex: 0 }));
  b.writeBigUInt64LE(BigInt(seq), 8);
  b.writeBigUInt64LE(BigInt(extent), 16);
  b.writeBigUInt64LE(BigInt(lastIndex), 24);
  return b;
}

describe('synced marker', () => {
  const cases: [number, number, number][] = [
    [0, 0, 0],
    [1, 36, 7],
    [0xffffffff, 0x1_0000_0000, 0x1_2345_6789],
    [Number.MAX_SAFE_INTEGER, 2 ** 40 + 3, 2 ** 53 - 2],
  ];
  for (const [seq, extent, lastIndex] of cases) {
    it(`encodes u64 fields little-endian (${seq}, ${extent}, ${lastIndex}) and reads them back`, () => {
      const b = Buffer.from(encodeSyncedMarker({ seq, extent, lastIndex }));
      expect(b.length).toBe(SYNCED_MARKER_BYTES);
      expect(b.subarray(0, 32).equals(reference(seq, extent, lastIndex).subarray(0, 32))).toBe(true);
      expect(decodeSyncedMarker(b)).toEqual({ seq, extent, lastIndex });
    });
  }
  it('refuses a field that is not a non-negative safe integer, as the BigInt form did', () => {
    expect(() => encodeSyncedMarker({ seq: 1.5, extent: 0, lastIndex: 0 })).toThrow(RangeError);
    expect(() => encodeSyncedMarker({ seq: 0, extent: -1, lastIndex: 0 })).toThrow(RangeError);
    expect(() => encodeSyncedMarker({ seq: 0, extent: 0, lastIndex: 2 ** 53 })).toThrow(RangeError);
  });
});
