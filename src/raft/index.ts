/** The Raft core's public surface: import from here, not from the files behind it. */
export * from './types.js';
export * from './messages.js';
export {
  RaftNode,
  type RaftNodeOptions,
  type Ready,
  type ProposeResult,
  type ProposeRejection,
  type ReadIndexResult,
  type TransferResult,
  type RaftStatus,
  type ProgressStatus,
} from './raft-node.js';
export {
  applyConfChange,
  decodeConfChange,
  encodeConfChange,
  validateConfChange,
  type ConfChange,
  type ConfChangeEntry,
  type ConfChangeType,
} from './confchange.js';
export { RaftError, NotLeaderError } from './errors.js';
export { quorumSize, isMajority, committedIndex, voteResult, type VoteResult } from './quorum.js';
export type { ProgressState } from './progress.js';
export {
  KvStateMachine,
  encodeCommand,
  decodeCommand,
  jsonEqual,
  type KvCommand,
  type KvOp,
  type KvRecord,
  type KvResult,
  type KvErrorCode,
  type JsonValue,
} from './kv.js';
export {
  ConsensusProtocol,
  type ConsensusState,
  type ConsensusProtocolOptions,
  type LogEntry,
  type VoteRequest,
  type VoteResponse,
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  type IncomingEntry,
} from './consensus-protocol.js';
