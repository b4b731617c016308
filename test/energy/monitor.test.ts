import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import {
  EnergyMonitor,
  type EnergySections,
  energyConfigFromSections,
  energyMetricSamples,
  fromEnergyMeta,
  fromWireSummary,
  toEnergyMeta,
  toWireSummary,
} from '../../src/energy/index.js';

const monitor = (s: EnergySections = {}): EnergyMonitor => new EnergyMonitor(energyConfigFromSections(s));
const full = (extra: EnergySections['energy'] = {}, history = 100): EnergyMonitor =>
  monitor({ node: { device_class: 'full' }, energy: extra, metrics: { history_size: history } });

describe('energy integration', () => {
  it('trapezoid over known intervals, average, peak, carbon', () => {
    const m = full();
    const a = m.sample(0, { cpuUtilisation: 0 });
    expect(a.power.watts).toBe(2.7);
    expect(a.energy.joules).toBe(0);
    expect(a.energy.averageWatts).toBeNull();
    m.sample(10_000, { cpuUtilisation: 1 });
    const c = m.sample(20_000, { cpuUtilisation: 1 });
    // (2.7 + 7.5) / 2 x 10 s + 7.5 x 10 s = 51 + 75 J
    expect(c.energy.joules).toBeCloseTo(126, 12);
    expect(c.energy.wattHours).toBeCloseTo(0.035, 12);
    expect(c.energy.averageWatts).toBeCloseTo(6.3, 12);
    expect(c.energy.peakWatts).toBe(7.5);
    expect(c.energy.elapsedS).toBe(20);
    expect(c.carbon.grams).toBeCloseTo(0.014, 12);
    expect(c.carbon.band).toBe('high');
    expect(c.carbon.intensityGPerKwh).toBe(400);
  });
  it('time going backwards adds no energy', () => {
    const m = full();
    m.sample(10_000, { cpuUtilisation: 0 });
    const s = m.sample(5_000, { cpuUtilisation: 1 });
    expect(s.energy.joules).toBe(0);
  });
  it('the first sample without CPU data models idle power and says so', () => {
    const s = full().sample(0, {});
    expect(s.power.watts).toBe(2.7);
    expect(s.power.source).toBe('model_no_cpu');
    expect(s.power.measured).toBe(false);
    expect(s.temperatureC).toBeNull();
    expect(s.battery).toBeNull();
  });
  it('history is bounded by history_size', () => {
    const m = full({}, 5);
    for (let i = 0; i < 12; i++) m.sample(i * 1000, { cpuUtilisation: 0.5 });
    expect(m.powerHistory()).toHaveLength(5);
    expect(m.powerHistory()[0]?.t).toBe(7000);
  });
});

describe('measured power wins over the model', () => {
  it('battery discharge power is the device draw', () => {
    const s = full().sample(0, {
      cpuUtilisation: 0.375,
      battery: { percent: 64, status: 'discharging', powerW: 1.2 },
    });
    expect(s.power.watts).toBe(1.2);
    expect(s.power.source).toBe('battery');
    expect(s.power.measured).toBe(true);
    expect(s.power.modelWatts).toBeCloseTo(4.5, 12);
  });
  it('charging power is not the device draw', () => {
    const s = full().sample(0, {
      cpuUtilisation: 0.375,
      battery: { percent: 64, status: 'charging', powerW: 9 },
    });
    expect(s.power.source).toBe('model');
    expect(s.power.watts).toBeCloseTo(4.5, 12);
  });
  it('an external meter wins over the battery', () => {
    const s = full().sample(0, {
      cpuUtilisation: 0.375,
      measuredPowerW: 3.3,
      battery: { percent: 64, status: 'discharging', powerW: 1.2 },
    });
    expect(s.power.watts).toBe(3.3);
    expect(s.power.source).toBe('meter');
  });
});

describe('power state, budget and alarms', () => {
  it('battery thresholds on battery only', () => {
    const m = monitor({ node: { device_class: 'minimal' } });
    expect(m.sample(0, { cpuUtilisation: 0.5, battery: { percent: 9, status: 'discharging' } }).state).toBe(
      'critical',
    );
    expect(
      m.sample(1000, { cpuUtilisation: 0.5, battery: { percent: 25, status: 'discharging' } }).state,
    ).toBe('low_power');
    expect(m.sample(2000, { cpuUtilisation: 0.5, battery: { percent: 25, status: 'charging' } }).state).toBe(
      'active',
    );
    expect(m.sample(3000, { cpuUtilisation: 0.05 }).state).toBe('idle');
  });
  it('power_budget_watts alarm', () => {
    const m = full({ power_budget_watts: 5 });
    expect(m.sample(0, { cpuUtilisation: 0.375 }).power.overBudget).toBe(false);
    const s = m.sample(1000, { cpuUtilisation: 1 });
    expect(s.power.overBudget).toBe(true);
    expect(s.alarms).toEqual(['power 7.50 W exceeds budget 5 W']);
  });
  it('critical battery raises an alarm', () => {
    const s = monitor().sample(0, { battery: { percent: 5, status: 'discharging' } });
    expect(s.alarms).toEqual(['battery critical: 5% < 10%']);
  });
});

