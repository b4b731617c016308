/**
 * Majority arithmetic over a fixed voter set, kept apart from the state
 * machine so that it can be checked on its own. Quorums are always counted
 * over the configured voters, never over whoever seems healthy: the Python
 * original's mistake that let two leaders commit in one term.
 */
import type { NodeId } from './types.js';

/** Smallest number of voters that forms a majority of `n`. */
export function quorumSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** True when `count` members form a strict majority of `total`. */
export function isMajority(count: number, total: number): boolean {
  return total > 0 && count >= quorumSize(total);
}

/**
 * The highest index that a majority of `voters` has matched.
 * Voters absent from `match` count as 0.
 */
export function committedIndex(voters: readonly NodeId[], match: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const idx = voters.map(match).sort((a, b) => b - a);
  return idx[quorumSize(voters.length) - 1] ?? 0;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Outcome of an election given the answers so far (`true` granted, `false` rejected). */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const v of voters) {
    const r = votes.get(v);
    if (r === true) granted++;
    else if (r === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return 'won';
  if (rejected > voters.length - q) return 'lost';
  return 'pending';
}
