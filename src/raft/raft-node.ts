/**
 * RaftNode: the sans-I/O Raft state machine and its Ready/advance driver
 * (etcd's raft.go + rawnode.go). No clock, socket, disk or Math.random:
 * time arrives as `now` (ms, any monotonic origin), randomness from `opts.rng`.
 *
 * Driver loop (see also types.ts):
 * ```
 *   node.tick(now); node.step(msg, now); node.propose(data, now); ...
 *   if (node.hasReady()) {
 *     const rd = node.ready();
 *     // 1. durable, in this order, one fsync for all three:
 *     //    rd.snapshot (saveSnapshot), rd.entries (append; overwrites the stored
 *     //    suffix from rd.entries[0].index), rd.hardState (setHardState); sync()
 *     //    (only when rd.mustSync; a commit-only hardState may be written lazily)
 *     //    the first rd.earlyCount of rd.messages may be sent before or during step 1
 *     // 2. send rd.messages (any order, any transport; losses are tolerated)
 *     // 3. if rd.snapshot: restore the state machine from it
 *     //    apply rd.committed in order (ConfChange entries are informational:
 *     //    the core has already applied them to its configuration)
 *     // 4. answer rd.readStates once the applied index >= their index
 *     node.advance(rd);
 *   }
 * ```
 * Durability contract: a message in `rd.messages` may depend on that Ready's
 * hardState (a vote), entries (a follower's acknowledgement) or snapshot, so
 * it may not leave before step 1 completes, except for the first
 * `rd.earlyCount`: they depend on nothing unsynced and may leave at once,
 * overlapping the fsync with the network round trip: a leader's appends and
 * heartbeats once its term is durable (it counts its own copy toward a commit
 * only in advance(), thesis 10.2.1), and vote requests (a candidate counts its
 * own vote only in the advance() that made it durable, as etcd's asynchronous
 * storage does).
 * `ready()` may not be called again before `advance()`; `step`, `tick` and
 * `propose` may be called in between.
 */
import type { Rng } from '../common/rng.js';
import {
  applyConfChange,
  decodeConfChange,
  encodeConfChange,
  validateConfChange,
  type ConfChange,
} from './confchange.js';
import { RaftError } from './errors.js';
import { entryBytes, RaftLog } from './log.js';
import { crc32 } from '../common/crc32.js';
import type {
  AppendEntriesMsg,
  AppendEntriesResponseMsg,
  HeartbeatMsg,
  InstallSnapshotMsg,
  InstallSnapshotResponseMsg,
  RaftMessage,
  RequestVoteMsg,
} from './messages.js';
import { mutations } from './mutations.js';
import { Progress, type ProgressState } from './progress.js';
import { committedIndex, isMajority, voteResult } from './quorum.js';
import { canGrantVote, findConflict, followerCommit, isUpToDate, logMatches } from './rules.js';
import {
  EntryType,
  type ConfState,
  type Entry,
  type HardState,
  type NodeId,
  type ReadState,
  type RecoveredState,
  type Snapshot,
  type SnapshotMeta,
  type SoftState,
} from './types.js';

export interface RaftNodeOptions {
  readonly id: NodeId;
  /** Election timeouts are drawn uniformly from [min, max] on every reset (paper 5.2). */
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
  /** Must be well below electionTimeoutMinMs, or followers start elections under a live leader. */
  readonly heartbeatIntervalMs: number;
  readonly rng: Rng;
  /** Thesis 9.6: a node campaigns only after a majority says it could win; default true. */
  readonly preVote?: boolean;
  /**
   * Thesis 6.2: a leader steps down when it has not heard from a majority for
   * electionTimeoutMinMs, and followers that heard a leader within that time
   * ignore vote requests (the leader lease). Default true.
   */
  readonly checkQuorum?: boolean;
  /** Pipelined, unacknowledged AppendEntries per follower. Default 64. */
  readonly maxInflightMsgs?: number;
  /** Entries per AppendEntries. Default 512. */
  readonly maxEntriesPerMsg?: number;
  /**
   * Entry bytes per AppendEntries (etcd's MaxSizePerMsg); a single larger entry
   * still goes alone. Keeps every append far below the transport's frame limit
   * (16 MiB): a batch of 512 entries of 64 KiB would be 32 MiB and be dropped
   * every time, stalling replication for good. Default 1 MiB.
   */
  readonly maxSizePerMsg?: number;
  /** Unacknowledged entry bytes per follower (etcd's MaxInflightBytes). Default 8 MiB. */
  readonly maxInflightBytes?: number;
  /** Bytes of snapshot image per InstallSnapshot chunk. Default 1 MiB. */
  readonly snapshotChunkBytes?: number;
  /** Committed entries per Ready, so a restart replaying a long log does not build one huge batch. Default 4096. */
  readonly maxCommittedPerReady?: number;
}

/** What the runtime must persist, send and apply; see the module comment for the order. */
export interface Ready {
  /** Present only when role or leader changed since the previous Ready. */
  readonly softState?: SoftState;
  /** Present only when term, vote or commit changed. */
  readonly hardState?: HardState;
  /** Entries to append durably; the first one may overwrite a stored suffix. */
  readonly entries: readonly Entry[];
  /**
   * A snapshot received from the leader: persist it, then restore the state
   * machine from it. Stored entries after its index survive only if the stored
   * log holds its index with its term (paper figure 13, rule 6); otherwise the
   * whole log is replaced, as the core's own log already is.
   */
  readonly snapshot?: Snapshot;
  /** Send only after hardState, entries and snapshot are durable, except for the first `earlyCount`. */
  readonly messages: readonly RaftMessage[];
  /**
   * How many messages at the start of `messages` may be sent before this Ready
   * is durable (see the module comment). Sending them afterwards is also correct.
   */
  readonly earlyCount: number;
  /** Committed entries to apply, in index order, after the snapshot (if any). */
  readonly committed: readonly Entry[];
  /** ReadIndex answers: serve each read once the state machine has applied `index`. */
  readonly readStates: readonly ReadState[];
  /** Whether step 1 needs an fsync (false when only the commit index changed). */
  readonly mustSync: boolean;
  /**
   * True once: a node that started recovering (RecoveredState.recoveringUntil)
   * has caught up; the runtime clears the durable marker (storage.clearRecovering).
   * Clearing it late is safe: the node only stays excluded from quorums longer.
   */
  readonly recovered: boolean;
}

