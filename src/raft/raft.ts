/**
 * The Raft core's shared state (etcd's `raft` struct) and the primitives every
 * role uses: sending, the election timer, commit advancement and the
 * configuration changes it triggers. Internal: the public surface is RaftNode
 * (raft-node.ts); the per-role behaviour lives in roles.ts, follower.ts,
 * leader.ts and step.ts, the Ready in ready.ts. Fields are public so those
 * modules can share one object without getters; nothing outside src/raft sees it.
 */
import type { Rng } from '../common/rng.js';
import { decodeConfChange } from './confchange.js';
import { RaftError } from './errors.js';
import { sendHeartbeats } from './leader.js';
import { RaftLog } from './log.js';
import type { RaftMessage } from './messages.js';
import { mutations } from './mutations.js';
import type { RaftNodeOptions } from './options.js';
import { ReadOnly } from './read-only.js';
import { SnapshotReceiver, SnapshotSender } from './snapshot-stream.js';
import { ProgressTracker } from './tracker.js';
import {
  EntryType,
  type ConfState,
  type Entry,
  type HardState,
  type NodeId,
  type ReadState,
  type RecoveredState,
  type Snapshot,
  type SoftState,
} from './types.js';

export type InternalRole = 'follower' | 'precandidate' | 'candidate' | 'leader';

export class Raft {
  readonly id: NodeId;
  readonly opts: Required<RaftNodeOptions>;
  readonly rng: Rng;

  term: number;
  vote: NodeId | null;
  commit: number;
  /** Highest index the runtime has reported applied (via advance). */
  applied: number;
  /** Highest committed index handed out in a Ready. */
  handedOut: number;
  role: InternalRole = 'follower';
  leader: NodeId | null = null;
  conf: ConfState;
  /** Configuration at the log's snapshot index: the base for confAt(). */
  baseConf: ConfState;
  /** Committed ConfChange entries are folded into `conf` up to here. */
  confIndex: number;
  readonly log: RaftLog;
  /** Latest snapshot held (local or received): what lagging followers are sent. */
  snapshot: Snapshot | null;
  /** Received snapshot not yet handed out in a Ready. */
  unpersistedSnapshot: Snapshot | null = null;

  msgs: RaftMessage[] = [];
  readStates: ReadState[] = [];
  /** Hard and soft state as last handed out, to tell what changed since. */
  prevHard: HardState;
  prevSoft: SoftState | null = null;
  /** A leader's appends wait for the next Ready, so proposals between two Readys share one message. */
  needBcast = false;
  /** Leader: the commit index moved past what some follower was sent; flush() tells them (leader.ts). */
  commitNotifyDue = false;
  /** ... not before this `now` (RaftNodeOptions.commitNotifyDelayMs). */
  commitNotifyAt = 0;

  readonly tracker: ProgressTracker;
  votes = new Map<NodeId, boolean>();
  readonly reads = new ReadOnly();
  /** A snapshot being received chunk by chunk (follower). */
  readonly incoming = new SnapshotReceiver();
  readonly outgoing: SnapshotSender;

  private started = false;
  /** Latest `now` seen, for work done outside an event (flushing batched appends in ready()). */
  now = 0;
  electionDeadline = 0;
  electionScale = 1;
  /** Follower: the leader lease lasts electionTimeoutMinMs x this (RaftNode.setLeaseScale). */
  leaseScale = 1;
  /** Leader: heartbeat period and check-quorum window multiplier (RaftNode.setHeartbeatScale). */
  heartbeatScale = 1;
  heartbeatDeadline = 0;
  /** Heartbeat rounds sent as leader (see RaftNode.setLearnerHeartbeatRounds). */
  heartbeatRound = 0;
  learnerHeartbeatRounds = 1;
  /** Learners heartbeated every round whatever learnerHeartbeatRounds (RaftNode.setContactLearners). */
  contactLearners: ReadonlySet<NodeId> = new Set();
  checkQuorumDeadline = 0;
  lastLeaderContact = -Infinity;

  leadTransferee: NodeId | null = null;
  transferDeadline = 0;
  /** Index of the latest ConfChange (or the leader's no-op) that must commit before another change. */
  pendingConfIndex = 0;

  /**
   * > 0 while this node may lack entries it acknowledged before a damaged WAL
   * tail was cut (docs/raft.md "Recovering nodes"): it does not campaign, grant
   * votes, or let its answers count toward a leader's quorums until its commit
   * index, learned from a leader that counted a quorum without it, reaches this.
   */
  recoveringUntil = 0;
  recoveredPending = false;

