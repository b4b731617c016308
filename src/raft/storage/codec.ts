/**
 * The WAL record codec: pure functions from records to bytes and back, no I/O.
 * The byte layout is specified in docs/storage.md; keep the two in step.
 *
 * Every record carries two checksums. The header CRC protects the length field
 * on its own, so a flipped bit in a length is caught as corruption instead of
 * being mistaken for a record that runs past the end of the file (which is what
 * a torn write looks like, and which recovery would silently truncate).
 */
import { crc32Range } from '../../common/crc32.js';
import { EntryType, type Entry, type HardState } from '../types.js';

export const HEADER_BYTES = 12;
/** kind (1) + index (8) + term (8). */
export const BODY_FIXED_BYTES = 17;
/** Larger lengths are rejected as garbage; appends beyond it are refused up front. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export const RecordKind = {
  Entry: 1,
  /** "The log ends before `index`": drops every earlier-written entry at or above it. */
  Truncate: 2,
  HardState: 3,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

export type WalRecord =
  | { readonly kind: 'entry'; readonly entry: Entry }
  | { readonly kind: 'truncate'; readonly index: number }
  | { readonly kind: 'hardState'; readonly hardState: HardState };

export type DecodeResult =
  | { readonly ok: true; readonly record: WalRecord; readonly end: number }
  /** Fewer than HEADER_BYTES left: only a torn write can end a file like this. */
  | { readonly ok: false; readonly kind: 'short-header'; readonly reason: string }
  /** The header checksum fails or the length is impossible: the length cannot be trusted. */
  | { readonly ok: false; readonly kind: 'bad-header'; readonly reason: string }
  /** A valid header whose body runs past the end of the buffer. */
  | { readonly ok: false; readonly kind: 'short-body'; readonly end: number; readonly reason: string }
  /** A valid header, a complete body, but the body is wrong; `end` is where the next record would start. */
  | { readonly ok: false; readonly kind: 'bad-body'; readonly end: number; readonly reason: string };

const TWO_32 = 0x1_0000_0000;
const MAX_HI = Math.floor(Number.MAX_SAFE_INTEGER / TWO_32);

export function checkU64(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0)
    throw new RangeError(`${name} must be a non-negative safe integer, got ${v}`);
}

export function writeU64(view: DataView, off: number, v: number): void {
  view.setUint32(off, v >>> 0, true);
  view.setUint32(off + 4, Math.floor(v / TWO_32), true);
}

export function readU64At(buf: Uint8Array, off: number): number | null {
  const lo = u32le(buf, off);
  const hi = u32le(buf, off + 4);
  if (hi > MAX_HI) return null;
  const v = hi * TWO_32 + lo;
  return Number.isSafeInteger(v) ? v : null;
}

function payloadSize(rec: WalRecord): number {
  switch (rec.kind) {
    case 'entry':
      return 1 + rec.entry.data.byteLength;
    case 'truncate':
      return 0;
    case 'hardState':
      return 1 + (rec.hardState.vote === null ? 0 : Buffer.byteLength(rec.hardState.vote, 'utf8'));
  }
}

/** Bytes `encodeRecord` will produce for `rec`. */
export function encodedSize(rec: WalRecord): number {
  return HEADER_BYTES + BODY_FIXED_BYTES + payloadSize(rec);
}

/** Encode one framed record. Throws RangeError for values the format cannot hold. */
export function encodeRecord(rec: WalRecord): Uint8Array {
  const bodyLen = BODY_FIXED_BYTES + payloadSize(rec);
  if (bodyLen > MAX_BODY_BYTES)
    throw new RangeError(`record body of ${bodyLen} bytes exceeds ${MAX_BODY_BYTES}`);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + bodyLen);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const b = HEADER_BYTES;
  let index: number;
  let term: number;
  switch (rec.kind) {
    case 'entry':
      index = rec.entry.index;
      term = rec.entry.term;
      buf[b] = RecordKind.Entry;
      buf[b + BODY_FIXED_BYTES] = rec.entry.type;
      buf.set(rec.entry.data, b + BODY_FIXED_BYTES + 1);
      break;
    case 'truncate':
      index = rec.index;
      term = 0;
      buf[b] = RecordKind.Truncate;
      break;
    case 'hardState': {
      index = rec.hardState.commit;
      term = rec.hardState.term;
      buf[b] = RecordKind.HardState;
      const vote = rec.hardState.vote;
      buf[b + BODY_FIXED_BYTES] = vote === null ? 0 : 1;
      if (vote !== null) buf.write(vote, b + BODY_FIXED_BYTES + 1, 'utf8');
      break;
    }
  }
  checkU64('index', index);
  checkU64('term', term);
  writeU64(view, b + 1, index);
  writeU64(view, b + 9, term);
  view.setUint32(0, bodyLen, true);
  view.setUint32(4, crc32Range(buf, b, buf.length), true);
  view.setUint32(8, crc32Range(buf, 0, 8), true);
  return buf;
}

