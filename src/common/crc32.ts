/**
 * CRC-32 (IEEE 802.3, zlib's): the checksum of WAL records, snapshot files and
 * snapshot chunks. Pure computation; `prev` continues a running checksum so a
 * large image can be checked slice by slice.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';

export function crc32(data: Uint8Array, prev = 0): number {
  return zlibCrc32(data, prev) >>> 0;
}
