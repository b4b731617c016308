/**
 * Wire layout of every Raft message (src/raft/messages.ts), type codes
 * 0x40-0x7F. Raft travels over TCP frames (16 MiB at most): the core keeps an
 * AppendEntries near 1 MiB and streams a snapshot of any size in chunks.
 *
 * The common header (from, to, term, cluster) is the first four positions of
 * every body so a router can read it without knowing the type. `cluster` is
 * the sender's cluster id ("" before it belongs to one): a receiver that
 * belongs to another cluster drops the message, so two clusters formed apart
 * never disturb each other's terms or logs (see docs/formation.md).
 */
import type * as core from '../raft/messages.js';
import { EntryType, type ConfState, type Entry, type SnapshotMeta } from '../raft/types.js';
import { MessageCodec, RAFT_TYPES, message, type SpecTable } from './codec.js';
import { DEFAULT_MAX_FRAME_BYTES } from './framing.js';
import { arr, bin, bool, obj, oneOf, opt, str, uint } from './schema.js';

/** A Raft message as it travels: the core's message plus the sender's cluster id. */
export type ClusterRaftMessage = core.RaftMessage & { readonly cluster: string };

// The wire forms of the core's messages, under the core's names, so the table below reads as before.
type W<T extends core.RaftMessage> = T & { readonly cluster: string };
type RaftMessage = ClusterRaftMessage;
type RequestVoteMsg = W<core.RequestVoteMsg>;
type RequestVoteResponseMsg = W<core.RequestVoteResponseMsg>;
type AppendEntriesMsg = W<core.AppendEntriesMsg>;
type AppendEntriesResponseMsg = W<core.AppendEntriesResponseMsg>;
type HeartbeatMsg = W<core.HeartbeatMsg>;
type HeartbeatResponseMsg = W<core.HeartbeatResponseMsg>;
type InstallSnapshotMsg = W<core.InstallSnapshotMsg>;
type InstallSnapshotResponseMsg = W<core.InstallSnapshotResponseMsg>;
type TimeoutNowMsg = W<core.TimeoutNowMsg>;

export const RAFT_LIMITS = {
  nodeIdBytes: 128,
  clusterIdBytes: 32,
  /** An entry or snapshot chunk must fit a frame with room for the envelope and encryption. */
  dataBytes: DEFAULT_MAX_FRAME_BYTES - 4096,
  entries: 1 << 20,
  members: 1024,
} as const;

/** Raft's codes, in the order of RAFT_MESSAGE_TYPES; never reuse a retired one. */
export const RAFT_TYPE_CODES = {
  request_vote: 0x40,
  request_vote_response: 0x41,
  append_entries: 0x42,
  append_entries_response: 0x43,
  heartbeat: 0x44,
  heartbeat_response: 0x45,
  install_snapshot: 0x46,
  install_snapshot_response: 0x47,
  timeout_now: 0x48,
} as const satisfies Readonly<Record<RaftMessage['type'], number>>;

const nodeId = str(RAFT_LIMITS.nodeIdBytes);
const index = uint();
const term = uint();

const entry = obj<Entry>({
  index,
  term,
  type: oneOf([EntryType.Normal, EntryType.ConfChange]),
  data: bin(RAFT_LIMITS.dataBytes),
});

const confState = obj<ConfState>({
  voters: arr(nodeId, RAFT_LIMITS.members),
  learners: arr(nodeId, RAFT_LIMITS.members),
});

const snapshotMeta = obj<SnapshotMeta>({ index, term, conf: confState });

const header = { from: nodeId, to: nodeId, term, cluster: str(RAFT_LIMITS.clusterIdBytes) } as const;
const C = RAFT_TYPE_CODES;

/** Exported so the Raft transport's codec can add the forwarding frames (forward-codec.ts). */
export const raftSpecs: SpecTable<RaftMessage> = {
  request_vote: message<RequestVoteMsg>(C.request_vote, 'RequestVote / PreVote', {
    ...header,
    lastLogIndex: index,
    lastLogTerm: term,
    preVote: bool(),
    transfer: bool(),
  }),
  request_vote_response: message<RequestVoteResponseMsg>(C.request_vote_response, 'Vote answer', {
    ...header,
    granted: bool(),
    preVote: bool(),
  }),
  append_entries: message<AppendEntriesMsg>(C.append_entries, 'AppendEntries', {
    ...header,
    prevLogIndex: index,
    prevLogTerm: term,
    entries: arr(entry, RAFT_LIMITS.entries),
    commit: index,
  }),
  append_entries_response: message<AppendEntriesResponseMsg>(
    C.append_entries_response,
    'AppendEntries answer',
    {
      ...header,
      success: bool(),
      matchIndex: index,
      rejectedIndex: index,
      conflictTerm: term,
      conflictIndex: index,
      lastLogIndex: index,
      recovering: opt(bool()),
    },
  ),
  heartbeat: message<HeartbeatMsg>(C.heartbeat, 'Heartbeat (commit, ReadIndex context)', {
    ...header,
    commit: index,
    readCtx: uint(),
  }),
  heartbeat_response: message<HeartbeatResponseMsg>(C.heartbeat_response, 'Heartbeat answer', {
    ...header,
    readCtx: uint(),
    recovering: opt(bool()),
  }),
  install_snapshot: message<InstallSnapshotMsg>(C.install_snapshot, 'One chunk of a snapshot stream', {
    ...header,
    meta: snapshotMeta,
    totalBytes: uint(),
    offset: uint(),
    crc: uint(0xffffffff),
    data: bin(RAFT_LIMITS.dataBytes),
  }),
  install_snapshot_response: message<InstallSnapshotResponseMsg>(
    C.install_snapshot_response,
    'Snapshot installed, or the offset wanted next',
    { ...header, matchIndex: index, snapshotIndex: index, nextOffset: uint(), recovering: opt(bool()) },
  ),
  timeout_now: message<TimeoutNowMsg>(C.timeout_now, 'Leadership transfer: campaign now', { ...header }),
};

export const raftCodec: MessageCodec<RaftMessage> = new MessageCodec<RaftMessage>(
  'raft',
  RAFT_TYPES,
  raftSpecs,
);
