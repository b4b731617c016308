/**
 * Fault schedules for the Raft simulator. A run draws its whole fault profile
 * (link quality, clock skew, how often and which faults strike) from its seed,
 * so seeds explore different regions: some runs are calm, some lossy, some
 * crash-heavy. Faults that depend on the cluster (isolate the current leader)
 * are chosen when they strike, from the same RNG, so replay stays exact.
 */
import type { Rng } from '../../common/rng.js';
import type { LinkModel } from '../network.js';
import type { NodeId } from '../../raft/types.js';

export interface FaultProfile {
  readonly link: LinkModel;
  /** Clock rate per node (1 = true time; 1.05 runs 5% fast). */
  readonly clockRates: readonly number[];
  /** Mean virtual time between fault actions, ms. */
  readonly faultEveryMs: number;
  /** Relative weights of the fault actions. */
  readonly weights: Readonly<Record<FaultKind, number>>;
  /** How long a crashed node stays down, ms. */
  readonly downtimeMs: readonly [number, number];
  /**
   * How long a Ready's fsync takes, ms ([0, 0]: at once). While it runs the
   * node sends the Ready's early messages, keeps stepping, and loses the
   * unsynced writes if it crashes.
   */
  readonly syncMs: readonly [number, number];
  /**
   * Probability that a newly elected leader crashes within a few round trips of its election (a
   * crash loop, a node killed by its supervisor): leaves entries of several terms half replicated,
   * the raw material of the paper's figure 8.
   */
  readonly crashNewLeader?: number;
  /** Messages cut by a partition are delivered when it heals (see WorldConfig.holdAcrossPartitions). */
  readonly holdAcrossPartitions?: boolean;
  /**
   * [p, k]: each fsync takes k times its drawn time with probability p (a disk's latency spikes, as
   * measured on real machines: the leader's fsync then often outlasts its followers' round trip).
   */
  readonly syncSpike?: readonly [number, number];
  /**
   * Probability, each time a leader applies entries on its followers' quorum while its own fsync
   * still runs (asyncLeaderPersist), that it crashes right then: its unsynced tail is lost or torn.
   */
  readonly crashLeaderInFsync?: number;
}

export type FaultKind =
  | 'partition-halves'
  | 'isolate-leader'
  | 'bridge'
  | 'heal'
  | 'crash'
  | 'crash-leader'
  | 'transfer-leader'
  | 'demote-voter'
  | 'promote-learner'
  /** A node is told its (live) leader is unreachable: the runtime's crash hint, sent in error. */
  | 'false-unreachable'
  /** A node's disk fills up: its next write fails with ENOSPC and the node fails stop. */
  | 'disk-full'
  /** One bit of a node's synced WAL flips, then the node crashes and must read it back. */
  | 'corrupt'
  | 'none';

export type FaultAction =
  | { readonly kind: 'partition'; readonly label: string; readonly groups: readonly (readonly NodeId[])[] }
  | {
      readonly kind: 'bridge';
      readonly bridge: NodeId;
      readonly left: readonly NodeId[];
      readonly right: readonly NodeId[];
    }
  | { readonly kind: 'heal' }
  | { readonly kind: 'crash'; readonly node: NodeId; readonly downMs: number }
  | { readonly kind: 'disk-full'; readonly node: NodeId; readonly spareBytes: number }
  /** `at`: where in the synced bytes of the node's last WAL segment, as a fraction (1 = its last byte). */
  | { readonly kind: 'corrupt'; readonly node: NodeId; readonly at: number }
  /** Graceful leadership transfer (TimeoutNow), as a node stopping for maintenance does. */
  | { readonly kind: 'transfer'; readonly from: NodeId; readonly to: NodeId }
  | { readonly kind: 'unreachable'; readonly node: NodeId; readonly peer: NodeId }
  /** A single-server membership change proposed by the leader (thesis 4.1). */
  | {
      readonly kind: 'conf';
      readonly leader: NodeId;
      readonly change: 'add_learner' | 'add_voter';
      readonly node: NodeId;
    }
  | { readonly kind: 'none' };

export interface ClusterView {
  readonly nodes: readonly NodeId[];
  readonly up: ReadonlySet<NodeId>;
  readonly leader: NodeId | null;
  /** Voters of the latest committed configuration. */
  readonly voters: readonly NodeId[];
}

