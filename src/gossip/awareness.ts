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

  applyDelta(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
  }

  scale(ms: number): number {
    return ms * (this.score + 1);
  }
}
