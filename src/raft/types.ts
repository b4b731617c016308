/**
 * The contract between the sans-I/O Raft core and whatever drives it
 * (the node runtime, the deterministic simulator, the Maelstrom adapter).
 *
 * The driver loop, modelled on etcd-io/raft's RawNode:
 *   1. feed events: `tick(now)`, `step(msg, now)`, `propose(...)`, ...
 *   2. `if (core.hasReady()) { const rd = core.ready(); ... }`
 *   3. persist `rd.hardState`, `rd.entries`, `rd.snapshot` durably (one fsync),
 *   4. then send `rd.messages`, apply `rd.committed` to the state machine,
 *      answer `rd.readStates` once the applied index reaches their index,
 *   5. `core.advance(rd)`.
 * Messages may only leave after the state they depend on is durable (step 3
 * before 4), except the first `rd.earlyCount`, which depend on nothing
 * unsynced and may leave during step 3; the core never touches a clock, a
 * socket, a disk or Math.random.
 */

export type NodeId = string;

/** Entry kinds. Numeric so the wire and disk formats stay compact. */
export const EntryType = {
  /** Application command (an empty `data` is the leader's no-op of a new term). */
  Normal: 0,
  /** Membership change; `data` is an encoded ConfChange. */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be on disk before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** Opaque state-machine image at `meta.index`. */
  readonly data: Uint8Array;
}

/** What a node finds on disk when it starts; the core is constructed from it. */
export interface RecoveredState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous, ascending. */
  readonly entries: readonly Entry[];
  /**
   * > 0: recovery found damage that may have destroyed entries this node
   * acknowledged, up to this index (docs/storage.md). The node neither votes
   * nor counts toward a quorum until its commit index, learned from a leader,
   * reaches it (docs/raft.md "Recovering nodes").
   */
  readonly recoveringUntil?: number;
}

/**
 * Durable storage the runtime (and the simulator's in-memory disk) provides.
 * `append` overwrites any stored suffix starting at `entries[0].index`
 * (a follower truncating a conflicting tail). Nothing is durable until the
 * promise of `sync` resolves: one fsync covers every write since the last one.
 */
export interface RaftStorage {
  load(): Promise<RecoveredState>;
  append(entries: readonly Entry[]): void;
  setHardState(hs: HardState): void;
  sync(): Promise<void>;
  /** Write a snapshot durably (temp file, fsync, rename) and drop log entries up to its index. */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** Durably forget the "recovering until" marker found by load(): the node caught up. */
  clearRecovering?(): Promise<void>;
  close(): Promise<void>;
}

export type Role = 'follower' | 'candidate' | 'precandidate' | 'leader' | 'learner';

/** Volatile state worth reporting; present in a Ready only when it changed. */
export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId | null;
}

/** A linearizable read is safe once the applied index reaches `index`. */
export interface ReadState {
  readonly index: number;
  readonly requestId: string;
}

/** Every Raft message carries at least these; the core defines the full union. */
export interface MessageBase {
  readonly type: string;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}
