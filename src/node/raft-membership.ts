/**
 * Pure membership policy of the Raft component: which single change the
 * leader proposes next (who forms the cluster is src/node/formation.ts). Kept free of
 * I/O so the rules can be tested without sockets or disks.
 */
import type { ConfChange } from '../raft/confchange.js';
import type { ConfState } from '../raft/types.js';
import type { DeviceClass, PeerInfo } from './peers.js';

/** Minimal devices observe (learners) and must never vote or lead. */
export function canVote(deviceClass: DeviceClass): boolean {
  return deviceClass !== 'minimal';
}

export interface PlanInput {
  readonly selfId: string;
  readonly conf: ConfState;
  /** Replication progress by node id (the leader's view). */
  readonly match: ReadonlyMap<string, number>;
  readonly lastIndex: number;
  readonly peers: readonly PeerInfo[];
  readonly maxVoters: number;
  /** Ids of the founding voters still to be added (bootstrap), promoted first. */
  readonly founders?: readonly string[];
  /** A learner within this many entries of the leader's last index counts as caught up. */
  readonly catchUpLag?: number;
  /** Voters that have been dead at least the replacement delay (decided by the caller's clock). */
  readonly deadLongEnough?: ReadonlySet<string>;
}

const CLASS_RANK: Record<DeviceClass, number> = { full: 0, standard: 1, minimal: 2 };

/**
 * The next membership change, or null. One change at a time (the core also
 * enforces it). Order: demote a voter that cannot vote; remove members that
 * left; add unknown alive peers as learners; promote caught-up voter-capable
 * learners (full before standard) while under `maxVoters`; replace a voter
 * dead for long by removing it once a caught-up learner can take its seat.
 */
export function planMembershipChange(input: PlanInput): ConfChange | null {
  const { conf, selfId } = input;
  const byId = new Map(input.peers.map((p) => [p.id, p]));
  const lag = input.catchUpLag ?? 64;
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);

  for (const v of conf.voters) {
    const p = byId.get(v);
    if (v !== selfId && p && !canVote(p.deviceClass)) return { type: 'add_learner', node: v };
  }
  for (const id of [...conf.voters, ...conf.learners]) {
    if (id === selfId) continue;
    if (byId.get(id)?.status === 'left') return { type: 'remove', node: id };
  }
  const newcomers = input.peers
    .filter((p) => p.status === 'alive' && p.raftAddr !== null && !voters.has(p.id) && !learners.has(p.id))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const first = newcomers[0];
  if (first) return { type: 'add_learner', node: first.id };

  const founders = new Set(input.founders ?? []);
  const caughtUp = conf.learners
    .map((id) => byId.get(id))
    .filter(
      (p): p is PeerInfo =>
        p !== undefined &&
        p.status === 'alive' &&
        canVote(p.deviceClass) &&
        (input.match.get(p.id) ?? 0) + lag >= input.lastIndex,
    )
    .sort(
      (a, b) =>
        Number(founders.has(b.id)) - Number(founders.has(a.id)) ||
        CLASS_RANK[a.deviceClass] - CLASS_RANK[b.deviceClass] ||
        (a.id < b.id ? -1 : 1),
    );
  const best = caughtUp[0];
  if (best && voters.size < input.maxVoters) {
    // Keep the voter count odd where possible: an even count tolerates no more failures than one fewer.
    const next = voters.size + 1;
    if (next % 2 === 1 || caughtUp.length >= 2 || founders.has(best.id) || next === input.maxVoters) {
      return { type: 'add_voter', node: best.id };
    }
  }
  if (best) {
    for (const v of conf.voters) {
      if (v !== selfId && input.deadLongEnough?.has(v)) return { type: 'remove', node: v };
    }
  }
  return null;
}
