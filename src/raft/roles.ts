/**
 * Role transitions and elections (paper 5.2, thesis 9.6 pre-vote, 6.2
 * check-quorum): timers, becoming follower/candidate/leader, and the vote
 * request/response handling of every role.
 */
import { sendHeartbeats } from './leader.js';
import type { RequestVoteMsg } from './messages.js';
import { mutations } from './mutations.js';
import { voteResult } from './quorum.js';
import type { Raft } from './raft.js';
import { canGrantVote, isUpToDate } from './rules.js';
import { EntryType, type NodeId } from './types.js';

const EMPTY = new Uint8Array(0);

/** Advance timers: elections on followers, heartbeats and check-quorum on the leader. */
export function tick(r: Raft, now: number): void {
  r.start(now);
  if (r.role === 'leader') {
    if (now >= r.heartbeatDeadline) {
      r.heartbeatDeadline = now + r.opts.heartbeatIntervalMs * r.heartbeatScale;
      // Learners are in no quorum and never campaign: they may skip rounds (setLearnerHeartbeatRounds).
      r.heartbeatRound++;
      sendHeartbeats(r, r.reads.heartbeatCtx(), r.heartbeatRound % r.learnerHeartbeatRounds === 0);
    }
    if (r.opts.checkQuorum && now >= r.checkQuorumDeadline) {
      r.checkQuorumDeadline = now + r.opts.electionTimeoutMinMs * r.heartbeatScale;
      if (!r.tracker.quorumActive(r.conf.voters)) {
        becomeFollower(r, r.term, null, now);
        return;
      }
    }
    if (r.leadTransferee !== null && now >= r.transferDeadline) r.leadTransferee = null;
    return;
  }
  if (now >= r.electionDeadline) {
    if (r.isVoter() && r.recoveringUntil === 0) campaign(r, now, r.opts.preVote ? 'pre' : 'real', false);
    else r.resetElectionTimer(now);
  }
}

/**
 * A node that heard from a live leader within the minimum election timeout (x leaseScale, the
 * runtime's quiet stretch) ignores vote requests.
 */
export function inLease(r: Raft, now: number): boolean {
  if (!r.opts.checkQuorum) return false;
  if (r.role === 'leader') return true;
  return r.leader !== null && now - r.lastLeaderContact < r.opts.electionTimeoutMinMs * r.leaseScale;
}

export function becomeFollower(r: Raft, term: number, leader: NodeId | null, now: number): void {
  if (term !== r.term) {
    r.term = term;
    r.vote = null;
    // A snapshot stream of an earlier term is never resumed: free its chunks.
    r.incoming.clear();
  }
  r.role = 'follower';
  r.leader = leader;
  r.resetElectionTimer(now);
  r.tracker.clear();
  r.votes = new Map();
  r.leadTransferee = null;
  r.reads.reset();
  r.needBcast = false;
  r.commitNotifyDue = false;
}

export function campaign(r: Raft, now: number, kind: 'pre' | 'real', transfer: boolean): void {
  r.resetElectionTimer(now);
  r.leader = null;
  let term: number;
  if (kind === 'pre') {
    // A pre-vote binds nothing, so our own counts at once.
    r.role = 'precandidate';
    r.votes = new Map([[r.id, true]]);
    term = r.term + 1;
  } else {
    // Our own real vote counts in advance(), once the Ready carrying it is durable.
    r.role = 'candidate';
    r.votes = new Map();
    r.term += 1;
    r.vote = r.id;
    term = r.term;
  }
  if (voteResult(r.conf.voters, r.votes) === 'won') {
    if (kind === 'pre') campaign(r, now, 'real', transfer);
    else becomeLeader(r, now);
    return;
  }
  for (const v of r.conf.voters) {
    if (v === r.id) continue;
    r.send({
      type: 'request_vote',
      from: r.id,
      to: v,
      term,
      lastLogIndex: r.log.lastIndex(),
      lastLogTerm: r.log.lastTerm(),
      preVote: kind === 'pre',
      transfer,
    });
  }
}

function becomeLeader(r: Raft, now: number): void {
  r.role = 'leader';
  r.leader = r.id;
  r.votes = new Map();
  r.tracker.init(r.conf, r.log.lastIndex() + 1, r.log.stableIndex());
  r.heartbeatDeadline = now + r.opts.heartbeatIntervalMs * r.heartbeatScale;
  r.checkQuorumDeadline = now + r.opts.electionTimeoutMinMs * r.heartbeatScale;
  r.reads.reset();
  // The no-op commits everything of earlier terms (paper 5.4.2) and gates the
  // first membership change (a change must wait for a commit in this term).
  const noop = r.appendLocal(EntryType.Normal, EMPTY);
  r.pendingConfIndex = noop.index;
}

export function handleVoteRequest(r: Raft, m: RequestVoteMsg, now: number): void {
  const ourIndex = r.log.lastIndex();
  const ourTerm = r.log.lastTerm();
  let granted: boolean;
  if (r.recoveringUntil > 0) {
    // A vote from a node that may have lost acknowledged entries could elect a leader without them.
    granted = false;
  } else if (m.preVote) {
    // Pre-vote does not bind us: grant whenever a real vote could later succeed.
    granted =
      m.term > r.term &&
      (mutations().voteNoUpToDateCheck || isUpToDate(m.lastLogIndex, m.lastLogTerm, ourIndex, ourTerm));
  } else {
    // Also refuse while we follow a leader of this term: voting for someone else then helps nobody.
    const free = r.vote === m.from || (r.vote === null && r.leader === null);
    granted =
      free &&
      (mutations().voteNoUpToDateCheck ||
        canGrantVote(r.vote, m.from, m.lastLogIndex, m.lastLogTerm, ourIndex, ourTerm));
    if (granted) {
      r.vote = m.from;
      r.resetElectionTimer(now);
    }
  }
  r.send({
    type: 'request_vote_response',
    from: r.id,
    to: m.from,
    term: granted && m.preVote ? m.term : r.term,
    granted,
    preVote: m.preVote,
  });
}

export function handleVoteResponse(
  r: Raft,
  from: NodeId,
  granted: boolean,
  preVote: boolean,
  now: number,
): void {
  if (preVote ? r.role !== 'precandidate' : r.role !== 'candidate') return;
  r.votes.set(from, granted);
  const res = voteResult(r.conf.voters, r.votes);
  if (res === 'won') {
    if (preVote) campaign(r, now, 'real', false);
    else becomeLeader(r, now);
  } else if (res === 'lost') {
    becomeFollower(r, r.term, null, now);
  }
}
