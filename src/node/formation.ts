/**
 * Zero-configuration cluster formation, sans I/O: time arrives as `now`, the
 * membership view as PeerInfo (with gossip tags), and the answer is what to
 * advertise and whether to found, adopt or wait. See docs/formation.md.
 *
 * Safety rests on one rule: a node founds a cluster only with an initial
 * configuration that every one of its founders advertised as its own proposal
 * (tag `formation` = the proposal's cluster id, a hash of the sorted founder
 * ids). All founders thus start from the same ConfState, like etcd's
 * `initial-cluster`, and two different initial configurations never mix:
 * their cluster ids differ and Raft traffic between different ids is refused.
 */
import { sha256Hex } from '../common/sha256.js';
import type { DeviceClass, PeerInfo } from './peers.js';
import { canVote } from './raft-membership.js';

/** Gossip tag with this node's current founder proposal (its cluster id). */
export const FORMATION_TAG = 'formation';
/** Gossip tag with the id of the cluster this node belongs to. */
export const CLUSTER_TAG = 'cluster';

/** Stable view required before a proposal is advertised. */
export const DEFAULT_WINDOW_MS = 3000;
/** Time since start before proposing: gossip discovery has had a round or two. */
export const DEFAULT_MIN_UPTIME_MS = 2000;

const MAX_PROPOSALS = 64;
const CLASS_RANK: Record<DeviceClass, number> = { full: 0, standard: 1, minimal: 2 };

/** 16 hex digits of SHA-256 over the sorted founder ids joined by ",". */
export function clusterIdOf(founders: readonly string[]): string {
  return sha256Hex([...founders].sort().join(',')).slice(0, 16);
}

export interface FormationInput {
  readonly now: number;
  readonly selfId: string;
  readonly selfClass: DeviceClass;
  /** `now` when the Raft component started. */
  readonly startedAt: number;
  readonly peers: readonly PeerInfo[];
  /** Strict mode: voter-capable members (self included) that must be seen; 0 = automatic. */
  readonly expect: number;
  /** Initial voters at most (raft.voters); the others are added as learners by the leader. */
  readonly maxVoters: number;
}

export type FormationDecision =
  /** Keep waiting; advertise `proposal` (cluster id) in the formation tag, or none when null. */
  | { readonly kind: 'wait'; readonly reason: string; readonly proposal: string | null }
  /** Every founder proposes the same set: start with it as the initial configuration. */
  | { readonly kind: 'found'; readonly cluster: string; readonly founders: readonly string[] }
  /** A founder already runs the cluster this node proposed: start with the same configuration. */
  | { readonly kind: 'adopt'; readonly cluster: string; readonly founders: readonly string[] }
  /** A cluster exists that this node is not a founder of: wait to be added as a learner. */
  | { readonly kind: 'join'; readonly reason: string; readonly cluster: string | null };

export interface FormationOptions {
  readonly windowMs?: number;
  readonly minUptimeMs?: number;
}

function tag(p: PeerInfo, name: string): string | undefined {
  const v = p.tags?.[name];
  return v === undefined || v === '' ? undefined : v;
}

