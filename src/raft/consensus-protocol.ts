/**
 * The seed exercise's Raft handlers, one to one, as a synchronous facade.
 *
 * This is not a second Raft: the vote rule, the log-matching check, conflict
 * truncation, the follower commit rule and the majority arithmetic are the
 * very functions `RaftNode` uses (rules.ts, quorum.ts). What the facade
 * leaves to its caller is what the seed left to its caller: timers, message
 * transport and persistence. For a running cluster use `RaftNode`.
 */
import { NotLeaderError } from './errors.js';
import { committedIndex, isMajority } from './quorum.js';
import { canGrantVote, findConflict, followerCommit, logMatches, type TermLookup } from './rules.js';

export type ConsensusState = 'follower' | 'candidate' | 'leader';

/** A log entry as the seed knows it; `index` starts at 1. */
export interface LogEntry<C = unknown> {
  term: number;
  index: number;
  command: C;
}

export interface VoteRequest {
  readonly term: number;
  readonly candidateId: string;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

export interface VoteResponse {
  readonly term: number;
  readonly voteGranted: boolean;
}

export interface AppendEntriesRequest<C = unknown> {
  /** The follower this request is for. */
  readonly to: string;
  readonly term: number;
  readonly leaderId: string;
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly LogEntry<C>[];
  readonly leaderCommit: number;
}

export interface AppendEntriesResponse {
  readonly term: number;
  readonly success: boolean;
}

/** Entries as they may arrive: `index` is optional and then implied by position after prevLogIndex. */
export interface IncomingEntry<C = unknown> {
  readonly term: number;
  readonly index?: number;
  readonly command: C;
}

export interface ConsensusProtocolOptions<C> {
  /** Called for each entry as `lastApplied` follows `commitIndex`, in order. */
  readonly apply?: (entry: LogEntry<C>) => void;
}

export class ConsensusProtocol<C = unknown> {
  readonly nodeId: string;
  /** Every node of the cluster, this one included. */
  readonly peers: readonly string[];
  state: ConsensusState = 'follower';
  currentTerm = 0;
  votedFor: string | null = null;
  log: LogEntry<C>[] = [];
  commitIndex = 0;
  lastApplied = 0;
  leaderId: string | null = null;
  /** Leader only: next index to send and highest index known replicated, per node. */
  nextIndex: Record<string, number> = {};
  matchIndex: Record<string, number> = {};
  private readonly applyFn: ((entry: LogEntry<C>) => void) | undefined;

  constructor(nodeId: string, peers: readonly string[], opts: ConsensusProtocolOptions<C> = {}) {
    this.nodeId = nodeId;
    this.peers = peers.includes(nodeId) ? [...peers] : [...peers, nodeId];
    this.applyFn = opts.apply;
  }

  private get lookup(): TermLookup {
    return {
      termAt: (i: number) => (i === 0 ? 0 : this.log[i - 1]?.term),
      lastIndex: () => this.log.length,
    };
  }

  private lastLogIndex(): number {
    return this.log.length;
  }

  private lastLogTerm(): number {
    return this.log[this.log.length - 1]?.term ?? 0;
  }

  /** A higher term always turns us into a follower of that term with no vote cast yet. */
  private observeTerm(term: number): void {
    if (term > this.currentTerm) {
      this.currentTerm = term;
      this.votedFor = null;
      this.state = 'follower';
      this.leaderId = null;
    }
  }

  /** RequestVote RPC receiver (paper figure 2). */
  requestVote(term: number, candidateId: string, lastLogIndex: number, lastLogTerm: number): VoteResponse {
    if (term < this.currentTerm) return { term: this.currentTerm, voteGranted: false };
    this.observeTerm(term);
    const granted =
      this.state === 'follower' &&
      canGrantVote(
        this.votedFor,
        candidateId,
        lastLogIndex,
        lastLogTerm,
        this.lastLogIndex(),
        this.lastLogTerm(),
      );
    if (granted) this.votedFor = candidateId;
    return { term: this.currentTerm, voteGranted: granted };
  }

  /** AppendEntries RPC receiver (paper figure 2), including heartbeats (no entries). */
  appendEntries(
    term: number,
    leaderId: string,
    prevLogIndex: number,
    prevLogTerm: number,
    entries: readonly IncomingEntry<C>[],
    leaderCommit: number,
  ): AppendEntriesResponse {
    if (term < this.currentTerm) return { term: this.currentTerm, success: false };
    this.observeTerm(term);
    // A candidate that hears from a leader of its own term has lost the election.
    this.state = 'follower';
    this.leaderId = leaderId;
    if (!logMatches(this.lookup, prevLogIndex, prevLogTerm))
      return { term: this.currentTerm, success: false };
    const incoming: LogEntry<C>[] = entries.map((e, i) => ({
      term: e.term,
      index: e.index ?? prevLogIndex + 1 + i,
      command: e.command,
    }));
    const conflict = findConflict(this.lookup, incoming);
    if (conflict > 0) {
      this.log.length = conflict - 1;
      for (const e of incoming) if (e.index >= conflict) this.log.push({ ...e });
    }
    this.setCommit(followerCommit(this.commitIndex, leaderCommit, prevLogIndex + incoming.length));
    return { term: this.currentTerm, success: true };
  }

