/**
 * The energy model's settings, resolved from the `[node]`, `[energy]` and
 * `[metrics]` config sections (snake_case, as in the TOML file) with the
 * defaults of iot-swarm 0.2.0. Invalid combinations are ConfigErrors.
 */
import { ConfigError } from '../common/errors.js';
import { DEFAULT_WORK_WEIGHTS, type WorkWeights } from './model.js';
import { PROTOCOL_COSTS, type ProtocolCosts } from './protocol.js';
import { DEVICE_PROFILES, type DeviceClass, type DeviceProfile, isDeviceClass } from './profiles.js';

export interface EnergyConfig {
  readonly deviceClass: DeviceClass;
  readonly profile: DeviceProfile;
  readonly carbonIntensityGPerKwh: number;
  readonly lowPowerThresholdPercent: number;
  readonly criticalThresholdPercent: number;
  readonly powerBudgetW: number | null;
  /** Samples kept in the power history (`[metrics] history_size`). */
  readonly historySize: number;
  /** Device CPU utilisation at or above which the node is `active` rather than `idle`. */
  readonly idleCpuThreshold: number;
  /** Window of the efficiency score, ms (bounded by the history too). */
  readonly efficiencyWindowMs: number;
  /** Time constant of the battery-rate EWMA, ms. */
  readonly forecastTauMs: number;
  readonly workWeights: WorkWeights;
  readonly protocolCosts: ProtocolCosts;
}

/** The subset of config sections the energy model reads; every key optional. */
export interface EnergySections {
  readonly node?: { readonly device_class?: string };
  readonly energy?: {
    readonly carbon_intensity_gco2_kwh?: number;
    readonly low_power_threshold_percent?: number;
    readonly critical_threshold_percent?: number;
    readonly power_budget_watts?: number | null;
    readonly tdp_watts?: number;
    readonly idle_watts?: number;
    readonly min_watts?: number;
    readonly max_watts?: number;
    readonly battery_capacity_wh?: number | null;
    readonly idle_cpu_threshold?: number;
    readonly efficiency_window_ms?: number;
    readonly forecast_tau_ms?: number;
  };
  readonly metrics?: { readonly history_size?: number };
}

export const ENERGY_DEFAULTS = {
  carbonIntensityGPerKwh: 400,
  lowPowerThresholdPercent: 30,
  criticalThresholdPercent: 10,
  historySize: 100,
  idleCpuThreshold: 0.1,
  efficiencyWindowMs: 60_000,
  forecastTauMs: 300_000,
} as const;

export function energyConfigFromSections(s: EnergySections = {}): EnergyConfig {
  const dc = s.node?.device_class ?? 'standard';
  if (!isDeviceClass(dc)) {
    throw new ConfigError(`node.device_class must be full, standard or minimal, got ${JSON.stringify(dc)}`, {
      key: 'node.device_class',
      value: dc,
    });
  }
  const e = s.energy ?? {};
  const base = DEVICE_PROFILES[dc];
  const profile: DeviceProfile = {
    tdpW: e.tdp_watts ?? base.tdpW,
    idleW: e.idle_watts ?? base.idleW,
    minW: e.min_watts ?? base.minW,
    maxW: e.max_watts ?? base.maxW,
    batteryWh: e.battery_capacity_wh === undefined ? base.batteryWh : e.battery_capacity_wh,
  };
  const cfg: EnergyConfig = {
    deviceClass: dc,
    profile,
    carbonIntensityGPerKwh: e.carbon_intensity_gco2_kwh ?? ENERGY_DEFAULTS.carbonIntensityGPerKwh,
    lowPowerThresholdPercent: e.low_power_threshold_percent ?? ENERGY_DEFAULTS.lowPowerThresholdPercent,
    criticalThresholdPercent: e.critical_threshold_percent ?? ENERGY_DEFAULTS.criticalThresholdPercent,
    powerBudgetW: e.power_budget_watts ?? null,
    historySize: s.metrics?.history_size ?? ENERGY_DEFAULTS.historySize,
    idleCpuThreshold: e.idle_cpu_threshold ?? ENERGY_DEFAULTS.idleCpuThreshold,
    efficiencyWindowMs: e.efficiency_window_ms ?? ENERGY_DEFAULTS.efficiencyWindowMs,
    forecastTauMs: e.forecast_tau_ms ?? ENERGY_DEFAULTS.forecastTauMs,
    workWeights: DEFAULT_WORK_WEIGHTS,
    protocolCosts: PROTOCOL_COSTS[dc],
  };
  validateEnergyConfig(cfg);
  return cfg;
}

export function validateEnergyConfig(c: EnergyConfig): void {
  const bad = (key: string, value: unknown, rule: string): never => {
    throw new ConfigError(`${key} = ${JSON.stringify(value)}: ${rule}`, { key, value, rule });
  };
  const p = c.profile;
  for (const [key, v] of [
    ['energy.tdp_watts', p.tdpW],
    ['energy.idle_watts', p.idleW],
    ['energy.min_watts', p.minW],
    ['energy.max_watts', p.maxW],
  ] as const) {
    if (!Number.isFinite(v) || v < 0) bad(key, v, 'must be a finite number >= 0');
  }
  if (p.idleW > p.tdpW) bad('energy.idle_watts', p.idleW, `must not exceed tdp_watts (${p.tdpW})`);
  if (p.minW > p.maxW) bad('energy.min_watts', p.minW, `must not exceed max_watts (${p.maxW})`);
  if (p.batteryWh !== null && !(p.batteryWh > 0))
    bad('energy.battery_capacity_wh', p.batteryWh, 'must be > 0');
  if (!(c.carbonIntensityGPerKwh >= 0)) {
    bad('energy.carbon_intensity_gco2_kwh', c.carbonIntensityGPerKwh, 'must be >= 0');
  }
  for (const [key, v] of [
    ['energy.low_power_threshold_percent', c.lowPowerThresholdPercent],
    ['energy.critical_threshold_percent', c.criticalThresholdPercent],
  ] as const) {
    if (!(v >= 0 && v <= 100)) bad(key, v, 'must be within 0..100');
  }
  if (c.criticalThresholdPercent > c.lowPowerThresholdPercent) {
    bad(
      'energy.critical_threshold_percent',
      c.criticalThresholdPercent,
      'must not exceed low_power_threshold_percent',
    );
  }
  if (c.powerBudgetW !== null && !(c.powerBudgetW > 0))
    bad('energy.power_budget_watts', c.powerBudgetW, 'must be > 0');
  if (!Number.isInteger(c.historySize) || c.historySize < 2) {
    bad('metrics.history_size', c.historySize, 'must be an integer >= 2');
  }
  if (!(c.idleCpuThreshold >= 0 && c.idleCpuThreshold <= 1)) {
    bad('energy.idle_cpu_threshold', c.idleCpuThreshold, 'must be within 0..1');
  }
  if (!(c.efficiencyWindowMs > 0)) bad('energy.efficiency_window_ms', c.efficiencyWindowMs, 'must be > 0');
  if (!(c.forecastTauMs > 0)) bad('energy.forecast_tau_ms', c.forecastTauMs, 'must be > 0');
}
