/** Public surface of the gossip core (the adaptive controller is exported by its own module). */
export { GossipNode, MARKS_RANGE, type GossipNodeOptions } from './node.js';
export { DEFAULT_GOSSIP_CONFIG } from './types.js';
export type {
  GossipConfig,
  GossipEvent,
  GossipParams,
  GossipStats,
  Outgoing,
  PeerAddress,
  SelfInfo,
} from './types.js';
export {
  MemberStatus,
  MESSAGE_TYPE_CODES,
  MAX_PACKET_BYTES,
  MESSAGE_BUDGET_BYTES,
  MAX_META_BYTES,
} from './messages.js';
export type * from './messages.js';
export type { SharedView } from './table.js';
export { estimateSize } from './size.js';
