/**
 * CRC-32 (IEEE 802.3, zlib's): the checksum of WAL records, snapshot files and
 * snapshot chunks. Pure computation; `prev` continues a running checksum so a
 * large image can be checked slice by slice.
 *
 * Inputs up to JS_MAX_BYTES are summed here, larger ones by zlib's native
 * crc32, loaded on the first large input: an idle node checksums only small
 * records (its WAL, its markers), and node:zlib would otherwise be loaded
 * into every node for them (src/common/builtins.ts). For records this small
 * the native call costs about what the loop does.
 */
import type * as NodeZlib from 'node:zlib';
import { lazyBuiltin } from './builtins.js';

const zlib = lazyBuiltin<typeof NodeZlib>('node:zlib');

/** Inputs up to this many bytes are checksummed in JS. */
export const JS_MAX_BYTES = 1024;

/** CRC-32 (zlib's polynomial, reflected), one byte per step. */
const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export function crc32(data: Uint8Array, prev = 0): number {
  return crc32Range(data, 0, data.length, prev);
}

/**
 * crc32 of buf[start, end) without a subarray for small ranges: a restart
 * checks every record of the WAL (36,000 records of ~120 B for 100,000 keys),
 * where the view would cost more than the checksum itself.
 */
export function crc32Range(buf: Uint8Array, start: number, end: number, prev = 0): number {
  if (end - start > JS_MAX_BYTES) return zlib().crc32(buf.subarray(start, end), prev) >>> 0;
  let c = ~prev;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
