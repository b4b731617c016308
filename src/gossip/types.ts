/**
 * Configuration, events, outgoing messages and statistics of the gossip core.
 * Everything here crosses the core's border, so every type is explicit.
 */
import type { GossipMessage, MemberId, MemberMeta, MemberRecord, UserEvent } from './messages.js';

/** Where a datagram goes or came from, as the transport sees it. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** The local member as the embedding program describes it. */
export interface SelfInfo {
  readonly id: MemberId;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly deviceClass?: string;
  readonly meta?: MemberMeta;
  /** Start above a previous life's incarnation when known (restarts refute faster). */
  readonly incarnation?: number;
}

/**
 * Knobs and what they cost. Defaults follow memberlist's LAN profile where the
 * seed config has no say; `gossipIntervalMs`/`fanout` are the adaptive controller's levers.
 */
export interface GossipConfig {
  /** SWIM protocol period: one member probed per period. Cost: 2 packets/period/node idle. */
  probeIntervalMs: number;
  /** Wait for a direct ack before asking `indirectChecks` relays. Must exceed the round trip. */
  probeTimeoutMs: number;
  /** k relays asked to ping a silent member; more means fewer false positives and 2k more packets per miss. */
  indirectChecks: number;
  /** Piggyback-only gossip rounds; sent only when something is queued, so idle cost is zero. */
  gossipIntervalMs: number;
  /** Members per gossip round. Latency falls with log(fanout), cost rises linearly. */
  fanout: number;
  /** Each update is sent retransmitMult * ceil(log10(N+1)) times; lower risks a member never hearing it. */
  retransmitMult: number;
  /** Suspicion lasts suspicionMult * log10(N) * probeInterval at the least (Lifeguard shrinks from the max). */
  suspicionMult: number;
  /** Upper bound of the suspicion timeout as a multiple of the lower; the time a lone suspicion takes. */
  suspicionMaxTimeoutMult: number;
  /** Lifeguard local health: probe interval and timeout are scaled by up to this factor. */
  awarenessMaxMultiplier: number;
  /** Push-pull anti-entropy with one random member; scaled up by log2(N/32) past 32 members. */
  antiEntropyIntervalMs: number;
  /** Anti-entropy period multiplier once the view has been unchanged for `antiEntropyQuietAfterMs` (1 = off). */
  antiEntropyQuietScale: number;
  antiEntropyQuietAfterMs: number;
  /** True LRU of event ids already delivered (dedup). */
  messageCacheSize: number;
  /** Dead and left members are remembered this long (reclaimable by the same id, gossiped to so they can refute). */
  deadRetentionMs: number;
  /** Dead members still receive gossip for this long so a wrongly declared member learns it and refutes. */
  gossipToTheDeadMs: number;
  /** Plumtree: eager-push batching window. Shorter lowers latency, longer lowers packets per event. */
  eventBatchMs: number;
  /** Plumtree: IHAVE batching window towards lazy peers. */
  lazyIntervalMs: number;
  /** Plumtree: how long a missing announced event waits for the tree before a GRAFT. */
  graftTimeoutMs: number;
  /** Plumtree: lazy peers kept besides the eager ones (the repair paths). */
  lazyPeers: number;
  /** Events kept for GRAFT and anti-entropy answers. */
  eventStoreSize: number;
  /** Events use Plumtree eager/lazy push (true) or ride the piggyback queue like membership updates (false). */
  plumtree: boolean;
  /** Sliding window for the measured statistics the adaptive controller reads. */
  statsWindowMs: number;
  /** Join retries: first retry after this, doubling, up to `joinMaxAttempts` attempts. */
  joinRetryMs: number;
  joinMaxAttempts: number;
  /** Multicast announce while alone: first after this, doubling up to 30 s. 0 disables. */
  announceIntervalMs: number;
  /** Swarm name; announces of other clusters are ignored. */
  cluster: string;
}

