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
export {
  FileRaftStorage,
  readDataDir,
  persistReady,
  WalCorruptionError,
  SnapshotCorruptionError,
  StorageError,
} from './raft/storage/index.js';
export type {
  FileStorageOptions,
  StorageStats,
  StorageWarning,
  StorageFs,
  StorageFile,
  DataDirImage,
  PersistableReady,
} from './raft/storage/index.js';
export {
  loadConfig,
  defaultConfig,
  configSchema,
  KEY_SPECS,
  resolveConfigPath,
  setConfigKey,
  configTemplate,
} from './config/index.js';
export type {
  SwarmConfig,
  LoadedConfig,
  LoadConfigOptions,
  ConfigOverride,
  KeySpec,
} from './config/index.js';
export {
  SwarmClient,
  NodeUnreachableError,
  ApiRequestError,
  UnauthorizedError,
  BadResponseError,
} from './client/index.js';
export type {
  SwarmClientOptions,
  StatusResponse,
  HealthResponse,
  ShutdownResponse,
  ErrorResponse,
  EventWatchItem,
  EventJson,
  EventSendResponse,
  EventsRecentResponse,
} from './client/index.js';
export { SwarmNode, type NodeComponent, type NodeStatus, type ComponentStatus } from './node/node.js';
export { createLogger, type Logger, type LogLevel } from './node/log.js';
export {
  GossipComponent,
  type GossipComponentOptions,
  type GossipView,
  type LocalMeta,
  type MemberSnapshot,
} from './node/gossip-component.js';
export { membersRoutes, membersResponse, type MembersSource } from './api/members.js';
export { gossipMetricSamples, gossipMetricsRegistry } from './node/gossip-metrics.js';
export type { MembersResponse, MemberView, MemberEnergy } from './api/members-types.js';
export { createApi, ApiServer, type ApiNode, type ApiRoutes } from './api/index.js';
export {
  gossipCodec,
  raftCodec,
  Keyring,
  generateKey,
  parseKey,
  UdpTransport,
  TcpTransport,
  KeyError,
  TransportError,
} from './net/index.js';
export type { TransportStats, DropReason, DecodeResult, UdpAddress, TcpAddress } from './net/index.js';
export {
  GossipNode,
  DEFAULT_GOSSIP_CONFIG,
  MemberStatus,
  MESSAGE_TYPE_CODES,
  MAX_PACKET_BYTES,
  MESSAGE_BUDGET_BYTES,
} from './gossip/index.js';
export type {
  GossipNodeOptions,
  GossipConfig,
  GossipEvent,
  GossipParams,
  GossipStats,
  Outgoing,
  PeerAddress,
  SelfInfo,
  GossipMessage,
  MemberRecord,
  MemberUpdate,
  MemberMeta,
  UserEvent,
  SharedView,
} from './gossip/index.js';
export {
  runSimulation,
  RaftSimulation,
  type SimOptions,
  type SimResult,
  type SimBug,
} from './sim/raft/cluster.js';
export { SimDisk } from './sim/raft/disk.js';
export { SimFs } from './sim/disk/sim-fs.js';
export {
  checkLinearizable,
  describeLinearizability,
  type KvHistoryOp,
  type KvOpBody,
  type LinearizabilityResult,
} from './sim/linearizability.js';
export { MaelstromNode, type NodeIo } from './maelstrom/runtime.js';
export {
  ErrorCode as MaelstromErrorCode,
  type MaelstromMessage,
  type MaelstromBody,
} from './maelstrom/protocol.js';
export {
  EnergyMonitor,
  energyConfigFromSections,
  SensorCollector,
  readSensors,
  CpuSampler,
  LeadershipAdvisor,
  electionTimeoutMultiplier,
  toEnergyMeta,
  fromEnergyMeta,
  energyMetricSamples,
  DEVICE_PROFILES,
  PROTOCOL_COSTS,
} from './energy/index.js';
export type {
  EnergySnapshot,
  EnergySummary,
  EnergyReadings,
  EnergyConfig,
  SensorSnapshot,
} from './energy/index.js';
export {
  EnergyComponent,
  changedMeaningfully as energySummaryChanged,
  type EnergyComponentOptions,
  type EnergyGossipSource,
  type EnergyRaftSource,
} from './node/energy-component.js';
export { energyRoutes, energyResponse, swarmEnergyResponse, type EnergySource } from './api/energy.js';
export {
  energyResponseSchema,
  swarmEnergyResponseSchema,
  type EnergyResponse,
  type SwarmEnergyResponse,
} from './api/energy-types.js';
export {
  AdaptiveGossipController,
  adaptiveConfigFromSections,
  evaluateAdaptive,
  MODE_MULTIPLIERS,
} from './gossip/adaptive.js';
export type { AdaptiveInputs, AdaptiveParams, GossipMode } from './gossip/adaptive.js';
export {
  AgentCore,
  type CoreOptions as AgentCoreOptions,
  type PersistentState as AgentState,
} from './agents/core.js';
export { AgentNode, type AgentNodeOptions } from './agents/node.js';
export {
  resolveSettings as resolveAgentSettings,
  type AgentSettings,
  type AgentFlags,
} from './agents/settings.js';
export {
  triggerRun,
  formatTrigger,
  readConsensus,
  type TriggerResult,
  type TriggerOptions,
  type AgentAnswer,
} from './agents/client.js';
export { runAgentsDemo, type AgentsDemoOptions } from './agents/demo.js';
export type {
  AgentMessage,
  RunId as AgentRunId,
  Ballot as AgentBallot,
  Decision as AgentDecision,
} from './agents/types.js';
export {
  RaftComponent,
  NoQuorumError,
  NotLeaderError as RaftNotLeaderError,
  type RaftComponentOptions,
  type KvEntry,
  type LeaderInfo,
} from './node/raft-component.js';
export { planMembershipChange, canVote } from './node/raft-membership.js';
export {
  Formation,
  chooseFounders,
  clusterIdOf,
  mergeVerdict,
  type FormationDecision,
  type FormationInput,
} from './node/formation.js';
export { kvRoutes, MAX_KEY_BYTES, MAX_VALUE_BYTES, type KvRoutesOptions } from './api/routes/kv.js';
export type {
  KvItemResponse,
  KvDeleteResponseBody,
  KvListResponseBody,
  LeaderResponseBody,
} from './api/routes/kv-types.js';
