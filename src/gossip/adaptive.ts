/**
 * Adaptive gossip controller: picks the gossip interval and fanout from
 * measured network health, activity, swarm size and energy.
 *
 * Pure: `evaluateAdaptive(config, state, inputs, now)` returns the next
 * state; the caller measures the inputs (GossipStats fits them), calls it
 * every `adaptation_interval_ms`, and applies the interval and fanout at once.
 * The rules, thresholds and hysteresis are documented in docs/energy.md,
 * section "Adaptive gossip controller".
 *
 * Unlike the Python original, whose inputs were never measured and whose
 * new interval was never applied, every input here is a measurement and
 * mode changes have hysteresis so the swarm does not flap between modes.
 */
import { ConfigError } from '../common/errors.js';

export type GossipMode = 'aggressive' | 'normal' | 'conservative' | 'emergency';

/** The Python original's multipliers (interval x, fanout x). */
export const MODE_MULTIPLIERS: Readonly<
  Record<GossipMode, { readonly interval: number; readonly fanout: number }>
> = {
  aggressive: { interval: 0.5, fanout: 1.5 },
  normal: { interval: 1, fanout: 1 },
  conservative: { interval: 2, fanout: 0.7 },
  emergency: { interval: 4, fanout: 0.5 },
};

/** Same values as the energy model's PowerState; repeated so gossip does not depend on energy. */
export type AdaptivePowerState = 'critical' | 'low_power' | 'idle' | 'active';

/** Measured inputs. Field names match GossipStats so `{ ...core.stats(), ...energy }` works. */
export interface AdaptiveInputs {
  /** Fraction of probes without a direct ack in the stats window, 0..1; null if unknown. */
  readonly probeLoss: number | null;
  /** Round trip of direct probes, ms (median or mean); null without acks. */
  readonly rttMs: number | null;
  /** Members that answered in the window, self excluded; null if unknown. */
  readonly reachablePeers: number | null;
  /** User events delivered per second over the window; null if unknown. */
  readonly eventRatePerS: number | null;
  /** Alive and suspect members, self included. */
  readonly swarmSize: number;
  readonly batteryPercent?: number | null;
  /** False when on mains (battery thresholds then do not apply); null/absent = unknown. */
  readonly onBattery?: boolean | null;
  /** The energy monitor's power state, when available. */
  readonly powerState?: AdaptivePowerState | null;
}

/**
 * The energy inputs from a node's advertised energy metadata (the vocabulary of
 * src/energy/summary.ts toEnergyMeta, read structurally so gossip does not depend on energy):
 * a battery figure means on battery, a power figure without one means mains.
 */
export function energyInputsFromMeta(
  m: {
    readonly battery?: number;
    readonly powerW?: number;
    readonly powerState?: string;
  } | null,
): Pick<AdaptiveInputs, 'batteryPercent' | 'onBattery' | 'powerState'> {
  const ps = m?.powerState;
  return {
    batteryPercent: m?.battery ?? null,
    onBattery: m?.battery !== undefined ? true : m?.powerW !== undefined ? false : null,
    powerState: ps === 'critical' || ps === 'low_power' || ps === 'idle' || ps === 'active' ? ps : null,
  };
}

export interface AdaptiveThresholds {
  /** Probe loss at or above which the swarm goes aggressive (redundancy beats loss). */
  readonly lossHigh: number;
  /** RTT at or above which the swarm backs off to conservative (congestion). */
  readonly rttHighMs: number;
  /** Event rate at or above which the swarm goes aggressive. */
  readonly activityHighPerS: number;
  /** Event rate at or below which a healthy swarm goes conservative (if `conservativeWhenQuiet`). */
  readonly quietPerS: number;
}

export interface AdaptiveConfig {
  readonly enabled: boolean;
  readonly adaptationIntervalMs: number;
  readonly minIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly maxFanout: number;
  readonly energyAware: boolean;
  /** `[gossip] interval_ms`: the normal mode's interval. */
  readonly baseIntervalMs: number;
  /** `[gossip] fanout`: the normal mode's fanout. */
  readonly baseFanout: number;
  readonly lowPowerThresholdPercent: number;
  readonly criticalThresholdPercent: number;
  readonly thresholds: AdaptiveThresholds;
  /** Consecutive evaluations a new mode must be indicated before switching. */
  readonly confirmEvaluations: number;
  /** Evaluations, counting the switching one, between two switches (energy emergency excepted). */
  readonly minDwellEvaluations: number;
  /** A high-side metric at or beyond threshold x this switches without waiting for confirmation. */
  readonly strongFactor: number;
  /** The condition that caused the current mode holds until its metric falls below threshold x this. */
  readonly exitRatio: number;
  /** Battery percentage points above a threshold needed to leave its energy level. */
  readonly energyMarginPercent: number;
  readonly conservativeWhenQuiet: boolean;
}

