import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FileRaftStorage,
  type FileStorageOptions,
  type StorageWarning,
} from '../../../src/raft/storage/file-storage.js';
import { nodeFs, type StorageFile, type StorageFs } from '../../../src/raft/storage/fs.js';
import type { Entry } from '../../../src/raft/types.js';

const dirs: string[] = [];

/** `memory`: prefer tmpfs, for tests that copy directories hundreds of times and model durability themselves. */
export function tempDir(memory = false): string {
  const root = memory && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const d = mkdtempSync(join(root, 'swarm-wal-'));
  dirs.push(d);
  return d;
}

export function cleanupDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

const opened: FileRaftStorage[] = [];

/**
 * A FileRaftStorage on `dir`, loaded, with the warnings its load reported (also handed to
 * `opts.onWarning`); `closeStoragesAndDirs` closes it.
 */
export async function openStorage(dir: string, opts: FileStorageOptions = {}) {
  const warnings: StorageWarning[] = [];
  const s = new FileRaftStorage(dir, {
    ...opts,
    onWarning: (w) => {
      warnings.push(w);
      opts.onWarning?.(w);
    },
  });
  opened.push(s);
  const rec = await s.load();
  return { s, rec, warnings };
}

/** After each storage test: every storage `openStorage` opened closed (a failing close ignored), the temp dirs removed. */
export async function closeStoragesAndDirs(): Promise<void> {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
  cleanupDirs();
}

/** Entry whose payload encodes its index and term, so a mix-up shows in comparisons. */
export function entry(index: number, term: number, size = 8): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { index, term, type: 0, data };
}

export function entries(from: number, to: number, term: number, size = 8): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, size));
  return out;
}

/** Comparable view of entries (Uint8Array vs Buffer subclasses compare unequal in toEqual). */
export function plain(es: readonly Entry[]): { index: number; term: number; type: number; data: number[] }[] {
  return es.map((e) => ({ index: e.index, term: e.term, type: e.type, data: Array.from(e.data) }));
}

export type FsEvent =
  'append' | 'datasync' | 'sync' | 'syncDir' | 'rename' | 'unlink' | 'create' | 'truncate';

/** Wraps a StorageFs: calls `hook` after each operation, optionally fails one. */
export function hookedFs(
  hook: (ev: FsEvent, path: string) => void | Promise<void>,
  base: StorageFs = nodeFs,
): StorageFs {
  const wrap = (f: StorageFile, path: string): StorageFile => ({
    async append(data) {
      await f.append(data);
      await hook('append', path);
    },
    async datasync() {
      await f.datasync();
      await hook('datasync', path);
    },
    async sync() {
      await f.sync();
      await hook('sync', path);
    },
    async truncate(n) {
      await f.truncate(n);
      await hook('truncate', path);
    },
    close: () => f.close(),
  });
  return {
    mkdirp: (d) => base.mkdirp(d),
    list: (d) => base.list(d),
    readFile: (p) => base.readFile(p),
    async openAppend(p, mode) {
      const f = wrap(await base.openAppend(p, mode), p);
      if (mode === 'create') await hook('create', p);
      return f;
    },
    async openTruncate(p) {
      const f = wrap(await base.openTruncate(p), p);
      await hook('create', p);
      return f;
    },
    async rename(a, b) {
      await base.rename(a, b);
      await hook('rename', b);
    },
    async unlink(p) {
      await base.unlink(p);
      await hook('unlink', p);
    },
    async syncDir(d) {
      await base.syncDir(d);
      await hook('syncDir', d);
    },
  };
}

/**
 * nodeFs with fsyncs turned into no-ops: for tests that model durability themselves (the crash
 * test tracks synced sizes) and would otherwise spend their time waiting on a shared disk.
 */
export const noSyncFs: StorageFs = {
  ...nodeFs,
  async openAppend(p, mode) {
    const f = await nodeFs.openAppend(p, mode);
    return { ...bind(f), datasync: async () => undefined, sync: async () => undefined };
  },
  async openTruncate(p) {
    const f = await nodeFs.openTruncate(p);
    return { ...bind(f), datasync: async () => undefined, sync: async () => undefined };
  },
  syncDir: async () => undefined,
};

function bind(f: StorageFile): StorageFile {
  return {
    append: (d) => f.append(d),
    datasync: () => f.datasync(),
    sync: () => f.sync(),
    truncate: (n) => f.truncate(n),
    close: () => f.close(),
  };
}
