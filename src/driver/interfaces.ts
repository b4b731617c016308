/**
 * What the one Raft driver (raft-driver.ts) runs over. The daemon implements
 * these with the file-backed WAL, encrypted TCP and Node's timers; the
 * simulator with a simulated file system under the same WAL code, a simulated
 * network with the real frame limit, and virtual time. Nothing else differs
 * between a daemon and a simulated node, so the simulator exercises the loop
 * that runs in production.
 */
import type { RaftMessage } from '../raft/messages.js';
import type { Ready } from '../raft/raft-node.js';
import type { Snapshot } from '../raft/types.js';

/** Durable Raft state. Loading happens before the driver starts (the owner builds the core from it). */
export interface DriverStorage {
  /**
   * Makes a Ready's snapshot, hard state and entries durable (one fsync when the Ready needs one).
   * A rejection means the log is in an unknown state: the driver stops (fail-stop).
   */
  persist(rd: Ready): Promise<void>;
  /** Writes and syncs a snapshot file beside the log, without touching the log (off the write lock). */
  prepareSnapshot(snapshot: Snapshot): Promise<unknown>;
  /** Moves a prepared snapshot into place and compacts the log up to it; keeps a newer one already saved. */
  saveSnapshot(snapshot: Snapshot, prepared: unknown): Promise<void>;
}

/** Outcome of handing a message to the transport; everything but `queued` means it was dropped. */
export type SendOutcome = 'queued' | 'oversize' | 'invalid' | 'backpressure' | 'closed' | 'unknown-peer';

export interface DriverTransport {
  /** Queues `msg` for `msg.to`. Losses are tolerated by Raft; the driver does not retry. */
  send(msg: RaftMessage): SendOutcome;
  /** The largest frame the transport carries (an encoded message above it is dropped). */
  readonly maxFrameBytes: number;
}

export interface DriverClock {
  /** Milliseconds on the clock the core's timers read (any monotonic origin). */
  now(): number;
  /** High-resolution milliseconds, for latency metrics only. */
  preciseNow(): number;
  /** Resolves on the next turn of the event loop, after the work already queued for this one. */
  nextTurn(): Promise<void>;
  /** Calls `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
  /**
   * Calls `fn` once after `ms` unless the returned function is called first. With it the driver
   * wakes only at the core's next deadline (RaftNode.nextDeadline) instead of every tickMs.
   */
  after?(ms: number, fn: () => void): () => void;
}