/** The data of an entry a recovery does not keep (below the snapshot): checksummed, never copied. */
const SKIPPED_DATA = new Uint8Array(0);

/** The body buf[start, end), read in place: a restart decodes every WAL record, so no view per record. */
function decodeBody(buf: Uint8Array, start: number, end: number, keepFrom: number): WalRecord | string {
  const len = end - start;
  const kind = buf[start];
  const index = readU64At(buf, start + 1);
  const term = readU64At(buf, start + 9);
  if (index === null || term === null) return 'index or term exceeds 2^53';
  switch (kind) {
    case RecordKind.Entry: {
      if (len < BODY_FIXED_BYTES + 1) return 'entry record without entry type';
      const type = buf[start + BODY_FIXED_BYTES];
      if (type !== EntryType.Normal && type !== EntryType.ConfChange)
        return `unknown entry type ${String(type)}`;
      if (index < 1) return 'entry index 0';
      // slice copies: recovered entries must not pin whole segment buffers in memory. Entries below
      // `keepFrom` (covered by the snapshot) are dropped by the replay: their copies would be garbage.
      const data = index < keepFrom ? SKIPPED_DATA : buf.slice(start + BODY_FIXED_BYTES + 1, end);
      return { kind: 'entry', entry: { index, term, type, data } };
    }
    case RecordKind.Truncate:
      if (len !== BODY_FIXED_BYTES) return 'truncate record with payload';
      if (index < 1) return 'truncate at index 0';
      return { kind: 'truncate', index };
    case RecordKind.HardState: {
      if (len < BODY_FIXED_BYTES + 1) return 'hard state record without vote flag';
      const flag = buf[start + BODY_FIXED_BYTES];
      if (flag !== 0 && flag !== 1) return `bad vote flag ${String(flag)}`;
      if (flag === 0 && len !== BODY_FIXED_BYTES + 1) return 'hard state without vote has payload';
      const vote =
        flag === 0
          ? null
          : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString(
              'utf8',
              start + BODY_FIXED_BYTES + 1,
              end,
            );
      return { kind: 'hardState', hardState: { term, vote, commit: index } };
    }
    default:
      return `unknown record kind ${String(kind)}`;
  }
}

/**
 * Decode the record that starts at `off`; never throws, the caller decides what a failure means.
 * An entry whose index is below `keepFrom` is checked in full but comes back with empty data.
 */
export function decodeRecord(buf: Uint8Array, off: number, keepFrom = 0): DecodeResult {
  const left = buf.byteLength - off;
  if (left < HEADER_BYTES)
    return { ok: false, kind: 'short-header', reason: `${left} bytes left, header needs ${HEADER_BYTES}` };
  const bodyLen = u32le(buf, off);
  const bodyCrc = u32le(buf, off + 4);
  const headCrc = u32le(buf, off + 8);
  if (crc32Range(buf, off, off + 8) !== headCrc)
    return { ok: false, kind: 'bad-header', reason: 'header checksum mismatch' };
  if (bodyLen < BODY_FIXED_BYTES || bodyLen > MAX_BODY_BYTES) {
    return { ok: false, kind: 'bad-header', reason: `impossible body length ${bodyLen}` };
  }
  const end = off + HEADER_BYTES + bodyLen;
  if (end > buf.byteLength) {
    return { ok: false, kind: 'short-body', end, reason: `body of ${bodyLen} bytes runs past end of file` };
  }
  if (crc32Range(buf, off + HEADER_BYTES, end) !== bodyCrc)
    return { ok: false, kind: 'bad-body', end, reason: 'body checksum mismatch' };
  const rec = decodeBody(buf, off + HEADER_BYTES, end, keepFrom);
  if (typeof rec === 'string') return { ok: false, kind: 'bad-body', end, reason: rec };
  return { ok: true, record: rec, end };
}

function u32le(buf: Uint8Array, off: number): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}