describe('efficiency rating of a node that did no work', () => {
  it('is idle, not F, and its Prometheus rating is 0; the first work makes it a grade again', () => {
    const m = new EnergyMonitor(energyConfigFromSections({ node: { device_class: 'full' } }));
    const zero = { raftEntriesCommitted: 0, kvOpsApplied: 0, gossipEventsDelivered: 0 };
    m.sample(0, { cpuUtilisation: 0, work: zero });
    let s = m.sample(10_000, { cpuUtilisation: 0, work: zero });
    expect(s.efficiency.score).toBe(0);
    expect(s.efficiency.rating).toBe('idle');
    expect(energyMetricSamples(s).find((x) => x.name === 'swarm_energy_rating')?.value).toBe(0);
    // A few gossip events in the window: work, at a poor energy cost: F.
    s = m.sample(20_000, { cpuUtilisation: 0, work: { ...zero, gossipEventsDelivered: 3 } });
    expect(s.efficiency.rating).toBe('F');
  });
});

describe('efficiency rating moves with work and with power', () => {
  it('both directions', () => {
    // standard: 0.4 W idle, 1.5 W at full CPU; 10 s window.
    const m = monitor({ node: { device_class: 'standard' }, energy: { efficiency_window_ms: 10_000 } });
    let t = 0;
    let committed = 0;
    let last = m.sample(t, {
      cpuUtilisation: 0,
      work: { raftEntriesCommitted: 0, kvOpsApplied: 0, gossipEventsDelivered: 0 },
    });
    expect(last.efficiency.score).toBeNull();
    const run = (seconds: number, cpu: number, perSecond: number): void => {
      for (let i = 0; i < seconds; i++) {
        t += 1000;
        committed += perSecond;
        last = m.sample(t, {
          cpuUtilisation: cpu,
          work: { raftEntriesCommitted: committed, kvOpsApplied: 0, gossipEventsDelivered: 0 },
        });
      }
    };
    run(20, 0, 25); // 25 units/s at 0.4 W = 62.5 /J
    expect(last.efficiency.score).toBeCloseTo(62.5, 9);
    expect(last.efficiency.rating).toBe('A+');
    expect(last.efficiency.windowS).toBe(10);
    run(20, 0, 2); // work falls: 5 /J
    expect(last.efficiency.score).toBeCloseTo(5, 9);
    expect(last.efficiency.rating).toBe('B');
    run(20, 0, 25); // work rises again
    expect(last.efficiency.rating).toBe('A+');
    run(20, 1, 25); // power rises to 1.5 W: 16.7 /J
    expect(last.efficiency.score).toBeCloseTo(25 / 1.5, 9);
    expect(last.efficiency.rating).toBe('A');
    run(20, 0, 25); // power falls back
    expect(last.efficiency.rating).toBe('A+');
  });
});

describe('protocol accounting', () => {
  it('rates per second, joules and share of the total', () => {
    const m = full();
    const zero = { packetsSent: 0, packetsReceived: 0, bytesSent: 0, bytesReceived: 0, fsyncs: 0 };
    m.sample(0, { cpuUtilisation: 0, protocol: zero });
    const s = m.sample(10_000, {
      cpuUtilisation: 0,
      protocol: {
        packetsSent: 100,
        packetsReceived: 200,
        bytesSent: 10_000,
        bytesReceived: 30_000,
        fsyncs: 20,
      },
    });
    expect(s.protocol.packetsSentPerS).toBe(10);
    expect(s.protocol.packetsReceivedPerS).toBe(20);
    expect(s.protocol.bytesPerS).toBe(4000);
    expect(s.protocol.fsyncsPerS).toBe(2);
    // 100 x 100 µJ + 200 x 60 µJ + 40,000 x 0.03 µJ + 20 x 1 mJ = 0.0432 J over 27 J
    expect(s.protocol.joules).toBeCloseTo(0.0432, 12);
    expect(s.protocol.watts).toBeCloseTo(0.00432, 12);
    expect(s.protocol.share).toBeCloseTo(0.0432 / 27, 12);
  });
});