  /** Become a candidate: new term, vote for ourselves; returns the request to send to every peer. */
  startElection(): VoteRequest {
    this.state = 'candidate';
    this.currentTerm += 1;
    this.votedFor = this.nodeId;
    this.leaderId = null;
    return {
      term: this.currentTerm,
      candidateId: this.nodeId,
      lastLogIndex: this.lastLogIndex(),
      lastLogTerm: this.lastLogTerm(),
    };
  }

  /** Take leadership of the current term (the caller has counted the votes, e.g. with isConsensusReached). */
  becomeLeader(): void {
    this.state = 'leader';
    this.leaderId = this.nodeId;
    this.nextIndex = {};
    this.matchIndex = {};
    for (const p of this.peers) {
      this.nextIndex[p] = this.lastLogIndex() + 1;
      this.matchIndex[p] = p === this.nodeId ? this.lastLogIndex() : 0;
    }
  }

  /**
   * Leader only: append `command` in the current term and return one
   * AppendEntries request per follower, carrying everything from its nextIndex.
   * @throws NotLeaderError when this node is not the leader.
   */
  replicateLog(command: C): AppendEntriesRequest<C>[] {
    if (this.state !== 'leader') {
      throw new NotLeaderError(`node ${this.nodeId} is ${this.state}, only the leader replicates`, {
        leader: this.leaderId,
      });
    }
    const entry: LogEntry<C> = { term: this.currentTerm, index: this.lastLogIndex() + 1, command };
    this.log.push(entry);
    this.matchIndex[this.nodeId] = entry.index;
    return this.peers
      .filter((p) => p !== this.nodeId)
      .map((p) => {
        const next = Math.min(this.nextIndex[p] ?? entry.index, entry.index);
        const prev = next - 1;
        return {
          to: p,
          term: this.currentTerm,
          leaderId: this.nodeId,
          prevLogIndex: prev,
          prevLogTerm: this.lookup.termAt(prev) ?? 0,
          entries: this.log.slice(prev).map((e) => ({ ...e })),
          leaderCommit: this.commitIndex,
        };
      });
  }

  /**
   * True when the accepting responses (voteGranted or success) are more than
   * half of all nodes. Count the leader's or candidate's own acceptance by
   * including it among the responses. Plain booleans are accepted too.
   */
  isConsensusReached(
    responses: readonly (boolean | (Partial<VoteResponse> & Partial<AppendEntriesResponse>))[],
  ): boolean {
    const accepted = responses.filter((r) =>
      typeof r === 'boolean' ? r : r.voteGranted === true || r.success === true,
    ).length;
    return isMajority(accepted, this.peers.length);
  }

  /**
   * Leader bookkeeping for an answer to a request from replicateLog: moves
   * nextIndex/matchIndex and commits what a majority holds, current-term
   * entries only (paper 5.4.2). Not part of the seed; offered for completeness.
   */
  handleAppendEntriesResponse(request: AppendEntriesRequest<C>, response: AppendEntriesResponse): void {
    this.observeTerm(response.term);
    if (this.state !== 'leader' || response.term !== this.currentTerm || request.term !== this.currentTerm)
      return;
    const p = request.to;
    if (response.success) {
      const match = request.prevLogIndex + request.entries.length;
      this.matchIndex[p] = Math.max(this.matchIndex[p] ?? 0, match);
      this.nextIndex[p] = Math.max(this.nextIndex[p] ?? 1, match + 1);
      const ci = committedIndex(this.peers, (id) => this.matchIndex[id] ?? 0);
      if (ci > this.commitIndex && this.lookup.termAt(ci) === this.currentTerm) this.setCommit(ci);
    } else {
      this.nextIndex[p] = Math.max(1, Math.min(this.nextIndex[p] ?? 1, request.prevLogIndex));
    }
  }

  private setCommit(index: number): void {
    this.commitIndex = Math.max(this.commitIndex, Math.min(index, this.log.length));
    while (this.lastApplied < this.commitIndex) {
      this.lastApplied += 1;
      const e = this.log[this.lastApplied - 1];
      if (e && this.applyFn) this.applyFn(e);
    }
  }
}
