/**
 * An in-memory RaftStorage with the failure model of a real disk: writes land
 * in a volatile buffer (the page cache) and become durable only at `sync`;
 * `crash()` throws the buffer away. The simulator keeps one SimDisk per node
 * across crashes and builds a fresh core from `loadNow()` on restart.
 *
 * Synchronous `*Now` methods let the deterministic driver avoid promises (a
 * microtask tick per step would slow the simulator and interleave nothing);
 * the async RaftStorage methods wrap them for code written against the interface.
 */
import type { Entry, HardState, RaftStorage, RecoveredState, Snapshot } from '../../raft/types.js';
import { termAt } from './invariants.js';

/** Deliberate storage bugs, used to prove that the invariant checker catches them. */
export type DiskFault =
  /** `sync` reports success but nothing becomes durable (a lying fsync / disabled write cache flush). */
  'lying-sync' | 'none';

type Pending =
  | { kind: 'append'; entries: readonly Entry[] }
  | { kind: 'hard'; hs: HardState }
  | { kind: 'snapshot'; snapshot: Snapshot };

interface Durable {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous. */
  entries: Entry[];
}

const EMPTY_HS: HardState = { term: 0, vote: null, commit: 0 };

export class SimDisk implements RaftStorage {
  private durable: Durable = { hardState: EMPTY_HS, snapshot: null, entries: [] };
  private pending: Pending[] = [];
  /** Counters for benchmarks and traces. */
  readonly stats = { syncs: 0, appended: 0, crashes: 0, lostWrites: 0 };

  constructor(private readonly fault: DiskFault = 'none') {}

  // --- synchronous API used by the simulator -------------------------------------------------

  loadNow(): RecoveredState {
    const d = this.durable;
    return { hardState: d.hardState, snapshot: d.snapshot, entries: d.entries.slice() };
  }

  appendNow(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.pending.push({ kind: 'append', entries: entries.slice() });
    this.stats.appended += entries.length;
  }

  setHardStateNow(hs: HardState): void {
    this.pending.push({ kind: 'hard', hs });
  }

  syncNow(): void {
    this.stats.syncs++;
    if (this.fault === 'lying-sync') return;
    for (const p of this.pending) this.applyDurable(p);
    this.pending = [];
  }

  saveSnapshotNow(snapshot: Snapshot): void {
    // A snapshot write is its own fsync, and it flushes the WAL writes before it too.
    this.pending.push({ kind: 'snapshot', snapshot });
    this.syncNow();
  }

  /** Power loss: every write since the last sync is gone. */
  crash(): void {
    this.stats.crashes++;
    this.stats.lostWrites += this.pending.length;
    this.pending = [];
  }

  /** The log as the core sees it after persisting its Ready (durable plus buffered writes). */
  viewLog(): { snapshot: Snapshot | null; entries: readonly Entry[] } {
    if (this.pending.length === 0) return { snapshot: this.durable.snapshot, entries: this.durable.entries };
    const copy: Durable = {
      hardState: this.durable.hardState,
      snapshot: this.durable.snapshot,
      entries: this.durable.entries.slice(),
    };
    for (const p of this.pending) applyTo(copy, p);
    return { snapshot: copy.snapshot, entries: copy.entries };
  }

  /** The durable image only: what a restart would find. */
  durableLog(): { snapshot: Snapshot | null; entries: readonly Entry[]; hardState: HardState } {
    return this.durable;
  }

  /** Term of the durable entry at `index` (snapshot boundary included), or undefined when absent. */
  durableTermAt(index: number): number | undefined {
    return termAt(this.durable.snapshot, this.durable.entries, index);
  }

  get unsyncedWrites(): number {
    return this.pending.length;
  }

  private applyDurable(p: Pending): void {
    applyTo(this.durable, p);
  }

  // --- RaftStorage ---------------------------------------------------------------------------

  load(): Promise<RecoveredState> {
    return Promise.resolve(this.loadNow());
  }
  append(entries: readonly Entry[]): void {
    this.appendNow(entries);
  }
  setHardState(hs: HardState): void {
    this.setHardStateNow(hs);
  }
  sync(): Promise<void> {
    this.syncNow();
    return Promise.resolve();
  }
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.saveSnapshotNow(snapshot);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function applyTo(d: Durable, p: Pending): void {
  if (p.kind === 'hard') {
    d.hardState = p.hs;
    return;
  }
  if (p.kind === 'snapshot') {
    const snap = p.snapshot;
    if (d.snapshot && d.snapshot.meta.index >= snap.meta.index) return;
    // Figure 13, rule 6: keep the entries after the snapshot only if the log agrees with it at its index.
    const agrees = termAt(d.snapshot, d.entries, snap.meta.index) === snap.meta.term;
    d.snapshot = snap;
    d.entries = agrees ? d.entries.filter((e) => e.index > snap.meta.index) : [];
    if (d.hardState.commit < snap.meta.index) d.hardState = { ...d.hardState, commit: snap.meta.index };
    return;
  }
  const first = p.entries[0]!.index;
  const snapIndex = d.snapshot?.meta.index ?? 0;
  // Entries at or below the snapshot are already covered by it.
  const fresh = p.entries.filter((e) => e.index > snapIndex);
  if (fresh.length === 0) return;
  const start = Math.max(first, snapIndex + 1);
  const keep = d.entries.filter((e) => e.index < start);
  const lastKept = keep.length > 0 ? keep[keep.length - 1]!.index : snapIndex;
  if (fresh[0]!.index !== lastKept + 1) {
    throw new RangeError(`append at ${fresh[0]!.index} leaves a gap after ${lastKept}`);
  }
  d.entries = keep.concat(fresh);
}
