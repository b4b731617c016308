/**
 * The node's power mode: how hard its periodic jobs may work. Derived from
 * the energy summary with the same hysteresis as the adaptive gossip
 * controller (a level is left only once the battery is back above its
 * threshold by a margin), so 29/30/29 % does not restart every timer.
 *
 * The energy sampler reads the mode's stretch (`POWER_MODE_STRETCH`); the
 * Raft loop may read it later to stretch its tick and heartbeats (it is
 * exposed as `EnergyComponent.powerMode()` and `onPowerMode()`).
 */
import type { EnergySummary } from './summary.js';

export type PowerMode = 'normal' | 'low_power' | 'emergency';

/** Multiplier of the node's own periodic jobs (energy sampling) per mode. */
export const POWER_MODE_STRETCH: Readonly<Record<PowerMode, number>> = {
  normal: 1,
  low_power: 2,
  emergency: 4,
};

export interface PowerModeThresholds {
  readonly lowPowerThresholdPercent: number;
  readonly criticalThresholdPercent: number;
  /** Percentage points above a threshold needed to leave its mode. */
  readonly marginPercent: number;
}

/** Next mode from the last one and the newest summary (null summary: unknown power, normal). */
export function nextPowerMode(prev: PowerMode, s: EnergySummary | null, t: PowerModeThresholds): PowerMode {
  if (s === null || !s.onBattery) return 'normal';
  const pct = s.batteryPercent;
  if (s.powerState === 'critical') return 'emergency';
  if (pct !== null && prev === 'emergency' && pct < t.criticalThresholdPercent + t.marginPercent)
    return 'emergency';
  if (s.powerState === 'low_power') return 'low_power';
  if (pct !== null && prev !== 'normal' && pct < t.lowPowerThresholdPercent + t.marginPercent)
    return 'low_power';
  return 'normal';
}
