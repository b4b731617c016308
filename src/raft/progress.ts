/**
 * What the leader knows about one follower's log (etcd's tracker/progress.go).
 *
 * - probe: we do not know where the logs match; one AppendEntries per
 *   heartbeat interval until an answer arrives, so a rejected probe does not
 *   flood the link.
 * - replicate: the follower is keeping up; appends are pipelined with `next`
 *   advanced optimistically, bounded by unacknowledged messages AND their
 *   bytes (etcd's tracker/inflights.go): a count limit alone lets 64 batches of
 *   large values pile up megabytes in socket buffers.
 * - snapshot: an InstallSnapshot is on its way; nothing else is sent until it
 *   is answered or presumed lost.
 */
import type { NodeId, Snapshot } from './types.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: a message is out and unanswered. */
  probeSent = false;
  /** Last index of each unacknowledged pipelined append, ascending. */
  inflight: number[] = [];
  /** Payload bytes of each entry of `inflight`, same order. */
  private inflightSizes: number[] = [];
  /** Sum of `inflightSizes`. */
  inflightBytes = 0;
  /**
   * The follower said (on its latest answer) that it may have lost entries it
   * acknowledged and has not caught up yet: its answers do not count toward
   * any quorum (commit, ReadIndex, check-quorum). See docs/raft.md "Recovering nodes".
   */
  recovering = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** When `match` last advanced (or replication started): detects a pipeline whose messages were lost or reordered away. */
  lastProgressAt = 0;
  /** Snapshot index in flight (snapshot state) and when it was sent. */
  pendingSnapshot = 0;
  snapshotSentAt = 0;
  /** The snapshot being streamed (kept even if the leader takes a newer one meanwhile) and the offset the follower asked for. */
  snapshot: Snapshot | null = null;
  snapshotOffset = 0;
  /**
   * The highest commit index sent to this follower (by a heartbeat, or an append it can adopt up to
   * its last entry): a learner skipping heartbeat rounds still gets the next one after a commit.
   */
  commitSent = 0;
  readonly isLearner: boolean;

  constructor(
    readonly id: NodeId,
    next: number,
    isLearner: boolean,
  ) {
    this.next = next;
    this.isLearner = isLearner;
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot's index.
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = 'probe';
    this.probeSent = false;
    this.clearInflight();
    this.pendingSnapshot = 0;
    this.snapshot = null;
    this.snapshotOffset = 0;
  }

  private clearInflight(): void {
    this.inflight = [];
    this.inflightSizes = [];
    this.inflightBytes = 0;
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.probeSent = false;
    this.clearInflight();
  }

  becomeSnapshot(index: number, now: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.snapshotSentAt = now;
    this.clearInflight();
  }

  /** Record a successful answer; returns true if `match` moved forward. */
  maybeUpdate(match: number): boolean {
    let updated = false;
    if (match > this.match) {
      this.match = match;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < match + 1) this.next = match + 1;
    while (this.inflight.length > 0 && (this.inflight[0] ?? 0) <= match) {
      this.inflight.shift();
      this.inflightBytes -= this.inflightSizes.shift() ?? 0;
    }
    return updated;
  }

  /**
   * Record a rejection of the append that had `prevLogIndex = rejected`;
   * returns false when the rejection is stale (an older message's answer).
   *
   * `followerLast` is the follower's last index. Below `match` it means the
   * follower's log got shorter than what it once acknowledged: only a repair of
   * its WAL tail does that (docs/storage.md), and such a follower flags itself
   * recovering, so lowering `match` never withdraws a vote a commit relied on.
   * Without this, `next` could never go below match + 1 and the leader would
   * re-send the same rejected append forever. A stale answer that happens to
   * satisfy the test only costs one extra probe: lowering `match` is always safe.
   */
  maybeDecrTo(rejected: number, hintNext: number, followerLast = Infinity): boolean {
    if (followerLast < this.match) {
      this.match = Math.max(0, followerLast);
      this.next = Math.max(this.match + 1, Math.min(hintNext, followerLast + 1));
      this.state = 'probe';
      this.probeSent = false;
      this.clearInflight();
      this.pendingSnapshot = 0;
      this.snapshot = null;
      return true;
    }
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = Math.max(this.match + 1, Math.min(hintNext, rejected));
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(this.match + 1, Math.min(hintNext, rejected));
    this.probeSent = false;
    return true;
  }

  /** Whether the leader should hold back further appends to this follower. */
  isPaused(maxInflight: number, maxInflightBytes = Infinity): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= maxInflight || this.inflightBytes >= maxInflightBytes;
      case 'snapshot':
        return true;
    }
  }

  /** Account for an append just sent whose last entry is `last`, carrying `bytes` of entry payload. */
  sentAppend(last: number, entryCount: number, bytes = 0): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = last + 1;
        this.inflight.push(last);
        this.inflightSizes.push(bytes);
        this.inflightBytes += bytes;
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }
}
