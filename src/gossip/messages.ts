/**
 * Gossip wire messages: the exact set of values the byte codec (src/net) encodes.
 *
 * Chosen so a microcontroller can implement them: small non-negative integers,
 * short ASCII strings, byte arrays for opaque payloads, no floats except in
 * metadata, no nesting deeper than two levels. Each message carries the
 * sender's id in `from`, because the transport address alone cannot tell a
 * restarted node from its predecessor. The `type` string maps one-to-one to a
 * one-byte code (`MESSAGE_TYPE_CODES`) that the codec puts on the wire.
 *
 * Stability: fields may be added (as optional) but never renamed or removed;
 * the codec engineer builds test vectors from these shapes.
 */

/** A member's identity: unique, stable across restarts of the same device. <= 64 bytes UTF-8. */
export type MemberId = string;

/** Numeric so that digests stay compact. Order matters: higher wins at equal incarnation. */
export const MemberStatus = {
  Alive: 0,
  Suspect: 1,
  Dead: 2,
  Left: 3,
} as const;
export type MemberStatus = (typeof MemberStatus)[keyof typeof MemberStatus];

/**
 * Small metadata the owner updates and the swarm disseminates. Every field is
 * optional so a minimal observer can send `{}`. The encoded size must stay
 * under MAX_META_BYTES or the update would not fit one datagram next to others.
 */
