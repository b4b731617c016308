/**
 * Energy-aware leadership advice, pure: the node asks `LeadershipAdvisor.check`
 * on each energy sample while it leads, and starts a Raft leadership transfer
 * when it returns a target. `electionTimeoutMultiplier` stretches a
 * battery-powered node's election timeout so mains-powered voters tend to win.
 *
 * Rules (docs/energy.md, "Energy-aware leadership"):
 *  - a leader on battery below the low-power threshold hands over to the
 *    best-powered voter that is on mains, or on a battery at least
 *    `marginPercent` fuller and itself above the threshold;
 *  - a leader whose rating is `ratingGap` or more grades worse than a
 *    mains-powered voter's hands over to the best such voter;
 *  - a condition must hold for `confirmChecks` consecutive checks (critical
 *    battery: at once), and after advising a transfer the advisor stays
 *    silent for `cooldownMs`, so leadership does not bounce.
 *
 * Peers' summaries are gossip records, so they lag: a change reaches a peer
 * one sample interval plus one dissemination later (tens of seconds in
 * emergency gossip, whose rounds are 4 s apart with fanout 1). When every member's supply changes at once (a power cut on a
 * shared supply), the leader's view still shows the others on mains right
 * after its own battery drops, and a transfer on that view lands on a node
 * just as bad, which hands over again on its own stale view. Two rules keep
 * a stale view from moving leadership:
 *  - settle: for `settleMs` after this node's own energy class (mains,
 *    battery, low, critical) changed, its view of the others is not trusted
 *    (whatever changed with it has not reached it yet);
 *  - tenure: no energy transfer within `minTenureMs` of taking leadership, so
 *    a node handed leadership on a stale view does not pass it straight on.
 */
import { RATINGS, type Rating } from './model.js';
import type { EnergySummary } from './summary.js';

export interface LeadershipConfig {
  readonly lowPowerThresholdPercent: number;
  readonly criticalThresholdPercent: number;
  readonly confirmChecks: number;
  readonly cooldownMs: number;
  /** Rating grades (A+ -> A is one) a mains voter must be better by. */
  readonly ratingGap: number;
  /** Battery points a battery-powered target must be fuller by. */
  readonly marginPercent: number;
  /** After this node's own energy class changed, peers' gossiped summaries are not acted on for this long. */
  readonly settleMs: number;
  /** No energy transfer within this long of this node taking leadership (first check in a term). */
  readonly minTenureMs: number;
}

export const LEADERSHIP_DEFAULTS: Omit<
  LeadershipConfig,
  'lowPowerThresholdPercent' | 'criticalThresholdPercent'
> = {
  confirmChecks: 3,
  cooldownMs: 60_000,
  ratingGap: 2,
  marginPercent: 10,
  // How stale a view gets at a shared supply failure: in the simulation with the daemon's gossip
  // settings (emergency: 4 s rounds, fanout 1) every voter had every other voter's new record within
  // 35 s (46 s under 20 % loss); 25 real daemons, 38-42 s (node-swarm-idle). 30 s still let one
  // leader move at 34 s there. Holding a lone critical leader 60 s longer costs it ~0.1 J (docs/energy.md).
  settleMs: 60_000,
  minTenureMs: 60_000,
};

/** What a node's own supply looks like to the rules; a change makes peers' views stale. */
export type EnergyClass = 'mains' | 'battery' | 'low' | 'critical';

export function energyClass(
  s: EnergySummary | null,
  cfg: Pick<LeadershipConfig, 'lowPowerThresholdPercent' | 'criticalThresholdPercent'>,
): EnergyClass | null {
  if (s === null) return null;
  if (!s.onBattery) return 'mains';
  const p = s.batteryPercent;
  if (p !== null && p < cfg.criticalThresholdPercent) return 'critical';
  if (p !== null && p < cfg.lowPowerThresholdPercent) return 'low';
  return 'battery';
}

export interface VoterEnergy {
  readonly id: string;
  /** The voter's last summary from gossip metadata; null when unknown. */
  readonly summary: EnergySummary | null;
}

export interface TransferAdvice {
  readonly target: string;
  readonly reason: string;
}

/** Grade index, best first; null and idle (no work to grade) rank after every grade. */
const grade = (r: Rating | null): number =>
  r === null || r === 'idle' ? RATINGS.length : RATINGS.indexOf(r);

