/**
 * When the energy summary is republished in gossip metadata (each publish is
 * an incarnation bump disseminated to every member), and the node's power
 * mode with its hysteresis.
 */
import { describe, expect, it } from 'vitest';
import {
  REPUBLISH_DEFAULTS,
  classifyChange,
  nextPowerMode,
  shouldRepublish,
  smoothPower,
  type EnergyMeta,
  type EnergySummary,
} from '../../src/energy/index.js';

const mains: EnergyMeta = { powerW: 2.7, powerState: 'idle', rating: 'idle' };
const onBattery: EnergyMeta = { powerW: 1.2, battery: 64, powerState: 'idle', rating: 'idle' };

describe('classifyChange', () => {
  it('power must move by >= 20 % AND >= 0.2 W', () => {
    expect(classifyChange(mains, { ...mains, powerW: 3.2 })).toBe('none'); // +0.5 W, 18.5 %
    expect(classifyChange(mains, { ...mains, powerW: 3.3 })).toBe('figures'); // +0.6 W, 22 %
    expect(classifyChange(mains, { ...mains, powerW: 2.1 })).toBe('figures');
    // A tiny device: 0.1 -> 0.25 W is +150 % but under 0.2 W.
    expect(classifyChange({ powerW: 0.1 }, { powerW: 0.25 })).toBe('none');
  });

  it('battery: 2 points are a figure change, 1 is not', () => {
    expect(classifyChange(onBattery, { ...onBattery, battery: 63 })).toBe('none');
    expect(classifyChange(onBattery, { ...onBattery, battery: 62 })).toBe('figures');
  });

  it('idle <-> active and a new rating are figures; low, critical and mains <-> battery are states', () => {
    expect(classifyChange(mains, { ...mains, powerState: 'active' })).toBe('figures');
    expect(classifyChange(mains, { ...mains, rating: 'F' })).toBe('figures');
    // One grade is not worth a dissemination (peers compare ratings 2 grades apart); two are.
    expect(classifyChange({ ...mains, rating: 'B' }, { ...mains, rating: 'C' })).toBe('none');
    expect(classifyChange({ ...mains, rating: 'B' }, { ...mains, rating: 'D' })).toBe('figures');
    expect(classifyChange({ ...mains, rating: 'F' }, { ...mains, rating: 'idle' })).toBe('figures');
    // A first rating (unrated -> C) goes out at once: peers show the node unrated until then.
    expect(classifyChange({ powerW: 2.7 }, { ...mains, powerState: undefined, rating: 'C' })).toBe('now');
    expect(classifyChange(onBattery, { ...onBattery, battery: 29, powerState: 'low_power' })).toBe('now');
    expect(classifyChange(onBattery, { ...onBattery, battery: 9, powerState: 'critical' })).toBe('now');
    expect(classifyChange(mains, onBattery)).toBe('now');
    expect(classifyChange(onBattery, mains)).toBe('now');
    expect(classifyChange(null, mains)).toBe('now');
  });
});

describe('shouldRepublish', () => {
  it("a node's first rating is not held back by the minimum interval", () => {
    const unrated: EnergyMeta = { powerW: 0.4, powerState: 'active' };
    expect(shouldRepublish(unrated, 1_000, { ...unrated, rating: 'B' }, 2_000)).toBe(true);
  });

  it('figures wait for the minimum interval, a state change does not', () => {
    const t0 = 1_000_000;
    const moved = { ...mains, powerW: 4 };
    expect(shouldRepublish(mains, t0, moved, t0 + 1000)).toBe(false);
    expect(shouldRepublish(mains, t0, moved, t0 + REPUBLISH_DEFAULTS.minIntervalMs - 1)).toBe(false);
    expect(shouldRepublish(mains, t0, moved, t0 + REPUBLISH_DEFAULTS.minIntervalMs)).toBe(true);
    const critical = { ...onBattery, battery: 8, powerState: 'critical' };
    expect(shouldRepublish(onBattery, t0, critical, t0 + 1)).toBe(true);
    expect(shouldRepublish(mains, t0, mains, t0 + 10 * REPUBLISH_DEFAULTS.minIntervalMs)).toBe(false);
  });

  it('modelled power following CPU jitter on mains: at most 2 publishes a minute, and none without a real move', () => {
    // 60 one-second samples between 2.7 and 3.5 W (the 10 % band of the old rule republished most of them).
    let published: EnergyMeta = mains;
    let at = 0;
    let count = 0;
    for (let i = 1; i <= 60; i++) {
      const next = { ...mains, powerW: i % 2 === 0 ? 2.7 : 3.5 };
      if (shouldRepublish(published, at, next, i * 1000)) {
        published = next;
        at = i * 1000;
        count++;
      }
    }
    expect(count).toBeLessThanOrEqual(2);
  });
});

describe('nextPowerMode', () => {
  const t = { lowPowerThresholdPercent: 30, criticalThresholdPercent: 10, marginPercent: 5 };
  const bat = (pct: number, state: EnergySummary['powerState']): EnergySummary => ({
    powerW: 1,
    batteryPercent: pct,
    powerState: state,
    rating: null,
    onBattery: true,
    measured: false,
  });
  it('follows the battery levels with a margin on the way out', () => {
    expect(nextPowerMode('normal', bat(50, 'idle'), t)).toBe('normal');
    expect(nextPowerMode('normal', bat(29, 'low_power'), t)).toBe('low_power');
    expect(nextPowerMode('low_power', bat(31, 'idle'), t)).toBe('low_power');
    expect(nextPowerMode('low_power', bat(35, 'idle'), t)).toBe('normal');
    expect(nextPowerMode('low_power', bat(9, 'critical'), t)).toBe('emergency');
    expect(nextPowerMode('emergency', bat(12, 'low_power'), t)).toBe('emergency');
    expect(nextPowerMode('emergency', bat(16, 'low_power'), t)).toBe('low_power');
  });
  it('mains or unknown power is normal', () => {
    expect(nextPowerMode('emergency', { ...bat(5, 'idle'), onBattery: false }, t)).toBe('normal');
    expect(nextPowerMode('emergency', null, t)).toBe('normal');
  });
});

describe('smoothPower', () => {
  it('follows a step with the time constant and averages out second-to-second jitter', () => {
    let s = smoothPower(null, 3, 0, 30_000);
    expect(s.watts).toBe(3);
    s = smoothPower(s, 6, 30_000, 30_000);
    expect(s.watts).toBeCloseTo(3 + 3 * (1 - Math.exp(-1)), 9);
    // A clock going backwards changes nothing.
    expect(smoothPower(s, 100, 10_000, 30_000)).toBe(s);
    // CPU jitter: 2.7 and 4.5 W alternating each second around 3.6 W; after a minute the figure stays
    // within the 20 % band of 3.6 W, so nothing would be republished from it.
    let j = smoothPower(null, 3.6, 0, 30_000);
    const seen: number[] = [];
    for (let t = 1; t <= 120; t++) {
      j = smoothPower(j, t % 2 === 0 ? 2.7 : 4.5, t * 1000, 30_000);
      if (t > 60) seen.push(j.watts);
    }
    expect(Math.max(...seen) - Math.min(...seen)).toBeLessThan(0.1);
  });
});