export const ADAPTIVE_DEFAULTS: Omit<
  AdaptiveConfig,
  'baseIntervalMs' | 'baseFanout' | 'lowPowerThresholdPercent' | 'criticalThresholdPercent'
> = {
  enabled: true,
  adaptationIntervalMs: 5000,
  minIntervalMs: 200,
  maxIntervalMs: 5000,
  maxFanout: 10,
  energyAware: true,
  thresholds: { lossHigh: 0.1, rttHighMs: 400, activityHighPerS: 10, quietPerS: 0.1 },
  confirmEvaluations: 3,
  minDwellEvaluations: 3,
  strongFactor: 2,
  exitRatio: 0.7,
  energyMarginPercent: 5,
  conservativeWhenQuiet: true,
};

/** The config sections the controller reads (snake_case, as in the TOML file). */
export interface AdaptiveSections {
  readonly gossip?: { readonly interval_ms?: number; readonly fanout?: number };
  readonly adaptive_gossip?: {
    readonly enabled?: boolean;
    readonly adaptation_interval_ms?: number;
    readonly min_interval_ms?: number;
    readonly max_interval_ms?: number;
    readonly max_fanout?: number;
    readonly energy_aware?: boolean;
  };
  readonly energy?: {
    readonly low_power_threshold_percent?: number;
    readonly critical_threshold_percent?: number;
  };
}

export function adaptiveConfigFromSections(
  s: AdaptiveSections = {},
  overrides: Partial<AdaptiveConfig> = {},
): AdaptiveConfig {
  const a = s.adaptive_gossip ?? {};
  const cfg: AdaptiveConfig = {
    ...ADAPTIVE_DEFAULTS,
    enabled: a.enabled ?? ADAPTIVE_DEFAULTS.enabled,
    adaptationIntervalMs: a.adaptation_interval_ms ?? ADAPTIVE_DEFAULTS.adaptationIntervalMs,
    minIntervalMs: a.min_interval_ms ?? ADAPTIVE_DEFAULTS.minIntervalMs,
    maxIntervalMs: a.max_interval_ms ?? ADAPTIVE_DEFAULTS.maxIntervalMs,
    maxFanout: a.max_fanout ?? ADAPTIVE_DEFAULTS.maxFanout,
    energyAware: a.energy_aware ?? ADAPTIVE_DEFAULTS.energyAware,
    baseIntervalMs: s.gossip?.interval_ms ?? 1000,
    baseFanout: s.gossip?.fanout ?? 3,
    lowPowerThresholdPercent: s.energy?.low_power_threshold_percent ?? 30,
    criticalThresholdPercent: s.energy?.critical_threshold_percent ?? 10,
    ...overrides,
  };
  validateAdaptiveConfig(cfg);
  return cfg;
}

export function validateAdaptiveConfig(c: AdaptiveConfig): void {
  const bad = (key: string, value: unknown, rule: string): never => {
    throw new ConfigError(`${key} = ${JSON.stringify(value)}: ${rule}`, { key, value, rule });
  };
  if (!(c.minIntervalMs > 0)) bad('adaptive_gossip.min_interval_ms', c.minIntervalMs, 'must be > 0');
  if (!(c.maxIntervalMs >= c.minIntervalMs)) {
    bad(
      'adaptive_gossip.max_interval_ms',
      c.maxIntervalMs,
      `must be >= min_interval_ms (${c.minIntervalMs})`,
    );
  }
  if (!(Number.isInteger(c.maxFanout) && c.maxFanout >= 1)) {
    bad('adaptive_gossip.max_fanout', c.maxFanout, 'must be an integer >= 1');
  }
  if (!(c.adaptationIntervalMs > 0)) {
    bad('adaptive_gossip.adaptation_interval_ms', c.adaptationIntervalMs, 'must be > 0');
  }
  if (!(c.baseIntervalMs > 0)) bad('gossip.interval_ms', c.baseIntervalMs, 'must be > 0');
  if (!(Number.isInteger(c.baseFanout) && c.baseFanout >= 1))
    bad('gossip.fanout', c.baseFanout, 'must be >= 1');
  if (!(c.confirmEvaluations >= 1)) bad('confirmEvaluations', c.confirmEvaluations, 'must be >= 1');
  if (!(c.exitRatio > 0 && c.exitRatio <= 1)) bad('exitRatio', c.exitRatio, 'must be within (0, 1]');
  if (!(c.strongFactor >= 1)) bad('strongFactor', c.strongFactor, 'must be >= 1');
}

