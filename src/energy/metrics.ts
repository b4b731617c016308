/**
 * Prometheus samples for an energy snapshot, as plain data: the API layer
 * registers them with prom-client, so names, help texts and units are
 * decided once, here, next to the model they describe. Absent readings
 * (no battery, no thermal zone) produce no sample rather than a zero.
 */
import { RATINGS } from './model.js';
import type { EnergySnapshot } from './monitor.js';

export interface MetricSample {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly value: number;
  readonly labels?: Readonly<Record<string, string>>;
}

export function energyMetricSamples(s: EnergySnapshot): MetricSample[] {
  const out: MetricSample[] = [];
  const add = (
    name: string,
    help: string,
    value: number | null | undefined,
    type: MetricSample['type'] = 'gauge',
    labels?: Record<string, string>,
  ): void => {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    out.push({ name, help, type, value, ...(labels === undefined ? {} : { labels }) });
  };
  add(
    'swarm_energy_power_watts',
    'Current power draw, measured or modelled (see source label).',
    s.power.watts,
    'gauge',
    {
      source: s.power.source,
    },
  );
  add(
    'swarm_energy_model_power_watts',
    'Power the CPU model predicts, even when measured.',
    s.power.modelWatts,
  );
  add('swarm_energy_cpu_utilisation_ratio', 'Whole-device CPU utilisation, 0..1.', s.power.cpuUtilisation);
  add(
    'swarm_energy_consumed_joules_total',
    'Energy used since the node started.',
    s.energy.joules,
    'counter',
  );
  add('swarm_energy_average_power_watts', 'Average power since the node started.', s.energy.averageWatts);
  add('swarm_energy_peak_power_watts', 'Highest sampled power since the node started.', s.energy.peakWatts);
  add(
    'swarm_energy_carbon_grams_total',
    'CO2 attributed to the energy used, grams.',
    s.carbon.grams,
    'counter',
  );
  add(
    'swarm_energy_carbon_intensity_gco2_per_kwh',
    'Configured grid carbon intensity.',
    s.carbon.intensityGPerKwh,
  );
  add('swarm_energy_cpu_temperature_celsius', 'CPU temperature.', s.temperatureC);
  add('swarm_energy_battery_percent', 'Battery charge, 0..100.', s.battery?.percent);
  add('swarm_energy_battery_time_to_empty_seconds', 'Forecast time to empty.', s.battery?.timeToEmptyS);
  add('swarm_energy_battery_time_to_full_seconds', 'Forecast time to full.', s.battery?.timeToFullS);
  add(
    'swarm_energy_efficiency_score',
    'Useful work units per joule over the efficiency window.',
    s.efficiency.score,
  );
  // Rating as a number so it can be graphed and alerted on: A+ = 6 ... F = 1, idle (no work) = 0.
  const r = s.efficiency.rating;
  add(
    'swarm_energy_rating',
    'Efficiency rating, A+ = 6, A = 5, B = 4, C = 3, D = 2, F = 1, idle (no work in the window) = 0.',
    r === null ? null : r === 'idle' ? 0 : RATINGS.length - RATINGS.indexOf(r),
  );
  add(
    'swarm_energy_protocol_joules_total',
    'Estimated energy of packets, bytes and fsyncs.',
    s.protocol.joules,
    'counter',
  );
  add(
    'swarm_energy_protocol_share_ratio',
    'Estimated protocol share of total energy, 0..1.',
    s.protocol.share,
  );
  add(
    'swarm_energy_over_budget',
    '1 when power exceeds power_budget_watts.',
    s.power.budgetWatts === null ? null : s.power.overBudget ? 1 : 0,
  );
  const states = ['active', 'idle', 'low_power', 'critical'] as const;
  for (const st of states) {
    add(
      'swarm_energy_power_state',
      'Current power state (1 for the current one).',
      s.state === st ? 1 : 0,
      'gauge',
      {
        state: st,
      },
    );
  }
  return out;
}
