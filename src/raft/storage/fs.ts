/**
 * The few filesystem operations the storage needs, behind an interface so that
 * tests can count fsyncs, inject I/O failures and copy the directory at chosen
 * moments to simulate crashes. `nodeFs` is the real implementation.
 */
import { countOp } from '../../common/op-counts.js';
import { fdatasyncSync, statfs, writeSync } from 'node:fs';
import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  unlink,
  type FileHandle,
} from '../../common/light-fs-promises.js';

export interface StorageFile {
  /** Appends all of `data` at the end of the file (one write call unless the OS writes short). */
  append(data: Uint8Array): Promise<void>;
  /** fdatasync: data and the metadata needed to read it back (size), not timestamps. */
  datasync(): Promise<void>;
  /**
   * The same fdatasync on the calling thread, blocking it (optional; see FileStorageOptions.inlineSync).
   * Throws on failure like datasync rejects.
   */
  datasyncInline?(): void;
  /** fsync: everything, including metadata. */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
  /**
   * Writes all of `data` at `position` (a handle from openTruncate or openWrite, not append mode);
   * optional: the storage then rewrites the marker file whole and does not preallocate segments.
   */
  writeAt?(data: Uint8Array, position: number): Promise<void>;
  /** Appends `length` zero bytes (preparing a preallocated segment); optional, else append() of zeros. */
  appendZeros?(length: number): Promise<void>;
}

export interface StorageFs {
  mkdirp(dir: string): Promise<void>;
  list(dir: string): Promise<string[]>;
  readFile(path: string): Promise<Uint8Array>;
  /** `create` fails if the file exists (a segment name is never reused); `existing` opens one found on disk. */
  openAppend(path: string, mode: 'create' | 'existing'): Promise<StorageFile>;
  /** Creates or empties `path` for writing from offset 0. */
  openTruncate(path: string): Promise<StorageFile>;
  /**
   * Opens an existing file for writes at chosen positions (writeAt), keeping its content: a
   * preallocated segment found on disk. Optional: without it such a segment is truncated to its
   * log and appended to, as before preallocation.
   */
  openWrite?(path: string): Promise<StorageFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync the directory itself, making creations, renames and removals in it durable. */
  syncDir(dir: string): Promise<void>;
  /** Bytes an unprivileged writer may still use on the filesystem of `dir` (optional). */
  freeBytes?(dir: string): Promise<number>;
}

/** Writes up to this size are copied into the page cache synchronously (see NodeFile.append). */
const SYNC_WRITE_MAX_BYTES = 256 * 1024;
/** Zeros written per call when preparing a preallocated segment (on the thread pool: above SYNC_WRITE_MAX_BYTES). */
const ZERO_CHUNK = new Uint8Array(1024 * 1024);

class NodeFile implements StorageFile {
  constructor(private readonly fh: FileHandle) {}

  append(data: Uint8Array): Promise<void> {
    return this.writeAll(data, null);
  }

  /**
   * All of `data` at `position` (null: the file position, the end in append mode).
   * A synchronous write: it only copies into the page cache (the fdatasync that follows is what
   * waits for the disk, and that stays on the thread pool). Measured on this project's CI machine
   * with 400-byte batches: 2.3 us per writeSync against 52 us wall and 43 us of CPU per
   * FileHandle.write, whose thread-pool round trip sat on every commit's critical path twice
   * (leader and follower). Large writes (a snapshot, a segment's zeros) go to the thread pool
   * rather than hold the event loop for milliseconds.
   */
  private async writeAll(data: Uint8Array, position: number | null): Promise<void> {
    let off = 0;
    const sync = data.byteLength <= SYNC_WRITE_MAX_BYTES;
    // Regular files practically never write short, but a partial write must not be mistaken for success.
    for (let tries = 0; off < data.byteLength; tries++) {
      if (tries > 1000) throw new Error('write made no progress');
      const n = data.byteLength - off;
      const at = position === null ? null : position + off;
      countOp(sync ? 'writeSync' : 'write.pool');
      off += sync
        ? writeSync(this.fh.fd, data, off, n, at)
        : (await this.fh.write(data, off, n, at)).bytesWritten;
    }
  }

  datasync(): Promise<void> {
    countOp('fsync.pool');
    return this.fh.datasync();
  }

  datasyncInline(): void {
    countOp('fsync.inline');
    fdatasyncSync(this.fh.fd);
  }

  sync(): Promise<void> {
    return this.fh.sync();
  }

  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }

  writeAt(data: Uint8Array, position: number): Promise<void> {
    // The marker, a flush into a preallocated segment: small, so into the page cache synchronously.
    return this.writeAll(data, position);
  }

  async appendZeros(length: number): Promise<void> {
    for (let left = length; left > 0;) {
      const n = Math.min(left, ZERO_CHUNK.byteLength);
      await this.append(n === ZERO_CHUNK.byteLength ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n));
      left -= n;
    }
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

export const nodeFs: StorageFs = {
  async mkdirp(dir) {
    await mkdir(dir, { recursive: true });
  },
  list(dir) {
    return readdir(dir);
  },
  async readFile(path) {
    return readFile(path);
  },
  async openAppend(path, mode) {
    // O_APPEND: every write lands at the end, also after a recovery truncate.
    return new NodeFile(await open(path, mode === 'create' ? 'ax' : 'a'));
  },
  async openTruncate(path) {
    return new NodeFile(await open(path, 'w'));
  },
  async openWrite(path) {
    // Not O_APPEND: on Linux a positioned write to an O_APPEND descriptor lands at the end anyway.
    return new NodeFile(await open(path, 'r+'));
  },
  rename(from, to) {
    return rename(from, to);
  },
  unlink(path) {
    return unlink(path);
  },
  freeBytes(dir) {
    return new Promise((resolve, reject) =>
      statfs(dir, (err, s) => (err ? reject(err) : resolve(s.bavail * s.bsize))),
    );
  },
  async syncDir(dir) {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};
