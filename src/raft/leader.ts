/**
 * The leader's side of replication: pipelined AppendEntries paced by the
 * tracker's in-flight limits, probing back to where a follower's log matches,
 * snapshot streaming for followers behind the compacted log, heartbeats (which
 * also carry ReadIndex rounds), and the answers to all of them.
 */
import { RaftError } from './errors.js';
import { entryBytes } from './log.js';
import type { AppendEntriesResponseMsg, InstallSnapshotResponseMsg } from './messages.js';
import { mutations } from './mutations.js';
import type { Progress } from './progress.js';
import type { Raft } from './raft.js';
import type { NodeId } from './types.js';

/** Send pending appends and the due read round to every follower; called before a Ready is assembled. */
export function flush(r: Raft): void {
  if (r.role !== 'leader') return;
  if (r.reads.roundDue()) sendHeartbeats(r, r.reads.startRound());
  if (r.needBcast) {
    r.needBcast = false;
    for (const pr of r.tracker.values()) {
      if (pr.id === r.id) continue;
      fillPipeline(r, pr, r.now);
    }
  }
  if (commitNotifyReady(r)) sendCommitNotifications(r);
}

/** A commit is to be told and its hold (RaftNodeOptions.commitNotifyDelayMs) is over. */
function commitNotifyReady(r: Raft): boolean {
  return r.commitNotifyDue && r.now >= r.commitNotifyAt;
}

/** Whether flush() would send anything (for a hasReady() that must not mutate). */
export function flushPending(r: Raft): boolean {
  return r.role === 'leader' && (r.reads.roundDue() || r.needBcast || commitNotifyReady(r));
}

/**
 * Tell followers a commit at once instead of at the next heartbeat (etcd-io/raft's bcastAppend after
 * maybeCommit): a follower applies, and its KV watchers see, an entry only once it knows it committed.
 * Called once per Ready after the appends went out, so a commit that rode on one of them costs nothing
 * and a burst of acknowledgements costs one message per follower. A heartbeat carries it: its commit is
 * capped at what the follower holds, so it never depends on appends still in flight. Learners are
 * left to the heartbeat rounds when the runtime spares them (setLearnerHeartbeatRounds > 1): they
 * are in no quorum, and a battery learner should not wake for every commit.
 *
 * With commitNotifyDelayMs > 0 it waits that long after the latest commit (nextDeadline wakes the
 * runtime for it): a lone client's next write then carries the commit on its appends, instead of a
 * heartbeat and its answer per follower and write (4 messages, a wake-up of each follower and two of
 * the leader). Only liveness waits on it: reads take the commit from their own heartbeat round.
 */
function sendCommitNotifications(r: Raft): void {
  r.commitNotifyDue = false;
  for (const pr of r.tracker.values()) {
    if (pr.id === r.id) continue;
    if (pr.isLearner && r.learnerHeartbeatRounds > 1) continue;
    const commit = Math.min(pr.match, r.commit);
    if (commit <= pr.commitSent) continue;
    pr.commitSent = commit;
    r.send({ type: 'heartbeat', from: r.id, to: pr.id, term: r.term, commit, readCtx: 0 });
  }
}

/** Send appends to `pr` until its window is full or it has everything. */
function fillPipeline(r: Raft, pr: Progress, now: number): void {
  for (let i = 0; i <= r.opts.maxInflightMsgs; i++) {
    if (!sendAppend(r, pr, now)) return;
    if (pr.state !== 'replicate') return;
  }
}

/** Send `pr` its next batch; returns false when nothing was sent. */
export function sendAppend(r: Raft, pr: Progress, now: number): boolean {
  if (r.tracker.isPaused(pr)) return false;
  const last = r.log.lastIndex();
  if (pr.state === 'replicate' && pr.next > last) return false;
  const prev = pr.next - 1;
  const prevTerm = r.log.termAt(prev);
  if (prevTerm === undefined || pr.next < r.log.firstIndex()) {
    return sendSnapshot(r, pr, now);
  }
  const entries = r.log.slice(pr.next, last, r.opts.maxEntriesPerMsg, r.opts.maxSizePerMsg);
  r.send({
    type: 'append_entries',
    from: r.id,
    to: pr.id,
    term: r.term,
    prevLogIndex: prev,
    prevLogTerm: prevTerm,
    entries,
    commit: r.commit,
  });
  pr.commitSent = Math.max(pr.commitSent, Math.min(r.commit, prev + entries.length));
  // An idle pipeline starts waiting now, not at the last acknowledgement long ago.
  if (pr.state === 'replicate' && pr.inflight.length === 0) pr.lastProgressAt = now;
  let bytes = 0;
  for (const e of entries) bytes += entryBytes(e);
  pr.sentAppend(prev + entries.length, entries.length, bytes);
  return true;
}

function sendSnapshot(r: Raft, pr: Progress, now: number): boolean {
  const snap = r.snapshot;
  if (!snap) {
    throw new RaftError('no_snapshot', `follower ${pr.id} needs compacted entries but no snapshot is held`);
  }
  pr.becomeSnapshot(snap.meta.index, now);
  pr.snapshot = snap;
  pr.snapshotOffset = 0;
  sendSnapshotChunk(r, pr, now);
  return true;
}