/** Orders voters best-powered first: mains, then fuller battery, then better rating, then id. */
export function compareVoters(a: VoterEnergy, b: VoterEnergy): number {
  const key = (v: VoterEnergy): [number, number, number] => {
    const s = v.summary;
    if (s === null) return [2, 0, RATINGS.length];
    return [s.onBattery ? 1 : 0, -(s.onBattery ? (s.batteryPercent ?? 0) : 100), grade(s.rating)];
  };
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return (ka[i] as number) - (kb[i] as number);
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export class LeadershipAdvisor {
  private streak = 0;
  private quietUntil = -Infinity;
  /** This node's last energy class, and when it changed (the first one seen is no change). */
  private cls: EnergyClass | null = null;
  private clsChangedAt = -Infinity;
  /** The term this node last led in, and the first check of that term. */
  private term: number | null = null;
  private leaderSince = -Infinity;

  constructor(readonly config: LeadershipConfig) {}

  /** Every energy sample, leading or not: a class change while following also makes the view stale. */
  observe(now: number, self: EnergySummary | null): void {
    const k = energyClass(self, this.config);
    if (k === null || k === this.cls) return;
    if (this.cls !== null) this.clsChangedAt = now;
    this.cls = k;
  }

  /**
   * While leading in `term`; `voters` excludes self. Returns a target when
   * leadership should move now.
   */
  check(
    now: number,
    self: EnergySummary | null,
    voters: readonly VoterEnergy[],
    term: number,
  ): TransferAdvice | null {
    const c = this.config;
    this.observe(now, self);
    if (term !== this.term) {
      this.term = term;
      this.leaderSince = now;
      this.streak = 0;
    }
    if (
      now < this.quietUntil ||
      self === null ||
      now < this.leaderSince + c.minTenureMs ||
      now < this.clsChangedAt + c.settleMs
    ) {
      this.streak = 0;
      return null;
    }
    const found = this.indicated(self, voters);
    if (found === null) {
      this.streak = 0;
      return null;
    }
    this.streak++;
    if (!found.urgent && this.streak < c.confirmChecks) return null;
    this.streak = 0;
    this.quietUntil = now + c.cooldownMs;
    return { target: found.target, reason: found.reason };
  }

  private indicated(
    self: EnergySummary,
    voters: readonly VoterEnergy[],
  ): { target: string; reason: string; urgent: boolean } | null {
    const c = this.config;
    const ranked = [...voters].sort(compareVoters);
    const pct = self.batteryPercent;
    if (self.onBattery && pct !== null && pct < c.lowPowerThresholdPercent) {
      const better = ranked.find((v) => {
        const s = v.summary;
        if (s === null) return false;
        if (!s.onBattery) return true;
        const p = s.batteryPercent;
        return p !== null && p >= c.lowPowerThresholdPercent && p >= pct + c.marginPercent;
      });
      if (better === undefined) return null;
      const critical = pct < c.criticalThresholdPercent;
      const what = better.summary?.onBattery ? `battery ${better.summary.batteryPercent}%` : 'mains';
      return {
        target: better.id,
        reason: `leader battery ${pct}% below ${critical ? 'critical' : 'low-power'} ${
          critical ? c.criticalThresholdPercent : c.lowPowerThresholdPercent
        }%: hand over to ${better.id} (${what})`,
        urgent: critical,
      };
    }
    // No rating yet (no work measured) is unknown, not bad: it never moves leadership.
    if (self.rating === null || self.rating === 'idle') return null;
    const mine = grade(self.rating);
    const best = ranked.find(
      (v) => v.summary !== null && !v.summary.onBattery && grade(v.summary.rating) + c.ratingGap <= mine,
    );
    if (best === undefined || best.summary === null) return null;
    return {
      target: best.id,
      reason: `leader rating ${self.rating ?? 'none'} is ${mine - grade(best.summary.rating)} grades below mains voter ${best.id} (${best.summary.rating})`,
      urgent: false,
    };
  }
}

/**
 * Election timeout multiplier: mains (or unknown) 1, on battery 1.5, below
 * low power 2, below critical 4. A node that would soon drain leading waits
 * longer before standing, so a mains-powered voter usually times out first.
 * Low power and critical match the power modes' stretch of every other
 * periodic job (POWER_MODE_STRETCH, the probe period): a leader whose voters
 * are all critical then heartbeats them every 4 s when idle, the period at
 * which their gossip probes run, so each probe rides a heartbeat's wake-up.
 */
export function electionTimeoutMultiplier(
  s: EnergySummary | null,
  cfg: Pick<LeadershipConfig, 'lowPowerThresholdPercent' | 'criticalThresholdPercent'>,
): number {
  if (s === null || !s.onBattery) return 1;
  const p = s.batteryPercent;
  if (p !== null && p < cfg.criticalThresholdPercent) return 4;
  if (p !== null && p < cfg.lowPowerThresholdPercent) return 2;
  return 1.5;
}
