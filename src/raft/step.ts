/**
 * Message dispatch (etcd's Step): the term rules every message passes first
 * (paper figure 2: a higher term makes us a follower of it, a lower one is
 * answered so its sender catches up), then the handler of our role.
 */
import {
  checkRecovered,
  handleAppend,
  handleHeartbeat,
  handleSnapshot,
  sendAppendResponse,
} from './follower.js';
import { handleAppendResponse, handleHeartbeatResponse, handleSnapshotResponse } from './leader.js';
import type { RaftMessage } from './messages.js';
import { mutations } from './mutations.js';
import type { Raft } from './raft.js';
import { becomeFollower, campaign, handleVoteRequest, handleVoteResponse, inLease } from './roles.js';

/** Feed one message from a peer. Messages from older terms are dropped or answered so their sender catches up. */
export function step(r: Raft, m: RaftMessage, now: number): void {
  r.start(now);
  if (m.from === r.id || m.to !== r.id) return;

  if (m.term > r.term) {
    if (m.type === 'request_vote' && !m.transfer && inLease(r, now)) return;
    const keepTerm =
      (m.type === 'request_vote' && m.preVote) ||
      (m.type === 'request_vote_response' && m.preVote && m.granted);
    if (!keepTerm) {
      const fromLeader =
        m.type === 'append_entries' || m.type === 'heartbeat' || m.type === 'install_snapshot';
      becomeFollower(r, m.term, fromLeader ? m.from : null, now);
    }
  } else if (m.term < r.term) {
    if (m.type === 'append_entries' && mutations().appendAcceptsStaleTerm && r.role !== 'leader') {
      handleAppend(r, m);
      return;
    }
    if (m.type === 'append_entries' || m.type === 'heartbeat') {
      // A stale leader (often one that was partitioned away) learns our term and steps down;
      // without this, with pre-vote, a node stuck at a higher term could never rejoin.
      sendAppendResponse(r, m.from, false, 0, 0);
    } else if (m.type === 'request_vote') {
      // Paper figure 2: reply false with our term, so the candidate catches up.
      r.send({
        type: 'request_vote_response',
        from: r.id,
        to: m.from,
        term: r.term,
        granted: false,
        preVote: m.preVote,
      });
    }
    return;
  }

  switch (m.type) {
    case 'request_vote':
      handleVoteRequest(r, m, now);
      return;
    case 'request_vote_response':
      handleVoteResponse(r, m.from, m.granted, m.preVote, now);
      return;
    case 'append_entries':
    case 'heartbeat':
    case 'install_snapshot':
      if (r.role === 'leader') return; // another leader in our term cannot exist; drop defensively
      if (r.role !== 'follower' || r.leader !== m.from) becomeFollower(r, m.term, m.from, now);
      r.lastLeaderContact = now;
      r.resetElectionTimer(now);
      if (m.type === 'append_entries') handleAppend(r, m);
      else if (m.type === 'heartbeat') handleHeartbeat(r, m);
      else handleSnapshot(r, m);
      checkRecovered(r);
      return;
    case 'timeout_now':
      if (r.role !== 'leader' && r.isVoter() && r.recoveringUntil === 0) campaign(r, now, 'real', true);
      return;
    case 'append_entries_response':
      if (r.role === 'leader') handleAppendResponse(r, m, now);
      return;
    case 'heartbeat_response':
      if (r.role === 'leader') handleHeartbeatResponse(r, m.from, m.readCtx, m.recovering === true, now);
      return;
    case 'install_snapshot_response':
      if (r.role === 'leader') handleSnapshotResponse(r, m, now);
      return;
  }
}