/** `level` 0 = no faults at all (benchmarks), 1 = the default mix. */
export function drawProfile(rng: Rng, nodes: number, level: 0 | 1 = 1): FaultProfile {
  if (level === 0) {
    return {
      link: { latencyMs: 1, jitterMs: 0, loss: 0, duplicate: 0 },
      clockRates: Array.from({ length: nodes }, () => 1),
      faultEveryMs: Number.POSITIVE_INFINITY,
      weights: {
        'partition-halves': 0,
        'isolate-leader': 0,
        bridge: 0,
        heal: 0,
        crash: 0,
        'crash-leader': 0,
        'transfer-leader': 0,
        'demote-voter': 0,
        'promote-learner': 0,
        'false-unreachable': 0,
        'disk-full': 0,
        corrupt: 0,
        none: 1,
      },
      downtimeMs: [0, 0],
      syncMs: [0, 0],
    };
  }
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(0, xs.length - 1)]!;
  const latencyMs = pick([1, 2, 5, 10, 20]);
  return {
    link: {
      latencyMs,
      jitterMs: pick([0, latencyMs, latencyMs * 4]),
      loss: pick([0, 0, 0.01, 0.05, 0.15]),
      duplicate: pick([0, 0, 0.01, 0.05]),
      straggle: pick([0, 0, 0.01, 0.05]),
      straggleMs: pick([100, 500, 2000]),
    },
    // Raft tolerates bounded drift; ±10% is far beyond real crystals and still inside the timeout margins.
    clockRates: Array.from({ length: nodes }, () => 0.9 + rng.next() * 0.2),
    faultEveryMs: pick([300, 800, 2000]),
    weights: {
      'partition-halves': pick([0, 1, 3]),
      'isolate-leader': pick([0, 1, 3]),
      bridge: pick([0, 1, 2]),
      heal: 3,
      crash: pick([0, 1, 3]),
      'crash-leader': pick([0, 1, 2]),
      'transfer-leader': pick([0, 1, 2]),
      'demote-voter': 0,
      'promote-learner': pick([0, 1]),
      'false-unreachable': pick([0, 1, 2]),
      'disk-full': pick([0, 0, 1]),
      // Off by default: see the `disk` profile.
      corrupt: 0,
      none: 1,
    },
    downtimeMs: [50, pick([300, 1500, 4000])],
    syncMs: pick<readonly [number, number]>([
      [0, 0],
      [0.2, 2],
      [1, 8],
    ]),
    crashNewLeader: pick([0, 0, 0.2, 0.5]),
    holdAcrossPartitions: pick([false, true]),
    // Drawn last, so every earlier draw of a profile stays what it was.
    syncSpike: pick<readonly [number, number]>([
      [0, 1],
      [0.1, 20],
      [0.3, 50],
    ]),
    crashLeaderInFsync: pick([0, 0.02, 0.1]),
  };
}

function shuffled<T>(rng: Rng, xs: readonly T[]): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Chooses the next fault action for the current state of the cluster. */
export function nextFault(rng: Rng, profile: FaultProfile, view: ClusterView): FaultAction {
  const kinds = Object.keys(profile.weights).sort() as FaultKind[];
  const total = kinds.reduce((s, k) => s + profile.weights[k], 0);
  let r = rng.next() * total;
  let kind: FaultKind = 'none';
  for (const k of kinds) {
    r -= profile.weights[k];
    if (r < 0) {
      kind = k;
      break;
    }
  }
  const n = view.nodes.length;
  switch (kind) {
    case 'partition-halves': {
      const s = shuffled(rng, view.nodes);
      const cut = rng.int(1, n - 1);
      return { kind: 'partition', label: 'random halves', groups: [s.slice(0, cut), s.slice(cut)] };
    }
    case 'isolate-leader': {
      if (view.leader === null) return { kind: 'none' };
      return {
        kind: 'partition',
        label: `isolate leader ${view.leader}`,
        groups: [[view.leader], view.nodes.filter((x) => x !== view.leader)],
      };
    }
    case 'bridge': {
      if (n < 3) return { kind: 'none' };
      const s = shuffled(rng, view.nodes);
      const bridge = s[0]!;
      const rest = s.slice(1);
      const cut = rng.int(1, rest.length - 1);
      return { kind: 'bridge', bridge, left: rest.slice(0, cut), right: rest.slice(cut) };
    }
    case 'heal':
      return { kind: 'heal' };
    case 'crash':
    case 'crash-leader': {
      // Crashing a majority is allowed: safety must hold while the cluster is unavailable.
      const up = view.nodes.filter((x) => view.up.has(x));
      const target =
        kind === 'crash-leader' ? view.leader : up.length > 0 ? up[rng.int(0, up.length - 1)]! : null;
      if (target === null || !view.up.has(target)) return { kind: 'none' };
      const [lo, hi] = profile.downtimeMs;
      return { kind: 'crash', node: target, downMs: lo + rng.next() * (hi - lo) };
    }
    case 'transfer-leader': {
      if (view.leader === null) return { kind: 'none' };
      const others = view.nodes.filter((x) => x !== view.leader);
      return { kind: 'transfer', from: view.leader, to: others[rng.int(0, others.length - 1)]! };
    }
    case 'demote-voter': {
      // Keep a voter majority of the nodes so the cluster stays meaningful.
      if (view.leader === null || view.voters.length <= Math.ceil(n / 2)) return { kind: 'none' };
      const others = view.voters.filter((x) => x !== view.leader);
      return {
        kind: 'conf',
        leader: view.leader,
        change: 'add_learner',
        node: others[rng.int(0, others.length - 1)]!,
      };
    }
    case 'promote-learner': {
      const learners = view.nodes.filter((x) => !view.voters.includes(x));
      if (view.leader === null || learners.length === 0) return { kind: 'none' };
      return {
        kind: 'conf',
        leader: view.leader,
        change: 'add_voter',
        node: learners[rng.int(0, learners.length - 1)]!,
      };
    }
    case 'false-unreachable': {
      const others = view.nodes.filter((x) => x !== view.leader && view.up.has(x));
      if (view.leader === null || others.length === 0) return { kind: 'none' };
      return { kind: 'unreachable', node: others[rng.int(0, others.length - 1)]!, peer: view.leader };
    }
    case 'corrupt': {
      const up = view.nodes.filter((x) => view.up.has(x));
      if (up.length === 0 || view.voters.length < 3) return { kind: 'none' };
      return {
        kind: 'corrupt',
        node: up[rng.int(0, up.length - 1)]!,
        at: rng.next() < 0.7 ? 1 - rng.next() * 0.02 : rng.next(),
      };
    }
    case 'disk-full': {
      const up = view.nodes.filter((x) => view.up.has(x));
      if (up.length === 0) return { kind: 'none' };
      return { kind: 'disk-full', node: up[rng.int(0, up.length - 1)]!, spareBytes: rng.int(0, 64 * 1024) };
    }
    case 'none':
      return { kind: 'none' };
  }
}

