/**
 * The runtime's persist step for one Ready, in the only safe order: the snapshot first (it may
 * reset the log end that the entries extend), then hard state and entries, then one sync.
 * Typed structurally so that any driver's Ready fits without this folder importing the core.
 */
import type { Entry, HardState, RaftStorage, Snapshot } from '../types.js';

export interface PersistableReady {
  readonly snapshot?: Snapshot;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  /** False when only the commit index changed: the write may ride along with the next sync. */
  readonly mustSync?: boolean;
  /** The core caught up after a loss of acknowledged entries: clear the durable marker. */
  readonly recovered?: boolean;
}

/** Resolves once everything in `rd` that must be durable before sending its messages is durable. */
export async function persistReady(storage: RaftStorage, rd: PersistableReady): Promise<void> {
  if (rd.snapshot) await storage.saveSnapshot(rd.snapshot);
  if (rd.hardState) storage.setHardState(rd.hardState);
  if (rd.entries.length > 0) storage.append(rd.entries);
  if (rd.mustSync !== false || rd.entries.length > 0) await storage.sync();
  if (rd.recovered === true) await storage.clearRecovering?.();
}
