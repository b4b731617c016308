import { randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { JS_MAX_BYTES, crc32 } from '../../src/common/crc32.js';

describe('crc32', () => {
  it("is zlib's CRC-32 at every size, summed in JS up to the limit and by zlib beyond it", () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    for (const n of [0, 1, 7, 64, 1000, JS_MAX_BYTES, JS_MAX_BYTES + 1, 70_000]) {
      const data = randomBytes(n);
      expect(crc32(data), `length ${n}`).toBe(zlibCrc32(data) >>> 0);
    }
  });

  it('continues a running checksum across slices, small and large', () => {
    const data = randomBytes(5000);
    for (const cut of [10, 1024, 3000]) {
      const prev = crc32(data.subarray(0, cut));
      expect(crc32(data.subarray(cut), prev), `cut at ${cut}`).toBe(zlibCrc32(data) >>> 0);
    }
    const small = randomBytes(300);
    expect(crc32(small.subarray(100), crc32(small.subarray(0, 100)))).toBe(zlibCrc32(small) >>> 0);
  });
});