export function describeFault(a: FaultAction): string {
  switch (a.kind) {
    case 'partition':
      return `partition (${a.label}): ${a.groups.map((g) => `{${g.join(',')}}`).join(' | ')}`;
    case 'bridge':
      return `bridge ${a.bridge} between {${a.left.join(',')}} and {${a.right.join(',')}}`;
    case 'heal':
      return 'heal network';
    case 'crash':
      return `crash ${a.node} for ${Math.round(a.downMs)} ms`;
    case 'disk-full':
      return `disk of ${a.node} full (${a.spareBytes} bytes left)`;
    case 'corrupt':
      return `flip a synced bit of ${a.node}'s last WAL segment at ${(a.at * 100).toFixed(1)}%, then crash it`;
    case 'transfer':
      return `transfer leadership ${a.from} -> ${a.to}`;
    case 'conf':
      return `${a.leader} proposes ${a.change} ${a.node}`;
    case 'unreachable':
      return `tell ${a.node} that ${a.peer} is unreachable`;
    case 'none':
      return 'no fault';
  }
}

/** The crashy mix plus membership changes (demote a voter to learner, promote it back). */
export const MEMBERSHIP_PROFILE: Partial<FaultProfile> = {
  weights: {
    'partition-halves': 1,
    'isolate-leader': 1,
    bridge: 1,
    heal: 2,
    crash: 2,
    'crash-leader': 2,
    'transfer-leader': 1,
    'demote-voter': 3,
    'promote-learner': 3,
    'false-unreachable': 1,
    'disk-full': 1,
    corrupt: 0,
    none: 0,
  },
  faultEveryMs: 300,
};

/** Named overrides for the long mode (`npm run sim -- --profile crashy`). */
export const PROFILES: Readonly<Record<string, Partial<FaultProfile>>> = {
  default: {},
  /** A fault every ~300 ms, mostly crashes of the leader or a random node. */
  crashy: {
    weights: {
      'partition-halves': 1,
      'isolate-leader': 2,
      bridge: 0,
      heal: 2,
      crash: 3,
      'crash-leader': 3,
      'transfer-leader': 1,
      'demote-voter': 0,
      'promote-learner': 0,
      'false-unreachable': 1,
      'disk-full': 1,
      corrupt: 0,
      none: 0,
    },
    faultEveryMs: 300,
  },
  /**
   * Disk faults: crashes, full disks and bit flips in synced WAL bytes (mostly near the tail, where
   * recovery must tell a torn write from corruption). A node that finds corruption refuses to start
   * and stays down; at most one node per run is corrupted.
   */
  disk: {
    weights: {
      'partition-halves': 1,
      'isolate-leader': 1,
      bridge: 0,
      heal: 2,
      crash: 2,
      'crash-leader': 1,
      'transfer-leader': 0,
      'demote-voter': 0,
      'promote-learner': 0,
      'false-unreachable': 0,
      'disk-full': 1,
      corrupt: 1,
      none: 1,
    },
    faultEveryMs: 500,
  },
  membership: MEMBERSHIP_PROFILE,
};
