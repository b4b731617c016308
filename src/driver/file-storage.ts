/**
 * The driver's Storage over the project's WAL (src/raft/storage): persistReady
 * for a Ready, prepare + save for a background snapshot. Used by the daemon and,
 * over a simulated file system, by the simulator.
 */
import type { PreparedSnapshot } from '../raft/storage/file-storage.js';
import type { FileRaftStorage } from '../raft/storage/file-storage.js';
import { persistReady } from '../raft/storage/persist.js';
import type { DriverStorage } from './interfaces.js';

export function walStorage(storage: FileRaftStorage): DriverStorage {
  return {
    persist: (rd) => persistReady(storage, rd),
    prepareSnapshot: (snap) => storage.prepareSnapshot(snap),
    saveSnapshot: (snap, prepared) => storage.saveSnapshot(snap, prepared as PreparedSnapshot),
  };
}
