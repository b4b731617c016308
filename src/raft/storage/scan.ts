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
   * `zeros` (zero-filled blocks) are what an interrupted write leaves;
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
  /** Length of the valid prefix. */
  readonly validBytes: number;
  readonly torn: TornTail | null;
}

function allZero(buf: Uint8Array, from: number): boolean {
  for (let i = from; i < buf.byteLength; i++) if (buf[i] !== 0) return false;
  return true;
}

/** First offset at or after `from` where a complete valid record decodes, or -1. */
export function findValidRecord(buf: Uint8Array, from: number): number {
  // Filesystems may leave zero-filled blocks after a crash; skip the byte-by-byte scan for them.
  if (allZero(buf, from)) return -1;
  const n = buf.byteLength;
  for (let off = from; off + HEADER_BYTES <= n; off++) {
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
    const next = findValidRecord(buf, resyncFrom);
    if (next >= 0) {
      throw new WalCorruptionError(file, off, `${r.reason}; a valid record follows at offset ${next}`);
    }
    const damage = allZero(buf, off)
      ? 'zeros'
      : r.kind === 'short-header' || r.kind === 'short-body'
        ? 'short'
        : 'checksum';
    return {
      records,
      offsets,
      validBytes: off,
      torn: { file, offset: off, droppedBytes: buf.byteLength - off, reason: r.reason, damage },
    };
  }
  return { records, offsets, validBytes: off, torn: null };
}
