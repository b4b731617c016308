/**
 * The Ready (etcd's rawnode.go): what the runtime must persist, send and apply
 * next, and the advance() that acknowledges it. The order and the durability
 * contract are in raft-node.ts's module comment.
 */
import { flush, flushPending } from './leader.js';
import type { RaftMessage } from './messages.js';
import { mutations } from './mutations.js';
import type { Raft } from './raft.js';
import { handleVoteResponse } from './roles.js';
import type { Entry, HardState, ReadState, Snapshot, SoftState } from './types.js';

/** What the runtime must persist, send and apply; see raft-node.ts's module comment for the order. */
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

function softChanged(r: Raft): boolean {
  const s = r.softState();
  return r.prevSoft === null || s.role !== r.prevSoft.role || s.leader !== r.prevSoft.leader;
}

function hardChanged(r: Raft): boolean {
  return r.term !== r.prevHard.term || r.vote !== r.prevHard.vote || r.commit !== r.prevHard.commit;
}

/**
 * Whether a Ready has something to hand out. A pure read: a leader's batched
 * appends and due read round count as pending here and are only turned into
 * messages by buildReady(), so asking twice changes nothing.
 */
export function hasReady(r: Raft): boolean {
  return (
    r.msgs.length > 0 ||
    flushPending(r) ||
    r.readStates.length > 0 ||
    r.unpersistedSnapshot !== null ||
    r.log.stableIndex() < r.log.lastIndex() ||
    hardChanged(r) ||
    softChanged(r) ||
    r.committedAvailable() > r.handedOut ||
    r.recoveredPending
  );
}

/** Assemble the next Ready and mark its contents as handed out. */
export function buildReady(r: Raft): Ready {
  flush(r);
  const hs: HardState = { term: r.term, vote: r.vote, commit: r.commit };
  const ss = r.softState();
  const entries = r.log.unstableEntries();
  const upTo = Math.min(r.committedAvailable(), r.handedOut + r.opts.maxCommittedPerReady);
  const committed = upTo > r.handedOut ? r.log.slice(r.handedOut + 1, upTo) : [];
  const mustSync =
    entries.length > 0 ||
    r.unpersistedSnapshot !== null ||
    hs.term !== r.prevHard.term ||
    hs.vote !== r.prevHard.vote;
  // A leader's term and vote must already be durable for its appends to leave early: a leader
  // elected in this Ready's term change (a single voter) sends them after the fsync instead.
  const termDurable = hs.term === r.prevHard.term && hs.vote === r.prevHard.vote;
  const early: RaftMessage[] = [];
  const late: RaftMessage[] = [];
  for (const m of r.msgs) (isEarly(m, termDurable) ? early : late).push(m);
  // One fixed object shape (absent fields left undefined) keeps property access monomorphic.
  const rd: Ready = {
    softState: softChanged(r) ? ss : undefined,
    hardState: hardChanged(r) ? hs : undefined,
    entries,
    snapshot: r.unpersistedSnapshot ?? undefined,
    messages: early.length === 0 ? late : late.length === 0 ? early : [...early, ...late],
    earlyCount: early.length,
    committed,
    readStates: r.readStates,
    mustSync,
    recovered: r.recoveredPending,
  };
  r.recoveredPending = false;
  r.msgs = [];
  r.readStates = [];
  r.unpersistedSnapshot = null;
  r.prevHard = hs;
  r.prevSoft = ss;
  r.handedOut = Math.max(r.handedOut, upTo);
  return rd;
}

/** The runtime has persisted, sent and applied `rd`. */
export function advance(r: Raft, rd: Ready): void {
  if (rd.snapshot) r.applied = Math.max(r.applied, rd.snapshot.meta.index);
  const lastApplied = rd.committed[rd.committed.length - 1];
  if (lastApplied) r.applied = Math.max(r.applied, lastApplied.index);
  // Our own vote counts from the moment it is durable: a candidate that crashed before that
  // could, restarted with the older term, vote for another candidate in this same term.
  const hs = rd.hardState;
  if (r.role === 'candidate' && hs !== undefined && hs.term === r.term && hs.vote === r.id) {
    handleVoteResponse(r, r.id, true, false, r.now);
  }
  const last = rd.entries[rd.entries.length - 1];
  if (last) {
    r.log.stableTo(last.index, last.term);
    if (r.role === 'leader') {
      r.tracker.get(r.id)?.maybeUpdate(r.log.stableIndex());
      r.maybeCommit();
    }
  }
}

/** Whether `m` depends on nothing of the Ready it is part of being durable (see raft-node.ts). */
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
