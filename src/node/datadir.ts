/**
 * The files a node keeps in its data dir:
 *   node.id    stable node id, generated once
 *   node.lock  exclusive lock (O_EXCL) holding the owner's PID; one node per data dir
 *   node.pid   PID of the running node (conventional pidfile for scripts)
 *   node.json  runtime info (pid, id, name, API URL) so the CLI finds the node
 *              even when its API port was picked by the OS
 *   node.log   daemon output (structured JSON lines)
 *
 * A PID alone is not proof of ownership: after a SIGKILL the PID may be reused by
 * an unrelated process. On Linux the process start time (/proc/<pid>/stat field 22)
 * is stored next to the PID and must match too.
 */
import { randomBytes } from '../common/random.js';
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { SwarmError } from '../common/errors.js';
import { writeFileAtomic } from '../common/atomic-write.js';

export const FILES = {
  id: 'node.id',
  lock: 'node.lock',
  pid: 'node.pid',
  runtime: 'node.json',
  log: 'node.log',
} as const;

/** The data dir is held by another live node. */
export class DataDirLockedError extends SwarmError {
  constructor(dataDir: string, pid: number) {
    super('data_dir_locked', `data dir ${dataDir} is in use by another node (PID ${pid}); stop it first`, {
      fields: { dataDir, pid },
    });
  }
}

export interface ProcessRef {
  readonly pid: number;
  /** Kernel start time of the process (Linux clock ticks since boot); null where unknown. */
  readonly start: number | null;
}

/** Start time of a process from /proc, or null when /proc is unavailable or the PID is gone. */
interface ProcStat {
  readonly state: string;
  readonly start: number | null;
}

/** State and start time from /proc/<pid>/stat; null when /proc is unavailable or the PID is gone. */
function procStat(pid: number): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parens; fields resume after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(rest[19]);
    return { state: rest[0] ?? '', start: Number.isFinite(v) ? v : null };
  } catch {
    return null;
  }
}

export function processStartTime(pid: number): number | null {
  return procStat(pid)?.start ?? null;
}

export function selfRef(): ProcessRef {
  return { pid: process.pid, start: processStartTime(process.pid) };
}

/** How long `swarm node stop` waits for the process to exit. */
export const STOP_WAIT_MS = 15_000;

/** Wait until a process is gone, looking every `pollMs`; false on timeout. */
export async function waitForExit(ref: ProcessRef, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(ref)) return true;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return !isAlive(ref);
}

/** waitForExit, or the `stop_timeout` error `swarm node stop` reports (the full program and its fast path). */
export async function awaitStopped(ref: ProcessRef, timeoutMs = STOP_WAIT_MS, pollMs = 50): Promise<void> {
  if (!(await waitForExit(ref, timeoutMs, pollMs)))
    throw new SwarmError('stop_timeout', `node PID ${ref.pid} did not exit within ${timeoutMs / 1000} s`);
}

/**
 * True when the process exists and (where checkable) is the same process that
 * wrote the ref. A zombie counts as gone: a daemon whose parent has exited is
 * reaped by PID 1, which in containers may take its time.
 */