export type ProposeRejection = 'not_leader' | 'transferring' | 'conf_change_pending' | 'invalid_conf_change';

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | {
      readonly ok: false;
      readonly reason: ProposeRejection;
      readonly leader: NodeId | null;
      readonly detail?: string;
    };

export type ReadIndexResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'not_leader'; readonly leader: NodeId | null };

export type TransferResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: 'not_leader' | 'not_a_voter' | 'is_self';
      readonly leader: NodeId | null;
    };

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly inflight: number;
  readonly inflightBytes: number;
  readonly learner: boolean;
  readonly recovering: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: SoftState['role'];
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly snapshotIndex: number;
  readonly conf: ConfState;
  readonly leadTransferee: NodeId | null;
  readonly pendingReads: number;
  /** > 0 while this node may lack entries it acknowledged (see recoveringUntil). */
  readonly recoveringUntil: number;
  /** Per-follower replication state; only on the leader. */
  readonly progress: Readonly<Record<NodeId, ProgressStatus>> | null;
}

type InternalRole = 'follower' | 'precandidate' | 'candidate' | 'leader';

interface PendingRead {
  readonly requestId: string;
  readonly index: number;
  readonly ctx: number;
}

const EMPTY = new Uint8Array(0);

interface IncomingSnapshot {
  readonly from: NodeId;
  readonly term: number;
  readonly meta: SnapshotMeta;
  readonly totalBytes: number;
  readonly crc: number;
  readonly chunks: Uint8Array[];
  received: number;
  runningCrc: number;
}

function concatChunks(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.byteLength === total) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

export class RaftNode {
  readonly id: NodeId;
  private readonly opts: Required<RaftNodeOptions>;
  private readonly rng: Rng;

  private term: number;
  private vote: NodeId | null;
  private commit: number;
  /** Highest index the runtime has reported applied (via advance). */
  private applied: number;
  /** Highest committed index handed out in a Ready. */
  private handedOut: number;
  private role: InternalRole = 'follower';
  private leader: NodeId | null = null;
  private conf: ConfState;
  /** Configuration at the log's snapshot index: the base for confAt(). */
  private baseConf: ConfState;
  /** Committed ConfChange entries are folded into `conf` up to here. */
  private confIndex: number;
  private readonly log: RaftLog;
  /** Latest snapshot held (local or received): what lagging followers are sent. */
  private snapshot: Snapshot | null;
  /** Received snapshot not yet handed out in a Ready. */
  private unpersistedSnapshot: Snapshot | null = null;

  private msgs: RaftMessage[] = [];
  private readStates: ReadState[] = [];
  private prevHard: HardState;
  private prevSoft: SoftState | null = null;
  private outstanding: Ready | null = null;
  private needBcast = false;

  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();

  private started = false;
  /** Latest `now` seen, for work done outside an event (flushing batched appends in ready()). */
  private now = 0;
  private electionDeadline = 0;
  private electionScale = 1;
  private heartbeatDeadline = 0;
  private checkQuorumDeadline = 0;
  private lastLeaderContact = -Infinity;

  private leadTransferee: NodeId | null = null;
  private transferDeadline = 0;
  /** Index of the latest ConfChange (or the leader's no-op) that must commit before another change. */
  private pendingConfIndex = 0;

  /**
   * > 0 while this node may lack entries it acknowledged before a damaged WAL
   * tail was cut (docs/raft.md "Recovering nodes"): it does not campaign, grant
   * votes, or let its answers count toward a leader's quorums until its commit
   * index, learned from a leader that counted a quorum without it, reaches this.
   */
  private recoveringUntil = 0;
  private recoveredPending = false;
  /** A snapshot being received chunk by chunk (follower). */
  private incoming: IncomingSnapshot | null = null;
  /** CRC-32 of the held snapshot's image, computed once for every follower it is streamed to. */
  private snapshotCrc: { snap: Snapshot; crc: number } | null = null;

  private readsAwaitingCommit: string[] = [];
  private pendingReads: PendingRead[] = [];
  private readSeq = 0;
  private needReadRound = false;
  private readAcks = new Map<NodeId, number>();

