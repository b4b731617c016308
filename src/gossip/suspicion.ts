/**
 * Lifeguard's shrinking suspicion timeout (memberlist's suspicion.go): a lone
 * suspicion waits `maxMs`; each independent confirmation shortens the wait
 * logarithmically towards `minMs`, reached after `k` confirmations.
 *
 * Why confirmations shorten it: one member failing to reach another is weak
 * evidence (the accuser itself may be overloaded or behind a bad link, the
 * false positives Lifeguard set out to remove), so a lone accusation gets a
 * long time to be refuted. Independent members that also fail to reach the
 * suspect make a real failure much likelier, and every extra period a dead
 * member stays "suspect" delays failover, so their agreement buys a fast
 * verdict. The log curve gives the first confirmations the biggest cut.
 *
 * Why a floor at all: the suspect can only refute once the suspicion has
 * reached it by gossip (O(log N) rounds), so even a unanimous swarm waits
 * `minMs`, which the caller scales with log N.
 */
import type { MemberId } from './messages.js';

export class Suspicion {
  private readonly confirmers = new Set<MemberId>();

  constructor(
    readonly incarnation: number,
    readonly startedAt: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly k: number,
    from: MemberId,
  ) {
    this.confirmers.add(from);
  }

  /**
   * Record an independent suspicion; true if it was new (worth re-gossiping).
   * Counted by accuser, not by message: the same accusation heard twice
   * through gossip is one piece of evidence, not two.
   */
  confirm(from: MemberId): boolean {
    if (this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    return true;
  }

  /** Accusers besides the first (whose suspicion started the timer). */
  get confirmations(): number {
    return this.confirmers.size - 1;
  }

  deadline(): number {
    return this.startedAt + suspicionTimeout(this.confirmations, this.k, this.minMs, this.maxMs);
  }
}

/** maxMs shortened by log(c + 1) / log(k + 1) of the way to minMs; minMs when no confirmation is expected. */
export function suspicionTimeout(confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs;
  const frac = Math.log(Math.min(confirmations, k) + 1) / Math.log(k + 1);
  return Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)));
}
