/**
 * UTC timestamps without ICU (src/common/utc-time.ts): the same strings as
 * Date#toISOString and Date#toUTCString, which they replace in the logs and
 * the API's Date header.
 */
import { describe, expect, it } from 'vitest';
import { httpDate, isoUtc } from '../../src/common/utc-time.js';

const samples = (): number[] => {
  const xs = [
    0, 1, -1, 999, 86_399_999, 951_782_400_000, 1_796_638_678_780, 253_402_300_799_999, -62_198_755_200_000,
  ];
  // A fixed walk over years 1000..9999 and their milliseconds.
  let x = -30_610_224_000_000;
  for (let i = 0; i < 2000; i++) {
    x += 141_733_920_123 + i * 7919;
    xs.push(x);
  }
  return xs;
};

describe('isoUtc', () => {
  it('writes what toISOString writes, also outside years 0..9999', () => {
    for (const ms of [...samples(), -62_198_755_200_001, 253_402_300_800_000, 8.64e15, -8.64e15])
      expect(isoUtc(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it('refuses an invalid time as toISOString does', () => {
    expect(() => isoUtc(Number.NaN)).toThrow(RangeError);
    expect(() => isoUtc(8.64e15 + 1)).toThrow(RangeError);
  });
});

describe('httpDate', () => {
  it("writes what toUTCString writes (HTTP's IMF-fixdate)", () => {
    for (const ms of samples().filter((m) => new Date(m).getUTCFullYear() >= 1000))
      expect(httpDate(ms), String(ms)).toBe(new Date(ms).toUTCString());
    expect(httpDate(784_111_777_000)).toBe('Sun, 06 Nov 1994 08:49:37 GMT');
  });
});
