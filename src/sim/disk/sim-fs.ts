/**
 * A simulated file system under the real WAL code (src/raft/storage's
 * FileRaftStorage takes any StorageFs), with the failure semantics of a real
 * disk and page cache:
 *
 * - a write is only in the page cache until the file's fsync/fdatasync
 *   completes; a crash keeps what was synced plus, for an appended file, a
 *   random prefix of the unsynced tail (a torn write), cut at any byte;
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

interface Inode {
  /** Current content as immutable chunks (an append adds one; nothing rewrites a chunk in place). */
  chunks: Uint8Array[];
  length: number;
  /** Content as of the last completed sync. */
  durable: Uint8Array[];
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

const NEVER = new Promise<never>(() => undefined);

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  return Buffer.concat(chunks);
}

function lengthOf(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.byteLength;
  return n;
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
            ino = { chunks: [], length: 0, durable: [] };
            this.entries.set(path, ino);
          } else if (ino === undefined) throw fsError('ENOENT', `no such file ${path}`);
          return this.handle(ino, gen);
        }),
      openTruncate: (path) =>
        guard(() => {
          let ino = this.entries.get(path);
          if (ino === undefined) {
            ino = { chunks: [], length: 0, durable: [] };
            this.entries.set(path, ino);
          } else {
            ino.chunks = [];
            ino.length = 0;
          }
          return this.handle(ino, gen);
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

  private handle(ino: Inode, gen: number): StorageFile {
    const live = (): boolean => gen === this.gen;
    const sync = (): Promise<void> => {
      if (!live()) return NEVER;
      const content = ino.chunks.slice();
      return this.afterSync(gen, () => {
        ino.durable = content;
      });
    };
    return {
      append: (data) => {
        if (!live()) return NEVER;
        if (this.usedBytes() + data.byteLength > this.capacityBytes) {
          this.stats.enospc++;
          return Promise.reject(fsError('ENOSPC', 'no space left on device'));
        }
        // Copied: the caller may reuse its buffer, a page cache would not see that.
        ino.chunks.push(Uint8Array.from(data));
        ino.length += data.byteLength;
        return Promise.resolve();
      },
      datasync: sync,
      sync,
      truncate: (length) => {
        if (!live()) return NEVER;
        const whole = concat(ino.chunks);
        ino.chunks = [whole.slice(0, Math.min(length, whole.byteLength))];
        ino.length = ino.chunks[0]!.byteLength;
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
    const d = ino.durable;
    const isAppend = d.length <= ino.chunks.length && d.every((c, i) => ino.chunks[i] === c);
    const before = ino.length;
    if (isAppend && ino.chunks.length > d.length) {
      const tail = concat(ino.chunks.slice(d.length));
      // Half the time nothing of the unsynced tail reached the platter; else any prefix did.
      const keep = this.o.rng.next() < 0.5 ? 0 : this.o.rng.int(0, tail.byteLength);
      this.stats.tornBytes += keep;
      ino.chunks = keep > 0 ? [...d, tail.slice(0, keep)] : d.slice();
    } else ino.chunks = d.slice();
    ino.length = lengthOf(ino.chunks);
    ino.durable = ino.chunks.slice();
    return before - ino.length;
  }

  /** Flips one bit of synced data: the disk returns wrong bytes where it had acknowledged a write. */
  flipBit(path: string, offset: number, bit = 0): boolean {
    const ino = this.entries.get(path) ?? this.durableEntries.get(path);
    if (ino === undefined) return false;
    const whole = Uint8Array.from(concat(ino.durable));
    if (offset < 0 || offset >= whole.byteLength) return false;
    whole[offset]! ^= 1 << (bit & 7);
    const same = ino.chunks.length >= ino.durable.length && ino.durable.every((c, i) => ino.chunks[i] === c);
    const rest = same ? ino.chunks.slice(ino.durable.length) : [];
    ino.durable = [whole];
    if (same) ino.chunks = [whole, ...rest];
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
    const whole = concat(ino.durable);
    const keep = Math.max(0, whole.byteLength - bytes);
    ino.durable = [whole.slice(0, keep)];
    ino.chunks = ino.durable.slice();
    ino.length = keep;
    return true;
  }

  /** A copy holding only what is durable now (what a crash at this instant would leave, untorn). */
  cloneDurable(): SimFs {
    const c = new SimFs({ rng: this.o.rng });
    for (const [p, ino] of this.durableEntries) {
      const d = ino.durable.slice();
      const copy: Inode = { chunks: d, length: lengthOf(d), durable: d.slice() };
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

  /** Paths of the files that exist now, and their synced sizes. */
  files(): { path: string; synced: number; size: number }[] {
    return [...this.entries].map(([path, ino]) => ({
      path,
      synced: lengthOf(ino.durable),
      size: ino.length,
    }));
  }
}