  constructor(opts: Required<RaftNodeOptions>, recovered: RecoveredState, initialConf?: ConfState) {
    this.id = opts.id;
    this.opts = opts;
    this.rng = opts.rng;
    this.tracker = new ProgressTracker(opts.id, opts.maxInflightMsgs, opts.maxInflightBytes);
    this.outgoing = new SnapshotSender(opts.snapshotChunkBytes);
    const snap = recovered.snapshot;
    this.snapshot = snap;
    this.log = new RaftLog(snap?.meta.index ?? 0, snap?.meta.term ?? 0, recovered.entries);
    this.term = recovered.hardState.term;
    this.vote = recovered.hardState.vote;
    const snapIndex = snap?.meta.index ?? 0;
    this.commit = Math.min(Math.max(recovered.hardState.commit, snapIndex), this.log.lastIndex());
    this.applied = snapIndex;
    this.handedOut = snapIndex;
    this.conf = snap ? snap.meta.conf : (initialConf ?? { voters: [], learners: [] });
    this.baseConf = this.conf;
    this.confIndex = snapIndex;
    this.foldConfChanges();
    this.prevHard = { term: this.term, vote: this.vote, commit: this.commit };
    const until = recovered.recoveringUntil ?? 0;
    if (until > this.commit) {
      if (this.conf.voters.length === 1 && this.conf.voters[0] === this.id) {
        // The only voter: no other copy exists to catch up from.
        throw new RaftError(
          'unrecoverable_loss',
          `entries up to ${until} this single-voter node acknowledged were lost to a damaged WAL; restore the data directory from a backup`,
          { commit: this.commit, recoveringUntil: until },
        );
      }
      this.recoveringUntil = until;
    } else if (until > 0) {
      this.recoveredPending = true;
    }
  }

  /** Every event passes `now`: the first one arms the election timer. */
  start(now: number): void {
    if (now > this.now) this.now = now;
    if (this.started) return;
    this.started = true;
    this.resetElectionTimer(now);
  }

  resetElectionTimer(now: number): void {
    const min = this.opts.electionTimeoutMinMs * this.electionScale;
    const max = this.opts.electionTimeoutMaxMs * this.electionScale;
    this.electionDeadline = now + this.rng.int(Math.round(min), Math.round(max));
  }

  isVoter(): boolean {
    return this.conf.voters.includes(this.id);
  }

  send(m: RaftMessage): void {
    this.msgs.push(m);
  }

  /** The `recovering` flag every answer to a leader carries, so the leader does not count it. */
  recoveringFlag(): true | undefined {
    return this.recoveringUntil > 0 ? true : undefined;
  }

  softState(): SoftState {
    const role = this.role === 'follower' && this.conf.learners.includes(this.id) ? 'learner' : this.role;
    return { role, leader: this.leader };
  }

  committedAvailable(): number {
    return Math.min(this.commit, this.log.lastIndex());
  }

  appendLocal(type: EntryType, data: Uint8Array): Entry {
    const e: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.log.append([e]);
    this.needBcast = true;
    return e;
  }

  /** The configuration in force after applying entry `index` (index <= commit, >= snapshot index). */
  confAt(index: number): ConfState {
    let conf = this.baseConf;
    for (let i = this.log.snapshotIndex() + 1; i <= index; i++) {
      const e = this.log.entry(i);
      if (e && e.type === EntryType.ConfChange) conf = decodeConfChange(e.data).conf;
    }
    return { voters: [...conf.voters], learners: [...conf.learners] };
  }

  // ------------------------------------------------------- commit and conf

  setCommit(index: number): void {
    if (index <= this.commit) return;
    this.commit = index;
    this.foldConfChanges();
    if (
      this.role === 'leader' &&
      this.reads.hasAwaitingCommit() &&
      this.log.termAt(this.commit) === this.term
    ) {
      for (const id of this.reads.takeAwaitingCommit()) this.issueRead(id);
    }
  }

  /** Leader: advance commit to what a majority of voters holds, but only via an entry of this term (paper 5.4.2). */
  maybeCommit(): boolean {
    if (this.role !== 'leader') return false;
    const ci = this.tracker.committed(this.conf.voters);
    if (ci > this.commit && (this.log.termAt(ci) === this.term || mutations().commitNoCurrentTermCheck)) {
      this.setCommit(ci);
      this.commitNotifyDue = true;
      this.commitNotifyAt = this.now + this.opts.commitNotifyDelayMs;
      return true;
    }
    return false;
  }

  /** Leader: queue a read at the commit index for the next heartbeat round (a single voter answers at once). */
  issueRead(requestId: string): void {
    if (this.conf.voters.length === 1 && this.isVoter()) {
      this.readStates.push({ index: this.commit, requestId });
      return;
    }
    this.reads.add(requestId, this.commit);
  }

  /** Apply committed ConfChange entries to the configuration, in order. */
  private foldConfChanges(): void {
    while (this.confIndex < this.commit) {
      this.confIndex += 1;
      const e = this.log.entry(this.confIndex);
      if (!e || e.type !== EntryType.ConfChange) continue;
      const { conf } = decodeConfChange(e.data);
      this.conf = { voters: [...conf.voters], learners: [...conf.learners] };
      if (this.role === 'leader') this.onLeaderConfChange();
      if (this.role !== 'leader' && this.role !== 'follower' && !this.isVoter()) {
        this.role = 'follower';
      }
    }
  }

  private onLeaderConfChange(): void {
    if (this.tracker.reconfigure(this.conf, this.log.lastIndex())) this.needBcast = true;
    if (this.leadTransferee !== null && !this.conf.voters.includes(this.leadTransferee))
      this.leadTransferee = null;
    if (!this.isVoter()) {
      // Removed (or demoted): tell the others the change committed, then stop leading.
      sendHeartbeats(this, 0);
      this.role = 'follower';
      this.leader = null;
      this.tracker.clear();
      this.reads.reset();
      this.needBcast = false;
      this.commitNotifyDue = false;
      return;
    }
    this.maybeCommit();
  }
}