describe('gossip summary', () => {
  it('carries power, battery, state and rating and fits in a few bytes', () => {
    const m = monitor({ node: { device_class: 'minimal' } });
    expect(m.summary()).toBeNull();
    m.sample(0, { cpuUtilisation: 0.25, battery: { percent: 25.4, status: 'discharging', powerW: 0.123 } });
    const s = m.summary();
    expect(s).toEqual({
      powerW: 0.123,
      batteryPercent: 25.4,
      powerState: 'low_power',
      rating: null,
      onBattery: true,
      measured: true,
    });
    if (s === null) return;
    const wire = toWireSummary(s);
    expect(wire).toEqual([123, 25, 2, -1, 3]);
    expect(encode(wire).byteLength).toBeLessThanOrEqual(12);
    expect(fromWireSummary(wire)).toEqual({ ...s, batteryPercent: 25 });
  });
  it('an idle rating survives the wire and the metadata round trip', () => {
    const idle = {
      powerW: 2.7,
      batteryPercent: null,
      powerState: 'idle' as const,
      rating: 'idle' as const,
      onBattery: false,
      measured: false,
    };
    expect(toWireSummary(idle)[3]).toBe(6);
    expect(fromWireSummary(toWireSummary(idle))).toEqual(idle);
    expect(fromEnergyMeta(toEnergyMeta(idle))?.rating).toBe('idle');
  });
  it('maps to the gossip MemberMeta energy fields; battery only while on battery', () => {
    const onBattery = {
      powerW: 0.12345,
      batteryPercent: 25.4,
      powerState: 'low_power' as const,
      rating: 'B' as const,
      onBattery: true,
      measured: true,
    };
    const meta = toEnergyMeta(onBattery);
    expect(meta).toEqual({ powerW: 0.123, battery: 25, powerState: 'low_power', rating: 'B' });
    expect(encode(meta).byteLength).toBeLessThan(64);
    expect(fromEnergyMeta(meta)).toEqual({
      ...onBattery,
      powerW: 0.123,
      batteryPercent: 25,
      measured: false,
    });
    const mains = toEnergyMeta({ ...onBattery, onBattery: false, rating: null, powerState: 'active' });
    expect(mains).toEqual({ powerW: 0.123, powerState: 'active' });
    expect(fromEnergyMeta(mains)?.onBattery).toBe(false);
    expect(fromEnergyMeta({})).toBeNull();
    expect(fromEnergyMeta({ powerW: -1 })).toBeNull();
    expect(fromEnergyMeta({ powerW: 1, battery: 500, rating: 'Z' })).toMatchObject({
      batteryPercent: null,
      rating: null,
    });
  });
  it('rejects malformed wire summaries', () => {
    for (const bad of [
      null,
      'x',
      [1, 2, 3],
      [1, 2, 9, 0, 0],
      [1, 200, 0, 0, 0],
      [1.5, 0, 0, 0, 0],
      [1, 0, 0, 7, 0],
    ]) {
      expect(fromWireSummary(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});

describe('config', () => {
  it('defaults of iot-swarm 0.2.0 and overridable profiles', () => {
    const c = energyConfigFromSections();
    expect(c.deviceClass).toBe('standard');
    expect(c.carbonIntensityGPerKwh).toBe(400);
    expect(c.lowPowerThresholdPercent).toBe(30);
    expect(c.criticalThresholdPercent).toBe(10);
    expect(c.powerBudgetW).toBeNull();
    expect(c.historySize).toBe(100);
    const o = energyConfigFromSections({
      node: { device_class: 'full' },
      energy: { tdp_watts: 6, idle_watts: 3 },
    });
    expect(o.profile).toEqual({ tdpW: 6, idleW: 3, minW: 2, maxW: 7.5, batteryWh: null });
  });
  it('invalid values are ConfigErrors naming the key', () => {
    expect(() => energyConfigFromSections({ node: { device_class: 'huge' } })).toThrow(ConfigError);
    expect(() => energyConfigFromSections({ energy: { idle_watts: 5 } })).toThrow(/energy.idle_watts/);
    expect(() =>
      energyConfigFromSections({
        energy: { critical_threshold_percent: 40, low_power_threshold_percent: 30 },
      }),
    ).toThrow(/critical_threshold_percent/);
    expect(() => energyConfigFromSections({ metrics: { history_size: 1 } })).toThrow(/history_size/);
    expect(() => energyConfigFromSections({ energy: { power_budget_watts: 0 } })).toThrow(
      /power_budget_watts/,
    );
  });
});

describe('prometheus samples', () => {
  it('one sample per known reading, none for absent sensors', () => {
    const m = full({ power_budget_watts: 5 });
    m.sample(0, { cpuUtilisation: 0 });
    const s = m.sample(10_000, { cpuUtilisation: 1, temperatureC: 51.5 });
    const byName = new Map(
      energyMetricSamples(s).map((x) => [`${x.name}${JSON.stringify(x.labels ?? {})}`, x]),
    );
    expect(byName.get('swarm_energy_power_watts{"source":"model"}')?.value).toBe(7.5);
    expect(byName.get('swarm_energy_consumed_joules_total{}')).toMatchObject({ value: 51, type: 'counter' });
    expect(byName.get('swarm_energy_cpu_temperature_celsius{}')?.value).toBe(51.5);
    expect(byName.get('swarm_energy_over_budget{}')?.value).toBe(1);
    expect(byName.get('swarm_energy_power_state{"state":"active"}')?.value).toBe(1);
    expect(byName.get('swarm_energy_power_state{"state":"idle"}')?.value).toBe(0);
    expect(byName.has('swarm_energy_battery_percent{}')).toBe(false);
    expect(byName.has('swarm_energy_rating{}')).toBe(false);
  });
});