function secs(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

/**
 * The founders a view yields: up to `maxVoters` voter-capable members, `full`
 * devices before `standard`, then by id; returned sorted by id.
 */
export function chooseFounders(
  view: readonly { id: string; deviceClass: DeviceClass }[],
  maxVoters: number,
): string[] {
  return [...view]
    .filter((m) => canVote(m.deviceClass))
    .sort((a, b) => CLASS_RANK[a.deviceClass] - CLASS_RANK[b.deviceClass] || (a.id < b.id ? -1 : 1))
    .slice(0, Math.max(1, maxVoters))
    .map((m) => m.id)
    .sort();
}

/**
 * One node's formation state: when its view last changed and every proposal
 * it has advertised (so it can recognise, by cluster id alone, a cluster it is
 * a founder of when a peer that founded it first advertises the id).
 */
export class Formation {
  private readonly windowMs: number;
  private readonly minUptimeMs: number;
  private viewKey: string | null = null;
  private viewSince = 0;
  private readonly proposals = new Map<string, readonly string[]>();

  constructor(opts: FormationOptions = {}) {
    this.windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
    this.minUptimeMs = opts.minUptimeMs ?? DEFAULT_MIN_UPTIME_MS;
  }

  /** The founder set this node once proposed under `cluster`, if any. */
  foundersOf(cluster: string): readonly string[] | undefined {
    return this.proposals.get(cluster);
  }

  /** The earliest time a decision may change without a new view (for a timer); null when none. */
  nextCheck(now: number): number | null {
    if (this.viewKey === null) return null;
    const due = Math.max(this.viewSince + this.windowMs, now);
    return due > now ? due : null;
  }

  decide(input: FormationInput): FormationDecision {
    const { now, selfId } = input;
    if (!canVote(input.selfClass)) {
      return {
        kind: 'join',
        reason: 'minimal device: waits to be added as a learner by a leader',
        cluster: null,
      };
    }
    const alive = input.peers.filter((p) => p.status === 'alive' && p.id !== selfId);
    // A founder that started first advertises the cluster id this node proposed: same conf, adopt it.
    for (const p of alive) {
      const c = tag(p, CLUSTER_TAG);
      const founders = c === undefined ? undefined : this.proposals.get(c);
      if (c !== undefined && founders?.includes(selfId)) return { kind: 'adopt', cluster: c, founders };
    }
    const running = alive.filter((p) => tag(p, CLUSTER_TAG) !== undefined || p.raftRole === 'leader');
    if (running.length > 0) {
      const leader = running.find((p) => p.raftRole === 'leader');
      const cluster = tag(running[0]!, CLUSTER_TAG) ?? null;
      return {
        kind: 'join',
        reason: leader
          ? `waiting to be added by leader ${leader.id}`
          : `waiting to be added by the leader of cluster ${cluster ?? '?'}`,
        cluster,
      };
    }

    const view = [
      { id: selfId, deviceClass: input.selfClass },
      ...alive
        .filter((p) => p.raftAddr !== null && canVote(p.deviceClass))
        .map((p) => ({ id: p.id, deviceClass: p.deviceClass })),
    ];
    if (input.expect > 0 && view.length < input.expect) {
      this.viewKey = null;
      return {
        kind: 'wait',
        reason: `bootstrap_expect: ${view.length} of ${input.expect} voter-capable members seen`,
        proposal: null,
      };
    }
    const key = view
      .map((m) => `${m.id}/${m.deviceClass}`)
      .sort()
      .join(',');
    if (key !== this.viewKey) {
      this.viewKey = key;
      this.viewSince = now;
    }
    const stableAt = Math.max(this.viewSince + this.windowMs, input.startedAt + this.minUptimeMs);
    if (now < stableAt) {
      return {
        kind: 'wait',
        reason: `formation window: view of ${view.length} member${view.length === 1 ? '' : 's'}, ${secs(stableAt - now)} left`,
        proposal: null,
      };
    }
    const founders = chooseFounders(view, input.maxVoters);
    const cluster = clusterIdOf(founders);
    this.proposals.delete(cluster);
    this.proposals.set(cluster, founders);
    // Bounded: a view that keeps changing must not grow this without end; recent proposals suffice.
    if (this.proposals.size > MAX_PROPOSALS) this.proposals.delete(this.proposals.keys().next().value!);
    if (!founders.includes(selfId)) {
      return {
        kind: 'wait',
        reason: `not among the ${founders.length} founders: waiting to be added by their leader`,
        proposal: cluster,
      };
    }
    const byId = new Map(alive.map((p) => [p.id, p]));
    const agree = founders.filter((id) => id === selfId || tag(byId.get(id)!, FORMATION_TAG) === cluster);
    if (agree.length === founders.length) return { kind: 'found', cluster, founders };
    return {
      kind: 'wait',
      reason: `formation: ${agree.length} of ${founders.length} founders agree on cluster ${cluster}`,
      proposal: cluster,
    };
  }
}

/** Gossip tag with the number of voters in this node's configuration (merge rule). */
export const VOTERS_TAG = 'voters';
/** Gossip tag a yielding leader sets once it has exported its keys: its followers then move aside. */
export const MERGING_TAG = 'merging';

export interface MergeInput {
  /** This node's cluster id ('' = none: nothing to merge). */
  readonly cluster: string;
  /** Voters in this node's configuration. */
  readonly voters: number;
  /** Whether this node knows a leader of its cluster. */
  readonly hasLeader: boolean;
  readonly peers: readonly PeerInfo[];
}

export interface MergeVerdict {
  /** The cluster this side yields to. */
  readonly winner: string;
  readonly winnerVoters: number;
}

interface Side {
  readonly cluster: string;
  readonly voters: number;
  readonly led: boolean;
}

/**
 * Split formation: two clusters (different ids) that see each other through
 * gossip. Deterministic, so every node of both sides reaches the same answer
 * from the same tags: a side without a leader yields to one with a leader
 * (it could not add anyone: founders that raced into two sets can leave one
 * without quorum); then the side with fewer voters yields; on a tie, the
 * larger cluster id yields. Only a side with a leader can win. Returns the
 * cluster to yield to, or null when this side keeps its cluster (or sees no
 * other).
 */
export function mergeVerdict(input: MergeInput): MergeVerdict | null {
  if (input.cluster === '') return null;
  const others = new Map<string, { voters: number; led: boolean }>();
  for (const p of input.peers) {
    if (p.status !== 'alive') continue;
    const c = tag(p, CLUSTER_TAG);
    if (c === undefined || c === input.cluster) continue;
    const v = Number(tag(p, VOTERS_TAG) ?? '0');
    const prev = others.get(c) ?? { voters: 0, led: false };
    others.set(c, {
      voters: Math.max(prev.voters, Number.isFinite(v) ? v : 0),
      led: prev.led || p.raftRole === 'leader',
    });
  }
  let best: Side | null = null;
  for (const [cluster, o] of others) {
    // Not yet known, or nobody to add us: decide once its size is advertised and it has a leader.
    if (o.voters < 1 || !o.led) continue;
    const side = { cluster, ...o };
    if (best === null || beats(side, best)) best = side;
  }
  if (best === null) return null;
  const self: Side = { cluster: input.cluster, voters: input.voters, led: input.hasLeader };
  return beats(best, self) ? { winner: best.cluster, winnerVoters: best.voters } : null;
}

/** Whether side a wins against b: a leader, then more voters, then the smaller id. */
function beats(a: Side, b: Side): boolean {
  if (a.led !== b.led) return a.led;
  return a.voters !== b.voters ? a.voters > b.voters : a.cluster < b.cluster;
}
