/**
 * A restart restores the KV snapshot before the node serves anything, so its
 * decoding is on the path to the first read: 100,000 keys of 64 B (8.3 MB)
 * took 80-120 ms in @msgpack/msgpack's general decode plus 25-50 ms to copy
 * its rows into the map. This reader walks the image once and puts each row
 * straight into the map (no row arrays), reading strings with Buffer's native
 * UTF-8 decoder.
 *
 * It reads the msgpack subset a SnapshotImage of JSON values is written in
 * (nil, booleans, integers, floats, strings, arrays, maps with string keys)
 * and returns null on anything else (bin, ext, a non-string map key, a key
 * `__proto__`, a truncated image): the caller then decodes with the general
 * decoder, which reports a bad image with its own error. What it returns is
 * what decode() returns for the same bytes.
 */
import type { JsonValue } from './kv.js';

/** One row of the image, in the order rows are stored: [key, value, createRevision, modRevision, version]. */
export type SnapshotRowSink = (
  key: string,
  value: JsonValue,
  createRevision: number,
  modRevision: number,
  version: number,
) => void;

/** The image's fields other than its rows, as read. */
export interface SnapshotHeader {
  readonly v: unknown;
  readonly appliedIndex: unknown;
  readonly revision: unknown;
  /** A version 2 image's lease rows, as read (unchecked). */
  readonly leases: unknown;
  /** Rows handed to the sink (-1: the image has no `kvs` array). */
  readonly rows: number;
}

class Unsupported extends Error {}

class Reader {
  private pos = 0;
  private readonly view: DataView;
  private readonly buf: Buffer;

  constructor(data: Uint8Array) {
    this.buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get done(): boolean {
    return this.pos === this.buf.byteLength;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.byteLength) throw new Unsupported('truncated');
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  private u16(): number {
    this.need(2);
    const x = this.view.getUint16(this.pos);
    this.pos += 2;
    return x;
  }

  private u32(): number {
    this.need(4);
    const x = this.view.getUint32(this.pos);
    this.pos += 4;
    return x;
  }

  private str(len: number): string {
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  /** The element count of an array header at the cursor, or null when it is not an array. */
  arrayLength(b: number): number | null {
    if (b >= 0x90 && b <= 0x9f) return b & 0x0f;
    if (b === 0xdc) return this.u16();
    if (b === 0xdd) return this.u32();
    return null;
  }

  mapLength(b: number): number | null {
    if (b >= 0x80 && b <= 0x8f) return b & 0x0f;
    if (b === 0xde) return this.u16();
    if (b === 0xdf) return this.u32();
    return null;
  }

  stringAfter(b: number): string | null {
    if (b >= 0xa0 && b <= 0xbf) return this.str(b & 0x1f);
    if (b === 0xd9) return this.str(this.byte());
    if (b === 0xda) return this.str(this.u16());
    if (b === 0xdb) return this.str(this.u32());
    return null;
  }

  string(): string {
    const s = this.stringAfter(this.byte());
    if (s === null) throw new Unsupported('string expected');
    return s;
  }

  number(): number {
    const v = this.value();
    if (typeof v !== 'number') throw new Unsupported('number expected');
    return v;
  }

  /** A map key: a string other than __proto__ (decode() refuses that one). */
  key(): string {
    const k = this.string();
    if (k === '__proto__') throw new Unsupported('__proto__ key');
    return k;
  }

  value(): JsonValue {
    const b = this.byte();
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    const s = this.stringAfter(b);
    if (s !== null) return s;
    const n = this.arrayLength(b);
    if (n !== null) {
      const a: JsonValue[] = new Array<JsonValue>(n);
      for (let i = 0; i < n; i++) a[i] = this.value();
      return a;
    }
    const m = this.mapLength(b);
    if (m !== null) {
      const o: Record<string, JsonValue> = {};
      for (let i = 0; i < m; i++) {
        const k = this.key();
        o[k] = this.value();
      }
      return o;
    }
    let x: number;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xcc:
        return this.byte();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf:
        this.need(8);
        x = this.view.getUint32(this.pos) * 0x100000000 + this.view.getUint32(this.pos + 4);
        break;
      case 0xd0:
        this.need(1);
        x = this.view.getInt8(this.pos);
        break;
      case 0xd1:
        this.need(2);
        x = this.view.getInt16(this.pos);
        break;
      case 0xd2:
        this.need(4);
        x = this.view.getInt32(this.pos);
        break;
      case 0xd3:
        this.need(8);
        x = this.view.getInt32(this.pos) * 0x100000000 + this.view.getUint32(this.pos + 4);
        break;
      case 0xca:
        this.need(4);
        x = this.view.getFloat32(this.pos);
        break;
      case 0xcb:
        this.need(8);
        x = this.view.getFloat64(this.pos);
        break;
      default:
        throw new Unsupported(`type 0x${b.toString(16)}`);
    }
    this.pos += b === 0xd0 ? 1 : b === 0xd1 ? 2 : b === 0xd2 || b === 0xca ? 4 : 8;
    return x;
  }
}

/**
 * One whole msgpack value in the subset above (a replayed command: on a
 * restart a follower applies up to 1.5 x snapshot_interval_entries of them
 * before it serves a read, and @msgpack/msgpack's general decode was half of
 * that time); undefined when the bytes are outside it or carry trailing
 * bytes, so the caller decodes with the general decoder instead.
 */
export function readMsgpackValue(data: Uint8Array): JsonValue | undefined {
  const r = new Reader(data);
  try {
    const v = r.value();
    return r.done ? v : undefined;
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
}

/**
 * Reads a snapshot image, handing each `kvs` row to `row`; null when the
 * image is outside the subset (rows may have been handed over already: the
 * caller starts again from scratch).
 */
export function readSnapshotImage(data: Uint8Array, row: SnapshotRowSink): SnapshotHeader | null {
  const r = new Reader(data);
  try {
    const fields = r.mapLength(r.byte());
    if (fields === null) return null;
    const head: Record<string, unknown> = {};
    let rows = -1;
    for (let i = 0; i < fields; i++) {
      const k = r.key();
      if (k !== 'kvs') {
        head[k] = r.value();
        continue;
      }
      // A second kvs field would replace the first in decode(): not a shape this reader follows.
      if (rows !== -1) return null;
      const n = r.arrayLength(r.byte());
      if (n === null) return null;
      for (let j = 0; j < n; j++) {
        if (r.byte() !== 0x95) return null;
        row(r.string(), r.value(), r.number(), r.number(), r.number());
      }
      rows = n;
    }
    if (!r.done) return null;
    return { v: head.v, appliedIndex: head.appliedIndex, revision: head.revision, leases: head.leases, rows };
  } catch (e) {
    if (e instanceof Unsupported) return null;
    throw e;
  }
}
