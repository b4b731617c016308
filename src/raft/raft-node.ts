/**
 * RaftNode: the public facade of the sans-I/O Raft core (etcd's rawnode.go).
 * The protocol lives behind it, one concept per file after etcd-io/raft
 * (docs/raft.md "Files"): raft.ts (shared state), step.ts, roles.ts,
 * follower.ts, leader.ts, ready.ts, read-only.ts, tracker.ts, snapshot-stream.ts.
 * No clock, socket, disk or Math.random: time arrives as `now` (ms, any
 * monotonic origin), randomness from `opts.rng`.
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
import { applyConfChange, encodeConfChange, validateConfChange, type ConfChange } from './confchange.js';
import { RaftError } from './errors.js';
import { sendAppend, sendTimeoutNow } from './leader.js';
import type { RaftMessage } from './messages.js';
import { resolveOptions, type RaftNodeOptions } from './options.js';
import { Raft } from './raft.js';
import { advance, buildReady, hasReady, type Ready } from './ready.js';
import { tick } from './roles.js';
import { step } from './step.js';
import type { ProgressStatus } from './tracker.js';
import {
  EntryType,
  type ConfState,
  type NodeId,
  type RecoveredState,
  type Snapshot,
  type SoftState,
} from './types.js';

export type { RaftNodeOptions } from './options.js';
export type { Ready } from './ready.js';
export type { ProgressStatus } from './tracker.js';

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

/**
 * The public face of the core (etcd's RawNode): events in, Readys out. The
 * state and the protocol live behind it in raft.ts and the per-role modules.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly r: Raft;
  /** The Ready handed out and not yet advanced. */
  private outstanding: Ready | null = null;

  /**
   * @param recovered what the runtime loaded from disk (empty for a new node).
   * @param initialConf the bootstrap configuration, used when `recovered` has
   *   no snapshot; give every founding member the same one, and a joining
   *   node none (it learns the configuration from the leader).
   */
  constructor(opts: RaftNodeOptions, recovered: RecoveredState, initialConf?: ConfState) {
    this.r = new Raft(resolveOptions(opts), recovered, initialConf);
    this.id = this.r.id;
  }

  /**
   * Advance timers: elections on followers, heartbeats and check-quorum on the leader. Every timer is
   * an absolute deadline compared with `now`, so ticking at arbitrary times (only at nextDeadline(),
   * or late) is the same as ticking often: nothing counts ticks.
   */
  tick(now: number): void {
    tick(this.r, now);
  }

  /**
   * The earliest `now` at which tick() has work (Infinity: none until a message or a proposal
   * arrives), from state alone. A runtime arms one timer for it instead of ticking periodically, so
   * an idle follower wakes for heartbeats only and a learner not at all. Changes after every step,
   * tick, proposal and Ready; ticking earlier is harmless (nothing is due, nothing happens).
   */
  nextDeadline(): number {
    const r = this.r;
    if (r.role === 'leader') {
      let d = r.heartbeatDeadline;
      if (r.opts.checkQuorum) d = Math.min(d, r.checkQuorumDeadline);
      if (r.leadTransferee !== null) d = Math.min(d, r.transferDeadline);
      if (r.commitNotifyDue) d = Math.min(d, r.commitNotifyAt);
      return d;
    }
    // A learner never campaigns: at its election deadline tick() would only re-arm the timer. A voter
    // not started yet has deadline 0: its first tick arms the election timer.
    if (!r.isVoter()) return Infinity;
    return r.electionDeadline;
  }

  /**
   * Heartbeat learners every `rounds` heartbeat rounds only (energy: a learner's process then wakes
   * that much less). Safe: learners count in no quorum (commit, check-quorum, ReadIndex) and never
   * campaign, so their only timer is ours; what it costs is a learner's commit index (sent capped
   * by heartbeats when idle) and a stalled snapshot or probe resend to it advancing that much later.
   */
  setLearnerHeartbeatRounds(rounds: number): void {
    this.r.learnerHeartbeatRounds = Number.isInteger(rounds) && rounds >= 1 ? rounds : 1;
  }

  /**
   * Learners that must hear the leader every heartbeat round all the same (the runtime: those that
   * run tasks, which they stop once out of contact with the leader for `[tasks] lease_ms`; a gap of
   * learnerHeartbeatRounds rounds would exceed it). Costs one heartbeat round per such learner.
   */
  setContactLearners(ids: ReadonlySet<NodeId>): void {
    this.r.contactLearners = new Set(ids);
  }

  /** Feed one message from a peer. Messages from older terms are dropped or answered so their sender catches up. */
  step(m: RaftMessage, now: number): void {
    step(this.r, m, now);
  }

  /**
   * Append an application command to the leader's log. Success means the
   * entry is in the log at `index` in `term`, not that it will commit: the
   * caller learns that when an entry with this index AND term is applied
   * (another leader may overwrite it). Proposals made between two Readys go
   * out as one AppendEntries per follower.
   */
  propose(data: Uint8Array, now: number): ProposeResult {
    const r = this.r;
    r.start(now);
    if (r.role !== 'leader') return { ok: false, reason: 'not_leader', leader: r.leader };
    if (r.leadTransferee !== null) return { ok: false, reason: 'transferring', leader: r.leader };
    const e = r.appendLocal(EntryType.Normal, data);
    return { ok: true, index: e.index, term: e.term };
  }

  /**
   * Propose one membership change. Refused while an earlier change (or this
   * leader's first no-op) is uncommitted. It takes effect on every node when
   * its entry commits; a leader that removes itself steps down then.
   */
  proposeConfChange(change: ConfChange, now: number): ProposeResult {
    const r = this.r;
    r.start(now);
    if (r.role !== 'leader') return { ok: false, reason: 'not_leader', leader: r.leader };
    if (r.leadTransferee !== null) return { ok: false, reason: 'transferring', leader: r.leader };
    if (r.pendingConfIndex > r.commit) return { ok: false, reason: 'conf_change_pending', leader: r.leader };
    const why = validateConfChange(r.conf, change);
    if (why !== null) return { ok: false, reason: 'invalid_conf_change', leader: r.leader, detail: why };
    const data = encodeConfChange({ change, conf: applyConfChange(r.conf, change) });
    const e = r.appendLocal(EntryType.ConfChange, data);
    r.pendingConfIndex = e.index;
    return { ok: true, index: e.index, term: e.term };
  }

  /**
   * Start a linearizable read (thesis 6.4). A later Ready carries
   * `{ requestId, index }` once a majority has confirmed this node is still
   * leader; serve the read when applied >= index. Reads still pending when
   * the node loses leadership are never answered: callers need a timeout.
   */
  readIndex(requestId: string, now: number): ReadIndexResult {
    const r = this.r;
    r.start(now);
    if (r.role !== 'leader') return { ok: false, reason: 'not_leader', leader: r.leader };
    // Until an entry of this term commits, our commit index may lag the previous leader's.
    if (r.log.termAt(r.commit) !== r.term) r.reads.awaitCommit(requestId);
    else r.issueRead(requestId);
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
    this.r.electionScale = Number.isFinite(scale) ? Math.max(1, scale) : 1;
  }

  /**
   * Follower: honour the leader lease (ignore vote requests) for `scale` (>= 1) x the minimum
   * election timeout after the leader was last heard, instead of 1 x. For a runtime whose leader
   * heartbeats further apart than the minimum timeout while the cluster is quiet (every voter's
   * own election timeout stretched as much first): the lease must outlast the gap between two
   * heartbeats, or a restarted voter's pre-vote would be granted in it and depose a healthy
   * leader. Keep it at most this node's own (stretched) minimum election timeout: a follower
   * whose leader died then stops ignoring candidates by the time the first one stands. A
   * leader-unreachable report (peerUnreachable) ends the lease regardless.
   */
  setLeaseScale(scale: number): void {
    this.r.leaseScale = Number.isFinite(scale) ? Math.max(1, scale) : 1;
  }

  /**
   * Leader: heartbeat every `scale` x heartbeatIntervalMs and run check-quorum
   * over `scale` x the minimum election timeout (energy: every voter on a
   * critical battery). Only safe while every voter's own election timeout is
   * stretched at least as much relative to the heartbeat (the runtime stretches
   * only when all voters say they run at election scale >= `scale`):
   * otherwise a follower would campaign between two heartbeats. Safety does
   * not depend on it (terms and votes do); a wrong setting costs elections.
   * ReadIndex rounds still go out at once. Back to 1, the next heartbeat is
   * due within one base interval.
   */
  setHeartbeatScale(scale: number): void {
    const r = this.r;
    const k = Number.isFinite(scale) ? Math.max(1, scale) : 1;
    if (k === r.heartbeatScale) return;
    r.heartbeatScale = k;
    if (r.role === 'leader') {
      r.heartbeatDeadline = Math.min(r.heartbeatDeadline, r.now + r.opts.heartbeatIntervalMs * k);
      r.checkQuorumDeadline = Math.min(r.checkQuorumDeadline, r.now + r.opts.electionTimeoutMinMs * k);
    }
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
    const r = this.r;
    r.start(now);
    if (r.role === 'leader' || r.leader !== peer || !r.isVoter()) return false;
    r.leader = null;
    r.lastLeaderContact = -Infinity;
    const spread = Math.max(1, Math.round((r.opts.electionTimeoutMinMs * r.electionScale) / 4));
    r.electionDeadline = Math.min(r.electionDeadline, now + r.rng.int(0, spread));
    return true;
  }

  /**
   * The runtime's evidence, after this process restarted on existing state,
   * that a quorum of the voters is up (etcd's advanceTicksForElection): a
   * follower that knows no leader then campaigns within `withinMs` (a random
   * point, so members told at about the same time do not split the vote)
   * instead of a whole randomized election timeout. A cluster restarted at
   * once elects in about a round trip, and a lone voter (`withinMs` 0) at its
   * next tick. Needs pre-vote: a restarted follower of a live cluster then
   * only asks, and the members in the leader's lease refuse, so it cannot
   * depose a leader it has not heard from yet; without pre-vote nothing
   * changes. Only timing changes, never safety. Returns whether the deadline moved.
   */
  campaignSoon(now: number, withinMs: number): boolean {
    const r = this.r;
    r.start(now);
    if (!r.opts.preVote || r.role !== 'follower' || r.leader !== null) return false;
    if (!r.isVoter() || r.recoveringUntil > 0) return false;
    const at = now + r.rng.int(0, Math.max(0, Math.round(withinMs)));
    if (at >= r.electionDeadline) return false;
    r.electionDeadline = at;
    return true;
  }

  /**
   * Hand leadership to `to` (thesis 3.10): new proposals are refused, `to`
   * is brought up to date, then told to campaign at once. Abandoned after an
   * election timeout if it has not happened.
   */
  transferLeadership(to: NodeId, now: number): TransferResult {
    const r = this.r;
    r.start(now);
    if (r.role !== 'leader') return { ok: false, reason: 'not_leader', leader: r.leader };
    if (to === r.id) return { ok: false, reason: 'is_self', leader: r.leader };
    const pr = r.tracker.get(to);
    if (!pr || !r.conf.voters.includes(to)) return { ok: false, reason: 'not_a_voter', leader: r.leader };
    r.leadTransferee = to;
    r.transferDeadline = now + r.opts.electionTimeoutMinMs;
    if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, to);
    else sendAppend(r, pr, now);
    return { ok: true };
  }

  /**
   * Build a snapshot of the state machine image `data`, taken at `index`
   * (an index the application has applied): the core fills in the term and
   * the configuration at that index. Does not compact; save it durably, then
   * call compact() with it.
   */
  createSnapshot(index: number, data: Uint8Array): Snapshot {
    const r = this.r;
    if (index > r.applied || index > r.commit) {
      throw new RaftError('snapshot_unapplied', `cannot snapshot at ${index}: applied is ${r.applied}`);
    }
    const term = r.log.termAt(index);
    if (term === undefined)
      throw new RaftError('snapshot_compacted', `entry ${index} is no longer in the log`);
    return { meta: { index, term, conf: r.confAt(index) }, data };
  }

  /**
   * The application has durably saved `snapshot`, taken at an index it has
   * applied: drop the log up to it and keep the snapshot for followers that
   * fall behind it.
   */
  compact(snapshot: Snapshot): void {
    const r = this.r;
    const { index, term } = snapshot.meta;
    if (index > r.applied) {
      throw new RaftError('compact_unapplied', `cannot compact to ${index}: applied is ${r.applied}`);
    }
    if (index <= r.log.snapshotIndex()) return;
    if (r.log.termAt(index) !== term) {
      throw new RaftError('compact_term_mismatch', `snapshot at ${index} has term ${term}, log has another`);
    }
    r.baseConf = r.confAt(index);
    r.log.compact(index);
    r.snapshot = snapshot;
  }

  /** Whether ready() has something to hand out; a pure read (false while a Ready is outstanding). */
  hasReady(): boolean {
    return this.outstanding === null && hasReady(this.r);
  }

  ready(): Ready {
    if (this.outstanding !== null)
      throw new RaftError('ready_twice', 'ready() called again before advance()');
    const rd = buildReady(this.r);
    this.outstanding = rd;
    return rd;
  }

  /** The runtime has persisted, sent and applied `rd`. */
  advance(rd: Ready): void {
    if (this.outstanding !== rd)
      throw new RaftError('advance_mismatch', 'advance() needs the Ready last returned by ready()');
    this.outstanding = null;
    advance(this.r, rd);
  }

  /** Who this node believes leads; cheap, for runtime hot paths (status() copies everything). */
  get leaderId(): NodeId | null {
    return this.r.leader;
  }

  /** The current term, without status()'s copies (asked per forwarded request). */
  get term(): number {
    return this.r.term;
  }

  get isLeader(): boolean {
    return this.r.role === 'leader';
  }

  /** The index this node has applied; cheap (a stopping leader's settle wait polls it). */
  get appliedIndex(): number {
    return this.r.applied;
  }

  /** The member this leader is handing over to, or null; cheap (asked per refused request). */
  get leadTransferee(): NodeId | null {
    return this.r.leadTransferee;
  }

  /** The commit index this node knows; cheap, for runtime hot paths. */
  get commitIndex(): number {
    return this.r.commit;
  }

  /** The current configuration (replaced on change, never mutated: safe to keep a reference). */
  get confState(): Readonly<ConfState> {
    return this.r.conf;
  }

  status(): RaftStatus {
    const r = this.r;
    return {
      id: r.id,
      role: r.softState().role,
      term: r.term,
      vote: r.vote,
      leader: r.leader,
      commit: r.commit,
      applied: r.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      lastTerm: r.log.lastTerm(),
      snapshotIndex: r.log.snapshotIndex(),
      conf: { voters: [...r.conf.voters], learners: [...r.conf.learners] },
      leadTransferee: r.leadTransferee,
      pendingReads: r.reads.size,
      recoveringUntil: r.recoveringUntil,
      progress: r.role === 'leader' ? r.tracker.status() : null,
    };
  }

  /** Term at `index` if the log still holds it (the snapshot's own index included). */
  termAt(index: number): number | undefined {
    return this.r.log.termAt(index);
  }
}
