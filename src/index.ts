/** Public API of the iot-swarm package. */
export { VERSION } from './version.js';
export { SwarmError, ConfigError, UsageError } from './common/errors.js';
export { createRng, type Rng } from './common/rng.js';
export type * from './raft/types.js';
export {
  RaftNode,
  RaftError,
  NotLeaderError,
  encodeConfChange,
  decodeConfChange,
  KvStateMachine,
  encodeCommand,
  decodeCommand,
  ConsensusProtocol,
} from './raft/index.js';
export type {
  RaftNodeOptions,
  Ready,
  ProposeResult,
  ReadIndexResult,
  TransferResult,
  RaftStatus,
  RaftMessage,
  ConfChange,
  ConfChangeEntry,
  KvCommand,
  KvResult,
  KvRecord,
  JsonValue,
  LogEntry,
  VoteRequest,
  VoteResponse,
  AppendEntriesRequest,
  AppendEntriesResponse,
} from './raft/index.js';