/** Send `pr` the chunk of its snapshot that starts at the offset it asked for (stop and wait). */
function sendSnapshotChunk(r: Raft, pr: Progress, now: number): void {
  const snap = pr.snapshot;
  if (!snap) return;
  const c = r.outgoing.chunk(snap, pr.snapshotOffset);
  r.send({
    type: 'install_snapshot',
    from: r.id,
    to: pr.id,
    term: r.term,
    meta: snap.meta,
    totalBytes: c.totalBytes,
    offset: c.offset,
    crc: c.crc,
    data: c.data,
  });
  pr.snapshotSentAt = now;
}

export function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.send({ type: 'timeout_now', from: r.id, to, term: r.term });
}

/**
 * Heartbeat every follower (voters only unless `learners`); `readCtx` > 0 makes the round a ReadIndex
 * confirmation, which counts voters only. A learner left out of the round still gets it when the
 * commit index it can adopt moved past what it was last sent: commits reach learners within one
 * heartbeat interval (a read on a learner waits for them) while an idle learner is left alone.
 */
export function sendHeartbeats(r: Raft, readCtx: number, learners = true): void {
  for (const pr of r.tracker.values()) {
    if (pr.id === r.id) continue;
    // Capped at what the follower is known to hold: it may adopt it without checking its log.
    const commit = Math.min(pr.match, r.commit);
    if (!learners && pr.isLearner && commit <= pr.commitSent && !r.contactLearners.has(pr.id)) continue;
    pr.commitSent = Math.max(pr.commitSent, commit);
    r.send({
      type: 'heartbeat',
      from: r.id,
      to: pr.id,
      term: r.term,
      commit,
      readCtx,
    });
  }
}

export function handleAppendResponse(r: Raft, m: AppendEntriesResponseMsg, now: number): void {
  const pr = r.tracker.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  pr.recovering = m.recovering === true;
  if (!m.success) {
    let hint = m.conflictIndex;
    if (m.conflictTerm > 0) {
      const li = r.log.lastIndexOfTerm(m.conflictTerm);
      if (li > 0) hint = li + 1;
    }
    hint = Math.min(hint, m.lastLogIndex + 1);
    if (pr.maybeDecrTo(m.rejectedIndex, Math.max(hint, 1), m.lastLogIndex)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      sendAppend(r, pr, now);
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
    // The mutant counts the leader's own copy as soon as it is in memory, before its fsync.
    if (mutations().leaderCountsSelfBeforePersist) r.tracker.get(r.id)?.maybeUpdate(r.log.lastIndex());
    r.maybeCommit();
    // The commit may have applied a change that removed us: we lead no more.
    if (r.role !== 'leader') return;
    // A follower acknowledging after the commit moved (the slower of two) learns it too.
    if (Math.min(pr.match, r.commit) > pr.commitSent) r.commitNotifyDue = true;
    if (r.leadTransferee === m.from && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
  }
  fillPipeline(r, pr, now);
}

export function handleHeartbeatResponse(
  r: Raft,
  from: NodeId,
  readCtx: number,
  recovering: boolean,
  now: number,
): void {
  const pr = r.tracker.get(from);
  if (!pr) return;
  pr.recentActive = true;
  pr.recovering = recovering;
  if (pr.state === 'probe') pr.probeSent = false;
  // Pipelined appends that were lost, or answered out of order so that the rejection looked
  // stale, leave `match` stuck while `next` is past the end: restart from what is known.
  if (
    pr.state === 'replicate' &&
    pr.match < r.log.lastIndex() &&
    now - pr.lastProgressAt >= 2 * r.opts.heartbeatIntervalMs
  ) {
    pr.becomeProbe();
  }
  // A snapshot chunk that got no answer within an election timeout is presumed lost:
  // send it again; the follower keeps what it has and the stream resumes there.
  if (pr.state === 'snapshot' && now - pr.snapshotSentAt >= r.opts.electionTimeoutMaxMs)
    sendSnapshotChunk(r, pr, now);
  if (pr.match < r.log.lastIndex()) sendAppend(r, pr, now);
  // A recovering follower's acknowledgement confirms nothing: its term may have regressed.
  if (!recovering) {
    for (const rs of r.reads.ack(from, readCtx, r.conf.voters, r.id)) r.readStates.push(rs);
  }
}

export function handleSnapshotResponse(r: Raft, m: InstallSnapshotResponseMsg, now: number): void {
  const pr = r.tracker.get(m.from);
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
        sendSnapshotChunk(r, pr, now);
      } else if (m.nextOffset < pr.snapshotOffset) {
        pr.snapshotOffset = m.nextOffset;
      }
    }
    return;
  }
  pr.maybeUpdate(m.matchIndex);
  if (pr.state === 'snapshot') pr.becomeProbe();
  r.maybeCommit();
  if (Math.min(pr.match, r.commit) > pr.commitSent) r.commitNotifyDue = true;
  if (r.role === 'leader') sendAppend(r, pr, now);
}
