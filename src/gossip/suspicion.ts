/**
 * Lifeguard's shrinking suspicion timeout (memberlist's suspicion.go): a lone
 * suspicion waits `maxMs`; each independent confirmation shortens the wait
 * logarithmically towards `minMs`, reached after `k` confirmations.
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

  /** Record an independent suspicion; true if it was new (worth re-gossiping). */
  confirm(from: MemberId): boolean {
    if (this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    return true;
  }

  get confirmations(): number {
    return this.confirmers.size - 1;
  }

  deadline(): number {
    return this.startedAt + suspicionTimeout(this.confirmations, this.k, this.minMs, this.maxMs);
  }
}

export function suspicionTimeout(confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs;
  const frac = Math.log(Math.min(confirmations, k) + 1) / Math.log(k + 1);
  return Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)));
}
