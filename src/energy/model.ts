/**
 * The pure arithmetic of the energy model: modelled power, carbon, power
 * state and the efficiency rating. No I/O and no clock: every input is an
 * argument, so the same numbers come out in the node, the simulator and tests.
 */
import type { DeviceProfile } from './profiles.js';

/** idle + (tdp - idle) x utilisation, clamped to [min, max]; utilisation is clamped to 0..1 first. */
export function modelledPowerW(profile: DeviceProfile, cpuUtilisation: number): number {
  const u = Number.isFinite(cpuUtilisation) ? Math.min(1, Math.max(0, cpuUtilisation)) : 0;
  const p = profile.idleW + (profile.tdpW - profile.idleW) * u;
  return Math.min(profile.maxW, Math.max(profile.minW, p));
}

export const JOULES_PER_KWH = 3_600_000;
export const JOULES_PER_WH = 3_600;

/** Grams of CO2 for `joules` at a grid intensity in g/kWh. */
export function carbonGrams(joules: number, intensityGPerKwh: number): number {
  return (joules / JOULES_PER_KWH) * intensityGPerKwh;
}

export type CarbonBand = 'very_low' | 'low' | 'medium' | 'high' | 'very_high';

/** Bands of the grid's intensity, g/kWh, as in the Python original: <50, <150, <300, <500, else. */
export function carbonBand(intensityGPerKwh: number): CarbonBand {
  if (intensityGPerKwh < 50) return 'very_low';
  if (intensityGPerKwh < 150) return 'low';
  if (intensityGPerKwh < 300) return 'medium';
  if (intensityGPerKwh < 500) return 'high';
  return 'very_high';
}

export type PowerState = 'critical' | 'low_power' | 'idle' | 'active';

export interface PowerStateInput {
  /** True when the device is running from its battery (see `isOnBattery`). */
  readonly onBattery: boolean;
  readonly batteryPercent: number | null;
  readonly cpuUtilisation: number | null;
  readonly criticalThresholdPercent: number;
  readonly lowPowerThresholdPercent: number;
  /** CPU utilisation at or above which the device is `active`. */
  readonly idleCpuThreshold: number;
}

/**
 * Battery thresholds apply only on battery: a device charging at 20 % is
 * not short of energy. Otherwise `active` at or above the CPU threshold,
 * `idle` below it or when the utilisation is not known yet.
 */
export function powerState(i: PowerStateInput): PowerState {
  if (i.onBattery && i.batteryPercent !== null) {
    if (i.batteryPercent < i.criticalThresholdPercent) return 'critical';
    if (i.batteryPercent < i.lowPowerThresholdPercent) return 'low_power';
  }
  if (i.cpuUtilisation !== null && i.cpuUtilisation >= i.idleCpuThreshold) return 'active';
  return 'idle';
}

/**
 * Running from the battery: it says it is discharging, or it is neither
 * charging nor full and no mains supply says it is online.
 */
export function isOnBattery(status: string | null, mainsOnline: boolean | null): boolean {
  if (status === null) return false;
  if (status === 'discharging') return true;
  if (status === 'charging' || status === 'full') return false;
  return mainsOnline !== true;
}

/**
 * A grade, or `idle`: a node that did no work in the window spent its energy
 * on being available, which is not inefficiency, so it is not graded F.
 */
export type Rating = 'A+' | 'A' | 'B' | 'C' | 'D' | 'F' | 'idle';

/** The grades, best first (`idle` is not a grade). */
export const RATINGS: readonly Rating[] = ['A+', 'A', 'B', 'C', 'D', 'F'];

/** Lower bounds of each rating, in work units per joule (see docs/energy.md for the reasoning). */
export const RATING_THRESHOLDS: ReadonlyArray<{ readonly rating: Rating; readonly minScore: number }> = [
  { rating: 'A+', minScore: 50 },
  { rating: 'A', minScore: 10 },
  { rating: 'B', minScore: 2 },
  { rating: 'C', minScore: 0.5 },
  { rating: 'D', minScore: 0.1 },
  { rating: 'F', minScore: 0 },
];

export function ratingFor(score: number): Rating {
  for (const t of RATING_THRESHOLDS) if (score >= t.minScore) return t.rating;
  return 'F';
}

/** Weights that turn counted work into work units (see docs/energy.md). */
export interface WorkWeights {
  readonly raftEntriesCommitted: number;
  readonly kvOpsApplied: number;
  readonly gossipEventsDelivered: number;
}

export const DEFAULT_WORK_WEIGHTS: WorkWeights = {
  raftEntriesCommitted: 1,
  kvOpsApplied: 1,
  gossipEventsDelivered: 0.1,
};

/** Cumulative counters of useful work since the node started. */
export interface WorkCounters {
  readonly raftEntriesCommitted: number;
  readonly kvOpsApplied: number;
  readonly gossipEventsDelivered: number;
}

export function workUnits(w: WorkCounters, weights: WorkWeights): number {
  return (
    w.raftEntriesCommitted * weights.raftEntriesCommitted +
    w.kvOpsApplied * weights.kvOpsApplied +
    w.gossipEventsDelivered * weights.gossipEventsDelivered
  );
}
