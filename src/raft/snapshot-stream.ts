/**
 * Chunked snapshot transfer: the leader streams its snapshot image stop-and-wait,
 * one chunk per InstallSnapshot, and the follower reassembles it, naming the
 * offset it needs next so a lost chunk is resent rather than the whole image.
 * The image's CRC-32 travels with every chunk; a damaged image is never installed.
 */
import { crc32 } from '../common/crc32.js';
import type { InstallSnapshotMsg } from './messages.js';
import type { NodeId, Snapshot, SnapshotMeta } from './types.js';

interface IncomingSnapshot {
  readonly from: NodeId;
  readonly term: number;
  readonly meta: SnapshotMeta;
  readonly totalBytes: number;
  readonly crc: number;
  readonly chunks: Uint8Array[];
  received: number;
  runningCrc: number;
}

function concatChunks(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.byteLength === total) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** What a follower does with a chunk: ask for the bytes from `offset`, or install the complete image. */
export type ChunkOutcome =
  { readonly kind: 'need'; readonly offset: number } | { readonly kind: 'done'; readonly snapshot: Snapshot };

/** Follower side: the one snapshot being received, chunk by chunk. */
export class SnapshotReceiver {
  private incoming: IncomingSnapshot | null = null;

  /** Drop a partial image (a stream of an earlier term is never resumed: free its chunks). */
  clear(): void {
    this.incoming = null;
  }

  /** Take chunk `m`, received in `term`, into the stream. */
  receive(m: InstallSnapshotMsg, term: number): ChunkOutcome {
    let inc = this.incoming;
    const same =
      inc !== null &&
      inc.from === m.from &&
      inc.term === term &&
      inc.meta.index === m.meta.index &&
      inc.meta.term === m.meta.term &&
      inc.crc === m.crc &&
      inc.totalBytes === m.totalBytes;
    if (inc === null || !same) {
      // A new stream starts only at offset 0; anything else asks the leader to start over.
      if (m.offset !== 0) {
        this.incoming = null;
        return { kind: 'need', offset: 0 };
      }
      inc = {
        from: m.from,
        term,
        meta: m.meta,
        totalBytes: m.totalBytes,
        crc: m.crc,
        chunks: [],
        received: 0,
        runningCrc: 0,
      };
      this.incoming = inc;
    }
    // Lost or duplicated chunks: keep what we have and name the offset we need.
    if (m.offset !== inc.received || inc.received + m.data.byteLength > inc.totalBytes) {
      return { kind: 'need', offset: inc.received };
    }
    if (m.data.byteLength > 0) {
      inc.chunks.push(m.data);
      inc.received += m.data.byteLength;
      inc.runningCrc = crc32(m.data, inc.runningCrc);
    }
    if (inc.received < inc.totalBytes) return { kind: 'need', offset: inc.received };
    this.incoming = null;
    // Damaged on the way (or a buggy sender): never install it; fetch it again from the start.
    if (inc.runningCrc !== inc.crc) return { kind: 'need', offset: 0 };
    return { kind: 'done', snapshot: { meta: inc.meta, data: concatChunks(inc.chunks, inc.totalBytes) } };
  }
}

/** One chunk of an outgoing snapshot, as InstallSnapshot carries it. */
export interface SnapshotChunk {
  readonly totalBytes: number;
  readonly offset: number;
  readonly crc: number;
  readonly data: Uint8Array;
}

/** Leader side: cuts chunks and computes the image's CRC once for every follower it is streamed to. */
export class SnapshotSender {
  private crcCache: { snap: Snapshot; crc: number } | null = null;

  constructor(private readonly chunkBytes: number) {}

  chunk(snap: Snapshot, offset: number): SnapshotChunk {
    if (this.crcCache?.snap !== snap) this.crcCache = { snap, crc: crc32(snap.data) };
    const total = snap.data.byteLength;
    const start = Math.min(offset, total);
    const end = Math.min(total, start + this.chunkBytes);
    return { totalBytes: total, offset: start, crc: this.crcCache.crc, data: snap.data.subarray(start, end) };
  }
}
