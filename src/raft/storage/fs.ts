/**
 * The few filesystem operations the storage needs, behind an interface so that
 * tests can count fsyncs, inject I/O failures and copy the directory at chosen
 * moments to simulate crashes. `nodeFs` is the real implementation.
 */
import { mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';

export interface StorageFile {
  /** Appends all of `data` at the end of the file (one write call unless the OS writes short). */
  append(data: Uint8Array): Promise<void>;
  /** fdatasync: data and the metadata needed to read it back (size), not timestamps. */
  datasync(): Promise<void>;
  /** fsync: everything, including metadata. */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface StorageFs {
  mkdirp(dir: string): Promise<void>;
  list(dir: string): Promise<string[]>;
  readFile(path: string): Promise<Uint8Array>;
  /** `create` fails if the file exists (a segment name is never reused); `existing` opens one found on disk. */
  openAppend(path: string, mode: 'create' | 'existing'): Promise<StorageFile>;
  /** Creates or empties `path` for writing from offset 0. */
  openTruncate(path: string): Promise<StorageFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync the directory itself, making creations, renames and removals in it durable. */
  syncDir(dir: string): Promise<void>;
}

class NodeFile implements StorageFile {
  constructor(private readonly fh: FileHandle) {}

  async append(data: Uint8Array): Promise<void> {
    let off = 0;
    // Regular files practically never write short, but a partial write must not be mistaken for success.
    for (let tries = 0; off < data.byteLength; tries++) {
      if (tries > 1000) throw new Error('write made no progress');
      const { bytesWritten } = await this.fh.write(data, off, data.byteLength - off);
      off += bytesWritten;
    }
  }

  datasync(): Promise<void> {
    return this.fh.datasync();
  }

  sync(): Promise<void> {
    return this.fh.sync();
  }

  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
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
  rename(from, to) {
    return rename(from, to);
  },
  unlink(path) {
    return unlink(path);
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
