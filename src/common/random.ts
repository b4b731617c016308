/**
 * Random bytes and integers from the kernel's generator (/dev/urandom, the
 * source node:crypto's own generator is seeded from), for what a node draws at
 * start-up and now and then: its id, RNG seeds, temporary file names. Read
 * from the device rather than through node:crypto, which an idle node without
 * a swarm key would otherwise load for these alone (about 0.8 MB of RSS:
 * src/common/builtins.ts). Where the device cannot be read, node:crypto is
 * loaded and used instead. Nonces of the swarm key's cipher come from
 * node:crypto itself (src/net/crypto.ts), loaded anyway with a key.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { lazyBuiltin } from './builtins.js';

const crypto = lazyBuiltin<typeof import('node:crypto')>('node:crypto');

/** Bytes read from the device at a time; a node draws a few dozen bytes an hour at idle. */
const POOL_BYTES = 256;
let pool = Buffer.alloc(0);
let used = 0;

function readDevice(buf: Buffer): void {
  let fd = -1;
  try {
    fd = openSync('/dev/urandom', 'r');
    for (let off = 0; off < buf.length;) {
      const n = readSync(fd, buf, off, buf.length - off, null);
      if (n <= 0) throw new Error('short read from /dev/urandom');
      off += n;
    }
  } catch {
    crypto().randomFillSync(buf);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** `n` random bytes, as node:crypto's randomBytes(n). */
export function randomBytes(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`randomBytes: bad size ${n}`);
  if (n > POOL_BYTES) {
    const out = Buffer.alloc(n);
    readDevice(out);
    return out;
  }
  if (used + n > pool.length) {
    pool = Buffer.alloc(POOL_BYTES);
    readDevice(pool);
    used = 0;
  }
  // A copy: bytes handed out are never handed out again, nor changed by a later refill.
  const out = Buffer.from(pool.subarray(used, used + n));
  pool.fill(0, used, used + n);
  used += n;
  return out;
}

const RANGE_MAX = 2 ** 48;

/**
 * A uniform integer in [min, max) (or [0, min) given one argument), as
 * node:crypto's randomInt: 48 random bits, redrawn when they fall in the
 * remainder that would bias the modulo.
 */
export function randomInt(min: number, max?: number): number {
  const [lo, hi] = max === undefined ? [0, min] : [min, max];
  const range = hi - lo;
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || range <= 0 || range > RANGE_MAX)
    throw new RangeError(`randomInt: bad range [${lo}, ${hi})`);
  const limit = RANGE_MAX - (RANGE_MAX % range);
  for (;;) {
    const x = randomBytes(6).readUIntBE(0, 6);
    if (x < limit) return lo + (x % range);
  }
}
