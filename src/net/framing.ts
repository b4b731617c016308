/**
 * Length-prefixed frames for TCP: [u32 big-endian payload length][payload].
 * The payload is one packet exactly as UDP would carry it (plain or
 * encrypted). Pure and socket-free so it can be tested byte by byte.
 */

export const FRAME_HEADER_BYTES = 4;
/** Large enough for a whole Raft snapshot of a small KV store in one frame. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/**
 * The limit on a connection whose peer has not authenticated yet (tcp.ts): an
 * unknown host announcing 16 MiB frames on many connections must not make
 * the node buffer gigabytes. Far above the hello frame a peer opens with.
 */
export const UNAUTHENTICATED_MAX_FRAME_BYTES = 64 * 1024;

export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

export type FrameEvent = { kind: 'frame'; payload: Uint8Array } | { kind: 'oversize'; length: number };

/**
 * Reassembles frames from arbitrary stream chunks. Chunks are kept as a list
 * and joined only once a whole frame is present, so a 16 MiB snapshot
 * arriving in 64 KiB reads costs one copy, not hundreds. Nothing is ever
 * allocated from an announced length: memory grows only with the bytes that
 * actually arrived, so a header announcing 16 MiB costs nothing until the
 * sender pays for it with traffic.
 */
export class FrameDecoder {
  private maxFrameBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /**
   * Change the limit for the frames still to come (a connection's peer has
   * authenticated). A frame already buffered is checked against the new limit
   * at the next push.
   */
  setMaxFrameBytes(n: number): void {
    this.maxFrameBytes = n;
  }

  /** Bytes received but not yet part of a complete frame. */
  pending(): number {
    return this.buffered;
  }

  /**
   * Feed a chunk; returns the frames it completed. After an `oversize` event
   * the stream is unrecoverable (we cannot find the next boundary) and the
   * decoder yields nothing more: the caller closes the connection.
   */
  push(chunk: Uint8Array): FrameEvent[] {
    this.feed(chunk);
    const out: FrameEvent[] = [];
    for (let ev = this.next(); ev !== null; ev = this.next()) out.push(ev);
    return out;
  }

  /** Buffer a chunk without decoding; take the frames with `next()`. */
  feed(chunk: Uint8Array): void {
    if (this.failed || chunk.length === 0) return;
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.buffered += chunk.length;
  }

  /**
   * The next complete frame (or the oversize event), or null when more bytes
   * are needed. One at a time, so a caller can raise the limit after a frame
   * that authenticated its peer, before the frames behind it in the same read.
   */
  next(): FrameEvent | null {
    if (this.failed || this.buffered < FRAME_HEADER_BYTES) return null;
    const length = this.peekLength();
    if (length > this.maxFrameBytes) {
      this.failed = true;
      this.chunks = [];
      this.buffered = 0;
      return { kind: 'oversize', length };
    }
    if (this.buffered < FRAME_HEADER_BYTES + length) return null;
    const whole = this.take(FRAME_HEADER_BYTES + length);
    return { kind: 'frame', payload: whole.subarray(FRAME_HEADER_BYTES) };
  }

  private peekLength(): number {
    const first = this.chunks[0] as Buffer;
    if (first.length >= FRAME_HEADER_BYTES) return first.readUInt32BE(0);
    const head = Buffer.concat(this.chunks, Math.min(this.buffered, 64)).subarray(0, FRAME_HEADER_BYTES);
    return head.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    let whole: Buffer;
    if (first.length >= n) {
      whole = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const joined = Buffer.concat(this.chunks, this.buffered);
      whole = joined.subarray(0, n);
      this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    }
    this.buffered -= n;
    return whole;
  }
}
