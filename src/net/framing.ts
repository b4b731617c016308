/**
 * Length-prefixed frames for TCP: [u32 big-endian payload length][payload].
 * The payload is one packet exactly as UDP would carry it (plain or
 * encrypted). Pure and socket-free so it can be tested byte by byte.
 */

export const FRAME_HEADER_BYTES = 4;
/** Large enough for a whole Raft snapshot of a small KV store in one frame. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

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
 * arriving in 64 KiB reads costs one copy, not hundreds.
 */
export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
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
    if (this.failed) return [];
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.buffered += chunk.length;
    }
    const out: FrameEvent[] = [];
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const length = this.peekLength();
      if (length > this.maxFrameBytes) {
        this.failed = true;
        this.chunks = [];
        this.buffered = 0;
        out.push({ kind: 'oversize', length });
        break;
      }
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      const whole = this.take(FRAME_HEADER_BYTES + length);
      out.push({ kind: 'frame', payload: whole.subarray(FRAME_HEADER_BYTES) });
    }
    return out;
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