  /**
   * @param recovered what the runtime loaded from disk (empty for a new node).
   * @param initialConf the bootstrap configuration, used when `recovered` has
   *   no snapshot; give every founding member the same one, and a joining
   *   node none (it learns the configuration from the leader).
   */
  constructor(opts: RaftNodeOptions, recovered: RecoveredState, initialConf?: ConfState) {
    if (!(opts.electionTimeoutMinMs > 0 && opts.electionTimeoutMaxMs >= opts.electionTimeoutMinMs)) {
      throw new RaftError('bad_options', 'need 0 < electionTimeoutMinMs <= electionTimeoutMaxMs', {
        min: opts.electionTimeoutMinMs,
        max: opts.electionTimeoutMaxMs,
      });
    }
    if (!(opts.heartbeatIntervalMs > 0 && opts.heartbeatIntervalMs < opts.electionTimeoutMinMs)) {
      throw new RaftError('bad_options', 'need 0 < heartbeatIntervalMs < electionTimeoutMinMs', {
        heartbeat: opts.heartbeatIntervalMs,
      });
    }
    this.id = opts.id;
    this.opts = {
      preVote: true,
      checkQuorum: true,
      maxInflightMsgs: 64,
      maxEntriesPerMsg: 512,
      maxSizePerMsg: 1024 * 1024,
      maxInflightBytes: 8 * 1024 * 1024,
      snapshotChunkBytes: 1024 * 1024,
      maxCommittedPerReady: 4096,
      ...opts,
    };
    this.rng = opts.rng;
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

  // ---------------------------------------------------------------- public API

  /** Advance timers: elections on followers, heartbeats and check-quorum on the leader. */
  tick(now: number): void {
    this.start(now);
    if (this.role === 'leader') {
      if (now >= this.heartbeatDeadline) {
        this.heartbeatDeadline = now + this.opts.heartbeatIntervalMs;
        this.bcastHeartbeat(this.pendingReads.length > 0 ? this.readSeq : 0);
      }
      if (this.opts.checkQuorum && now >= this.checkQuorumDeadline) {
        this.checkQuorumDeadline = now + this.opts.electionTimeoutMinMs;
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, null, now);
          return;
        }
      }
      if (this.leadTransferee !== null && now >= this.transferDeadline) this.leadTransferee = null;
      return;
    }
    if (now >= this.electionDeadline) {
      if (this.isVoter() && this.recoveringUntil === 0)
        this.campaign(now, this.opts.preVote ? 'pre' : 'real', false);
      else this.resetElectionTimer(now);
    }
  }

  /** Feed one message from a peer. Messages from older terms are dropped or answered so their sender catches up. */
  step(m: RaftMessage, now: number): void {
    this.start(now);
    if (m.from === this.id || m.to !== this.id) return;

    if (m.term > this.term) {
      if (m.type === 'request_vote' && !m.transfer && this.inLease(now)) return;
      const keepTerm =
        (m.type === 'request_vote' && m.preVote) ||
        (m.type === 'request_vote_response' && m.preVote && m.granted);
      if (!keepTerm) {
        const fromLeader =
          m.type === 'append_entries' || m.type === 'heartbeat' || m.type === 'install_snapshot';
        this.becomeFollower(m.term, fromLeader ? m.from : null, now);
      }
    } else if (m.term < this.term) {
      if (m.type === 'append_entries' && mutations().appendAcceptsStaleTerm && this.role !== 'leader') {
        this.handleAppend(m);
        return;
      }
      if (m.type === 'append_entries' || m.type === 'heartbeat') {
        // A stale leader (often one that was partitioned away) learns our term and steps down;
        // without this, with pre-vote, a node stuck at a higher term could never rejoin.
        this.send({
          type: 'append_entries_response',
          from: this.id,
          to: m.from,
          term: this.term,
          success: false,
          matchIndex: 0,
          rejectedIndex: 0,
          conflictTerm: 0,
          conflictIndex: 0,
          lastLogIndex: this.log.lastIndex(),
          recovering: this.recoveringUntil > 0 ? true : undefined,
        });
      } else if (m.type === 'request_vote') {
        // Paper figure 2: reply false with our term, so the candidate catches up.
        this.send({
          type: 'request_vote_response',
          from: this.id,
          to: m.from,
          term: this.term,
          granted: false,
          preVote: m.preVote,
        });
      }
      return;
    }

    switch (m.type) {
      case 'request_vote':
        this.handleVoteRequest(m, now);
        return;
      case 'request_vote_response':
        this.handleVoteResponse(m.from, m.granted, m.preVote, now);
        return;
      case 'append_entries':
      case 'heartbeat':
      case 'install_snapshot':
        if (this.role === 'leader') return; // another leader in our term cannot exist; drop defensively
        if (this.role !== 'follower' || this.leader !== m.from) this.becomeFollower(m.term, m.from, now);
        this.lastLeaderContact = now;
        this.resetElectionTimer(now);
        if (m.type === 'append_entries') this.handleAppend(m);
        else if (m.type === 'heartbeat') this.handleHeartbeat(m);
        else this.handleSnapshot(m);
        this.checkRecovered();
        return;
      case 'timeout_now':
        if (this.role !== 'leader' && this.isVoter() && this.recoveringUntil === 0)
          this.campaign(now, 'real', true);
        return;
      case 'append_entries_response':
        if (this.role === 'leader') this.handleAppendResponse(m, now);
        return;
      case 'heartbeat_response':
        if (this.role === 'leader')
          this.handleHeartbeatResponse(m.from, m.readCtx, m.recovering === true, now);
        return;
      case 'install_snapshot_response':
        if (this.role === 'leader') this.handleSnapshotResponse(m, now);
        return;
    }
  }

  /**
   * Append an application command to the leader's log. Success means the
   * entry is in the log at `index` in `term`, not that it will commit: the
   * caller learns that when an entry with this index AND term is applied
   * (another leader may overwrite it). Proposals made between two Readys go
   * out as one AppendEntries per follower.
   */
  propose(data: Uint8Array, now: number): ProposeResult {
    this.start(now);
    if (this.role !== 'leader') return { ok: false, reason: 'not_leader', leader: this.leader };
    if (this.leadTransferee !== null) return { ok: false, reason: 'transferring', leader: this.leader };
    const e = this.appendLocal(EntryType.Normal, data);
    return { ok: true, index: e.index, term: e.term };
  }

  /**
   * Propose one membership change. Refused while an earlier change (or this
   * leader's first no-op) is uncommitted. It takes effect on every node when
   * its entry commits; a leader that removes itself steps down then.
   */
  proposeConfChange(change: ConfChange, now: number): ProposeResult {
    this.start(now);
    if (this.role !== 'leader') return { ok: false, reason: 'not_leader', leader: this.leader };
    if (this.leadTransferee !== null) return { ok: false, reason: 'transferring', leader: this.leader };
    if (this.pendingConfIndex > this.commit)
      return { ok: false, reason: 'conf_change_pending', leader: this.leader };
    const why = validateConfChange(this.conf, change);
    if (why !== null) return { ok: false, reason: 'invalid_conf_change', leader: this.leader, detail: why };
    const data = encodeConfChange({ change, conf: applyConfChange(this.conf, change) });
    const e = this.appendLocal(EntryType.ConfChange, data);
    this.pendingConfIndex = e.index;
    return { ok: true, index: e.index, term: e.term };
  }

  /**
   * Start a linearizable read (thesis 6.4). A later Ready carries
   * `{ requestId, index }` once a majority has confirmed this node is still
   * leader; serve the read when applied >= index. Reads still pending when
   * the node loses leadership are never answered: callers need a timeout.
   */
  readIndex(requestId: string, now: number): ReadIndexResult {
    this.start(now);
    if (this.role !== 'leader') return { ok: false, reason: 'not_leader', leader: this.leader };
    // Until an entry of this term commits, our commit index may lag the previous leader's.
    if (this.log.termAt(this.commit) !== this.term) this.readsAwaitingCommit.push(requestId);
    else this.issueRead(requestId);
    return { ok: true };
  }

  /**
   * Stretch this node's own election timeout by `scale` (>= 1) from the next
   * reset on: a battery-powered voter waits longer before standing, so a
   * mains-powered one usually times out and wins first. Only this node's
   * campaign timer changes; the leader lease and check-quorum keep the
   * configured minimum, so safety and other nodes' timing are untouched.
   */
  setElectionTimeoutScale(scale: number): void {
    this.electionScale = Number.isFinite(scale) ? Math.max(1, scale) : 1;
  }

  /**
   * The runtime's evidence that `peer`'s process is gone (its Raft port
   * refuses connections). A follower whose leader that is stops honouring the
   * leader lease and campaigns after a short random delay instead of a whole
   * election timeout: failover then costs about a round trip rather than a
   * timeout. Only timing changes, so a false report costs at most a needless
   * (pre-)election, never safety; the random delay (up to a quarter of the
   * minimum election timeout) keeps followers told at the same moment from
   * splitting the vote. Returns whether the report changed anything.
   */
  peerUnreachable(peer: NodeId, now: number): boolean {
    this.start(now);
    if (this.role === 'leader' || this.leader !== peer || !this.isVoter()) return false;
    this.leader = null;
    this.lastLeaderContact = -Infinity;
    const spread = Math.max(1, Math.round((this.opts.electionTimeoutMinMs * this.electionScale) / 4));
    this.electionDeadline = Math.min(this.electionDeadline, now + this.rng.int(0, spread));
    return true;
  }

  /**
   * Hand leadership to `to` (thesis 3.10): new proposals are refused, `to`
   * is brought up to date, then told to campaign at once. Abandoned after an
   * election timeout if it has not happened.
   */
  transferLeadership(to: NodeId, now: number): TransferResult {
    this.start(now);
    if (this.role !== 'leader') return { ok: false, reason: 'not_leader', leader: this.leader };
    if (to === this.id) return { ok: false, reason: 'is_self', leader: this.leader };
    const pr = this.progress.get(to);
    if (!pr || !this.conf.voters.includes(to))
      return { ok: false, reason: 'not_a_voter', leader: this.leader };
    this.leadTransferee = to;
    this.transferDeadline = now + this.opts.electionTimeoutMinMs;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(pr, now);
    return { ok: true };
  }

  /**
   * Build a snapshot of the state machine image `data`, taken at `index`
   * (an index the application has applied): the core fills in the term and
   * the configuration at that index. Does not compact; save it durably, then
   * call compact() with it.
   */
  createSnapshot(index: number, data: Uint8Array): Snapshot {
    if (index > this.applied || index > this.commit) {
      throw new RaftError('snapshot_unapplied', `cannot snapshot at ${index}: applied is ${this.applied}`);
    }
    const term = this.log.termAt(index);
    if (term === undefined)
      throw new RaftError('snapshot_compacted', `entry ${index} is no longer in the log`);
    return { meta: { index, term, conf: this.confAt(index) }, data };
  }

  /**
   * The application has durably saved `snapshot`, taken at an index it has
   * applied: drop the log up to it and keep the snapshot for followers that
   * fall behind it.
   */
  compact(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    if (index > this.applied) {
      throw new RaftError('compact_unapplied', `cannot compact to ${index}: applied is ${this.applied}`);
    }
    if (index <= this.log.snapshotIndex()) return;
    if (this.log.termAt(index) !== term) {
      throw new RaftError('compact_term_mismatch', `snapshot at ${index} has term ${term}, log has another`);
    }
    this.baseConf = this.confAt(index);
    this.log.compact(index);
    this.snapshot = snapshot;
  }

  /** The configuration in force after applying entry `index` (index <= commit, >= snapshot index). */
  private confAt(index: number): ConfState {
    let conf = this.baseConf;
    for (let i = this.log.snapshotIndex() + 1; i <= index; i++) {
      const e = this.log.entry(i);
      if (e && e.type === EntryType.ConfChange) conf = decodeConfChange(e.data).conf;
    }
    return { voters: [...conf.voters], learners: [...conf.learners] };
  }

  hasReady(): boolean {
    this.flush();
    if (this.outstanding !== null) return false;
    return (
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.unpersistedSnapshot !== null ||
      this.log.stableIndex() < this.log.lastIndex() ||
      this.hardChanged() ||
      this.softChanged() ||
      this.committedAvailable() > this.handedOut ||
      this.recoveredPending
    );
  }

  ready(): Ready {
    if (this.outstanding !== null)
      throw new RaftError('ready_twice', 'ready() called again before advance()');
    this.flush();
    const hs: HardState = { term: this.term, vote: this.vote, commit: this.commit };
    const ss = this.softState();
    const entries = this.log.unstableEntries();
    const upTo = Math.min(this.committedAvailable(), this.handedOut + this.opts.maxCommittedPerReady);
    const committed = upTo > this.handedOut ? this.log.slice(this.handedOut + 1, upTo) : [];
    const mustSync =
      entries.length > 0 ||
      this.unpersistedSnapshot !== null ||
      hs.term !== this.prevHard.term ||
      hs.vote !== this.prevHard.vote;
    // A leader's term and vote must already be durable for its appends to leave early: a leader
    // elected in this Ready's term change (a single voter) sends them after the fsync instead.
    const termDurable = hs.term === this.prevHard.term && hs.vote === this.prevHard.vote;
    const early: RaftMessage[] = [];
    const late: RaftMessage[] = [];
    for (const m of this.msgs) (isEarly(m, termDurable) ? early : late).push(m);
    // One fixed object shape (absent fields left undefined) keeps property access monomorphic.
    const rd: Ready = {
      softState: this.softChanged() ? ss : undefined,
      hardState: this.hardChanged() ? hs : undefined,
      entries,
      snapshot: this.unpersistedSnapshot ?? undefined,
      messages: early.length === 0 ? late : late.length === 0 ? early : [...early, ...late],
      earlyCount: early.length,
      committed,
      readStates: this.readStates,
      mustSync,
      recovered: this.recoveredPending,
    };
    this.recoveredPending = false;
    this.msgs = [];
    this.readStates = [];
    this.unpersistedSnapshot = null;
    this.prevHard = hs;
    this.prevSoft = ss;
    this.handedOut = Math.max(this.handedOut, upTo);
    this.outstanding = rd;
    return rd;
  }

  /** The runtime has persisted, sent and applied `rd`. */
  advance(rd: Ready): void {
    if (this.outstanding !== rd)
      throw new RaftError('advance_mismatch', 'advance() needs the Ready last returned by ready()');
    this.outstanding = null;
    if (rd.snapshot) this.applied = Math.max(this.applied, rd.snapshot.meta.index);
    const lastApplied = rd.committed[rd.committed.length - 1];
    if (lastApplied) this.applied = Math.max(this.applied, lastApplied.index);
    // Our own vote counts from the moment it is durable: a candidate that crashed before that
    // could, restarted with the older term, vote for another candidate in this same term.
    const hs = rd.hardState;
    if (this.role === 'candidate' && hs !== undefined && hs.term === this.term && hs.vote === this.id) {
      this.handleVoteResponse(this.id, true, false, this.now);
    }
    const last = rd.entries[rd.entries.length - 1];
    if (last) {
      this.log.stableTo(last.index, last.term);
      if (this.role === 'leader') {
        this.progress.get(this.id)?.maybeUpdate(this.log.stableIndex());
        this.maybeCommit();
      }
    }
  }

  /** Who this node believes leads; cheap, for runtime hot paths (status() copies everything). */
  get leaderId(): NodeId | null {
    return this.leader;
  }

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  /** The current configuration (replaced on change, never mutated: safe to keep a reference). */
  get confState(): Readonly<ConfState> {
    return this.conf;
  }

  status(): RaftStatus {
    let progress: Record<NodeId, ProgressStatus> | null = null;
    if (this.role === 'leader') {
      progress = {};
      for (const [id, pr] of this.progress) {
        progress[id] = {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          recentActive: pr.recentActive,
          inflight: pr.inflight.length,
          inflightBytes: pr.inflightBytes,
          learner: pr.isLearner,
          recovering: pr.recovering,
        };
      }
    }
    return {
      id: this.id,
      role: this.softState().role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.commit,
      applied: this.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      snapshotIndex: this.log.snapshotIndex(),
      conf: { voters: [...this.conf.voters], learners: [...this.conf.learners] },
      leadTransferee: this.leadTransferee,
      pendingReads: this.pendingReads.length + this.readsAwaitingCommit.length,
      recoveringUntil: this.recoveringUntil,
      progress,
    };
  }

  /** Term at `index` if the log still holds it (the snapshot's own index included). */
  termAt(index: number): number | undefined {
    return this.log.termAt(index);
  }

  // ------------------------------------------------------------------ roles

  private start(now: number): void {
    if (now > this.now) this.now = now;
    if (this.started) return;
    this.started = true;
    this.resetElectionTimer(now);
  }

  private resetElectionTimer(now: number): void {
    const min = this.opts.electionTimeoutMinMs * this.electionScale;
    const max = this.opts.electionTimeoutMaxMs * this.electionScale;
    this.electionDeadline = now + this.rng.int(Math.round(min), Math.round(max));
  }

  private isVoter(): boolean {
    return this.conf.voters.includes(this.id);
  }

  /** A node that heard from a live leader within the minimum election timeout ignores vote requests. */
  private inLease(now: number): boolean {
    if (!this.opts.checkQuorum) return false;
    if (this.role === 'leader') return true;
    return this.leader !== null && now - this.lastLeaderContact < this.opts.electionTimeoutMinMs;
  }

  private becomeFollower(term: number, leader: NodeId | null, now: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
      // A snapshot stream of an earlier term is never resumed: free its chunks.
      this.incoming = null;
    }
    this.role = 'follower';
    this.leader = leader;
    this.resetElectionTimer(now);
    this.progress = new Map();
    this.votes = new Map();
    this.leadTransferee = null;
    this.pendingReads = [];
    this.needReadRound = false;
    this.readsAwaitingCommit = [];
    this.readAcks = new Map();
    this.needBcast = false;
  }

  private campaign(now: number, kind: 'pre' | 'real', transfer: boolean): void {
    this.resetElectionTimer(now);
    this.leader = null;
    let term: number;
    if (kind === 'pre') {
      // A pre-vote binds nothing, so our own counts at once.
      this.role = 'precandidate';
      this.votes = new Map([[this.id, true]]);
      term = this.term + 1;
    } else {
      // Our own real vote counts in advance(), once the Ready carrying it is durable.
      this.role = 'candidate';
      this.votes = new Map();
      this.term += 1;
      this.vote = this.id;
      term = this.term;
    }
    if (voteResult(this.conf.voters, this.votes) === 'won') {
      if (kind === 'pre') this.campaign(now, 'real', transfer);
      else this.becomeLeader(now);
      return;
    }
    for (const v of this.conf.voters) {
      if (v === this.id) continue;
      this.send({
        type: 'request_vote',
        from: this.id,
        to: v,
        term,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        preVote: kind === 'pre',
        transfer,
      });
    }
  }

  private becomeLeader(now: number): void {
    this.role = 'leader';
    this.leader = this.id;
    this.votes = new Map();
    this.progress = new Map();
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.conf.voters, ...this.conf.learners]) {
      const pr = new Progress(id, next, this.conf.learners.includes(id));
      if (id === this.id) {
        pr.match = this.log.stableIndex();
        pr.recentActive = true;
      }
      this.progress.set(id, pr);
    }
    this.heartbeatDeadline = now + this.opts.heartbeatIntervalMs;
    this.checkQuorumDeadline = now + this.opts.electionTimeoutMinMs;
    this.readAcks = new Map();
    this.pendingReads = [];
    this.needReadRound = false;
    this.readsAwaitingCommit = [];
    // The no-op commits everything of earlier terms (paper 5.4.2) and gates the
    // first membership change (a change must wait for a commit in this term).
    const noop = this.appendLocal(EntryType.Normal, EMPTY);
    this.pendingConfIndex = noop.index;
  }

  // ------------------------------------------------------------------ votes

  private handleVoteRequest(m: RequestVoteMsg, now: number): void {
    const ourIndex = this.log.lastIndex();
    const ourTerm = this.log.lastTerm();
    let granted: boolean;
    if (this.recoveringUntil > 0) {
      // A vote from a node that may have lost acknowledged entries could elect a leader without them.
      granted = false;
    } else if (m.preVote) {
      // Pre-vote does not bind us: grant whenever a real vote could later succeed.
      granted =
        m.term > this.term &&
        (mutations().voteNoUpToDateCheck || isUpToDate(m.lastLogIndex, m.lastLogTerm, ourIndex, ourTerm));
    } else {
      // Also refuse while we follow a leader of this term: voting for someone else then helps nobody.
      const free = this.vote === m.from || (this.vote === null && this.leader === null);
      granted =
        free &&
        (mutations().voteNoUpToDateCheck ||
          canGrantVote(this.vote, m.from, m.lastLogIndex, m.lastLogTerm, ourIndex, ourTerm));
      if (granted) {
        this.vote = m.from;
        this.resetElectionTimer(now);
      }
    }
    this.send({
      type: 'request_vote_response',
      from: this.id,
      to: m.from,
      term: granted && m.preVote ? m.term : this.term,
      granted,
      preVote: m.preVote,
    });
  }

  private handleVoteResponse(from: NodeId, granted: boolean, preVote: boolean, now: number): void {
    if (preVote ? this.role !== 'precandidate' : this.role !== 'candidate') return;
    this.votes.set(from, granted);
    const r = voteResult(this.conf.voters, this.votes);
    if (r === 'won') {
      if (preVote) this.campaign(now, 'real', false);
      else this.becomeLeader(now);
    } else if (r === 'lost') {
      this.becomeFollower(this.term, null, now);
    }
  }

  // --------------------------------------------------------------- follower

  private handleAppend(m: AppendEntriesMsg): void {
    let prev = m.prevLogIndex;
    let prevTerm = m.prevLogTerm;
    let entries = m.entries;
    if (prev < this.commit) {
      // Our log up to commit equals every later leader's (leader completeness): skip that part.
      entries = entries.filter((e) => e.index > this.commit);
      prev = this.commit;
      prevTerm = this.log.termAt(prev) ?? 0;
      if (m.prevLogIndex + m.entries.length <= this.commit) {
        this.respondAppend(m.from, true, this.commit, m.prevLogIndex);
        return;
      }
    }
    if (logMatches(this.log, prev, prevTerm)) {
      const conflict = findConflict(this.log, entries);
      if (conflict > 0) {
        if (conflict <= this.commit) {
          throw new RaftError(
            'overwrite_committed',
            `leader ${m.from} would overwrite committed entry ${conflict}`,
            {
              commit: this.commit,
            },
          );
        }
        this.log.append(entries.slice(conflict - (entries[0]?.index ?? conflict)));
      }
      const lastNew = prev + entries.length;
      this.setCommit(
        mutations().commitNotCappedByLastIndex
          ? Math.max(this.commit, m.commit)
          : followerCommit(this.commit, m.commit, lastNew),
      );
      this.respondAppend(m.from, true, lastNew, m.prevLogIndex);
      return;
    }
    const last = this.log.lastIndex();
    let conflictTerm = 0;
    let conflictIndex = last + 1;
    if (prev <= last) {
      conflictTerm = this.log.termAt(prev) ?? 0;
      conflictIndex = Math.max(this.log.firstIndexOfTerm(prev), this.commit + 1);
    }
    this.send({
      type: 'append_entries_response',
      from: this.id,
      to: m.from,
      term: this.term,
      success: false,
      matchIndex: 0,
      rejectedIndex: m.prevLogIndex,
      conflictTerm,
      conflictIndex,
      lastLogIndex: last,
      recovering: this.recoveringUntil > 0 ? true : undefined,
    });
  }

  private respondAppend(to: NodeId, success: boolean, matchIndex: number, rejectedIndex: number): void {
    this.send({
      type: 'append_entries_response',
      from: this.id,
      to,
      term: this.term,
      success,
      matchIndex,
      rejectedIndex,
      conflictTerm: 0,
      conflictIndex: 0,
      lastLogIndex: this.log.lastIndex(),
      recovering: this.recoveringUntil > 0 ? true : undefined,
    });
  }

  private handleHeartbeat(m: HeartbeatMsg): void {
    // The leader caps `commit` at what it knows we match, so it is safe to adopt.
    this.setCommit(Math.min(m.commit, this.log.lastIndex()));
    this.checkRecovered();
    this.send({
      type: 'heartbeat_response',
      from: this.id,
      to: m.from,
      term: this.term,
      readCtx: m.readCtx,
      recovering: this.recoveringUntil > 0 ? true : undefined,
    });
  }

  /** Leave the recovering state once a leader's commit index, counted without us, covers what we may have lost. */
  private checkRecovered(): void {
    if (this.recoveringUntil > 0 && this.commit >= this.recoveringUntil) {
      this.recoveringUntil = 0;
      this.recoveredPending = true;
    }
  }

  private handleSnapshot(m: InstallSnapshotMsg): void {
    const { index } = m.meta;
    if (index <= this.commit) {
      this.incoming = null;
      this.sendSnapshotResponse(m.from, this.commit, index, 0);
      return;
    }
    let inc = this.incoming;
    const same =
      inc !== null &&
      inc.from === m.from &&
      inc.term === this.term &&
      inc.meta.index === index &&
      inc.meta.term === m.meta.term &&
      inc.crc === m.crc &&
      inc.totalBytes === m.totalBytes;
    if (!same) {
      // A new stream starts only at offset 0; anything else asks the leader to start over.
      if (m.offset !== 0) {
        this.incoming = null;
        this.sendSnapshotResponse(m.from, 0, index, 0);
        return;
      }
      inc = {
        from: m.from,
        term: this.term,
        meta: m.meta,
        totalBytes: m.totalBytes,
        crc: m.crc,
        chunks: [],
        received: 0,
        runningCrc: 0,
      };
      this.incoming = inc;
    }
    if (inc === null) return;
    // Lost or duplicated chunks: keep what we have and name the offset we need.
    if (m.offset !== inc.received || inc.received + m.data.byteLength > inc.totalBytes) {
      this.sendSnapshotResponse(m.from, 0, index, inc.received);
      return;
    }
    if (m.data.byteLength > 0) {
      inc.chunks.push(m.data);
      inc.received += m.data.byteLength;
      inc.runningCrc = crc32(m.data, inc.runningCrc);
    }
    if (inc.received < inc.totalBytes) {
      this.sendSnapshotResponse(m.from, 0, index, inc.received);
      return;
    }
    this.incoming = null;
    if (inc.runningCrc !== inc.crc) {
      // Damaged on the way (or a buggy sender): never install it; fetch it again from the start.
      this.sendSnapshotResponse(m.from, 0, index, 0);
      return;
    }
    this.installSnapshot({ meta: inc.meta, data: concatChunks(inc.chunks, inc.totalBytes) });
    this.sendSnapshotResponse(m.from, index, index, 0);
  }

  private installSnapshot(snap: Snapshot): void {
    const { index, term, conf } = snap.meta;
    if (this.log.termAt(index) === term) {
      // We already hold the entries; the snapshot only tells us they are committed.
      this.setCommit(index);
    } else {
      this.log.restore(index, term);
      this.commit = index;
      this.conf = { voters: [...conf.voters], learners: [...conf.learners] };
      this.baseConf = this.conf;
      this.confIndex = index;
      this.snapshot = snap;
      this.unpersistedSnapshot = snap;
      this.handedOut = index;
    }
  }

  private sendSnapshotResponse(
    to: NodeId,
    matchIndex: number,
    snapshotIndex: number,
    nextOffset: number,
  ): void {
    this.send({
      type: 'install_snapshot_response',
      from: this.id,
      to,
      term: this.term,
      matchIndex,
      snapshotIndex,
      nextOffset,
      recovering: this.recoveringUntil > 0 ? true : undefined,
    });
  }

  // ----------------------------------------------------------------- leader

  private appendLocal(type: EntryType, data: Uint8Array): Entry {
    const e: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.log.append([e]);
    this.needBcast = true;
    return e;
  }

  /** Send pending appends to every follower; called before a Ready is assembled. */
  private flush(): void {
    if (this.role !== 'leader') return;
    if (this.needReadRound) {
      // One heartbeat round confirms every read that arrived since the last Ready.
      this.needReadRound = false;
      this.readSeq += 1;
      this.bcastHeartbeat(this.readSeq);
    }
    if (!this.needBcast) return;
    this.needBcast = false;
    for (const pr of this.progress.values()) {
      if (pr.id === this.id) continue;
      this.fillPipeline(pr, this.now);
    }
  }

  /** Send appends to `pr` until its window is full or it has everything. */
  private fillPipeline(pr: Progress, now: number): void {
    for (let i = 0; i <= this.opts.maxInflightMsgs; i++) {
      if (!this.sendAppend(pr, now)) return;
      if (pr.state !== 'replicate') return;
    }
  }

  /** Send `pr` its next batch; returns false when nothing was sent. */
  private sendAppend(pr: Progress, now: number): boolean {
    if (pr.isPaused(this.opts.maxInflightMsgs, this.opts.maxInflightBytes)) return false;
    const last = this.log.lastIndex();
    if (pr.state === 'replicate' && pr.next > last) return false;
    const prev = pr.next - 1;
    const prevTerm = this.log.termAt(prev);
    if (prevTerm === undefined || pr.next < this.log.firstIndex()) {
      return this.sendSnapshot(pr, now);
    }
    const entries = this.log.slice(pr.next, last, this.opts.maxEntriesPerMsg, this.opts.maxSizePerMsg);
    this.send({
      type: 'append_entries',
      from: this.id,
      to: pr.id,
      term: this.term,
      prevLogIndex: prev,
      prevLogTerm: prevTerm,
      entries,
      commit: this.commit,
    });
    // An idle pipeline starts waiting now, not at the last acknowledgement long ago.
    if (pr.state === 'replicate' && pr.inflight.length === 0) pr.lastProgressAt = now;
    let bytes = 0;
    for (const e of entries) bytes += entryBytes(e);
    pr.sentAppend(prev + entries.length, entries.length, bytes);
    return true;
  }

  private sendSnapshot(pr: Progress, now: number): boolean {
    const snap = this.snapshot;
    if (!snap) {
      throw new RaftError('no_snapshot', `follower ${pr.id} needs compacted entries but no snapshot is held`);
    }
    pr.becomeSnapshot(snap.meta.index, now);
    pr.snapshot = snap;
    pr.snapshotOffset = 0;
    this.sendSnapshotChunk(pr, now);
    return true;
  }

  /** Send `pr` the chunk of its snapshot that starts at the offset it asked for (stop and wait). */
  private sendSnapshotChunk(pr: Progress, now: number): void {
    const snap = pr.snapshot;
    if (!snap) return;
    if (this.snapshotCrc?.snap !== snap) this.snapshotCrc = { snap, crc: crc32(snap.data) };
    const total = snap.data.byteLength;
    const offset = Math.min(pr.snapshotOffset, total);
    const end = Math.min(total, offset + this.opts.snapshotChunkBytes);
    this.send({
      type: 'install_snapshot',
      from: this.id,
      to: pr.id,
      term: this.term,
      meta: snap.meta,
      totalBytes: total,
      offset,
      crc: this.snapshotCrc.crc,
      data: snap.data.subarray(offset, end),
    });
    pr.snapshotSentAt = now;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeout_now', from: this.id, to, term: this.term });
  }

  private bcastHeartbeat(readCtx: number): void {
    for (const pr of this.progress.values()) {
      if (pr.id === this.id) continue;
      this.send({
        type: 'heartbeat',
        from: this.id,
        to: pr.id,
        term: this.term,
        commit: Math.min(pr.match, this.commit),
        readCtx,
      });
    }
  }

  private handleAppendResponse(m: AppendEntriesResponseMsg, now: number): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.recovering = m.recovering === true;
    if (!m.success) {
      let hint = m.conflictIndex;
      if (m.conflictTerm > 0) {
        const li = this.log.lastIndexOfTerm(m.conflictTerm);
        if (li > 0) hint = li + 1;
      }
      hint = Math.min(hint, m.lastLogIndex + 1);
      if (pr.maybeDecrTo(m.rejectedIndex, Math.max(hint, 1), m.lastLogIndex)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(pr, now);
      }
      return;
    }
    if (pr.state === 'probe') pr.probeSent = false;
    const updated = pr.maybeUpdate(m.matchIndex);
    if (updated) pr.lastProgressAt = now;
    if (updated || pr.match === m.matchIndex) {
      // The answer proves where the logs match: stop probing and pipeline from there.
      if (pr.state === 'probe') {
        pr.becomeReplicate();
        pr.lastProgressAt = now;
      } else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
        pr.becomeProbe();
        pr.becomeReplicate();
      }
    }
    if (updated) {
      this.maybeCommit();
      if (this.role !== 'leader') return;
      if (this.leadTransferee === m.from && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
    }
    this.fillPipeline(pr, now);
  }

  private handleHeartbeatResponse(from: NodeId, readCtx: number, recovering: boolean, now: number): void {
    const pr = this.progress.get(from);
    if (!pr) return;
    pr.recentActive = true;
    pr.recovering = recovering;
    if (pr.state === 'probe') pr.probeSent = false;
    // Pipelined appends that were lost, or answered out of order so that the rejection looked
    // stale, leave `match` stuck while `next` is past the end: restart from what is known.
    if (
      pr.state === 'replicate' &&
      pr.match < this.log.lastIndex() &&
      now - pr.lastProgressAt >= 2 * this.opts.heartbeatIntervalMs
    ) {
      pr.becomeProbe();
    }
    // A snapshot chunk that got no answer within an election timeout is presumed lost:
    // send it again; the follower keeps what it has and the stream resumes there.
    if (pr.state === 'snapshot' && now - pr.snapshotSentAt >= this.opts.electionTimeoutMaxMs)
      this.sendSnapshotChunk(pr, now);
    if (pr.match < this.log.lastIndex()) this.sendAppend(pr, now);
    // A recovering follower's acknowledgement confirms nothing: its term may have regressed.
    if (!recovering && readCtx > 0 && readCtx > (this.readAcks.get(from) ?? 0)) {
      this.readAcks.set(from, readCtx);
      this.releaseReads();
    }
  }

  private handleSnapshotResponse(m: InstallSnapshotResponseMsg, now: number): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.recovering = m.recovering === true;
    if (m.matchIndex === 0) {
      // Mid-stream: the follower names the offset it needs next. Only an answer that moves past the
      // chunk last sent triggers the next one: answering duplicates (of chunks or answers) with a
      // send each would multiply the messages in flight. An offset below it (a lost chunk, or 0
      // after a damaged image) is where the resend timer picks the stream up again.
      if (pr.state === 'snapshot' && pr.snapshot?.meta.index === m.snapshotIndex) {
        if (m.nextOffset > pr.snapshotOffset) {
          pr.snapshotOffset = m.nextOffset;
          this.sendSnapshotChunk(pr, now);
        } else if (m.nextOffset < pr.snapshotOffset) {
          pr.snapshotOffset = m.nextOffset;
        }
      }
      return;
    }
    pr.maybeUpdate(m.matchIndex);
    if (pr.state === 'snapshot') pr.becomeProbe();
    this.maybeCommit();
    if (this.role === 'leader') this.sendAppend(pr, now);
  }

  /** Leader: advance commit to what a majority of voters holds, but only via an entry of this term (paper 5.4.2). */
  private maybeCommit(): boolean {
    if (this.role !== 'leader') return false;
    // A recovering follower may lack entries it acknowledged: its match counts for nothing.
    const ci = committedIndex(this.conf.voters, (id) => {
      const pr = this.progress.get(id);
      return pr === undefined || pr.recovering ? 0 : pr.match;
    });
    if (ci > this.commit && (this.log.termAt(ci) === this.term || mutations().commitNoCurrentTermCheck)) {
      this.setCommit(ci);
      return true;
    }
    return false;
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.conf.voters) {
      const pr = this.progress.get(v);
      if (v === this.id || (pr?.recentActive === true && !pr.recovering)) active++;
    }
    for (const pr of this.progress.values()) if (pr.id !== this.id) pr.recentActive = false;
    return isMajority(active, this.conf.voters.length);
  }

  // ------------------------------------------------------------------ reads

  private issueRead(requestId: string): void {
    if (this.conf.voters.length === 1 && this.isVoter()) {
      this.readStates.push({ index: this.commit, requestId });
      return;
    }
    this.pendingReads.push({ requestId, index: this.commit, ctx: this.readSeq + 1 });
    this.needReadRound = true;
  }

  private releaseReads(): void {
    const confirmed = committedIndex(this.conf.voters, (id) =>
      id === this.id ? Number.MAX_SAFE_INTEGER : (this.readAcks.get(id) ?? 0),
    );
    while (this.pendingReads.length > 0) {
      const r = this.pendingReads[0];
      if (!r || r.ctx > confirmed) break;
      this.pendingReads.shift();
      this.readStates.push({ index: r.index, requestId: r.requestId });
    }
  }

  // ------------------------------------------------------- commit and conf

  private setCommit(index: number): void {
    if (index <= this.commit) return;
    this.commit = index;
    this.foldConfChanges();
    if (
      this.role === 'leader' &&
      this.readsAwaitingCommit.length > 0 &&
      this.log.termAt(this.commit) === this.term
    ) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const id of waiting) this.issueRead(id);
    }
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
    const members = new Set([...this.conf.voters, ...this.conf.learners]);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      const learner = this.conf.learners.includes(id);
      const old = this.progress.get(id);
      if (old && old.isLearner === learner) continue;
      const pr = new Progress(id, old?.next ?? this.log.lastIndex() + 1, learner);
      if (old) {
        pr.match = old.match;
        pr.recentActive = old.recentActive;
      } else {
        // A new member is unknown: start in probe and back off from our end.
        pr.recentActive = true;
      }
      this.progress.set(id, pr);
      this.needBcast = true;
    }
    if (this.leadTransferee !== null && !this.conf.voters.includes(this.leadTransferee))
      this.leadTransferee = null;
    if (!this.isVoter()) {
      // Removed (or demoted): tell the others the change committed, then stop leading.
      for (const pr of this.progress.values()) {
        if (pr.id !== this.id) {
          this.send({
            type: 'heartbeat',
            from: this.id,
            to: pr.id,
            term: this.term,
            commit: Math.min(pr.match, this.commit),
            readCtx: 0,
          });
        }
      }
      this.role = 'follower';
      this.leader = null;
      this.progress = new Map();
      this.pendingReads = [];
      this.needReadRound = false;
      this.readsAwaitingCommit = [];
      this.needBcast = false;
      return;
    }
    this.maybeCommit();
  }

  // ---------------------------------------------------------------- helpers

  private committedAvailable(): number {
    return Math.min(this.commit, this.log.lastIndex());
  }

  private softState(): SoftState {
    const role = this.role === 'follower' && this.conf.learners.includes(this.id) ? 'learner' : this.role;
    return { role, leader: this.leader };
  }

  private softChanged(): boolean {
    const s = this.softState();
    return this.prevSoft === null || s.role !== this.prevSoft.role || s.leader !== this.prevSoft.leader;
  }

  private hardChanged(): boolean {
    return (
      this.term !== this.prevHard.term ||
      this.vote !== this.prevHard.vote ||
      this.commit !== this.prevHard.commit
    );
  }

  private send(m: RaftMessage): void {
    this.msgs.push(m);
  }
}

/** Whether `m` depends on nothing of the Ready it is part of being durable (see the module comment). */
function isEarly(m: RaftMessage, termDurable: boolean): boolean {
  switch (m.type) {
    case 'request_vote':
      return true;
    case 'request_vote_response':
      return !m.preVote && m.granted && mutations().voteNotPersistedBeforeReply;
    case 'append_entries':
    case 'heartbeat':
    case 'install_snapshot':
      return termDurable;
    default:
      return false;
  }
}