/** Why a mode is indicated. */
export type AdaptiveCause =
  | 'start'
  | 'disabled'
  | 'alone'
  | 'energy_critical'
  | 'energy_low'
  | 'isolated'
  | 'congestion'
  | 'loss'
  | 'activity'
  | 'quiet'
  | 'healthy';

type EnergyLevel = 'ok' | 'low' | 'critical';

export interface AdaptiveState {
  readonly mode: GossipMode;
  readonly cause: AdaptiveCause;
  /** What holds the mode now (the current cause's condition), which may differ from the change's reason. */
  readonly causeDetail: string;
  /** Human-readable reason of the last mode change. */
  readonly reason: string;
  readonly changedAt: number | null;
  readonly lastEvaluatedAt: number | null;
  readonly evaluationsSinceChange: number;
  /** A mode indicated but not yet confirmed, and for how many consecutive evaluations. */
  readonly pending: { readonly mode: GossipMode; readonly count: number } | null;
  readonly energyLevel: EnergyLevel;
  /** Last measured swarm size; null before the first evaluation (no fanout cap yet). */
  readonly swarmSize: number | null;
}

export function initialAdaptiveState(c: AdaptiveConfig): AdaptiveState {
  return {
    mode: 'normal',
    cause: c.enabled ? 'start' : 'disabled',
    causeDetail: c.enabled ? 'start: normal until measurements say otherwise' : 'adaptive gossip disabled',
    reason: c.enabled ? 'start: normal until measurements say otherwise' : 'adaptive gossip disabled',
    changedAt: null,
    lastEvaluatedAt: null,
    // A fresh controller may switch at its first confirmed indication.
    evaluationsSinceChange: c.minDwellEvaluations,
    pending: null,
    energyLevel: 'ok',
    swarmSize: null,
  };
}

interface Indication {
  readonly mode: GossipMode;
  readonly cause: AdaptiveCause;
  readonly detail: string;
  readonly strong: boolean;
}