export function isAlive(ref: ProcessRef): boolean {
  if (!Number.isInteger(ref.pid) || ref.pid <= 0) return false;
  try {
    process.kill(ref.pid, 0);
  } catch (err) {
    // ESRCH: gone. EPERM: exists but belongs to someone else; check it is still the same process.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const st = procStat(ref.pid);
  if (st === null) return true; // no /proc: kill(0) is all we can know
  if (st.state === 'Z' || st.state === 'X') return false;
  return ref.start === null || st.start === null || st.start === ref.start;
}

function parseRef(text: string): ProcessRef | null {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { pid: Number(t), start: null };
  try {
    const v = JSON.parse(t) as { pid?: unknown; start?: unknown };
    if (typeof v.pid !== 'number') return null;
    return { pid: v.pid, start: typeof v.start === 'number' ? v.start : null };
  } catch {
    return null;
  }
}

export function readLock(dataDir: string): ProcessRef | null {
  try {
    return parseRef(readFileSync(join(dataDir, FILES.lock), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Move a stale lock aside rather than deleting it, so that two starters racing
 * to reclaim the same stale lock cannot delete the fresh lock the winner just
 * created: whoever moved a lock that is not the stale one puts it back.
 */
export function reclaimStale(path: string, stale: ProcessRef | null): void {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  let moved: ProcessRef | null = null;
  try {
    moved = parseRef(readFileSync(aside, 'utf8'));
  } catch {
    // unreadable: treat as the stale one
  }
  const same = moved === null || stale === null || (moved.pid === stale.pid && moved.start === stale.start);
  if (!same) {
    try {
      linkSync(aside, path);
    } catch {
      // the slot was taken again meanwhile; the retry will find that owner
    }
  }
  rmSync(aside, { force: true });
}

export interface LockHandle {
  readonly path: string;
  /** PID of a dead previous owner whose lock was reclaimed, if any. */
  readonly reclaimedFrom: number | null;
  release(): void;
}

/** Take the data dir's exclusive lock; a lock left by a dead process is reclaimed. */
export function acquireLock(dataDir: string): LockHandle {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, FILES.lock);
  const me = selfRef();
  let reclaimedFrom: number | null = null;
  // A retry follows the removal of a stale lock (or losing a race for it).
  for (let attempt = 0; attempt < 3; attempt++) {
    // Write the PID to a private file, then hard-link it into place: link() fails
    // with EEXIST like O_EXCL, but the lock never exists half-written.
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      writeSync(fd, `${JSON.stringify(me)}\n`);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readLock(dataDir);
      if (owner && owner.pid !== process.pid && isAlive(owner))
        throw new DataDirLockedError(dataDir, owner.pid);
      reclaimedFrom = owner?.pid ?? null;
      reclaimStale(path, owner);
      continue;
    } finally {
      rmSync(tmp, { force: true });
    }
    return {
      path,
      reclaimedFrom,
      release: () => {
        const owner = readLock(dataDir);
        if (owner?.pid === process.pid) rmSync(path, { force: true });
      },
    };
  }
  const owner = readLock(dataDir);
  throw new DataDirLockedError(dataDir, owner?.pid ?? 0);
}

/** The node id kept in the data dir, generated on first use (64 random bits, hex). */
export function loadOrCreateNodeId(dataDir: string): string {
  const path = join(dataDir, FILES.id);
  try {
    const id = readFileSync(path, 'utf8').trim();
    if (/^[0-9a-f]{16}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomBytes(8).toString('hex');
  writeFileAtomic(path, `${id}\n`, 0o644);
  return id;
}

/** What a running node publishes about itself for the CLI. */
export interface RuntimeInfo {
  readonly pid: number;
  readonly start: number | null;
  readonly id: string;
  readonly name: string;
  readonly api_url: string;
  readonly started_at: string;
}

export function writeRuntime(dataDir: string, info: RuntimeInfo): void {
  writeFileAtomic(join(dataDir, FILES.runtime), `${JSON.stringify(info)}\n`, 0o644);
  writeFileAtomic(join(dataDir, FILES.pid), `${info.pid}\n`, 0o644);
}

export function readRuntime(dataDir: string): RuntimeInfo | null {
  try {
    const v = JSON.parse(readFileSync(join(dataDir, FILES.runtime), 'utf8')) as Partial<RuntimeInfo>;
    if (typeof v.pid !== 'number' || typeof v.api_url !== 'string') return null;
    return {
      pid: v.pid,
      start: typeof v.start === 'number' ? v.start : null,
      id: String(v.id ?? ''),
      name: String(v.name ?? ''),
      api_url: v.api_url,
      started_at: String(v.started_at ?? ''),
    };
  } catch {
    return null;
  }
}

export function readPidfile(dataDir: string): number | null {
  try {
    const t = readFileSync(join(dataDir, FILES.pid), 'utf8').trim();
    return /^\d+$/.test(t) ? Number(t) : null;
  } catch {
    return null;
  }
}

/** Remove the pidfile and runtime info (on clean exit, or when found stale). */
export function clearRuntime(dataDir: string): void {
  rmSync(join(dataDir, FILES.runtime), { force: true });
  rmSync(join(dataDir, FILES.pid), { force: true });
}

export type NodeProcessState =
  | { readonly state: 'running'; readonly ref: ProcessRef; readonly runtime: RuntimeInfo | null }
  | { readonly state: 'stale'; readonly pid: number }
  | { readonly state: 'none' };

/**
 * What the data dir says about its node: running (lock held by a live process),
 * stale (files left by a dead process: cleaned here), or none.
 */
export function inspectDataDir(dataDir: string): NodeProcessState {
  const lock = readLock(dataDir);
  const runtime = readRuntime(dataDir);
  if (lock && isAlive(lock)) {
    return { state: 'running', ref: lock, runtime: runtime && runtime.pid === lock.pid ? runtime : null };
  }
  const stalePid = lock?.pid ?? runtime?.pid ?? readPidfile(dataDir);
  if (stalePid !== null && stalePid !== undefined) {
    clearRuntime(dataDir);
    if (lock) reclaimStale(join(dataDir, FILES.lock), lock);
    return { state: 'stale', pid: stalePid };
  }
  return { state: 'none' };
}
