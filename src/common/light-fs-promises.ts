/**
 * The few promise-returning file operations the Raft storage uses
 * (src/raft/storage/fs.ts), over node:fs's callback API. node:fs/promises
 * loads its FileHandle machinery, readline and streams with it (about 0.5 MB
 * of RSS in every node: docs/operations.md, "Memory"); these are the same
 * system calls on the same thread pool. `open` answers a LightFileHandle with
 * the members the storage calls, under FileHandle's names and semantics.
 */
import {
  close,
  fdatasync,
  fsync,
  ftruncate,
  mkdir as mkdirCb,
  open as openCb,
  readdir as readdirCb,
  readFile as readFileCb,
  rename as renameCb,
  unlink as unlinkCb,
  write,
  type MakeDirectoryOptions,
} from 'node:fs';

function done<T>(resolve: (v: T) => void, reject: (e: Error) => void) {
  return (err: NodeJS.ErrnoException | null, value: T): void => (err ? reject(err) : resolve(value));
}

export interface LightFileHandle {
  readonly fd: number;
  /** `position` null or absent: at the file position (or the end, in append mode). */
  write(
    data: Uint8Array,
    offset: number,
    length: number,
    position?: number | null,
  ): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** As FileHandle: this handle's file descriptor, closed once by close(). */
export type FileHandle = LightFileHandle;

class Handle implements LightFileHandle {
  constructor(readonly fd: number) {}

  write(
    data: Uint8Array,
    offset: number,
    length: number,
    position: number | null = null,
  ): Promise<{ bytesWritten: number }> {
    return new Promise((resolve, reject) =>
      write(this.fd, data, offset, length, position, (err, bytesWritten) =>
        err ? reject(err) : resolve({ bytesWritten }),
      ),
    );
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => fsync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  truncate(length: number): Promise<void> {
    return new Promise((resolve, reject) =>
      ftruncate(this.fd, length, (err) => (err ? reject(err) : resolve())),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => close(this.fd, (err) => (err ? reject(err) : resolve())));
  }
}

export function open(path: string, flags: string): Promise<LightFileHandle> {
  return new Promise((resolve, reject) =>
    openCb(path, flags, (err, fd) => (err ? reject(err) : resolve(new Handle(fd)))),
  );
}

export function mkdir(dir: string, options: MakeDirectoryOptions): Promise<string | undefined> {
  return new Promise((resolve, reject) => mkdirCb(dir, options, done(resolve, reject)));
}

export function readdir(dir: string): Promise<string[]> {
  return new Promise((resolve, reject) => readdirCb(dir, done(resolve, reject)));
}

export function readFile(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => readFileCb(path, done(resolve, reject)));
}

export function rename(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => renameCb(from, to, (err) => (err ? reject(err) : resolve())));
}

export function unlink(path: string): Promise<void> {
  return new Promise((resolve, reject) => unlinkCb(path, (err) => (err ? reject(err) : resolve())));
}
