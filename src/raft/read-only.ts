/**
 * ReadIndex bookkeeping of a leader (thesis 6.4, etcd's read_only.go): reads
 * wait for a heartbeat round that a majority acknowledges, proving this node
 * was still leader when the read arrived. Pure bookkeeping: the leader sends
 * the heartbeats and hands out the released reads.
 */
import { committedIndex } from './quorum.js';
import type { NodeId, ReadState } from './types.js';

interface PendingRead {
  readonly requestId: string;
  readonly index: number;
  /** The heartbeat round whose majority acknowledgement releases this read. */
  readonly ctx: number;
}

export class ReadOnly {
  /** Reads that arrived before an entry of this term committed: until then commit may lag the previous leader's. */
  private awaitingCommit: string[] = [];
  private pending: PendingRead[] = [];
  /** Round counter; never reset, so an acknowledgement from an earlier leadership cannot match a new round. */
  private seq = 0;
  private needRound = false;
  private acks = new Map<NodeId, number>();

  /** Reads not yet answered (for status). */
  get size(): number {
    return this.pending.length + this.awaitingCommit.length;
  }

  /** Forget every read: they are never answered once leadership is lost (callers time out). */
  reset(): void {
    this.pending = [];
    this.needRound = false;
    this.awaitingCommit = [];
    this.acks = new Map();
  }

  /** Park a read until an entry of the leader's term commits. */
  awaitCommit(requestId: string): void {
    this.awaitingCommit.push(requestId);
  }

  hasAwaitingCommit(): boolean {
    return this.awaitingCommit.length > 0;
  }

  /** The parked reads, now that commit is of the leader's term. */
  takeAwaitingCommit(): string[] {
    const waiting = this.awaitingCommit;
    this.awaitingCommit = [];
    return waiting;
  }

  /** Queue a read at `index` for the next heartbeat round. */
  add(requestId: string, index: number): void {
    this.pending.push({ requestId, index, ctx: this.seq + 1 });
    this.needRound = true;
  }

  /** Whether a round is due (reads arrived since the last one was sent). */
  roundDue(): boolean {
    return this.needRound;
  }

  /** Start the due round: one heartbeat round confirms every read that arrived since the last; returns its ctx. */
  startRound(): number {
    this.needRound = false;
    this.seq += 1;
    return this.seq;
  }

  /** The ctx a periodic heartbeat carries: the latest round while reads wait, so a lost round is retried. */
  heartbeatCtx(): number {
    return this.pending.length > 0 ? this.seq : 0;
  }

  /** `from` acknowledged round `ctx`: returns the reads a majority has now confirmed, in order. */
  ack(from: NodeId, ctx: number, voters: readonly NodeId[], self: NodeId): ReadState[] {
    if (ctx <= 0 || ctx <= (this.acks.get(from) ?? 0)) return [];
    this.acks.set(from, ctx);
    const confirmed = committedIndex(voters, (id) =>
      id === self ? Number.MAX_SAFE_INTEGER : (this.acks.get(id) ?? 0),
    );
    const out: ReadState[] = [];
    while (this.pending.length > 0) {
      const r = this.pending[0];
      if (!r || r.ctx > confirmed) break;
      this.pending.shift();
      out.push({ index: r.index, requestId: r.requestId });
    }
    return out;
  }
}