export interface MemberMeta {
  /** REST API address, "host:port". */
  readonly api?: string;
  /** Raft role as the owner last saw it ("leader", "follower", ...). */
  readonly raft?: string;
  /** Current power draw, watts. */
  readonly powerW?: number;
  /** Battery charge 0..100; absent on mains power. */
  readonly battery?: number;
  /** "normal" | "low" | "critical" | ... (energy engineer's vocabulary). */
  readonly powerState?: string;
  /** Energy rating letter ("A".."G"). */
  readonly rating?: string;
  /** Free-form extension tags; keys and values short strings. */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Upper bound on a member's encoded metadata, bytes. */
export const MAX_META_BYTES = 256;

/** Everything needed to contact and describe a member. */
export interface MemberRecord {
  readonly id: MemberId;
  /** Human name, <= 64 bytes. */
  readonly name: string;
  /** IPv4/IPv6 literal or hostname of the gossip socket. */
  readonly host: string;
  readonly port: number;
  /** "minimal" | "standard" | "powerful" (config `[node] device_class`). */
  readonly deviceClass: string;
  /** Owner-controlled counter; bumped to refute suspicion or to publish new metadata. uint32. */
  readonly incarnation: number;
  readonly status: MemberStatus;
  readonly meta: MemberMeta;
}

/**
 * A membership change carried piggybacked on probes and gossip (SWIM's
 * "infection-style" dissemination). `alive` carries the full record so a
 * receiver that never heard of the member can add it; the others name it only.
 */
export type MemberUpdate =
  | { readonly kind: 'alive'; readonly member: MemberRecord }
  | {
      readonly kind: 'suspect';
      readonly id: MemberId;
      readonly incarnation: number;
      /** Who suspects: independent confirmations shrink the suspicion timeout (Lifeguard). */
      readonly from: MemberId;
    }
  | { readonly kind: 'dead'; readonly id: MemberId; readonly incarnation: number; readonly from: MemberId }
  | { readonly kind: 'left'; readonly id: MemberId; readonly incarnation: number };

/**
 * An application event (swarm event, Maelstrom broadcast value). Identified by
 * (origin, seq): seq counts up per origin from 1, so "everything up to n from
 * origin X" is one pair of numbers in an anti-entropy digest.
 */
export interface UserEvent {
  readonly origin: MemberId;
  /** uint32, starts at 1, +1 per event of this origin. */
  readonly seq: number;
  /** Short event name ("meta", "broadcast", ...). */
  readonly name: string;
  readonly payload: Uint8Array;
}

/** One line of a push-pull digest: what the sender knows about a member. */
export interface DigestEntry {
  readonly id: MemberId;
  readonly incarnation: number;
  readonly status: MemberStatus;
}

/** Per-origin high-water mark: the sender holds every event of `origin` with seq <= `seq`. */
export interface EventMark {
  readonly origin: MemberId;
  readonly seq: number;
}

/** Fields every gossip message has. */
interface Base {
  /** Sender's member id. */
  readonly from: MemberId;
}

/** SWIM direct probe. `target` lets a node that reused an address answer with a nack instead of a false ack. */
export interface PingMsg extends Base {
  readonly type: 'ping';
  /** uint32 probe sequence number, echoed in ack/nack. */
  readonly seq: number;
  readonly target: MemberId;
  readonly updates: readonly MemberUpdate[];
}

/** Ask `from`'s peer to probe `target` on its behalf (SWIM indirect probe). */
export interface PingReqMsg extends Base {
  readonly type: 'ping-req';
  readonly seq: number;
  readonly target: MemberId;
  readonly targetHost: string;
  readonly targetPort: number;
  /** Lifeguard: the requester wants a nack if the relay hears nothing, to tell its own trouble from the target's. */
  readonly wantNack: boolean;
  readonly updates: readonly MemberUpdate[];
}

/** Answer to ping (direct), or relayed answer to ping-req (then `target` is the probed member). */
export interface AckMsg extends Base {
  readonly type: 'ack';
  readonly seq: number;
  /** The member whose liveness this ack proves (the sender for a direct ping). */
  readonly target: MemberId;
  readonly updates: readonly MemberUpdate[];
}

/** A relay heard nothing from the target in time (Lifeguard). */
export interface NackMsg extends Base {
  readonly type: 'nack';
  readonly seq: number;
  readonly target: MemberId;
}

/** Standalone dissemination to `fanout` members per gossip interval. */
export interface GossipMsg extends Base {
  readonly type: 'gossip';
  readonly updates: readonly MemberUpdate[];
  readonly events: readonly UserEvent[];
}

/**
 * Push-pull anti-entropy, step 1: the sender's view of the member ids in
 * (rangeStart, rangeEnd]: ids sorted by UTF-16 code units, rangeStart
 * exclusive, rangeEnd inclusive, '' = unbounded on that side. A view
 * larger than one datagram is split into ranges, so "absent from this part"
 * reliably means "unknown to the sender".
 */
export interface PushPullDigestMsg extends Base {
  readonly type: 'pp-digest';
  /** Exchange id chosen by the initiator; answers echo it. */
  readonly exchange: number;
  /** true when answering a digest (the receiver must not answer again). */
  readonly reply: boolean;
  /** true when the sender is joining: the receiver should answer even if it knows nothing new. */
  readonly join: boolean;
  /** Index and count within this digest's kind: entry parts and mark parts are numbered separately. */
  readonly part: number;
  readonly parts: number;
  readonly rangeStart: MemberId;
  readonly rangeEnd: MemberId;
  readonly entries: readonly DigestEntry[];
  /**
   * Event high-water marks. They travel in their own parts (at least one, even
   * empty) whose rangeStart and rangeEnd are both "\uffff" and whose entries are empty.
   */
  readonly events: readonly EventMark[];
}

/**
 * Periodic anti-entropy's first step (not joins): a 4-byte summary of the
 * sender's view in place of the whole digest. A receiver whose own summary
 * differs answers with its full digest (a normal exchange, which repairs
 * both sides); an equal one answers nothing. Converged members, the usual
 * case, so pay one small packet per period instead of ~25 bytes per member.
 * Every `PP_FULL_EVERY`-th periodic exchange still sends the full digest, so
 * a peer that does not implement this message (or a hash collision) is
 * repaired within a bounded number of periods.
 */
export interface PushPullSummaryMsg extends Base {
  readonly type: 'pp-sum';
  readonly exchange: number;
  /** Digest entries the sender holds (members of any status, itself included). */
  readonly members: number;
  /** FNV-1a 32 of the digest entries and event marks (docs/protocol.md, `pp-sum`). */
  readonly hash: number;
}

/** Push-pull step 2: records the digest showed the requester to be missing or behind on. */
export interface PushPullRequestMsg extends Base {
  readonly type: 'pp-request';
  readonly exchange: number;
  readonly ids: readonly MemberId[];
}

/** Push-pull step 3: full records (and missing events), split over as many datagrams as needed. */
export interface PushPullResponseMsg extends Base {
  readonly type: 'pp-response';
  readonly exchange: number;
  readonly members: readonly MemberRecord[];
  readonly events: readonly UserEvent[];
}

/** Plumtree eager push: full events, batched, with the hop count of each. */
export interface EventPushMsg extends Base {
  readonly type: 'ev-push';
  readonly events: readonly UserEvent[];
  /** Same length as `events`: hops travelled so far (0 at the origin's first send). */
  readonly hops: readonly number[];
}

/** Plumtree lazy push: "I have these", sent to lazy peers so they can repair a broken tree. */
export interface IHaveMsg extends Base {
  readonly type: 'ihave';
  readonly ids: readonly EventMark[];
}

/** Plumtree: "I got a duplicate from you; stop eager-pushing to me". */
export interface PruneMsg extends Base {
  readonly type: 'prune';
}

/** Plumtree: "I missed these; send them and eager-push to me from now on". */
export interface GraftMsg extends Base {
  readonly type: 'graft';
  readonly ids: readonly EventMark[];
}

/** Multicast discovery: a node looking for a swarm (repeated with back-off). */
export interface AnnounceMsg extends Base {
  readonly type: 'announce';
  readonly member: MemberRecord;
  /** Swarm name so that two swarms on one LAN ignore each other. */
  readonly cluster: string;
}

/** Unicast answer to an announce: the answering member, so the announcer can join through it. */
export interface AnnounceReplyMsg extends Base {
  readonly type: 'announce-reply';
  readonly member: MemberRecord;
  readonly cluster: string;
}

/** Graceful leave, sent directly to a few members on top of the piggybacked `left` update. */
export interface LeaveMsg extends Base {
  readonly type: 'leave';
  readonly incarnation: number;
}

/** One application event sent outside the Plumtree (e.g. from a minimal observer to one member). */
export interface UserEventMsg extends Base {
  readonly type: 'user-event';
  readonly event: UserEvent;
}

export type GossipMessage =
  | PingMsg
  | PingReqMsg
  | AckMsg
  | NackMsg
  | GossipMsg
  | PushPullDigestMsg
  | PushPullSummaryMsg
  | PushPullRequestMsg
  | PushPullResponseMsg
  | EventPushMsg
  | IHaveMsg
  | PruneMsg
  | GraftMsg
  | AnnounceMsg
  | AnnounceReplyMsg
  | LeaveMsg
  | UserEventMsg;

export type GossipMessageType = GossipMessage['type'];

/** One-byte wire codes (after the protocol version byte). Never reuse a retired code. */
export const MESSAGE_TYPE_CODES: Readonly<Record<GossipMessageType, number>> = {
  ping: 1,
  'ping-req': 2,
  ack: 3,
  nack: 4,
  gossip: 5,
  'pp-digest': 6,
  'pp-request': 7,
  'pp-response': 8,
  'ev-push': 9,
  ihave: 10,
  prune: 11,
  graft: 12,
  announce: 13,
  'announce-reply': 14,
  leave: 15,
  'user-event': 16,
  'pp-sum': 17,
};

/** Largest datagram payload any message may need (before encryption overhead is added by the transport). */
export const MAX_PACKET_BYTES = 1400;

/**
 * What the core allows one encoded message to take: the packet limit minus
 * room for the version and type bytes and AES-GCM framing (1 + 12 + 16 bytes)
 * with margin, so encryption never pushes a packet over MAX_PACKET_BYTES.
 */
export const MESSAGE_BUDGET_BYTES = MAX_PACKET_BYTES - 64;
