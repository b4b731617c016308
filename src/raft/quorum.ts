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
  const n = voters.length;
  if (n === 0) return 0;
  const q = quorumSize(n);
  // Asked once or twice per write on a leader: for the usual 1-7 voters, the largest index that at
  // least q voters hold, counted in place (a sorted copy was 4 % of a leader's garbage per write).
  if (n <= SMALL_VOTER_SET) {
    let best = 0;
    for (let i = 0; i < n; i++) {
      const m = match(voters[i]!);
      if (m <= best) continue;
      let holding = 0;
      for (let j = 0; j < n && holding < q; j++) if (match(voters[j]!) >= m) holding++;
      if (holding >= q) best = m;
    }
    return best;
  }
  const idx = voters.map(match).sort((a, b) => b - a);
  return idx[q - 1] ?? 0;
}

/** Up to this many voters, committedIndex counts without allocating (n² match calls). */
const SMALL_VOTER_SET = 7;

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