function energyLevel(c: AdaptiveConfig, prev: EnergyLevel, i: AdaptiveInputs): EnergyLevel {
  if (!c.energyAware) return 'ok';
  const pct = i.batteryPercent ?? null;
  const usable = pct !== null && Number.isFinite(pct) && i.onBattery !== false;
  // Leaving a level needs the battery back above its threshold by a margin, so 29/30/29 % does not flap.
  const critBelow = c.criticalThresholdPercent + (prev === 'critical' ? c.energyMarginPercent : 0);
  const lowBelow = c.lowPowerThresholdPercent + (prev !== 'ok' ? c.energyMarginPercent : 0);
  if (i.powerState === 'critical' || (usable && pct < critBelow)) return 'critical';
  if (i.powerState === 'low_power' || (usable && pct < lowBelow)) return 'low';
  return 'ok';
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

function indicate(c: AdaptiveConfig, s: AdaptiveState, level: EnergyLevel, i: AdaptiveInputs): Indication {
  if (!c.enabled)
    return { mode: 'normal', cause: 'disabled', detail: 'adaptive gossip disabled', strong: true };
  const battery = i.batteryPercent ?? null;
  const batteryText = battery === null ? `power state ${i.powerState ?? 'unknown'}` : `battery ${battery}%`;
  if (level === 'critical') {
    return {
      mode: 'emergency',
      cause: 'energy_critical',
      detail: `${batteryText} below critical ${c.criticalThresholdPercent}%`,
      strong: true,
    };
  }
  if (level === 'low') {
    return {
      mode: 'conservative',
      cause: 'energy_low',
      detail: `${batteryText} below low-power ${c.lowPowerThresholdPercent}%`,
      strong: false,
    };
  }
  if (i.swarmSize <= 1) return { mode: 'normal', cause: 'alone', detail: 'no peers', strong: false };

  // The condition behind the current mode keeps holding until its metric clears threshold x exitRatio.
  const high = (cause: AdaptiveCause, threshold: number): number =>
    s.cause === cause ? threshold * c.exitRatio : threshold;
  const t = c.thresholds;
  const loss = i.probeLoss;
  if (i.reachablePeers === 0 && loss !== null && loss >= 1) {
    return { mode: 'conservative', cause: 'isolated', detail: 'no peer answered any probe', strong: false };
  }
  if (i.rttMs !== null && i.rttMs >= high('congestion', t.rttHighMs)) {
    return {
      mode: 'conservative',
      cause: 'congestion',
      detail: `probe RTT ${Math.round(i.rttMs)} ms >= ${t.rttHighMs} ms`,
      strong: i.rttMs >= t.rttHighMs * c.strongFactor,
    };
  }
  if (loss !== null && loss >= high('loss', t.lossHigh)) {
    return {
      mode: 'aggressive',
      cause: 'loss',
      detail: `probe loss ${pct(loss)} >= ${pct(t.lossHigh)}`,
      strong: loss >= t.lossHigh * c.strongFactor,
    };
  }
  const rate = i.eventRatePerS;
  if (rate !== null && rate >= high('activity', t.activityHighPerS)) {
    return {
      mode: 'aggressive',
      cause: 'activity',
      detail: `event rate ${rate.toFixed(2)}/s >= ${t.activityHighPerS}/s`,
      strong: rate >= t.activityHighPerS * c.strongFactor,
    };
  }
  const quietAt = s.cause === 'quiet' ? t.quietPerS / c.exitRatio : t.quietPerS;
  // Not on mains: "quiet" stretches the probe period x2, which delays the first probe of a failed
  // member and so its detection (25 daemons: 10.2 s to dead everywhere instead of memberlist's 7.6 s)
  // to save ~70 B/s and one wake-up per second that mains power does not need saved.
  if (c.conservativeWhenQuiet && i.onBattery !== false && rate !== null && rate <= quietAt) {
    return {
      mode: 'conservative',
      cause: 'quiet',
      detail: `event rate ${rate.toFixed(2)}/s <= ${t.quietPerS}/s on a healthy network`,
      strong: false,
    };
  }
  return { mode: 'normal', cause: 'healthy', detail: 'network healthy, moderate activity', strong: false };
}

/**
 * One evaluation. Calls before `adaptation_interval_ms` has passed since
 * the last are ignored, except that an energy emergency applies at once.
 */
export function evaluateAdaptive(
  c: AdaptiveConfig,
  s: AdaptiveState,
  i: AdaptiveInputs,
  now: number,
): AdaptiveState {
  const level = energyLevel(c, s.energyLevel, i);
  const due = s.lastEvaluatedAt === null || now - s.lastEvaluatedAt >= c.adaptationIntervalMs;
  const emergencyNow = c.enabled && level === 'critical' && s.mode !== 'emergency';
  if (!due && !emergencyNow) return s;

  const ind = indicate(c, s, level, i);
  const base: AdaptiveState = {
    ...s,
    lastEvaluatedAt: now,
    energyLevel: level,
    swarmSize: Math.max(1, Math.floor(i.swarmSize)),
    evaluationsSinceChange: s.evaluationsSinceChange + 1,
  };
  if (ind.mode === s.mode) {
    // Same mode, maybe a new cause: follow it so the exit thresholds track what holds the mode now.
    return { ...base, cause: ind.cause, causeDetail: ind.detail, pending: null };
  }
  const count = s.pending?.mode === ind.mode ? s.pending.count + 1 : 1;
  const immediate = ind.cause === 'energy_critical' || ind.cause === 'disabled';
  // This evaluation counts towards the dwell, so with dwell = confirm = 3 a mode can follow three evaluations later.
  const dwellOk = s.evaluationsSinceChange + 1 >= c.minDwellEvaluations;
  if (immediate || (dwellOk && (ind.strong || count >= c.confirmEvaluations))) {
    const how = immediate
      ? 'at once'
      : ind.strong && count < c.confirmEvaluations
        ? `at once: beyond ${c.strongFactor}x the threshold`
        : `indicated for ${count} evaluations`;
    return {
      ...base,
      mode: ind.mode,
      cause: ind.cause,
      causeDetail: ind.detail,
      reason: `${s.mode} -> ${ind.mode}: ${ind.detail} (${how})`,
      changedAt: now,
      evaluationsSinceChange: 0,
      pending: null,
    };
  }
  return { ...base, pending: { mode: ind.mode, count } };
}

/**
 * An energy sample between evaluations (the input event): when the sample
 * takes the battery into a lower energy level (critical, or low), the energy
 * mode applies at once, without waiting for the next evaluation, its
 * confirmations or the dwell; the battery is the limit and the node has
 * already measured it. Leaving an energy level waits for the regular
 * evaluation (with its margin and confirmations), and anything else is left
 * to it too, so the evaluation schedule is unchanged.
 */
export function applyEnergySample(
  c: AdaptiveConfig,
  s: AdaptiveState,
  i: AdaptiveInputs,
  now: number,
): AdaptiveState {
  if (!c.enabled) return s;
  const level = energyLevel(c, s.energyLevel, i);
  const rank: Record<EnergyLevel, number> = { ok: 0, low: 1, critical: 2 };
  if (rank[level] <= rank[s.energyLevel]) return s;
  const ind = indicate(c, s, level, i);
  const base: AdaptiveState = {
    ...s,
    energyLevel: level,
    cause: ind.cause,
    causeDetail: ind.detail,
    pending: null,
  };
  if (ind.mode === s.mode) return base;
  return {
    ...base,
    mode: ind.mode,
    reason: `${s.mode} -> ${ind.mode}: ${ind.detail} (at once, at the energy sample)`,
    changedAt: now,
    evaluationsSinceChange: 0,
  };
}

export interface AdaptiveParams {
  readonly mode: GossipMode;
  /**
   * The mode's interval multiplier, for a runtime that also stretches timers
   * other than the gossip round (e.g. the probe period on a critical battery,
   * where probes dominate idle traffic). 1 when disabled.
   */
  readonly intervalMultiplier: number;
  readonly intervalMs: number;
  readonly fanout: number;
  readonly reason: string;
  /** The cause that holds the mode now, and its condition in words (it may have changed since `reason`). */
  readonly cause: AdaptiveCause;
  readonly why: string;
  readonly changedAt: number | null;
}

/**
 * Interval = base x multiplier clamped to [min, max]. Fanout = base x
 * multiplier, rounded up when growing and down when shrinking (so emergency
 * really halves a fanout of 3), clamped to [1, min(max_fanout, peers)].
 */
export function adaptiveParams(c: AdaptiveConfig, s: AdaptiveState): AdaptiveParams {
  if (!c.enabled) {
    return {
      mode: 'normal',
      intervalMultiplier: 1,
      intervalMs: c.baseIntervalMs,
      fanout: c.baseFanout,
      reason: s.reason,
      cause: s.cause,
      why: s.causeDetail,
      changedAt: s.changedAt,
    };
  }
  const m = MODE_MULTIPLIERS[s.mode];
  const intervalMs = Math.min(
    c.maxIntervalMs,
    Math.max(c.minIntervalMs, Math.round(c.baseIntervalMs * m.interval)),
  );
  const raw = c.baseFanout * m.fanout;
  const rounded = m.fanout >= 1 ? Math.ceil(raw - 1e-9) : Math.floor(raw + 1e-9);
  const cap = s.swarmSize === null ? c.maxFanout : Math.min(c.maxFanout, Math.max(1, s.swarmSize - 1));
  const fanout = Math.max(1, Math.min(cap, rounded));
  return {
    mode: s.mode,
    intervalMultiplier: m.interval,
    intervalMs,
    fanout,
    reason: s.reason,
    cause: s.cause,
    why: s.causeDetail,
    changedAt: s.changedAt,
  };
}

/** Stateful wrapper for the runtime: `evaluate` every adaptation_interval_ms, apply the result at once. */
export class AdaptiveGossipController {
  private s: AdaptiveState;

  constructor(readonly config: AdaptiveConfig) {
    this.s = initialAdaptiveState(config);
  }

  evaluate(now: number, inputs: AdaptiveInputs): AdaptiveParams & { readonly changed: boolean } {
    const before = this.s.mode;
    const beforeChangedAt = this.s.changedAt;
    this.s = evaluateAdaptive(this.config, this.s, inputs, now);
    return { ...this.current(), changed: this.s.mode !== before || this.s.changedAt !== beforeChangedAt };
  }

  /** An energy sample arrived between evaluations: see `applyEnergySample`. */
  energySample(now: number, inputs: AdaptiveInputs): AdaptiveParams & { readonly changed: boolean } {
    const before = this.s.mode;
    const beforeChangedAt = this.s.changedAt;
    this.s = applyEnergySample(this.config, this.s, inputs, now);
    return { ...this.current(), changed: this.s.mode !== before || this.s.changedAt !== beforeChangedAt };
  }

  /** True when `evaluate(now, ...)` would run a full evaluation. */
  due(now: number): boolean {
    return (
      this.s.lastEvaluatedAt === null || now - this.s.lastEvaluatedAt >= this.config.adaptationIntervalMs
    );
  }

  current(): AdaptiveParams {
    return adaptiveParams(this.config, this.s);
  }

  state(): AdaptiveState {
    return this.s;
  }
}
