/**
 * A simulated file system under the real WAL code (src/raft/storage's
 * FileRaftStorage takes any StorageFs), with the failure semantics of a real
 * disk and page cache:
 *
 * - a write is only in the page cache until the file's fsync/fdatasync
 *   completes; a crash keeps what was synced plus a random prefix of the
 *   writes since, in order (a torn write): cut at any byte where a write
 *   extends the file, at a sector boundary (512 bytes) where it overwrites
 *   bytes the file already had, whose old content (zeros, in a preallocated
 *   segment) stays after the cut;
 * - creating, renaming and removing a name is durable only after the
 *   directory is synced; a crash restores the directory as last synced;
 * - synced bytes can be corrupted on request (a bit flip at a chosen offset);
 * - the disk can fill up: an append past the capacity fails with ENOSPC;
 * - an fsync takes virtual time (the owner's `delaySync` decides how long).
 *
 * A crash bumps the generation: handles and views opened before it never
 * complete again (the process that held them is gone).
 */
import { dirname } from 'node:path';
import type { Rng } from '../../common/rng.js';
import type { StorageFile, StorageFs } from '../../raft/storage/fs.js';

export interface SimFsOptions {
  /** Draws torn-tail lengths. */
  readonly rng: Rng;
  /** Runs `fn` once an fsync issued now completes (virtual time); default at once. */
  readonly delaySync?: (fn: () => void) => void;
  /** Bytes the disk holds (all current files); default unlimited. */
  readonly capacityBytes?: number;
  /** A broken disk that acknowledges syncs it never performs (proves the checker sees lost writes). */
  readonly lyingSync?: boolean;
}

/** A run of bytes, or of that many zero bytes (a preallocated segment holds megabytes of them). */
type Piece = Uint8Array | number;

/** A write since the last sync: `data` at `pos` (a number: that many zeros). */
interface Write {
  readonly pos: number;
  readonly data: Piece;
}

interface Inode {
  /** Current content as immutable pieces (a write splits pieces, never changes one in place). */
  chunks: Piece[];
  length: number;
  /** Content as of the last completed sync. */
  durable: Piece[];
  /**
   * The writes since `durable`, in order: a crash keeps a prefix of them. null: something a crash
   * cannot tear (a truncation, an emptied file) happened; the crash then keeps `durable` only.
   */
  pending: Write[] | null;
}

/** A disk writes whole sectors: an interrupted overwrite leaves the old content from a sector boundary on. */
export const SIM_SECTOR_BYTES = 512;

function pieceLength(p: Piece): number {
  return typeof p === 'number' ? p : p.byteLength;
}

/** Bytes [from, to) of `pieces`, sharing their storage. */
function slicePieces(pieces: readonly Piece[], from: number, to: number): Piece[] {
  const out: Piece[] = [];
  let at = 0;
  for (const p of pieces) {
    const n = pieceLength(p);
    const a = Math.max(from, at);
    const b = Math.min(to, at + n);
    if (a < b) out.push(typeof p === 'number' ? b - a : p.subarray(a - at, b - at));
    at += n;
    if (at >= to) break;
  }
  return out;
}

