/**
 * Splits one segment's bytes into records and decides what an invalid record
 * means. Pure (bytes in, records out) so every torn/corrupt case is unit-testable.
 *
 * The rule: invalid bytes are a torn write only if they sit at the end of the
 * LAST segment and nothing that decodes as a valid record follows them. A torn
 * write can only ever affect the unsynced tail, and a tail that is torn leaves
 * no intact record behind it; an intact record behind bad bytes means bytes in
 * the middle of the log went bad, which is corruption and must stop the node.
 */
import { BODY_FIXED_BYTES, decodeRecord, HEADER_BYTES, RecordKind, type WalRecord } from './codec.js';
import { WalCorruptionError } from './errors.js';

/** A torn final write that recovery cut off. */
export interface TornTail {
  readonly file: string;
  /** Byte offset where the valid prefix ends (the file is truncated here). */
  readonly offset: number;
  /** How many bytes were cut. */
  readonly droppedBytes: number;
  readonly reason: string;
  /**
   * What the cut bytes look like: `short` (the file ends inside a record) and
   * `zeros` (zero-filled blocks) are what an interrupted write leaves (zeros after the last
   * record are no damage at all but the end of the log, see SegmentScan.fileBytes: scanSegment
   * never reports them, the type keeps the value for callers that did);
   * `checksum` (a complete record, or a header, that fails its checksum) may
   * as well be a synced record that went bad. docs/storage.md says which of
   * them recovery may cut silently.
   */
  readonly damage: 'short' | 'zeros' | 'checksum';
}

export interface SegmentScan {
  readonly records: WalRecord[];
  /** Byte offset of each record, for error messages. */
  readonly offsets: number[];
  /** Length of the valid prefix: where the log ends and the next write goes. */
  readonly validBytes: number;
  /** Non-zero bytes after the valid prefix that recovery cuts (zeros after them are not counted). */
  readonly torn: TornTail | null;
  /**
   * The file's length. Past the valid prefix (and the torn tail) it holds only zeros: a
   * preallocated segment's unused space, the normal end of the log (docs/storage.md).
   */
  readonly fileBytes: number;
  /**
   * With a torn tail: the offset just past its last non-zero byte. Every record starts with a
   * non-zero length, so the cut bytes held at most as many records as could start before it.
   */
  readonly dataBytes?: number;
}

/** A disk writes whole sectors: an interrupted write into zero-filled space leaves zero sectors after it. */
export const SECTOR_BYTES = 512;
const ZERO_BLOCK = Buffer.alloc(4096);

/** Offset just past the last non-zero byte (0 if all zero); compared in native blocks, a preallocated segment ends in MiBs of zeros. */
export function dataEnd(buf: Uint8Array): number {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let end = b.byteLength;
  const k = ZERO_BLOCK.byteLength;
  while (end >= k && b.subarray(end - k, end).equals(ZERO_BLOCK)) end -= k;
  while (end > 0 && b[end - 1] === 0) end--;
  return end;
}

/** First offset at or after `from` where a complete valid record decodes, or -1. */
export function findValidRecord(buf: Uint8Array, from: number, end = dataEnd(buf)): number {
  const n = buf.byteLength;
  // A record's header holds its checksum, never all zeros: none starts in the zeros from `end` on
  // (zero-filled blocks a crash left, or preallocated space), so the byte-by-byte search stops there.
  for (let off = from; off < end && off + HEADER_BYTES <= n; off++) {
    // Cheap filters first (plausible length, known kind) so that only rare candidates pay for CRCs.
    const len = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
    if (len < BODY_FIXED_BYTES || off + HEADER_BYTES + len > n) continue;
    const kind = buf[off + HEADER_BYTES]!;
    if (kind < RecordKind.Entry || kind > RecordKind.HardState) continue;
    if (decodeRecord(buf, off).ok) return off;
  }
  return -1;
}

/**
 * `keepFrom`: entries below this index (the snapshot covers them) come back with empty data, still
 * checked against their checksums: a restart then copies only the log it keeps.
 */
export function scanSegment(buf: Uint8Array, file: string, isLast: boolean, keepFrom = 0): SegmentScan {
  const records: WalRecord[] = [];
  const offsets: number[] = [];
  const fileBytes = buf.byteLength;
  let off = 0;
  while (off < buf.byteLength) {
    const r = decodeRecord(buf, off, keepFrom);
    if (r.ok) {
      records.push(r.record);
      offsets.push(off);
      off = r.end;
      continue;
    }
    if (!isLast) throw new WalCorruptionError(file, off, `${r.reason} (in a segment that is not the last)`);
    let resyncFrom: number;
    switch (r.kind) {
      case 'short-header':
      case 'short-body':
        // Everything from `off` to the end belongs to this one unfinished record.
        resyncFrom = buf.byteLength;
        break;
      case 'bad-body':
        // The header is trusted, so the record's extent is known; its own payload is not searched.
        resyncFrom = r.end;
        break;
      case 'bad-header':
        resyncFrom = off + 1;
        break;
    }
    const end = dataEnd(buf);
    const next = findValidRecord(buf, resyncFrom, end);
    if (next >= 0) {
      throw new WalCorruptionError(file, off, `${r.reason}; a valid record follows at offset ${next}`);
    }
    // Only zeros after the last record: the end of the log (preallocated space, or zero blocks a
    // crash left). Whether they may stand there or hide synced records is classifyTail's call.
    if (end <= off) return { records, offsets, validBytes: off, torn: null, fileBytes };
    // Where the written data ends, in whole sectors: past it only zero sectors. A write torn inside
    // zero-filled (preallocated) space leaves its first sectors and zeros after, so a record running
    // past this point was cut by the tear, exactly like a record running past the end of the file.
    // A record complete up to its last sector that fails its checksum may be a synced one gone bad.
    const written = Math.min(fileBytes, Math.ceil(end / SECTOR_BYTES) * SECTOR_BYTES);
    const recordEnd = r.kind === 'bad-body' ? r.end : off + HEADER_BYTES;
    // Only where zero space follows the record: a record that ends where the file ends (a growing
    // segment, whose size the fdatasync committed) and fails its checksum may be a synced one.
    const cutByTear = recordEnd > written && recordEnd < fileBytes;
    const damage = r.kind === 'short-header' || r.kind === 'short-body' || cutByTear ? 'short' : 'checksum';
    return {
      records,
      offsets,
      validBytes: off,
      torn: { file, offset: off, droppedBytes: written - off, reason: r.reason, damage },
      fileBytes,
      dataBytes: end,
    };
  }
  return { records, offsets, validBytes: off, torn: null, fileBytes };
}
