/**
 * The synced-extent marker (`wal.synced`): after every WAL fdatasync the storage
 * records where the synced bytes end (segment, offset) and the last index they
 * hold. Recovery compares a damaged WAL tail with it: damage below the extent
 * hit bytes that were synced (and so possibly acknowledged), which is
 * corruption, not a torn write (docs/storage.md "Torn or corrupt").
 *
 * The marker is overwritten in place and never fsynced itself: it costs one
 * small write per flush, survives any process crash (the page cache does), and
 * after a power loss it can only lag behind the WAL, which recovery treats
 * conservatively. Layout (36 bytes, little-endian): magic "SWSYNC\0\1" (8),
 * segment sequence u64, extent u64, last index u64, CRC-32 of the first 32 bytes.
 */
import { crc32 } from '../../common/crc32.js';

export const SYNCED_FILE = 'wal.synced';
export const SYNCED_MARKER_BYTES = 36;
const MAGIC = Uint8Array.from([0x53, 0x57, 0x53, 0x59, 0x4e, 0x43, 0x00, 0x01]);

export interface SyncedMarker {
  /** Sequence number of the segment the extent is in. */
  readonly seq: number;
  /** Bytes of that segment known synced. */
  readonly extent: number;
  /** Last log index held by the synced bytes. */
  readonly lastIndex: number;
}

export function encodeSyncedMarker(m: SyncedMarker): Uint8Array {
  const b = Buffer.alloc(SYNCED_MARKER_BYTES);
  b.set(MAGIC, 0);
  // Written once per WAL flush: as two u32 halves, with no BigInt per field (the same bytes).
  writeU64(b, m.seq, 8);
  writeU64(b, m.extent, 16);
  writeU64(b, m.lastIndex, 24);
  b.writeUInt32LE(crc32(b.subarray(0, 32)), 32);
  return b;
}

/** A non-negative safe integer as a little-endian u64 at `off`. */
function writeU64(b: Buffer, v: number, off: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  b.writeUInt32LE(v - hi * 0x1_0000_0000, off);
  b.writeUInt32LE(hi, off + 4);
}

/** The marker, or null when absent or unreadable (a torn in-place overwrite after a power loss). */
export function decodeSyncedMarker(buf: Uint8Array | null): SyncedMarker | null {
  if (buf === null || buf.byteLength < SYNCED_MARKER_BYTES) return null;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < MAGIC.length; i++) if (b[i] !== MAGIC[i]) return null;
  if (crc32(b.subarray(0, 32)) !== b.readUInt32LE(32)) return null;
  const seq = Number(b.readBigUInt64LE(8));
  const extent = Number(b.readBigUInt64LE(16));
  const lastIndex = Number(b.readBigUInt64LE(24));
  if (![seq, extent, lastIndex].every(Number.isSafeInteger)) return null;
  return { seq, extent, lastIndex };
}