/** `pieces` (of `length` bytes) with `data` written at `pos` (a hole before it reads as zeros). */
function writePieces(pieces: readonly Piece[], length: number, pos: number, data: Piece): Piece[] {
  const n = pieceLength(data);
  if (n === 0) return pieces.slice();
  if (pos >= length) return pos > length ? [...pieces, pos - length, data] : [...pieces, data];
  const last = pieces[pieces.length - 1];
  // The common case in a preallocated segment: a write at the start of the trailing zeros.
  if (typeof last === 'number' && pos === length - last) {
    const out = pieces.slice(0, -1);
    out.push(data);
    if (n < last) out.push(last - n);
    return out;
  }
  const out = slicePieces(pieces, 0, pos);
  out.push(data);
  if (pos + n < length) out.push(...slicePieces(pieces, pos + n, length));
  return out;
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

const NEVER = new Promise<never>(() => undefined);

function concat(chunks: readonly Piece[]): Uint8Array {
  if (chunks.length === 1 && typeof chunks[0] !== 'number') return chunks[0]!;
  const out = Buffer.alloc(lengthOf(chunks));
  let at = 0;
  for (const c of chunks) {
    if (typeof c !== 'number') out.set(c, at);
    at += pieceLength(c);
  }
  return out;
}

function lengthOf(chunks: readonly Piece[]): number {
  let n = 0;
  for (const c of chunks) n += pieceLength(c);
  return n;
}

/** Offset past the last non-zero byte. */
function dataEndOf(chunks: readonly Piece[]): number {
  let at = lengthOf(chunks);
  for (let i = chunks.length - 1; i >= 0; i--) {
    const c = chunks[i]!;
    if (typeof c !== 'number') {
      for (let j = c.byteLength - 1; j >= 0; j--) if (c[j] !== 0) return at - c.byteLength + j + 1;
    }
    at -= pieceLength(c);
  }
  return 0;
}

export interface SimFsStats {
  syncs: number;
  crashes: number;
  tornBytes: number;
  lostBytes: number;
  enospc: number;
}

export class SimFs {
  private entries = new Map<string, Inode>();
  private durableEntries = new Map<string, Inode>();
  private gen = 0;
  capacityBytes: number;
  readonly stats: SimFsStats = { syncs: 0, crashes: 0, tornBytes: 0, lostBytes: 0, enospc: 0 };

  constructor(private readonly o: SimFsOptions) {
    this.capacityBytes = o.capacityBytes ?? Number.POSITIVE_INFINITY;
  }

  /** A StorageFs for the process running now; it stops answering when the process crashes. */
  view(): StorageFs {
    const gen = this.gen;
    const live = (): boolean => gen === this.gen;
    const guard = <T>(fn: () => T | Promise<T>): Promise<T> => {
      if (!live()) return NEVER;
      try {
        return Promise.resolve(fn());
      } catch (err) {
        return Promise.reject(err as Error);
      }
    };
    return {
      mkdirp: (_dir) => guard(() => undefined),
      list: (dir) =>
        guard(() =>
          [...this.entries.keys()].filter((p) => dirname(p) === dir).map((p) => p.slice(dir.length + 1)),
        ),
      readFile: (path) =>
        guard(() => {
          const ino = this.entries.get(path);
          if (ino === undefined) throw fsError('ENOENT', `no such file ${path}`);
          return concat(ino.chunks);
        }),
      openAppend: (path, mode) =>
        guard(() => {
          let ino = this.entries.get(path);
          if (mode === 'create') {
            if (ino !== undefined) throw fsError('EEXIST', `file exists ${path}`);
            ino = { chunks: [], length: 0, durable: [], pending: [] };
            this.entries.set(path, ino);
          } else if (ino === undefined) throw fsError('ENOENT', `no such file ${path}`);
          return this.handle(ino, gen, true);
        }),
      openTruncate: (path) =>
        guard(() => {
          let ino = this.entries.get(path);
          if (ino === undefined) {
            ino = { chunks: [], length: 0, durable: [], pending: [] };
            this.entries.set(path, ino);
          } else {
            ino.chunks = [];
            ino.length = 0;
            ino.pending = ino.durable.length === 0 ? [] : null;
          }
          return this.handle(ino, gen, false);
        }),
      openWrite: (path) =>
        guard(() => {
          const ino = this.entries.get(path);
          if (ino === undefined) throw fsError('ENOENT', `no such file ${path}`);
          return this.handle(ino, gen, false);
        }),
      rename: (from, to) =>
        guard(() => {
          const ino = this.entries.get(from);
          if (ino === undefined) throw fsError('ENOENT', `no such file ${from}`);
          this.entries.delete(from);
          this.entries.set(to, ino);
        }),
      unlink: (path) =>
        guard(() => {
          if (!this.entries.delete(path)) throw fsError('ENOENT', `no such file ${path}`);
        }),
      syncDir: (dir) => {
        if (!live()) return NEVER;
        const names = new Map([...this.entries].filter(([p]) => dirname(p) === dir));
        return this.afterSync(gen, () => {
          for (const p of [...this.durableEntries.keys()])
            if (dirname(p) === dir) this.durableEntries.delete(p);
          for (const [p, ino] of names) this.durableEntries.set(p, ino);
        });
      },
    };
  }

  /** `appendMode`: O_APPEND, every write at the end (openAppend); else a file position from 0 and writeAt. */
  private handle(ino: Inode, gen: number, appendMode: boolean): StorageFile {
    const live = (): boolean => gen === this.gen;
    let position = 0;
    const sync = (): Promise<void> => {
      if (!live()) return NEVER;
      const content = ino.chunks.slice();
      const pending = ino.pending;
      const written = pending?.length ?? 0;
      return this.afterSync(gen, () => {
        ino.durable = content;
        // The writes issued while the sync ran stay pending. If the list was replaced meanwhile (an
        // untearable change, or an earlier sync's commit), it is left as it is: replaying a write
        // that is durable already changes nothing.
        if (ino.pending === pending) ino.pending = pending === null ? [] : pending.slice(written);
      });
    };
    const write = (pos: number, data: Piece): Promise<void> => {
      if (!live()) return NEVER;
      const n = pieceLength(data);
      if (this.usedBytes() + Math.max(0, pos + n - ino.length) > this.capacityBytes) {
        this.stats.enospc++;
        return Promise.reject(fsError('ENOSPC', 'no space left on device'));
      }
      // Copied: the caller may reuse its buffer, a page cache would not see that.
      const piece = typeof data === 'number' ? data : Uint8Array.from(data);
      ino.chunks = writePieces(ino.chunks, ino.length, pos, piece);
      ino.length = Math.max(ino.length, pos + n);
      const p = ino.pending;
      const prev = p?.[p.length - 1];
      // An in-place rewrite of the same bytes (the synced-extent marker, never synced itself)
      // replaces the pending write it covers, so the list stays bounded: a crash leaves the file as
      // synced or the newest version (or a torn mix), not each older one.
      if (p && prev && prev.pos === pos && pieceLength(prev.data) <= n)
        p[p.length - 1] = { pos, data: piece };
      else p?.push({ pos, data: piece });
      return Promise.resolve();
    };
    const appendAt = (data: Piece): Promise<void> => {
      const pos = appendMode ? ino.length : position;
      const done = write(pos, data);
      if (!appendMode) position = pos + pieceLength(data);
      return done;
    };
    return {
      append: (data) => appendAt(data),
      appendZeros: (length) => appendAt(length),
      writeAt: (data, pos) => write(pos, data),
      datasync: sync,
      sync,
      truncate: (length) => {
        if (!live()) return NEVER;
        ino.chunks = slicePieces(ino.chunks, 0, Math.min(length, ino.length));
        ino.length = lengthOf(ino.chunks);
        ino.pending = null;
        return Promise.resolve();
      },
      close: () => (live() ? Promise.resolve() : NEVER),
    };
  }

  private inFlight = 0;

  private afterSync(gen: number, commit: () => void): Promise<void> {
    this.stats.syncs++;
    this.inFlight++;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.inFlight--;
        // The process crashed while the fsync ran: it never learns the outcome.
        if (gen !== this.gen) return;
        if (this.o.lyingSync !== true) commit();
        resolve();
      };
      if (this.o.delaySync) this.o.delaySync(done);
      else done();
    });
  }

  private usedBytes(): number {
    let n = 0;
    for (const ino of this.entries.values()) n += ino.length;
    return n;
  }

  /**
   * Power loss: every file goes back to its synced content, except that an appended file keeps a
   * random prefix of its unsynced tail (the disk wrote part of it); names go back to the last
   * directory sync. Returns the bytes lost.
   */
  crash(): number {
    this.gen++;
    this.inFlight = 0;
    this.stats.crashes++;
    let lost = 0;
    const seen = new Set<Inode>();
    for (const ino of this.entries.values()) {
      if (seen.has(ino)) continue;
      seen.add(ino);
      lost += this.revert(ino);
    }
    for (const ino of this.durableEntries.values()) if (!seen.has(ino)) this.revert(ino);
    this.entries = new Map(this.durableEntries);
    this.stats.lostBytes += lost;
    return lost;
  }

  private revert(ino: Inode): number {
    const before = ino.length;
    let chunks = ino.durable.slice();
    let length = lengthOf(chunks);
    const pending = ino.pending ?? [];
    let total = 0;
    for (const w of pending) total += pieceLength(w.data);
    if (total > 0) {
      // Half the time nothing of the unsynced writes reached the platter; else any prefix did.
      let keep = this.o.rng.next() < 0.5 ? 0 : this.o.rng.int(0, total);
      for (const w of pending) {
        if (keep <= 0) break;
        const n = pieceLength(w.data);
        let k = Math.min(n, keep);
        keep -= n;
        // Over bytes the file had, the disk writes whole sectors; the old content stays after the cut.
        if (k < n && w.pos < length)
          k = Math.max(0, Math.floor((w.pos + k) / SIM_SECTOR_BYTES) * SIM_SECTOR_BYTES - w.pos);
        if (k === 0) break;
        const part = k === n ? w.data : typeof w.data === 'number' ? k : w.data.subarray(0, k);
        chunks = writePieces(chunks, length, w.pos, part);
        length = Math.max(length, w.pos + k);
        this.stats.tornBytes += k;
      }
    }
    ino.chunks = chunks;
    ino.length = length;
    ino.durable = chunks.slice();
    ino.pending = [];
    return Math.max(0, before - ino.length);
  }

  /** Flips one bit of synced data: the disk returns wrong bytes where it had acknowledged a write. */
  flipBit(path: string, offset: number, bit = 0): boolean {
    const ino = this.entries.get(path) ?? this.durableEntries.get(path);
    if (ino === undefined) return false;
    const len = lengthOf(ino.durable);
    if (offset < 0 || offset >= len) return false;
    const flipped = Uint8Array.from(concat(slicePieces(ino.durable, offset, offset + 1)));
    flipped[0]! ^= 1 << (bit & 7);
    ino.durable = writePieces(ino.durable, len, offset, flipped);
    // The current content is the synced one plus the writes since (if they can be replayed).
    if (ino.pending !== null) {
      let chunks = ino.durable.slice();
      let length = len;
      for (const w of ino.pending) {
        chunks = writePieces(chunks, length, w.pos, w.data);
        length = Math.max(length, w.pos + pieceLength(w.data));
      }
      ino.chunks = chunks;
      ino.length = length;
    }
    return true;
  }

  /**
   * The disk lost the last `bytes` of a file's synced content (a write cache that acknowledged an
   * fsync it had not done, sectors that never reached the platter): recovery then finds a torn tail.
   * Only while the process is down (call after crash()).
   */
  chop(path: string, bytes: number): boolean {
    const ino = this.entries.get(path);
    if (ino === undefined) return false;
    const len = lengthOf(ino.durable);
    const end = dataEndOf(ino.durable);
    const keep = Math.max(0, end - bytes);
    // In a preallocated file the lost sectors read back as their old content, zeros; else the file ends early.
    ino.durable =
      end < len ? writePieces(ino.durable, len, keep, end - keep) : slicePieces(ino.durable, 0, keep);
    ino.chunks = ino.durable.slice();
    ino.length = lengthOf(ino.chunks);
    ino.pending = [];
    return true;
  }

  /** A copy holding only what is durable now (what a crash at this instant would leave, untorn). */
  cloneDurable(): SimFs {
    const c = new SimFs({ rng: this.o.rng });
    for (const [p, ino] of this.durableEntries) {
      const d = ino.durable.slice();
      const copy: Inode = { chunks: d, length: lengthOf(d), durable: d.slice(), pending: [] };
      c.entries.set(p, copy);
      c.durableEntries.set(p, copy);
    }
    return c;
  }

  /** Fsyncs issued and not completed yet (a crash now loses or tears what they cover). */
  get syncsInFlight(): number {
    return this.inFlight;
  }

  /** Bytes in all current files. */
  get used(): number {
    return this.usedBytes();
  }

  /**
   * Paths of the files that exist now, their synced sizes, and how much of the synced content is
   * data (up to its last non-zero byte; a preallocated segment's zeros after the log are not).
   */
  files(): { path: string; synced: number; syncedData: number; size: number }[] {
    return [...this.entries].map(([path, ino]) => ({
      path,
      synced: lengthOf(ino.durable),
      syncedData: dataEndOf(ino.durable),
      size: ino.length,
    }));
  }
}
