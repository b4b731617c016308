/**
 * Wire layout of every gossip message (src/gossip/messages.ts), type codes
 * 0x01-0x3F taken from the gossip core's MESSAGE_TYPE_CODES.
 *
 * Limits are structural (what a well-behaved peer could ever send), not the
 * datagram budget: the transport refuses anything over 1,400 bytes anyway,
 * and push-pull responses may travel over TCP.
 */
import {
  MESSAGE_TYPE_CODES,
  MemberStatus,
  type AckMsg,
  type AnnounceMsg,
  type AnnounceReplyMsg,
  type DigestEntry,
  type EventMark,
  type EventPushMsg,
  type GossipMessage,
  type GossipMsg,
  type GraftMsg,
  type IHaveMsg,
  type LeaveMsg,
  type MemberMeta,
  type MemberRecord,
  type MemberUpdate,
  type NackMsg,
  type PingMsg,
  type PingReqMsg,
  type PruneMsg,
  type PushPullDigestMsg,
  type PushPullRequestMsg,
  type PushPullResponseMsg,
  type PushPullSummaryMsg,
  type UserEvent,
  type UserEventMsg,
} from '../gossip/messages.js';
import { GOSSIP_TYPES, MessageCodec, message } from './codec.js';
import { arr, bin, bool, float, obj, oneOf, opt, str, strMap, uint, union } from './schema.js';

export const LIMITS = {
  idBytes: 64,
  nameBytes: 64,
  hostBytes: 255,
  deviceClassBytes: 32,
  clusterBytes: 64,
  eventNameBytes: 64,
  /** An event payload may exceed one datagram only when it travels over TCP. */
  payloadBytes: 65_536,
  /** Items per array: far above what 1,400 bytes can hold, bounds a TCP body. */
  items: 4096,
} as const;

const U32 = 0xffff_ffff;
const memberId = str(LIMITS.idBytes);

const memberMeta = obj<MemberMeta>({
  api: opt(str(128)),
  raft: opt(str(16)),
  powerW: opt(float()),
  battery: opt(float()),
  powerState: opt(str(16)),
  rating: opt(str(4)),
  tags: opt(strMap(16, 32, 64)),
});

const memberRecord = obj<MemberRecord>({
  id: memberId,
  name: str(LIMITS.nameBytes),
  host: str(LIMITS.hostBytes),
  port: uint(65535),
  deviceClass: str(LIMITS.deviceClassBytes),
  incarnation: uint(U32),
  status: oneOf([MemberStatus.Alive, MemberStatus.Suspect, MemberStatus.Dead, MemberStatus.Left]),
  meta: memberMeta,
});

const memberUpdate = union<'kind', MemberUpdate>('kind', {
  alive: [0, { member: memberRecord }],
  suspect: [1, { id: memberId, incarnation: uint(U32), from: memberId }],
  dead: [2, { id: memberId, incarnation: uint(U32), from: memberId }],
  left: [3, { id: memberId, incarnation: uint(U32) }],
});

const userEvent = obj<UserEvent>({
  origin: memberId,
  seq: uint(U32),
  name: str(LIMITS.eventNameBytes),
  payload: bin(LIMITS.payloadBytes),
});

const digestEntry = obj<DigestEntry>({
  id: memberId,
  incarnation: uint(U32),
  status: oneOf([MemberStatus.Alive, MemberStatus.Suspect, MemberStatus.Dead, MemberStatus.Left]),
});

const eventMark = obj<EventMark>({ origin: memberId, seq: uint(U32) });

const updates = arr(memberUpdate, LIMITS.items);
const events = arr(userEvent, LIMITS.items);
const marks = arr(eventMark, LIMITS.items);
const C = MESSAGE_TYPE_CODES;

export const gossipCodec: MessageCodec<GossipMessage> = new MessageCodec<GossipMessage>(
  'gossip',
  GOSSIP_TYPES,
  {
    ping: message<PingMsg>(C.ping, 'SWIM direct probe', {
      from: memberId,
      seq: uint(U32),
      target: memberId,
      updates,
    }),
    'ping-req': message<PingReqMsg>(C['ping-req'], 'SWIM indirect probe request', {
      from: memberId,
      seq: uint(U32),
      target: memberId,
      targetHost: str(LIMITS.hostBytes),
      targetPort: uint(65535),
      wantNack: bool(),
      updates,
    }),
    ack: message<AckMsg>(C.ack, 'Probe answer (direct or relayed)', {
      from: memberId,
      seq: uint(U32),
      target: memberId,
      updates,
    }),
    nack: message<NackMsg>(C.nack, 'Relay heard nothing from the target (Lifeguard)', {
      from: memberId,
      seq: uint(U32),
      target: memberId,
    }),
    gossip: message<GossipMsg>(C.gossip, 'Standalone dissemination', { from: memberId, updates, events }),
    'pp-digest': message<PushPullDigestMsg>(C['pp-digest'], 'Push-pull anti-entropy digest (one part)', {
      from: memberId,
      exchange: uint(U32),
      reply: bool(),
      join: bool(),
      part: uint(65535),
      parts: uint(65535),
      rangeStart: memberId,
      rangeEnd: memberId,
      entries: arr(digestEntry, LIMITS.items),
      events: marks,
    }),
    'pp-request': message<PushPullRequestMsg>(C['pp-request'], 'Push-pull: records wanted', {
      from: memberId,
      exchange: uint(U32),
      ids: arr(memberId, LIMITS.items),
    }),
    'pp-response': message<PushPullResponseMsg>(C['pp-response'], 'Push-pull: full records and events', {
      from: memberId,
      exchange: uint(U32),
      members: arr(memberRecord, LIMITS.items),
      events,
    }),
    'ev-push': message<EventPushMsg>(C['ev-push'], 'Plumtree eager push', {
      from: memberId,
      events,
      hops: arr(uint(255), LIMITS.items),
    }),
    ihave: message<IHaveMsg>(C.ihave, 'Plumtree lazy push (IHAVE)', { from: memberId, ids: marks }),
    prune: message<PruneMsg>(C.prune, 'Plumtree PRUNE', { from: memberId }),
    graft: message<GraftMsg>(C.graft, 'Plumtree GRAFT', { from: memberId, ids: marks }),
    announce: message<AnnounceMsg>(C.announce, 'Multicast discovery announce', {
      from: memberId,
      member: memberRecord,
      cluster: str(LIMITS.clusterBytes),
    }),
    'announce-reply': message<AnnounceReplyMsg>(C['announce-reply'], 'Unicast answer to an announce', {
      from: memberId,
      member: memberRecord,
      cluster: str(LIMITS.clusterBytes),
    }),
    leave: message<LeaveMsg>(C.leave, 'Graceful leave', { from: memberId, incarnation: uint(U32) }),
    'user-event': message<UserEventMsg>(C['user-event'], 'One application event', {
      from: memberId,
      event: userEvent,
    }),
    'pp-sum': message<PushPullSummaryMsg>(C['pp-sum'], 'Push-pull anti-entropy summary (hash of the view)', {
      from: memberId,
      exchange: uint(U32),
      members: uint(U32),
      hash: uint(U32),
    }),
  },
);
