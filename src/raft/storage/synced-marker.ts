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
import { checkU64, readU64At, writeU64 } from './codec.js';

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
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  checkU64('seq', m.seq);
  checkU64('extent', m.extent);
  checkU64('lastIndex', m.lastIndex);
  writeU64(view, 8, m.seq);
  writeU64(view, 16, m.extent);
  writeU64(view, 24, m.lastIndex);
  b.writeUInt32LE(crc32(b.subarray(0, 32)), 32);
  return b;
}

/** The marker, or null when absent or unreadable (a torn in-place overwrite after a power loss). */
export function decodeSyncedMarker(buf: Uint8Array | null): SyncedMarker | null {
  if (buf === null || buf.byteLength < SYNCED_MARKER_BYTES) return null;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < MAGIC.length; i++) if (b[i] !== MAGIC[i]) return null;
  if (crc32(b.subarray(0, 32)) !== b.readUInt32LE(32)) return null;
  const seq = readU64At(b, 8);
  const extent = readU64At(b, 16);
  const lastIndex = readU64At(b, 24);
  if (seq === null || extent === null || lastIndex === null) return null;
  return { seq, extent, lastIndex };
}
