/**
 * The log and vote rules of Raft as pure functions, shared by the real core
 * (RaftNode) and the seed facade (ConsensusProtocol) so that both answer the
 * same way to the same inputs.
 */

/**
 * Election restriction (paper 5.4.1): a candidate's log is at least as
 * up-to-date as ours when its last term is higher, or equal with an index at
 * least as long. Without it a leader could lack committed entries.
 */
export function isUpToDate(
  candLastIndex: number,
  candLastTerm: number,
  ourLastIndex: number,
  ourLastTerm: number,
): boolean {
  return candLastTerm > ourLastTerm || (candLastTerm === ourLastTerm && candLastIndex >= ourLastIndex);
}

/**
 * One vote per term (paper 5.2): a vote already cast in this term can only be
 * repeated for the same candidate (a retransmitted request).
 */
export function canGrantVote(
  votedFor: string | null,
  candidate: string,
  candLastIndex: number,
  candLastTerm: number,
  ourLastIndex: number,
  ourLastTerm: number,
): boolean {
  return (
    (votedFor === null || votedFor === candidate) &&
    isUpToDate(candLastIndex, candLastTerm, ourLastIndex, ourLastTerm)
  );
}

/** A log as the rules need it: the term at an index, or undefined if unknown (beyond the end or compacted). */
export interface TermLookup {
  termAt(index: number): number | undefined;
  lastIndex(): number;
}

/**
 * Log matching (paper 5.3): AppendEntries is accepted only if our log holds
 * `prevIndex` with `prevTerm`; index 0 (before the first entry) always matches.
 */
export function logMatches(log: TermLookup, prevIndex: number, prevTerm: number): boolean {
  if (prevIndex === 0) return true;
  return log.termAt(prevIndex) === prevTerm;
}

/**
 * The index of the first incoming entry that is absent from our log or
 * disagrees with it on term, or 0 when every incoming entry is already there.
 * Only from that index on may the follower truncate: an AppendEntries that
 * arrives late must not erase entries a newer one appended (paper figure 2, step 3).
 */
export function findConflict(log: TermLookup, entries: readonly { index: number; term: number }[]): number {
  for (const e of entries) {
    const t = log.termAt(e.index);
    if (t !== e.term) return e.index;
  }
  return 0;
}

/** Commit index a follower may adopt: never beyond the entries this request proved to match. */
export function followerCommit(current: number, leaderCommit: number, lastNewIndex: number): number {
  return Math.max(current, Math.min(leaderCommit, lastNewIndex));
}
