/** Public surface of the network layer: codecs, keyring, transports. */
export {
  PROTOCOL_VERSION,
  ENCRYPTED_VERSION,
  GOSSIP_TYPES,
  RAFT_TYPES,
  DROP_REASONS,
  MessageCodec,
  type DecodeResult,
  type DropReason,
  type WireMessage,
  type MessageDoc,
} from './codec.js';
export { gossipCodec } from './gossip-codec.js';
export { raftCodec, RAFT_TYPE_CODES } from './raft-codec.js';
export {
  forwardCodec,
  raftWireCodec,
  FORWARD_TYPE_CODES,
  type ForwardMessage,
  type ForwardRequestMsg,
  type ForwardResponseMsg,
  type RaftWireMessage,
} from './forward-codec.js';
export { Keyring, parseKey, generateKey, ENCRYPTION_OVERHEAD } from './crypto.js';
export { KeyError, EncodeError, TransportError } from './errors.js';
export { openMessage, sealMessage, newStats, type TransportStats, type DropCounts } from './wire.js';
export { frame, FrameDecoder, DEFAULT_MAX_FRAME_BYTES, type FrameEvent } from './framing.js';
export {
  UdpTransport,
  MAX_UDP_PAYLOAD,
  type UdpAddress,
  type UdpTransportOptions,
  type MulticastOptions,
  type SendResult,
} from './udp.js';
export {
  TcpTransport,
  parsePeer,
  peerKey,
  type TcpAddress,
  type TcpTransportOptions,
  type TcpSendResult,
  type BackoffOptions,
  type PeerInfo,
} from './tcp.js';
export {
  openGossipTransport,
  openRaftTransport,
  sendOutgoing,
  keyringFromConfig,
  type GossipTransportOptions,
  type RaftTransportOptions,
  type NetworkSection,
  type SecuritySection,
} from './runtime.js';
