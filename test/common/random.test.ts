import { describe, expect, it } from 'vitest';
import { randomBytes, randomInt } from '../../src/common/random.js';

describe('random bytes from /dev/urandom', () => {
  it('gives the asked length, small (pooled) and large, never the same bytes twice', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const b = randomBytes(8);
      expect(b).toHaveLength(8);
      seen.add(b.toString('hex'));
    }
    expect(seen.size).toBe(200);
    expect(randomBytes(0)).toHaveLength(0);
    const big = randomBytes(4096);
    expect(big).toHaveLength(4096);
    // 4 KB of zeros (or any one byte value) from a working generator: never.
    expect(new Set(big).size).toBeGreaterThan(200);
    expect(() => randomBytes(-1)).toThrow(RangeError);
  });

  it('a handed-out buffer is not changed by later draws', () => {
    const a = randomBytes(16);
    const copy = Buffer.from(a);
    for (let i = 0; i < 100; i++) randomBytes(16);
    expect(a.equals(copy)).toBe(true);
  });

  it('randomInt stays in [min, max) and covers it, as node:crypto randomInt', () => {
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 6000; i++) {
      const x = randomInt(10, 16);
      expect(Number.isInteger(x) && x >= 10 && x < 16).toBe(true);
      counts[x - 10]!++;
    }
    // Uniform: 1000 expected each; 800..1200 is over 6 standard deviations wide.
    for (const c of counts) expect(c).toBeGreaterThan(800);
    for (const c of counts) expect(c).toBeLessThan(1200);
    const one = randomInt(2 ** 32);
    expect(one >= 0 && one < 2 ** 32).toBe(true);
    expect(() => randomInt(5, 5)).toThrow(RangeError);
    expect(() => randomInt(0, 2 ** 49)).toThrow(RangeError);
  });
});
