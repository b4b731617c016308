import { describe, expect, it } from 'vitest';
import {
  DEVICE_PROFILES,
  PROTOCOL_COSTS,
  carbonBand,
  carbonGrams,
  counterDelta,
  isOnBattery,
  modelledPowerW,
  powerState,
  protocolJoules,
  ratingFor,
  workUnits,
  DEFAULT_WORK_WEIGHTS,
} from '../../src/energy/index.js';

describe('modelled power', () => {
  it('profiles match the Python original', () => {
    expect(DEVICE_PROFILES.full).toEqual({ tdpW: 7.5, idleW: 2.7, minW: 2.0, maxW: 7.5, batteryWh: null });
    expect(DEVICE_PROFILES.standard).toEqual({
      tdpW: 1.5,
      idleW: 0.4,
      minW: 0.1,
      maxW: 1.5,
      batteryWh: null,
    });
    expect(DEVICE_PROFILES.minimal).toEqual({
      tdpW: 0.5,
      idleW: 0.02,
      minW: 0.01,
      maxW: 0.5,
      batteryWh: 3.7,
    });
  });
  it('idle + (tdp - idle) x utilisation', () => {
    expect(modelledPowerW(DEVICE_PROFILES.full, 0)).toBe(2.7);
    expect(modelledPowerW(DEVICE_PROFILES.full, 0.375)).toBeCloseTo(4.5, 12);
    expect(modelledPowerW(DEVICE_PROFILES.full, 1)).toBe(7.5);
    expect(modelledPowerW(DEVICE_PROFILES.standard, 0.5)).toBeCloseTo(0.95, 12);
    expect(modelledPowerW(DEVICE_PROFILES.minimal, 0.25)).toBeCloseTo(0.14, 12);
  });
  it('clamps to [min, max] and utilisation to 0..1', () => {
    const p = { tdpW: 10, idleW: 1, minW: 2, maxW: 8, batteryWh: null };
    expect(modelledPowerW(p, 0)).toBe(2);
    expect(modelledPowerW(p, 1)).toBe(8);
    expect(modelledPowerW(p, 0.5)).toBe(5.5);
    expect(modelledPowerW(DEVICE_PROFILES.full, 3)).toBe(7.5);
    expect(modelledPowerW(DEVICE_PROFILES.full, -1)).toBe(2.7);
    expect(modelledPowerW(DEVICE_PROFILES.full, Number.NaN)).toBe(2.7);
  });
});

describe('carbon', () => {
  it('grams = kWh x intensity', () => {
    expect(carbonGrams(3_600_000, 400)).toBe(400);
    expect(carbonGrams(36_000, 400)).toBe(4);
    expect(carbonGrams(0, 400)).toBe(0);
  });
  it('bands at 50 / 150 / 300 / 500 g/kWh', () => {
    expect(carbonBand(0)).toBe('very_low');
    expect(carbonBand(49.9)).toBe('very_low');
    expect(carbonBand(50)).toBe('low');
    expect(carbonBand(149)).toBe('low');
    expect(carbonBand(150)).toBe('medium');
    expect(carbonBand(299)).toBe('medium');
    expect(carbonBand(300)).toBe('high');
    expect(carbonBand(499)).toBe('high');
    expect(carbonBand(500)).toBe('very_high');
  });
});

describe('power state', () => {
  const base = {
    onBattery: true,
    batteryPercent: 50,
    cpuUtilisation: 0.05,
    criticalThresholdPercent: 10,
    lowPowerThresholdPercent: 30,
    idleCpuThreshold: 0.1,
  };
  it('critical / low_power / idle / active', () => {
    expect(powerState({ ...base, batteryPercent: 9.9 })).toBe('critical');
    expect(powerState({ ...base, batteryPercent: 10 })).toBe('low_power');
    expect(powerState({ ...base, batteryPercent: 29 })).toBe('low_power');
    expect(powerState({ ...base, batteryPercent: 30 })).toBe('idle');
    expect(powerState({ ...base, cpuUtilisation: 0.1 })).toBe('active');
    expect(powerState({ ...base, cpuUtilisation: null })).toBe('idle');
  });
  it('battery thresholds apply only on battery', () => {
    expect(powerState({ ...base, onBattery: false, batteryPercent: 5, cpuUtilisation: 0.5 })).toBe('active');
  });
  it('on battery: discharging, or no mains online', () => {
    expect(isOnBattery('discharging', true)).toBe(true);
    expect(isOnBattery('charging', null)).toBe(false);
    expect(isOnBattery('full', false)).toBe(false);
    expect(isOnBattery('not_charging', true)).toBe(false);
    expect(isOnBattery('unknown', null)).toBe(true);
    expect(isOnBattery(null, false)).toBe(false);
  });
});

describe('rating thresholds', () => {
  it('A+ >= 50, A >= 10, B >= 2, C >= 0.5, D >= 0.1, else F', () => {
    const cases: Array<[number, string]> = [
      [1000, 'A+'],
      [50, 'A+'],
      [49.99, 'A'],
      [10, 'A'],
      [9.99, 'B'],
      [2, 'B'],
      [1.99, 'C'],
      [0.5, 'C'],
      [0.49, 'D'],
      [0.1, 'D'],
      [0.099, 'F'],
      [0, 'F'],
    ];
    for (const [score, rating] of cases) expect(ratingFor(score), `score ${score}`).toBe(rating);
  });
  it('work units use the documented weights', () => {
    expect(
      workUnits(
        { raftEntriesCommitted: 10, kvOpsApplied: 5, gossipEventsDelivered: 20 },
        DEFAULT_WORK_WEIGHTS,
      ),
    ).toBe(17);
  });
});

describe('protocol costs', () => {
  it('sums per-packet, per-byte and per-fsync costs', () => {
    const j = protocolJoules(
      { packetsSent: 10, packetsReceived: 20, bytesSent: 1000, bytesReceived: 3000, fsyncs: 2 },
      PROTOCOL_COSTS.full,
    );
    // 10 x 100 µJ + 20 x 60 µJ + 4000 x 0.03 µJ + 2 x 1 mJ = 1000 + 1200 + 120 + 2000 µJ
    expect(j).toBeCloseTo(4320e-6, 15);
  });
  it('every class has positive costs, the radio-bound minimal class the highest per packet', () => {
    for (const c of Object.values(PROTOCOL_COSTS)) {
      for (const v of Object.values(c)) expect(v).toBeGreaterThan(0);
    }
    expect(PROTOCOL_COSTS.minimal.packetSentJ).toBeGreaterThan(PROTOCOL_COSTS.full.packetSentJ);
  });
  it('a counter that went backwards counts from zero', () => {
    const z = { packetsSent: 0, packetsReceived: 0, bytesSent: 0, bytesReceived: 0, fsyncs: 0 };
    expect(counterDelta({ ...z, packetsSent: 10, fsyncs: 5 }, { ...z, packetsSent: 15, fsyncs: 2 })).toEqual({
      ...z,
      packetsSent: 5,
      fsyncs: 2,
    });
  });
});
