/**
 * Every message the Raft core exchanges with its peers.
 *
 * The union is closed and discriminated by `type`, so a runtime can encode it
 * with msgpack (Uint8Array payloads survive as binary) and route by `to`.
 * A message is addressed node to node; the core never broadcasts at the
 * transport level, it emits one message per recipient.
 */
import type { Entry, MessageBase, NodeId, SnapshotMeta } from './types.js';

/**
 * RequestVote (and PreVote when `preVote` is true).
 *
 * For a pre-vote, `term` is the term the sender WOULD campaign in
 * (its current term + 1); neither side changes its term or vote because of it.
 * `transfer` marks a campaign started by TimeoutNow: receivers then ignore their
 * leader lease, because the current leader asked for it.
 */
export interface RequestVoteMsg extends MessageBase {
  readonly type: 'request_vote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  readonly preVote: boolean;
  readonly transfer: boolean;
}

export interface RequestVoteResponseMsg extends MessageBase {
  readonly type: 'request_vote_response';
  readonly granted: boolean;
  readonly preVote: boolean;
}

/**
 * AppendEntries. `entries` may be empty when the leader probes where a
 * follower's log matches. `commit` is the leader's commit index.
 */
export interface AppendEntriesMsg extends MessageBase {
  readonly type: 'append_entries';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * Answer to AppendEntries.
 *
 * On success `matchIndex` is the last index the follower now knows to equal
 * the leader's log. On rejection `rejectedIndex` repeats the request's
 * `prevLogIndex` (so the leader can drop stale answers) and the hint lets the
 * leader skip a whole conflicting term in one round trip (thesis 5.3):
 * `conflictTerm` is the follower's term at `prevLogIndex` (0 when its log is
 * shorter) and `conflictIndex` the first index it holds with that term (or
 * its last index + 1 when shorter).
 */
export interface AppendEntriesResponseMsg extends MessageBase {
  readonly type: 'append_entries_response';
  readonly success: boolean;
  readonly matchIndex: number;
  readonly rejectedIndex: number;
  readonly conflictTerm: number;
  readonly conflictIndex: number;
  readonly lastLogIndex: number;
  /**
   * The follower may have lost entries it acknowledged (a damaged WAL tail) and
   * has not caught up yet: the leader must not count it toward any quorum.
   * Absent means false.
   */
  readonly recovering?: boolean;
}

/**
 * Leader liveness and commit propagation without entries. `commit` is capped
 * at the follower's known match so a follower never commits entries it may
 * not hold. `readCtx` > 0 asks the follower to echo it: the ReadIndex round.
 */
export interface HeartbeatMsg extends MessageBase {
  readonly type: 'heartbeat';
  readonly commit: number;
  readonly readCtx: number;
}

export interface HeartbeatResponseMsg extends MessageBase {
  readonly type: 'heartbeat_response';
  readonly readCtx: number;
  /** As on AppendEntriesResponseMsg: this answer confirms nothing to a quorum. Absent means false. */
  readonly recovering?: boolean;
}

/**
 * One chunk of the leader's snapshot, for a follower whose next entry was
 * compacted away. A snapshot image has no size limit, so it travels as
 * `data` slices of at most a chunk size each (1 MiB by default), one at a
 * time: chunk [offset, offset + data.length) of an image of `totalBytes`
 * whose CRC-32 is `crc`. The follower assembles them in order, checks the
 * whole image against `crc`, and only then installs it.
 */
export interface InstallSnapshotMsg extends MessageBase {
  readonly type: 'install_snapshot';
  readonly meta: SnapshotMeta;
  readonly totalBytes: number;
  readonly offset: number;
  readonly crc: number;
  readonly data: Uint8Array;
}

/**
 * `matchIndex` > 0: the follower now holds everything up to it (the snapshot's
 * index or its own higher commit). Otherwise the follower holds the first
 * `nextOffset` bytes of the snapshot at `snapshotIndex` and asks for the chunk
 * there: the next one, or after a lost, duplicated or damaged chunk the one it
 * is missing (0: start over).
 */
export interface InstallSnapshotResponseMsg extends MessageBase {
  readonly type: 'install_snapshot_response';
  readonly matchIndex: number;
  readonly snapshotIndex: number;
  readonly nextOffset: number;
  /** As on AppendEntriesResponseMsg. Absent means false. */
  readonly recovering?: boolean;
}

/** Leadership transfer: the receiver campaigns at once, skipping pre-vote and leases. */
export interface TimeoutNowMsg extends MessageBase {
  readonly type: 'timeout_now';
}

export type RaftMessage =
  | RequestVoteMsg
  | RequestVoteResponseMsg
  | AppendEntriesMsg
  | AppendEntriesResponseMsg
  | HeartbeatMsg
  | HeartbeatResponseMsg
  | InstallSnapshotMsg
  | InstallSnapshotResponseMsg
  | TimeoutNowMsg;

export type RaftMessageType = RaftMessage['type'];

export const RAFT_MESSAGE_TYPES: readonly RaftMessageType[] = [
  'request_vote',
  'request_vote_response',
  'append_entries',
  'append_entries_response',
  'heartbeat',
  'heartbeat_response',
  'install_snapshot',
  'install_snapshot_response',
  'timeout_now',
];

export type { NodeId };
