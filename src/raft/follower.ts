/**
 * A follower's (and learner's) side of replication: AppendEntries with the
 * log-matching check and conflict hints (paper 5.3), heartbeats, chunked
 * InstallSnapshot, and the leaving of the recovering state.
 */
import { RaftError } from './errors.js';
import type { AppendEntriesMsg, HeartbeatMsg, InstallSnapshotMsg } from './messages.js';
import { mutations } from './mutations.js';
import type { Raft } from './raft.js';
import { findConflict, followerCommit, logMatches } from './rules.js';
import type { NodeId, Snapshot } from './types.js';

/**
 * The one AppendEntries answer, for success, rejection with conflict hints
 * (paper 5.3's optimisation), and a stale leader's wake-up call. It always
 * carries our last index, so the leader can skip straight past a short log.
 */
export function sendAppendResponse(
  r: Raft,
  to: NodeId,
  success: boolean,
  matchIndex: number,
  rejectedIndex: number,
  conflictTerm = 0,
  conflictIndex = 0,
): void {
  r.send({
    type: 'append_entries_response',
    from: r.id,
    to,
    term: r.term,
    success,
    matchIndex,
    rejectedIndex,
    conflictTerm,
    conflictIndex,
    lastLogIndex: r.log.lastIndex(),
    recovering: r.recoveringFlag(),
  });
}

export function handleAppend(r: Raft, m: AppendEntriesMsg): void {
  let prev = m.prevLogIndex;
  let prevTerm = m.prevLogTerm;
  let entries = m.entries;
  if (prev < r.commit) {
    // Our log up to commit equals every later leader's (leader completeness): skip that part.
    entries = entries.filter((e) => e.index > r.commit);
    prev = r.commit;
    prevTerm = r.log.termAt(prev) ?? 0;
    if (m.prevLogIndex + m.entries.length <= r.commit) {
      sendAppendResponse(r, m.from, true, r.commit, m.prevLogIndex);
      return;
    }
  }
  if (logMatches(r.log, prev, prevTerm)) {
    const conflict = findConflict(r.log, entries);
    if (conflict > 0) {
      if (conflict <= r.commit) {
        throw new RaftError(
          'overwrite_committed',
          `leader ${m.from} would overwrite committed entry ${conflict}`,
          {
            commit: r.commit,
          },
        );
      }
      r.log.append(entries.slice(conflict - (entries[0]?.index ?? conflict)));
    }
    const lastNew = prev + entries.length;
    r.setCommit(
      mutations().commitNotCappedByLastIndex
        ? Math.max(r.commit, m.commit)
        : followerCommit(r.commit, m.commit, lastNew),
    );
    sendAppendResponse(r, m.from, true, lastNew, m.prevLogIndex);
    return;
  }
  const last = r.log.lastIndex();
  let conflictTerm = 0;
  let conflictIndex = last + 1;
  if (prev <= last) {
    conflictTerm = r.log.termAt(prev) ?? 0;
    conflictIndex = Math.max(r.log.firstIndexOfTerm(prev), r.commit + 1);
  }
  sendAppendResponse(r, m.from, false, 0, m.prevLogIndex, conflictTerm, conflictIndex);
}

export function handleHeartbeat(r: Raft, m: HeartbeatMsg): void {
  // The leader caps `commit` at what it knows we match, so it is safe to adopt.
  r.setCommit(Math.min(m.commit, r.log.lastIndex()));
  checkRecovered(r);
  r.send({
    type: 'heartbeat_response',
    from: r.id,
    to: m.from,
    term: r.term,
    readCtx: m.readCtx,
    recovering: r.recoveringFlag(),
  });
}

/** Leave the recovering state once a leader's commit index, counted without us, covers what we may have lost. */
export function checkRecovered(r: Raft): void {
  if (r.recoveringUntil > 0 && r.commit >= r.recoveringUntil) {
    r.recoveringUntil = 0;
    r.recoveredPending = true;
  }
}

export function handleSnapshot(r: Raft, m: InstallSnapshotMsg): void {
  const { index } = m.meta;
  if (index <= r.commit) {
    r.incoming.clear();
    sendSnapshotResponse(r, m.from, r.commit, index, 0);
    return;
  }
  const out = r.incoming.receive(m, r.term);
  if (out.kind === 'need') {
    sendSnapshotResponse(r, m.from, 0, index, out.offset);
    return;
  }
  installSnapshot(r, out.snapshot);
  sendSnapshotResponse(r, m.from, index, index, 0);
}

function installSnapshot(r: Raft, snap: Snapshot): void {
  const { index, term, conf } = snap.meta;
  if (r.log.termAt(index) === term) {
    // We already hold the entries; the snapshot only tells us they are committed.
    r.setCommit(index);
  } else {
    r.log.restore(index, term);
    r.commit = index;
    r.conf = { voters: [...conf.voters], learners: [...conf.learners] };
    r.baseConf = r.conf;
    r.confIndex = index;
    r.snapshot = snap;
    r.unpersistedSnapshot = snap;
    r.handedOut = index;
  }
}

function sendSnapshotResponse(
  r: Raft,
  to: NodeId,
  matchIndex: number,
  snapshotIndex: number,
  nextOffset: number,
): void {
  r.send({
    type: 'install_snapshot_response',
    from: r.id,
    to,
    term: r.term,
    matchIndex,
    snapshotIndex,
    nextOffset,
    recovering: r.recoveringFlag(),
  });
}