export const DEFAULT_GOSSIP_CONFIG: Readonly<GossipConfig> = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  gossipIntervalMs: 200,
  fanout: 3,
  retransmitMult: 4,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  awarenessMaxMultiplier: 8,
  antiEntropyIntervalMs: 10_000,
  antiEntropyQuietScale: 3,
  antiEntropyQuietAfterMs: 60_000,
  messageCacheSize: 1000,
  deadRetentionMs: 60_000,
  gossipToTheDeadMs: 30_000,
  eventBatchMs: 40,
  lazyIntervalMs: 400,
  graftTimeoutMs: 600,
  lazyPeers: 3,
  eventStoreSize: 10_000,
  plumtree: true,
  statsWindowMs: 30_000,
  joinRetryMs: 1000,
  joinMaxAttempts: 8,
  announceIntervalMs: 0,
  cluster: 'swarm',
};

/** A message for the transport. `to` is null when only an address is known (seeds, announce replies). */
export interface Outgoing {
  readonly to: MemberId | null;
  readonly host: string;
  readonly port: number;
  readonly msg: GossipMessage;
  /** Send to the discovery multicast group instead of host:port. */
  readonly multicast?: boolean;
}

/** What the core tells the embedding program. */
export type GossipEvent =
  | { readonly type: 'member-joined'; readonly member: MemberRecord }
  | { readonly type: 'member-updated'; readonly member: MemberRecord }
  | { readonly type: 'member-suspect'; readonly member: MemberRecord; readonly from: MemberId }
  | { readonly type: 'member-alive'; readonly member: MemberRecord }
  | { readonly type: 'member-dead'; readonly member: MemberRecord; readonly from: MemberId }
  | { readonly type: 'member-left'; readonly member: MemberRecord }
  | { readonly type: 'user-event'; readonly event: UserEvent };

/**
 * Failure-detection milestones, for diagnostics only (GossipNode.setTrace; the daemon logs them
 * at debug level, the simulator's phase bench reads them). `lateMs` is how long after its due
 * time the timer behind the step actually ran: a driver that wakes late shows up there.
 */
export type GossipTrace =
  | {
      readonly kind: 'probe';
      readonly target: MemberId;
      readonly urgent: boolean;
      /** Started by a hint (GossipNode.hint), not the round-robin or a suspicion. */
      readonly hinted: boolean;
    }
  | { readonly kind: 'probe-indirect'; readonly target: MemberId; readonly lateMs: number }
  | { readonly kind: 'probe-failed'; readonly target: MemberId; readonly lateMs: number }
  | {
      readonly kind: 'suspect-confirmed';
      readonly target: MemberId;
      readonly from: MemberId;
      readonly confirmations: number;
      /** When this member's suspicion now expires (same clock as `now`). */
      readonly deadline: number;
    }
  | {
      readonly kind: 'suspicion-expired';
      readonly target: MemberId;
      readonly startedAt: number;
      readonly confirmations: number;
      readonly lateMs: number;
    };

/**
 * Measured inputs for the adaptive controller (src/gossip/adaptive.ts), over
 * the last `statsWindowMs`, plus counters. Packets and bytes are the transport's.
 */
export interface GossipStats {
  /** Fraction of probes in the window that got no direct ack in time, 0..1 (0 with no probes). */
  readonly probeLoss: number;
  /** Mean direct-probe round trip in the window, ms; null with no acks. */
  readonly rttMs: number | null;
  /** Members acked (directly or indirectly) within the window, excluding self. */
  readonly reachablePeers: number;
  /** User events delivered per second over the window (own and others'). */
  readonly eventRatePerS: number;
  /** Alive and suspect members, self included. */
  readonly swarmSize: number;
  /** Lifeguard local health score, 0 = healthy. */
  readonly healthScore: number;
  readonly intervalMs: number;
  readonly fanout: number;
  readonly probesSent: number;
  readonly probesFailed: number;
  readonly probesSkipped: number;
  readonly suspicionsRaised: number;
  readonly refutations: number;
  readonly eventsDelivered: number;
  readonly duplicateEvents: number;
  readonly queuedUpdates: number;
  readonly eagerPeers: number;
  readonly lazyPeers: number;
}

/** The adaptive controller's levers; both optional so it can move one at a time. */
export interface GossipParams {
  readonly intervalMs?: number;
  readonly fanout?: number;
  /**
   * Stretch of the probe period and of the push-pull period, >= 1 (the
   * conservative and emergency modes' interval multiplier). Probes are most of
   * an idle swarm's traffic, so this is the lever that saves a battery node's
   * radio; failure detection slows by the same factor. Values below 1 are treated as 1: probing faster than
   * configured buys little and costs every node energy.
   */
  readonly probeScale?: number;
}
