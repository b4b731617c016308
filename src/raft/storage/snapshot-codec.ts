/**
 * Snapshot file codec (pure). One file holds the metadata and the opaque
 * state-machine image, under one CRC: a snapshot is replaced atomically by
 * rename, so a checksum failure means the medium went bad, not a torn write.
 */
import { crc32 } from '../../common/crc32.js';
import type { Snapshot, SnapshotMeta } from '../types.js';

/** "SWSNAP" + format version 1. */
export const SNAPSHOT_MAGIC = Uint8Array.from([0x53, 0x57, 0x53, 0x4e, 0x41, 0x50, 0x00, 0x01]);
const PREFIX = 16;

export function encodeSnapshot(snap: Snapshot): Uint8Array {
  const meta = Buffer.from(
    JSON.stringify({
      index: snap.meta.index,
      term: snap.meta.term,
      conf: { voters: snap.meta.conf.voters, learners: snap.meta.conf.learners },
    }),
    'utf8',
  );
  const buf = Buffer.allocUnsafe(PREFIX + meta.byteLength + snap.data.byteLength);
  buf.set(SNAPSHOT_MAGIC, 0);
  buf.writeUInt32LE(meta.byteLength, 12);
  buf.set(meta, PREFIX);
  buf.set(snap.data, PREFIX + meta.byteLength);
  buf.writeUInt32LE(crc32(buf.subarray(12)), 8);
  return buf;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function parseMeta(json: string): SnapshotMeta | string {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return 'metadata is not JSON';
  }
  if (typeof v !== 'object' || v === null) return 'metadata is not an object';
  const o = v as Record<string, unknown>;
  const conf = o['conf'];
  if (!Number.isSafeInteger(o['index']) || !Number.isSafeInteger(o['term'])) return 'bad index or term';
  if (typeof conf !== 'object' || conf === null) return 'missing conf';
  const c = conf as Record<string, unknown>;
  if (!isStringArray(c['voters']) || !isStringArray(c['learners'])) return 'bad conf';
  return {
    index: o['index'] as number,
    term: o['term'] as number,
    conf: { voters: c['voters'], learners: c['learners'] },
  };
}

/** Decoded snapshot, or a reason string when the bytes are not a valid snapshot. */
export function decodeSnapshot(buf: Uint8Array): Snapshot | string {
  if (buf.byteLength < PREFIX) return `file of ${buf.byteLength} bytes is shorter than the header`;
  for (let i = 0; i < SNAPSHOT_MAGIC.length; i++) if (buf[i] !== SNAPSHOT_MAGIC[i]) return 'bad magic';
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (crc32(b.subarray(12)) !== b.readUInt32LE(8)) return 'checksum mismatch';
  const metaLen = b.readUInt32LE(12);
  if (PREFIX + metaLen > b.byteLength) return 'metadata length past end of file';
  const meta = parseMeta(b.toString('utf8', PREFIX, PREFIX + metaLen));
  if (typeof meta === 'string') return meta;
  return { meta, data: b.subarray(PREFIX + metaLen) };
}
