/**
 * A Storage that keeps nothing: for runtimes whose whole state lives in memory by design (the
 * Maelstrom lin-kv node: Maelstrom never restarts a node process). Persisting is a no-op, so the
 * driver's order (persist, then send) holds trivially; snapshots only compact the in-memory log.
 */
import type { DriverStorage } from './interfaces.js';

export const memoryStorage: DriverStorage = {
  persist: () => Promise.resolve(),
  prepareSnapshot: () => Promise.resolve(null),
  saveSnapshot: () => Promise.resolve(),
};
