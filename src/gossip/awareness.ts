/**
 * Lifeguard local health awareness (Dadgar et al. 2017, memberlist's
 * awareness.go). A node that misses acks or nacks is more likely slow itself
 * than surrounded by failures, so it stretches its own probe interval and
 * timeout instead of accusing others.
 */
export class Awareness {
  private score = 0;

  constructor(private readonly max: number) {}

  get health(): number {
    return this.score;
  }

  /**
   * +1 per missed nack or refutation (signs we are the slow one), -1 per
   * answered probe: the score recovers as soon as our links do. Capped so a
   * node that was sick for long is not stuck at a glacial probe rate.
   */
  applyDelta(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
  }

  /** A probe interval or timeout stretched by our own ill health (score 0: unchanged). */
  scale(ms: number): number {
    return ms * (this.score + 1);
  }
}
